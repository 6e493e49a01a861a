// table.js — every event of the run as a plain table: the screen-reader (and
// copy-and-paste) view of what the canvas draws. Rows are added only while the
// table is open, and capped, so a huge run never floods the DOM.

import { RunModel } from './model/run.js';
import { describe, fmtTime } from './format.js';

const CAP = 2000;

/**
 * Text that wraps at its spaces and nowhere else: each word in a span that
 * never wraps. Left to itself the browser also breaks JSON after its commas
 * and brackets, mid-value.
 * @param {string} text
 */
function spaced(text) {
  /** @type {(string|HTMLElement)[]} */
  const out = [];
  for (const part of text.split(/(\s+)/)) {
    if (!part) continue;
    if (/^\s+$/.test(part)) { out.push(part); continue; }
    const w = document.createElement('span');
    w.className = 'word';
    w.textContent = part;
    out.push(w);
  }
  return out;
}

export class EventTable {
  /** @param {HTMLDetailsElement} details @param {(seq:number)=>void} onPick */
  constructor(details, onPick) {
    this.details = details;
    this.tbody = /** @type {HTMLTableSectionElement} */ (details.querySelector('tbody'));
    this.note = /** @type {HTMLElement} */ (details.querySelector('.table-note'));
    /** @type {RunModel|null} */ this.run = null;
    this.rendered = 0;
    this.tbody.addEventListener('click', (e) => {
      const b = /** @type {HTMLElement} */ (e.target).closest('button[data-seq]');
      if (b) onPick(Number(/** @type {HTMLElement} */ (b).dataset.seq));
    });
  }

  /** @param {RunModel|null} run */
  setRun(run) {
    if (run === this.run) return;
    this.run = run;
    this.tbody.replaceChildren();
    this.rendered = 0;
  }

  sync() {
    const run = this.run;
    if (!run || !this.details.open) return;
    const evs = run.events;
    const upto = Math.min(evs.length, CAP);
    const frag = document.createDocumentFragment();
    for (; this.rendered < upto; this.rendered++) {
      const e = evs[this.rendered];
      const tr = document.createElement('tr');
      const lane = run.laneMap.get(run.laneIdOf(e.pid, e.tid));
      const cells = [
        String(e.seq), fmtTime(e.t, 1e6),
        lane ? RunModel.laneLabel(lane) : run.isRunLevel(e) || (e.kind === 'run.start' && run.runnerPid !== null) ? `runner · pid ${e.pid} (no lane)` : `pid ${e.pid}`,
        String(e.cpu), '', describe(e),
      ];
      cells.forEach((text, i) => {
        const td = document.createElement(i === 0 ? 'th' : 'td');
        if (i === 0) td.setAttribute('scope', 'row');
        if (i === 4) {
          const b = document.createElement('button');
          b.type = 'button';
          b.className = 'linkish';
          b.dataset.seq = String(e.seq);
          b.textContent = e.kind;
          b.title = 'Show on the timeline';
          td.append(b);
        } else if (i === 5) td.append(...spaced(text));
        else td.textContent = text;
        tr.append(td);
      });
      frag.append(tr);
    }
    this.tbody.append(frag);
    this.note.textContent = evs.length > CAP ? `Showing the first ${CAP} of ${evs.length} events.` : `${evs.length} events.`;
  }
}

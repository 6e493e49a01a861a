// console.js — the run's output as the lesson prints it: the `print` events'
// text in order, each line labelled with the process that printed it, then the
// outcome in words. Kept separate so replay can show only the lines printed
// up to the scrubber, and selection can point at the line an event printed.
// Lines a program wrote to stderr (a traceback, say) are marked as such, and
// an uncaught exception (CPython) gets a line of its own, in order with the
// rest. It also says which engine ran the run, and the run's own notes.

import { RunModel } from './model/run.js';

export class ConsoleView {
  /**
   * @param {HTMLOListElement} list @param {HTMLElement} outcome @param {HTMLElement} title
   * @param {{ran?: HTMLElement, notes?: HTMLElement}} [extra]  where to say what ran, and the run's own notes
   */
  constructor(list, outcome, title, extra = {}) {
    this.list = list;
    this.outcome = outcome;
    this.title = title;
    this.ran = extra.ran ?? null;
    this.notes = extra.notes ?? null;
    this.notesShown = -1;
    /** @type {RunModel|null} */ this.run = null;
    this.rendered = 0;
    this.shown = 0;
    this.endShown = false;
    /** @type {number|null} */ this.highlighted = null;
    this.reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /** @param {RunModel|null} run */
  setRun(run) {
    if (run === this.run) return;
    this.run = run;
    this.list.replaceChildren();
    this.rendered = 0;
    this.shown = 0;
    this.endShown = false;
    this.outcome.textContent = '';
    this.outcome.className = 'outcome';
    this.title.textContent = run ? `Output · ${run.label}` : 'Output';
    this.notesShown = -1;
    if (this.notes) { this.notes.replaceChildren(); this.notes.hidden = true; }
    this._ran();
  }

  _ran() {
    if (!this.ran) return;
    const text = this.run ? `Ran on ${this.run.engineText()}` : '';
    if (this.ran.textContent !== text) this.ran.textContent = text;
    this.ran.dataset.engine = this.run?.engine ?? '';
  }

  /**
   * Bring the DOM up to date with the run; with a replay cursor only lines
   * printed at or before it are visible.
   * @param {number|null} cursor
   */
  sync(cursor) {
    const run = this.run;
    if (!run) return;
    const prints = run.lines;
    this._ran();
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    for (; this.rendered < prints.length; this.rendered++) {
      const { ev, lane } = prints[this.rendered];
      const li = document.createElement('li');
      li.dataset.seq = String(ev.seq);
      li.dataset.pid = String(ev.pid);
      li.dataset.t = String(ev.t);
      li.dataset.kind = ev.kind;
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = RunModel.laneLabel(lane);
      const text = document.createElement('span');
      text.className = 'text';
      if (ev.kind === 'exception') {
        li.className = 'exception';
        text.textContent = exceptionText(ev);
        li.append(who, badge('exception', 'uncaught exception'), text);
      } else if (ev.stream === 'stderr') {
        li.className = 'stderr';
        li.dataset.stream = 'stderr';
        text.textContent = String(ev.text ?? '');
        li.append(who, badge('stderr', 'written to stderr'), text);
      } else {
        text.textContent = String(ev.text ?? '');
        li.append(who, text);
      }
      this.list.append(li);
    }
    // show/hide only the lines whose side of the cursor changed
    let want = prints.length;
    if (cursor !== null) want = prints.filter((p) => p.ev.t <= cursor).length;
    const items = this.list.children;
    if (want !== this.shown || items.length !== this.shown) {
      for (let i = 0; i < items.length; i++) /** @type {HTMLElement} */ (items[i]).hidden = i >= want;
      this.shown = want;
    }
    const ended = run.finished && (cursor === null || cursor >= run.endT);
    if (ended !== this.endShown) {
      this.endShown = ended;
      if (ended) {
        const o = run.end?.outcome ?? 'ok';
        // A CPython program that ended with an error still makes an `ok` run: say it in colour too.
        const code = run.result?.data?.exit_code;
        const verdict = raceVerdict(run.result?.data);
        this.outcome.className = `outcome outcome-${o}${typeof code === 'number' && code !== 0 ? ' outcome-nonzero' : ''}${verdict ? ` outcome-${verdict}` : ''}`;
        this.outcome.textContent = run.outcomeText();
        this.outcome.dataset.outcome = o;
      } else {
        this.outcome.textContent = '';
        this.outcome.className = 'outcome';
        delete this.outcome.dataset.outcome;
      }
    }
    if (atBottom && cursor === null) this.list.scrollTop = this.list.scrollHeight;
    this._notes(ended);
  }

  /** The run's own notes (a CPython run's runner: the sampler's cost), once it has ended. @param {boolean} ended */
  _notes(ended) {
    const run = this.run;
    if (!this.notes || !run) return;
    const n = ended ? run.runNotes.length : 0;
    if (n === this.notesShown) return;
    this.notesShown = n;
    this.notes.replaceChildren(...run.runNotes.slice(0, n).map((e) => {
      const li = document.createElement('li');
      li.dataset.seq = String(e.seq);
      li.textContent = e.kind === 'note' ? String(e.text ?? '') : `${e.kind}: ${String(e.text ?? '')}`;
      return li;
    }));
    this.notes.hidden = n === 0;
  }

  /** Mark the line an event printed (null clears). @param {number|null} seq */
  highlight(seq) {
    if (seq === this.highlighted) return;
    this.list.querySelector('li.selected')?.classList.remove('selected');
    this.highlighted = seq;
    if (seq === null) return;
    const li = this.list.querySelector(`li[data-seq="${seq}"]`);
    if (li) {
      li.classList.add('selected');
      scrollWithin(this.list, /** @type {HTMLElement} */ (li), this.reduceMotion);
    }
  }
}

/**
 * An uncaught exception in words: "ZeroDivisionError: division by zero (line 7)".
 * @param {import('./model/run.js').FlEvent} ev
 */
export function exceptionText(ev) {
  const type = String(ev.type ?? 'Exception');
  const msg = ev.message != null && String(ev.message) !== '' ? `: ${String(ev.message)}` : '';
  const line = typeof ev.line === 'number' && ev.line > 0 ? ` (line ${ev.line})` : '';
  return `${type}${msg}${line}`;
}

/** A small tag before a line's text, read out with it. @param {string} text @param {string} label */
function badge(text, label) {
  const b = document.createElement('span');
  b.className = 'tag';
  b.textContent = text;
  b.title = label;
  const sr = document.createElement('span');
  sr.className = 'visually-hidden';
  sr.textContent = ':';
  b.append(sr);
  return b;
}

/** Scroll a box so a child is visible, without scrolling the page around it. */
export function scrollWithin(/** @type {HTMLElement} */ box, /** @type {HTMLElement} */ child, /** @type {boolean} */ instant) {
  // From the boxes on screen, not offsetTop: that is relative to the nearest
  // positioned ancestor, which is the box itself for #source and not for the console.
  const top = child.getBoundingClientRect().top - box.getBoundingClientRect().top - box.clientTop + box.scrollTop;
  if (top < box.scrollTop || top + child.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTo({ top: Math.max(0, top - box.clientHeight / 3), behavior: instant ? 'auto' : 'smooth' });
  }
}

/**
 * What a race demo's result says beyond the run's own outcome: `wrong` when
 * updates were lost or messages broke (the program's answer is wrong, as the
 * lesson warns), `luck` when nothing guarded the data and nothing went wrong
 * this time; neither is a plain success. Null for every other result.
 * @param {any} data
 */
export function raceVerdict(data) {
  if (!data || typeof data !== 'object') return null;
  const harmed = [data.lost_updates, data.lost_updates_at_least, data.corrupt].some((n) => typeof n === 'number' && n > 0);
  if (harmed) return 'wrong';
  const measured = [data.lost_updates, data.lost_updates_at_least, data.corrupt].some((n) => typeof n === 'number');
  return measured && data.use_lock === false ? 'luck' : null;
}

// model/notes.js — the sentences under the timeline where the threads' own
// events and the kernel's samples tell different stories worth a lesson: a
// thread that said it was waiting and that the kernel had asleep, a process
// that said it exited and that the kernel kept as a zombie until it was
// reaped. Both halves of that one concern live here: kernelNotes() words
// them from a run (pure, so node's tests read it without a browser; the run
// model caches it per version), and KernelNotes lists them on the page.

import { stateTime } from './kernel.js';
import { fmtMs, fmtTime } from '../format.js';

/**
 * @typedef {import('./run.js').RunModel} RunModel
 * @typedef {import('./run.js').Lane} Lane
 *
 * Where the thread's own events and the kernel's view say different things
 * worth a sentence: a wait the kernel spent asleep, an exit followed by zombie time.
 * @typedef {object} KernelNote
 * @property {'wait'|'zombie'} kind
 * @property {Lane} lane
 * @property {number} t0      where it starts (the first wait, or the exit)
 * @property {number} ms      the kernel-side figure: asleep or zombie time
 * @property {string} text
 */

/**
 * Where self-reported events and the kernel's samples disagree in a way
 * worth teaching, for a finished run (a zombie's time is only known once it
 * is reaped), in time order.
 * @param {RunModel} run @returns {KernelNote[]}
 */
export function kernelNotes(run) {
  /** @type {KernelNote[]} */
  const notes = [];
  const end = run.endT;
  for (const lane of run.lanes()) {
    if (!lane.samples.length) continue;
    const who = lane.type === 'proc' ? `pid ${lane.pid}` : `tid ${lane.tid}`;
    // Waits the thread reported, grouped by what it waited for.
    /** @type {Map<string, {what:string, n:number, waited:number, asleep:number, t0:number}>} */
    const waits = new Map();
    for (const sp of lane.spans) {
      if (sp.t1 === null || (sp.style !== 'wait' && sp.style !== 'join')) continue;
      const k = sp.begin.kind;
      const key = k === 'gil' || k === 'lock' ? `${k}|${sp.begin.lock ?? ''}` : 'join';
      let w = waits.get(key);
      if (!w) {
        const what = k === 'gil' ? 'waiting for the GIL'
          : k === 'lock' ? `waiting for lock ${sp.begin.lock ?? ''}`.trimEnd() : `waiting in ${sp.label}`;
        w = { what, n: 0, waited: 0, asleep: 0, t0: sp.t0 };
        waits.set(key, w);
      }
      if (key === 'join' && w.n === 1) w.what = 'waiting in join()';
      w.n++;
      w.waited += sp.t1 - sp.t0;
      w.asleep += stateTime(lane, sp.t0, sp.t1, 'S', end);
    }
    for (const w of waits.values()) {
      // Worth saying when the kernel saw a real share of it asleep (not spinning).
      if (w.asleep < 2e6 || w.asleep < 0.25 * w.waited) continue;
      const many = w.n > 1 ? ` (${w.n} ${w.what.endsWith("join()") ? "joins" : "waits"}, ${fmtMs(w.waited)} in all)` : ` (${fmtMs(w.waited)})`;
      notes.push({ kind: 'wait', lane, t0: w.t0, ms: w.asleep / 1e6,
        text: `${w.what}${many}: the kernel shows ${who} (${lane.name}) asleep (S) for ${fmtMs(w.asleep)} of it, not spinning on a CPU.` });
    }
    // An exit the process reported, and the zombie the kernel kept until a join reaped it.
    if (lane.type === 'proc' && lane.exitT !== null) {
      const until = lane.goneT ?? end;
      const z = stateTime(lane, lane.exitT, until, 'Z', end);
      if (z > 0 && run.runnerPid !== null && run.spawnParent.get(lane.pid) === `p${run.runnerPid}`) {
        // A CPython run's MainProcess: its parent is the runner, which no join() of the program reaps.
        const reaped = lane.goneT !== null ? `, until the runner reaped it at ${fmtTime(lane.goneT, 1e6)}` : ' (until the sampler stopped looking)';
        notes.push({ kind: 'zombie', lane, t0: lane.exitT, ms: z / 1e6,
          text: `pid ${lane.pid} (${lane.name}) exited at ${fmtTime(lane.exitT, 1e6)} and stayed a zombie (Z) for ${fmtMs(z)}${reaped}: its parent is forkline's runner, which started the interpreter and is not part of the program.` });
      } else if (z > 0) {
        const reaped = lane.goneT !== null ? `until it was reaped at ${fmtTime(lane.goneT, 1e6)}` : 'and was still one when the run ended';
        notes.push({ kind: 'zombie', lane, t0: lane.exitT, ms: z / 1e6,
          text: `pid ${lane.pid} (${lane.name}) exited at ${fmtTime(lane.exitT, 1e6)} but stayed a zombie (Z) for ${fmtMs(z)} ${reaped}: its exit status waited in the kernel for its parent's join().` });
      }
    }
  }
  notes.sort((a, b) => a.t0 - b.t0);
  return notes;
}

export class KernelNotes {
  /** @param {HTMLElement} host  an empty element; the notes are built inside it */
  constructor(host) {
    this.host = host;
    host.classList.add('kernel-notes-box');
    const title = document.createElement('h3');
    title.id = 'kernel-notes-h';
    title.textContent = 'What the kernel saw';
    const intro = document.createElement('p');
    intro.textContent = 'Where the threads\' own events and the kernel\'s samples from /proc tell different stories:';
    this.list = document.createElement('ul');
    this.list.className = 'kernel-notes';
    this.list.id = 'kernel-notes';
    this.list.setAttribute('aria-labelledby', 'kernel-notes-h');
    host.append(title, intro, this.list);
    host.hidden = true;
    this.key = '';
  }

  /** Re-render only when a finished run's notes can have changed. @param {RunModel[]} runs */
  sync(runs) {
    const key = runs.map((r) => `${r.label}:${r.finished ? r.version : '-'}`).join('|');
    if (key === this.key) return;
    this.key = key;
    const items = [];
    for (const run of runs) {
      for (const n of run.kernelNotes()) {
        const li = document.createElement('li');
        li.dataset.kind = n.kind;
        li.dataset.pid = String(n.lane.pid);
        li.dataset.tid = String(n.lane.tid);
        li.textContent = `${runs.length > 1 ? `${run.label}: ` : ''}${n.text}`;
        items.push(li);
      }
    }
    this.list.replaceChildren(...items);
    this.host.hidden = items.length === 0;
  }
}

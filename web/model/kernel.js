// model/kernel.js — the kernel's side of a run: the kernel.sample events the
// sampler read from /proc, kept per lane as a state strip, and folded into
// the per-core view (which thread was R on which CPU). It exists apart from
// the run model because samples come from another process than the threads
// they describe, out of step with them: a thread can be sampled before its
// own first event arrives, and a program a shell started is seen only here.

import { insertSorted, lowerBound } from '../sorted.js';

/**
 * @typedef {import('./run.js').FlEvent} FlEvent
 * @typedef {import('./run.js').Lane} Lane
 * @typedef {import('./run.js').Sample} Sample
 * @typedef {import('./run.js').CoreSlice} CoreSlice
 * @typedef {import('./run.js').Core} Core
 * @typedef {import('./run.js').RunModel} RunModel
 */

export class KernelSamples {
  /** @param {RunModel} run  the run whose lanes the samples belong to */
  constructor(run) {
    this.run = run;
    /** @type {Set<string>} lanes known only from kernel.sample (processes that emit no events) */
    this.observedOnly = new Set();
    /** @type {Map<string, FlEvent[]>} samples of a thread whose own first event has not arrived yet */
    this.early = new Map();
    /** @type {Map<number, Core>} cpu → its R slices, for the per-core view */
    this.byCpu = new Map();
    /** A sample arrived out of time order for its thread: rebuild the cores from the lanes. */
    this.dirty = false;
  }

  /**
   * The samples kept for a lane that did not exist yet, now that it does
   * (the sampler can see a new thread in /proc before its first event
   * reaches the pipe).
   * @param {string} id
   */
  adopt(id) {
    const early = this.early.get(id);
    if (!early) return;
    this.early.delete(id);
    for (const e of early) this.add(e);
  }

  /** @param {FlEvent} ev */
  add(ev) {
    const id = this.run.laneIdOf(ev.of_pid, ev.of_tid);
    let lane = this.run.laneMap.get(id);
    if (!lane && ev.of_ppid != null) {
      // A process seen only from outside (a program a shell started): it gets
      // a lane under its parent, alive from the first look until it is gone.
      lane = this.run.lane(ev.of_pid, ev.of_tid);
      lane.parentId = `p${ev.of_ppid}`;
      lane.alive = { t0: ev.t, t1: null };
      this.observedOnly.add(id);
    }
    if (!lane) {
      // Not started yet as far as the pipe has told us: keep it for its lane
      // (a few per thread; a thread that never reports gets no lane).
      const early = this.early.get(id) ?? [];
      if (early.length < 64) early.push(ev);
      this.early.set(id, early);
      return;
    }
    if (this.observedOnly.has(id)) {
      if (ev.name) lane.name = String(ev.name); // follows exec: sh, then sleep
      if (ev.state === 'X' && lane.alive && lane.alive.t1 === null) lane.alive.t1 = ev.t;
      this.run.lanesChanged();
    }
    /** @type {Sample} */
    const s = { t: ev.t, state: String(ev.state ?? '?'), cpu: typeof ev.on_cpu === 'number' ? ev.on_cpu : -1, ev };
    if (s.state === 'X' && (lane.goneT === null || ev.t < lane.goneT)) lane.goneT = ev.t;
    const sm = lane.samples;
    if (sm.length && sm[sm.length - 1].t > s.t) {
      // Two watchers (the sampler and a demo) can report one thread slightly out of order.
      insertSorted(sm, s, (q) => q.t);
      this.dirty = true;
      return;
    }
    sm.push(s);
    if (!this.dirty) this.step(lane, s);
  }

  /** Extend the per-core view by a thread's newest sample. @param {Lane} lane @param {Sample} s */
  step(lane, s) {
    const open = lane.openCore;
    const running = s.state === 'R' && s.cpu >= 0;
    if (open && running && open.cpu === s.cpu) return; // still R on the same core
    if (open) {
      open.t1 = s.t;
      const core = /** @type {Core} */ (this.byCpu.get(open.cpu));
      core.open.delete(open);
      core.maxDur = Math.max(core.maxDur, s.t - open.t0);
      lane.openCore = null;
    }
    if (!running) return;
    let core = this.byCpu.get(s.cpu);
    if (!core) { core = { slices: [], open: new Set(), maxDur: 0 }; this.byCpu.set(s.cpu, core); }
    /** @type {CoreSlice} */
    const slice = { cpu: s.cpu, lane, t0: s.t, t1: null, ev: s.ev };
    insertSorted(core.slices, slice, (q) => q.t0);
    core.open.add(slice);
    lane.openCore = slice;
  }

  /**
   * The per-core view: for each CPU a sample saw a thread of this run running
   * on, the R stretches there, sorted by start. Open slices last until the
   * lane's kernel view ends (see sampleEnd).
   * @returns {Map<number, Core>}
   */
  cores() {
    if (this.dirty) {
      this.dirty = false;
      this.byCpu = new Map();
      for (const lane of this.run.laneMap.values()) {
        lane.openCore = null;
        for (const s of lane.samples) this.step(lane, s);
      }
    }
    return this.byCpu;
  }
}

/**
 * Where a lane's i-th kernel sample stops holding. The sampler reports only
 * changes, so a state lasts until the next sample; the last one lasts until
 * the thread is gone: a zombie until it was reaped, anything else until it
 * exited (or the run's end, for a thread still there).
 * @param {Lane} lane @param {number} i @param {number} endOf the run's end (or now)
 */
export function sampleEnd(lane, i, endOf) {
  const sm = lane.samples;
  if (i + 1 < sm.length) return sm[i + 1].t;
  const s = sm[i];
  if (s.state === 'X') return s.t;
  if (s.state === 'Z') return Math.max(s.t, Math.min(lane.goneT ?? endOf, endOf));
  const stop = lane.goneT ?? lane.exitT;
  return stop !== null ? Math.max(s.t, Math.min(stop, endOf)) : Math.max(s.t, endOf);
}

/**
 * How long, within [t0, t1], the kernel's samples show a lane in `state`.
 * Time before the first sample is unknown and not counted.
 * @param {Lane} lane @param {number} t0 @param {number} t1 @param {string} state @param {number} endOf
 */
export function stateTime(lane, t0, t1, state, endOf) {
  const sm = lane.samples;
  let total = 0;
  for (let i = Math.max(0, lowerBound(sm, t0, (s) => s.t) - 1); i < sm.length && sm[i].t < t1; i++) {
    if (sm[i].state !== state) continue;
    const a = Math.max(sm[i].t, t0), b = Math.min(sampleEnd(lane, i, endOf), t1);
    if (b > a) total += b - a;
  }
  return total;
}

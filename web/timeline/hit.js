// timeline/hit.js — what is under a point of the timeline: an instant or span
// of a lane, the kernel's state in a lane's strip, or the thread a CPU row
// had at that time. Hit-testing mirrors what the layers draw (the same rows,
// the same replay cut) and answers in the model's own items, so a tooltip
// and a selection treat a kernel state or a CPU slice like any other span.

import { lowerBound } from '../sorted.js';
import { sampleEnd } from '../model/kernel.js';
import { KSTRIP_Y } from './layout.js';
import { runEnd } from './frame.js';
import { stateWords } from './tooltip.js';

/**
 * @typedef {import('../model/run.js').RunModel} RunModel
 * @typedef {import('../model/run.js').Lane} Lane
 * @typedef {import('../model/run.js').Item} Item
 * @typedef {import('../model/run.js').Span} Span
 * @typedef {import('../model/run.js').CoreSlice} CoreSlice
 * @typedef {import('./layout.js').Row} Row
 * @typedef {{run:RunModel, runIndex:number, item:Item}} Hit
 *
 * What hit-testing needs of the timeline: its last frame's rows, the view and where it maps, the replay cursor, live "now".
 * @typedef {object} HitView
 * @property {Row[]} rows
 * @property {number} plotX0
 * @property {number} plotX1
 * @property {{t0:number, t1:number}} view
 * @property {number|null} cursor
 * @property {number[]} now
 * @property {(x:number)=>number} t
 */

/** Pixels around an instant that still point at it. */
const INSTANT_TOL_PX = 6;
/** Pixels around a CPU slice (most are narrower than one) that still point at it. */
const CORE_TOL_PX = 4;

/** @param {HitView} tl @param {number} px */
const pxTime = (tl, px) => px * (tl.view.t1 - tl.view.t0) / (tl.plotX1 - tl.plotX0);

/** The item under (x, y), in CSS pixels of the canvas. @param {HitView} tl @param {number} x @param {number} y @returns {Hit|null} */
export function hitTest(tl, x, y) {
  const row = tl.rows.find((r) => y >= r.y && y < r.y + r.h);
  if (!row || x < tl.plotX0) return null;
  const t = tl.t(x);
  if (row.core !== null) return hitCore(tl, row, t);
  if (!row.lane) return null;
  const lane = row.lane, run = row.run;
  if (y - row.y >= KSTRIP_Y - 1 && lane.samples.length) return hitKernel(tl, row, t);
  const tol = pxTime(tl, INSTANT_TOL_PX);
  const cut = tl.cursor ?? Infinity;
  const ins = lane.instants;
  let best = null, bestD = Infinity;
  for (let j = lowerBound(ins, t - tol, (n) => n.t); j < ins.length && ins[j].t <= t + tol; j++) {
    const d = Math.abs(ins[j].t - t);
    if (ins[j].t <= cut && d < bestD) { best = ins[j]; bestD = d; }
  }
  if (best) return { run, runIndex: row.runIndex, item: best };
  /** @type {Span|null} */ let span = null;
  const end = run.endT;
  const consider = (/** @type {Span} */ s) => {
    const s1 = s.t1 ?? end;
    if (s.t0 <= t && t <= s1 && s.t0 <= cut && (!span || s1 - s.t0 < (span.t1 ?? end) - span.t0)) span = s;
  };
  const list = lane.spans;
  for (let i = lowerBound(list, t - lane.maxDur, (s) => s.t0); i < list.length && list[i].t0 <= t; i++) if (list[i].t1 !== null) consider(list[i]);
  for (const s of lane.open) consider(s);
  return span ? { run, runIndex: row.runIndex, item: span } : null;
}

/**
 * What is under t in a CPU row: the thread the kernel had on that core,
 * as a span-shaped item so the tooltip and selection treat it like any other.
 * @param {HitView} tl @param {Row} row @param {number} t @returns {Hit|null}
 */
function hitCore(tl, row, t) {
  const run = row.run;
  const core = run.cores().get(/** @type {number} */ (row.core));
  if (!core) return null;
  const cut = tl.cursor ?? Infinity;
  const endOf = runEnd(run, tl.now[row.runIndex]);
  // Most slices are narrower than a pixel: anything within a few pixels counts,
  // the nearest first, then the shortest (the one a wider slice would hide).
  const tol = pxTime(tl, CORE_TOL_PX);
  /** @type {{s:CoreSlice, t1:number, d:number}|null} */ let best = null;
  const consider = (/** @type {CoreSlice} */ s, /** @type {number} */ t1) => {
    const d = t < s.t0 ? s.t0 - t : t > t1 ? t - t1 : 0;
    if (d > tol || s.t0 > cut) return;
    if (!best || d < best.d || (d === best.d && t1 - s.t0 < best.t1 - best.s.t0)) best = { s, t1, d };
  };
  const list = core.slices;
  for (let i = lowerBound(list, t - tol - core.maxDur, (s) => s.t0); i < list.length && list[i].t0 <= t + tol; i++) {
    const s = list[i];
    if (s.t1 !== null) consider(s, s.t1);
  }
  for (const s of core.open) consider(s, sampleEnd(s.lane, s.lane.samples.length - 1, endOf));
  if (!best) return null;
  const { s, t1 } = /** @type {{s:CoreSlice, t1:number, d:number}} */ (best);
  /** @type {Span} */
  const item = { lane: s.lane, style: 'core', t0: s.t0, t1, begin: s.ev, end: null, cpu: s.cpu,
    label: `on CPU ${s.cpu} (R: running, or runnable waiting for it)`, links: [] };
  return { run, runIndex: row.runIndex, item };
}

/**
 * What the kernel strip under a lane says at t: the sampled state there.
 * @param {HitView} tl @param {Row} row @param {number} t @returns {Hit|null}
 */
function hitKernel(tl, row, t) {
  const lane = /** @type {Lane} */ (row.lane), run = row.run;
  const sm = lane.samples;
  const i = lowerBound(sm, t + 1, (s) => s.t) - 1;
  if (i < 0 || sm[i].state === 'X') return null;
  const t1 = sampleEnd(lane, i, runEnd(run, tl.now[row.runIndex]));
  if (t > t1 || sm[i].t > (tl.cursor ?? Infinity)) return null;
  const s = sm[i];
  /** @type {Span} */
  const item = { lane, style: 'kernel', t0: s.t, t1, begin: s.ev, end: null, cpu: s.cpu, label: `kernel: ${stateWords(s.state, s.cpu)}`, links: [] };
  return { run, runIndex: row.runIndex, item };
}

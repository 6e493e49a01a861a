// timeline/cores.js — the per-core view ("By core"): under a run's lanes, one
// row per CPU showing which of the run's threads the kernel had there, in
// that thread's own colour, and a tick above the bar where two threads were
// R on one core at once (one of them was only runnable, waiting for it). The
// slices come from the model (model/kernel.js); this only draws them.

import { lowerBound } from '../sorted.js';
import { sampleEnd } from '../model/kernel.js';
import { CORE_BAR_Y, CORE_BAR_H, spanLabel } from './layout.js';

/**
 * @typedef {import('./frame.js').Frame} Frame
 * @typedef {import('../model/run.js').Lane} Lane
 * @typedef {import('../model/run.js').CoreSlice} CoreSlice
 * @typedef {import('../labels.js').Candidate} Candidate
 */

/**
 * For each CPU row, the R stretches of the run's threads there, culled by
 * binary search and batched into one Path2D per thread colour, then filled.
 * @param {Frame} f @param {Candidate[]} labels  slice names join the plot's labels
 */
export function drawCores(f, labels) {
  const rows = f.rows.filter((r) => r.core !== null);
  if (!rows.length) return;
  const { ctx, v0, v1, X0, X1, scale, cut } = f;
  const px = 1 / scale;
  /** @type {Map<string, Path2D>} */ const fills = new Map();
  const contend = new Path2D();
  const path = (/** @type {string} */ c) => { let p = fills.get(c); if (!p) { p = new Path2D(); fills.set(c, p); } return p; };
  for (const row of rows) {
    const run = row.run;
    const core = run.cores().get(/** @type {number} */ (row.core));
    if (!core) continue;
    const endOf = f.endOf(row);
    const tEnd = Math.min(v1, cut ?? Infinity);
    const y = row.y + CORE_BAR_Y;
    /** @type {Map<Lane, [number, number]>} */ const pend = new Map();
    let prevEnd = -Infinity; /** @type {Lane|null} */ let prevLane = null;
    const emit = (/** @type {CoreSlice} */ s, /** @type {number} */ t1) => {
      const xa = X0 + (Math.max(s.t0, v0) - v0) * scale, xb = X0 + (Math.min(t1, tEnd) - v0) * scale;
      if (xb < X0 - 1 || s.t0 > tEnd) return;
      if (s.t0 < prevEnd && s.lane !== prevLane) {
        const ce = X0 + (Math.min(prevEnd, t1, tEnd) - v0) * scale;
        contend.rect(xa, row.y + 3, Math.max(1, ce - xa), 3);
      }
      if (t1 > prevEnd) { prevEnd = t1; prevLane = s.lane; }
      const p = pend.get(s.lane);
      if (p && xa <= p[1] + (xb - xa < 1 ? 3 : 1)) { if (xb > p[1]) p[1] = xb; }
      else {
        if (p) path(f.laneColor(run, s.lane)).rect(p[0], y, Math.max(1, p[1] - p[0]), CORE_BAR_H);
        pend.set(s.lane, [xa, xb]);
      }
      if (xb - xa > 40) labels.push(spanLabel(Math.max(xa, X0) + 4, y + CORE_BAR_H / 2 + 0.5, `${s.lane.name} · ${s.lane.type === 'proc' ? 'pid' : 'tid'} ${s.lane.tid}`, Math.min(xb, X1) - Math.max(xa, X0) - 8, f.theme.colors.text, 'core'));
    };
    const list = core.slices;
    let i = lowerBound(list, v0 - core.maxDur, (s) => s.t0);
    while (i < list.length) {
      const s = list[i];
      if (s.t0 > tEnd) break;
      if (s.t1 === null || s.t1 < v0) { i++; continue; }
      emit(s, s.t1);
      // Level of detail, as for spans: past a sub-pixel slice, skip to the next pixel.
      if (s.t1 - s.t0 < px && i + 1 < list.length && list[i + 1].t0 < s.t0 + px) i = Math.max(i + 1, lowerBound(list, s.t0 + px, (q) => q.t0));
      else i++;
    }
    for (const s of core.open) emit(s, sampleEnd(s.lane, s.lane.samples.length - 1, endOf));
    for (const [lane, p] of pend) path(f.laneColor(run, lane)).rect(p[0], y, Math.max(1, p[1] - p[0]), CORE_BAR_H);
  }
  for (const [c, p] of fills) { ctx.fillStyle = c; ctx.fill(p); }
  ctx.fillStyle = f.theme.colors.contend;
  ctx.fill(contend);
}

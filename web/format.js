// format.js — events and times in words, as the tooltips, the events table
// and the kernel notes show them: one place, so a time reads the same
// wherever it appears.

/** @typedef {import('./model/run.js').FlEvent} FlEvent */

/** Short human text for an event's own fields (used by labels, tooltips, the table). */
export function describe(/** @type {FlEvent} */ e) {
  const skip = new Set(['seq', 't', 'kind', 'pid', 'tid', 'cpu']);
  const parts = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.has(k)) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
}

/** Nanoseconds in milliseconds, for sentences. @param {number} ns */
export function fmtMs(ns) {
  const ms = ns / 1e6;
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

/** Nanoseconds as a short human time, precise enough for the zoom level. */
export function fmtTime(/** @type {number} */ ns, /** @type {number} */ span = ns) {
  const a = Math.abs(span);
  if (a >= 1e9) return `${(ns / 1e9).toFixed(a >= 1e10 ? 1 : 2)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toFixed(a >= 1e7 ? 0 : 1)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toFixed(a >= 1e4 ? 0 : 1)} µs`;
  return `${Math.round(ns)} ns`;
}

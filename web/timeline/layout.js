// timeline/layout.js — where things sit on the timeline's canvas: the rows
// (a header per run, a lane per process and thread, a row per CPU in the
// per-core view), the strips inside a lane, the gutter's width, and which
// label gives way when two collide. Every layer draws and hit-tests against
// these numbers, so they are defined once, here.

/** @typedef {import('../model/run.js').RunModel} RunModel */
/** @typedef {import('../model/run.js').Lane} Lane */
/** @typedef {import('../labels.js').Candidate} Candidate */
/** A run's header (lane and core null), a process/thread lane, or a CPU of the per-core view.
 * @typedef {{run:RunModel, runIndex:number, lane:Lane|null, core:number|null, y:number, h:number}} Row */

export const AXIS_H = 26;
export const HEADER_H = 24;
export const LANE_H = 44;
// Inside a lane: a text strip on top for what was printed or sent, the bar
// below it, the CPU strip under the bar (the core each event named), and the
// kernel strip under that (the thread's state in /proc).
export const BAR_Y = 15, BAR_H = 14, CPU_Y = 31, KSTRIP_Y = 36, KSTRIP_H = 5;
// A CPU lane of the per-core view: one bar, the thread the kernel had there,
// and a tick above it where two threads were R on that core at once.
export const CORE_H = 30, CORE_BAR_Y = 9, CORE_BAR_H = 15;
/** Width of the lane's colour mark at the gutter's left edge. */
export const LANE_MARK_W = 4;
/** Room under the last row, so its kernel strip does not touch the box's edge. */
const BOTTOM_PAD = 6;

/** Where the plot starts: the gutter holds the lane names, narrower on a phone. @param {number} width */
export function plotX0(width) { return width < 520 ? 104 : 176; }
/** Where the plot ends, a little short of the canvas's right edge. @param {number} width */
export function plotX1(width) { return width - 12; }

/** Which label gives way when two collide: the higher number keeps its place. */
export const PRIORITY = /** @type {Record<string, number>} */ ({
  notice: 110, header: 100, lane: 95, axis: 90, error: 70, print: 60, note: 55, message: 50, value: 45, span: 30, core: 20,
});
/** Label kinds drawn inside the plot's clip; the rest are the gutter's and the headers'. */
export const PLOT_KINDS = new Set(['mark', 'span', 'core', 'notice']);

/**
 * The rows of a frame, top to bottom, and the canvas height they need.
 * @param {RunModel[]} runs @param {boolean} byCore  one row per CPU under each run's lanes
 * @returns {{rows: Row[], height: number}}
 */
export function layoutRows(runs, byCore) {
  /** @type {Row[]} */
  const rows = [];
  let y = AXIS_H;
  runs.forEach((run, runIndex) => {
    rows.push({ run, runIndex, lane: null, core: null, y, h: HEADER_H });
    y += HEADER_H;
    for (const lane of run.lanes()) {
      rows.push({ run, runIndex, lane, core: null, y, h: LANE_H });
      y += LANE_H;
    }
    if (byCore) {
      for (const cpu of run.coreList()) {
        rows.push({ run, runIndex, lane: null, core: cpu, y, h: CORE_H });
        y += CORE_H;
      }
    }
  });
  return { rows, height: y + BOTTOM_PAD };
}

/** Where a lane's row starts, for outlines, arrows and keyboard tooltips (-1: not shown). @param {Row[]} rows @param {RunModel} run @param {Lane} lane */
export function laneY(rows, run, lane) {
  for (const r of rows) if (r.run === run && r.lane === lane) return r.y;
  return -1;
}

/** Where an arrow meets a lane's bar: its middle on its own lane, its edge facing the other. @param {number} ya @param {number} yb */
export function arrowEnds(ya, yb) {
  return { y1: ya + BAR_Y + BAR_H / 2, y2: yb + BAR_Y + BAR_H / 2 + (yb > ya ? -BAR_H / 2 - 1 : yb < ya ? BAR_H / 2 + 1 : 0) };
}

/**
 * A label inside a bar (a span, a CPU slice): small, on a backing so it reads over hatching.
 * @param {number} x @param {number} y @param {string} text @param {number} max @param {string} color @param {'span'|'core'} kind
 * @returns {Candidate}
 */
export function spanLabel(x, y, text, max, color, kind) {
  return { x, y, text, max, font: '10px system-ui, sans-serif', size: 10, color, kind, priority: PRIORITY[kind], backing: true };
}

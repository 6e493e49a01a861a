// timeline/frame.js — what every layer of one frame shares: the canvas, the
// visible time and where it maps, the replay cut, the rows and the colours.
// The Timeline builds one per draw() and hands it to each layer in turn, so
// a layer is a function of the frame and the runs, not of the Timeline.

/**
 * @typedef {import('./layout.js').Row} Row
 * @typedef {import('./theme.js').Theme} Theme
 * @typedef {import('../labels.js').LabelLayer} LabelLayer
 * @typedef {import('../model/run.js').RunModel} RunModel
 * @typedef {import('../model/run.js').Lane} Lane
 *
 * @typedef {object} Frame
 * @property {CanvasRenderingContext2D} ctx
 * @property {number} v0       the visible time's start, ns
 * @property {number} v1       its end
 * @property {number} X0       the plot's left edge, px
 * @property {number} X1       its right edge
 * @property {number} scale    px per ns
 * @property {number|null} cut the replay cursor: nothing after it is drawn
 * @property {number} width    CSS px
 * @property {number} height
 * @property {Row[]} rows
 * @property {Theme} theme
 * @property {LabelLayer} labels  where every label of the frame is placed
 * @property {(row:Row)=>number} endOf  where a row's open things end: its run's end, or now while it is live
 * @property {(run:RunModel, lane:Lane)=>string} laneColor  a lane's own colour (gutter mark, per-core view)
 */

/**
 * A run's end for drawing: a live run reaches `now`, which the page moves
 * on between events so the axis grows smoothly.
 * @param {RunModel} run @param {number|undefined} now
 */
export function runEnd(run, now) {
  return run.finished ? run.endT : Math.max(run.endT, now ?? 0);
}

/** Time to x, in the frame's plot. @param {Frame} f @param {number} t */
export const xOf = (f, t) => f.X0 + (t - f.v0) * f.scale;

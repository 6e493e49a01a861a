// timeline/axis.js — the time axis across the top of the timeline and the
// grid lines down from its ticks. Its own layer because it is painted and
// its labels placed before anything else: the plot's labels then make room
// for the tick numbers, never the other way round.

import { LabelLayer } from '../labels.js';
import { AXIS_H, PRIORITY } from './layout.js';
import { niceStep, fmtTick } from './view.js';

/** @typedef {import('./frame.js').Frame} Frame */

/** About one tick per this many pixels. */
const TICK_PX = 90;

/** The axis band, a tick and grid line per step, their numbers. @param {Frame} f */
export function drawAxis(f) {
  const { ctx, v0, v1, X0, X1, scale, width, height } = f;
  const col = f.theme.colors;
  const step = niceStep((v1 - v0) / Math.max(2, (X1 - X0) / TICK_PX));
  ctx.font = '11px system-ui, sans-serif';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  ctx.fillStyle = col.bg;
  ctx.fillRect(0, 0, width, AXIS_H);
  for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
    const x = X0 + (t - v0) * scale;
    ctx.fillStyle = col.grid;
    ctx.fillRect(Math.round(x), AXIS_H - 6, 1, height - AXIS_H + 6);
    // A tick's number is one word: whole, or not at all.
    f.labels.add({ x: x + 3, y: AXIS_H / 2 - 1, text: fmtTick(t, step, v1 - v0), max: width - 2 - (x + 3), font: ctx.font, size: 11,
      color: col.muted, kind: 'axis', priority: PRIORITY.axis });
  }
  LabelLayer.paint(ctx, f.labels.place(ctx), col.bg);
  ctx.fillStyle = col.grid;
  ctx.fillRect(0, AXIS_H - 1, width, 1);
}

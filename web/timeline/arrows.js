// timeline/arrows.js — the arrows between lanes (spawn, join, a message, a
// lock or the GIL handed over) and the selection's outline with its own
// arrows drawn bold. Arrows are the one layer that can swamp a frame: past a
// limit they are not drawn at all and the page asks for a zoom instead.

import { ARROW_RULES } from '../model/schema.js';
import { AXIS_H, BAR_Y, BAR_H, PRIORITY, arrowEnds, laneY } from './layout.js';

/**
 * @typedef {import('./frame.js').Frame} Frame
 * @typedef {import('../model/run.js').Lane} Lane
 * @typedef {import('../model/run.js').Item} Item
 * @typedef {import('../model/run.js').RunModel} RunModel
 */

/** More arrows than this in view are a grey smear: none is drawn. */
const ARROW_LIMIT = 600;
/** Arrow kinds are the arrow rules' names; one the schema adds is drawn in the muted colour until style.css gives it one. */
const ARROW_KINDS = [...new Set(['spawn', 'join', 'message', 'lock', ...ARROW_RULES.map((r) => r.name)])];

/**
 * Every run's arrows in view, one Path2D per kind.
 * @param {Frame} f @param {RunModel[]} runs
 * @returns {{drawn:number, hidden:number}} arrows drawn, and how many were left out for being too many (0: none)
 */
export function drawArrows(f, runs) {
  const { ctx, v0, X0, X1, scale, cut, rows } = f;
  // Count first with plain arithmetic: when far too many are visible, skip the rest.
  let visible = 0;
  for (const run of runs) for (const a of run.arrows) {
    if (cut !== null && a.to.t > cut) continue;
    const xa = X0 + (a.from.t - v0) * scale, xb = X0 + (a.to.t - v0) * scale;
    if (Math.max(xa, xb) >= X0 && Math.min(xa, xb) <= X1 && ++visible > ARROW_LIMIT * 4) break;
  }
  if (visible > ARROW_LIMIT * 4) return { drawn: 0, hidden: visible };
  /** @type {{kind:string, xa:number, y1:number, xb:number, y2:number}[]} */
  const todo = [];
  // Arrows that would land on the same few pixels are drawn once.
  const seen = new Set();
  for (const row of rows) {
    if (row.lane || row.core !== null) continue;
    const run = row.run;
    /** @type {Map<Lane, number>} */
    const ys = new Map();
    for (const r of rows) if (r.run === run && r.lane) ys.set(r.lane, r.y);
    for (const a of run.arrows) {
      if (cut !== null && a.to.t > cut) continue;
      const xa = X0 + (a.from.t - v0) * scale, xb = X0 + (a.to.t - v0) * scale;
      if (Math.max(xa, xb) < X0 || Math.min(xa, xb) > X1) continue;
      const ya = ys.get(a.from.lane), yb = ys.get(a.to.lane);
      if (ya === undefined || yb === undefined) continue;
      const key = `${a.kind}|${ya}|${yb}|${Math.round(xa / 3)}|${Math.round(xb / 3)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const { y1, y2 } = arrowEnds(ya, yb);
      todo.push({ kind: a.kind, xa, y1, xb, y2 });
    }
  }
  // Thousands of overlapping curves are a grey smear that costs more to
  // rasterise than everything else: past a limit, ask for a zoom instead.
  if (todo.length > ARROW_LIMIT) return { drawn: 0, hidden: todo.length };
  /** @type {Map<string, Path2D>} */ const lines = new Map(ARROW_KINDS.map((k) => [k, new Path2D()]));
  /** @type {Map<string, Path2D>} */ const heads = new Map(ARROW_KINDS.map((k) => [k, new Path2D()]));
  for (const a of todo) arrowPath(/** @type {Path2D} */ (lines.get(a.kind)), /** @type {Path2D} */ (heads.get(a.kind)), a.xa, a.y1, a.xb, a.y2);
  ctx.lineWidth = 1.4;
  for (const k of ARROW_KINDS) {
    const color = f.theme.colors[`arrow-${k}`] ?? f.theme.colors.muted;
    ctx.strokeStyle = color; ctx.fillStyle = color;
    ctx.stroke(/** @type {Path2D} */ (lines.get(k)));
    ctx.fill(/** @type {Path2D} */ (heads.get(k)));
  }
  return { drawn: todo.length, hidden: 0 };
}

/** The notice that stands in for arrows left out: a label at the plot's top right. @param {Frame} f @param {number} hidden */
export function hiddenArrowsNotice(f, hidden) {
  if (!hidden) return;
  const { ctx, X1 } = f;
  const text = `${hidden} arrows: zoom in to see them`;
  ctx.font = '11px system-ui, sans-serif';
  const w = ctx.measureText(text).width;
  f.labels.add({ x: X1 - 4 - w, y: AXIS_H + 12, text, max: w + 1, font: ctx.font, size: 11, color: f.theme.colors.muted, kind: 'notice', priority: PRIORITY.notice });
}

/**
 * Box around the selected item and its partners; its arrows drawn bold.
 * @param {Frame} f @param {{run:RunModel, item:Item}|null} sel @param {Iterable<Item>} partners
 */
export function drawSelection(f, sel, partners) {
  if (!sel) return;
  const { ctx, X0, v0, scale, rows } = f;
  ctx.strokeStyle = f.theme.colors.accent;
  for (const it of [sel.item, ...partners]) {
    const y = laneY(rows, sel.run, it.lane);
    if (y < 0) continue;
    ctx.lineWidth = it === sel.item ? 2.5 : 1.5;
    if ('t0' in it) {
      const t1 = it.t1 ?? sel.run.endT;
      const xa = X0 + (it.t0 - v0) * scale, xb = X0 + (t1 - v0) * scale;
      ctx.strokeRect(xa - 2, y + BAR_Y - 2, Math.max(4, xb - xa + 4), BAR_H + 4);
    } else {
      const x = X0 + (it.t - v0) * scale;
      ctx.strokeRect(x - 6, y + BAR_Y - 10, 12, BAR_H + 14);
    }
  }
  const lines = new Path2D(), heads = new Path2D();
  for (const a of sel.item.links) {
    const ya = laneY(rows, sel.run, a.from.lane), yb = laneY(rows, sel.run, a.to.lane);
    if (ya < 0 || yb < 0) continue;
    const { y1, y2 } = arrowEnds(ya, yb);
    arrowPath(lines, heads, X0 + (a.from.t - v0) * scale, y1, X0 + (a.to.t - v0) * scale, y2);
  }
  ctx.lineWidth = 2.5;
  ctx.fillStyle = f.theme.colors.accent;
  ctx.stroke(lines);
  ctx.fill(heads);
}

/** A smooth arrow from (x1,y1) to (x2,y2): curve into `lines`, head into `heads`. */
function arrowPath(/** @type {Path2D} */ lines, /** @type {Path2D} */ heads, /** @type {number} */ x1, /** @type {number} */ y1, /** @type {number} */ x2, /** @type {number} */ y2) {
  lines.moveTo(x1, y1);
  if (y1 === y2) lines.lineTo(x2, y2);
  else {
    const my = (y1 + y2) / 2;
    lines.bezierCurveTo(x1, my, x2, my, x2, y2);
  }
  // head points along the final direction: vertical for lane changes, horizontal otherwise
  const vertical = y1 !== y2;
  const dir = vertical ? Math.sign(y2 - y1) : Math.sign(x2 - x1) || 1;
  // Heads are filled, and fill() closes subpaths itself (see the instant heads).
  if (vertical) { heads.moveTo(x2, y2); heads.lineTo(x2 - 4, y2 - 7 * dir); heads.lineTo(x2 + 4, y2 - 7 * dir); }
  else { heads.moveTo(x2, y2); heads.lineTo(x2 - 7 * dir, y2 - 4); heads.lineTo(x2 - 7 * dir, y2 + 4); }
}

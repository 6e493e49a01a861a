// timeline/gutter.js — the rows' furniture: the alternating bands and run
// headers painted under everything, and the gutter at the left (each lane's
// colour mark, the process tree, the names) painted over everything, so no
// span or arrow ever covers a lane's name.

import { RunModel } from '../model/run.js';
import { LabelLayer } from '../labels.js';
import { AXIS_H, CORE_BAR_Y, CORE_BAR_H, LANE_MARK_W, PRIORITY } from './layout.js';
import { cpuColor } from './theme.js';

/** @typedef {import('./frame.js').Frame} Frame */
/** @typedef {import('../labels.js').Candidate} Candidate */

/** Bands and headers first, so everything else paints over them. @param {Frame} f */
export function drawBands(f) {
  const { ctx, width } = f;
  const col = f.theme.colors;
  f.rows.forEach((r, i) => {
    if (!r.lane && r.core === null) { ctx.fillStyle = col.header; ctx.fillRect(0, r.y, width, r.h); }
    else if (i % 2 === 0) { ctx.fillStyle = col.band; ctx.fillRect(0, r.y, width, r.h); }
  });
}

/**
 * The run headers', lanes' and CPU lanes' names, as label candidates: the
 * highest priorities, so the plot's labels make room for them.
 * @param {Frame} f
 */
export function gutterLabels(f) {
  const { ctx, X0, width } = f;
  const col = f.theme.colors;
  const add = (/** @type {number} */ x, /** @type {number} */ y, /** @type {string} */ text, /** @type {number} */ max,
    /** @type {string} */ font, /** @type {string} */ color, /** @type {string} */ kind, /** @type {number|undefined} */ minChars) => {
    f.labels.add({ x, y, text, max, font, size: Number(/(\d+)px/.exec(font)?.[1] ?? 12), color, kind, priority: PRIORITY[kind], minChars });
  };
  for (const r of f.rows) {
    if (r.core !== null) {
      add(24, r.y + CORE_BAR_Y + CORE_BAR_H / 2, `CPU ${r.core} · kernel`, X0 - 34, '500 12px system-ui, sans-serif', col.text, 'lane', 3);
      continue;
    }
    if (!r.lane) {
      const run = r.run;
      const status = run.finished ? run.outcomeText() : 'running…';
      add(8, r.y + r.h / 2, `${run.label} · ${run.engineText()} · ${status}`, width - 16, '600 12px system-ui, sans-serif', col.text, 'header', undefined);
      continue;
    }
    const lane = r.lane;
    const indent = 8 + lane.depth * 12;
    const color = lane.type === 'proc' ? col.text : col.muted;
    const font = lane.type === 'proc' ? '500 12px system-ui, sans-serif' : 'italic 12px system-ui, sans-serif';
    const label = RunModel.laneLabel(lane);
    const room = X0 - indent - 8;
    ctx.font = font;
    if (ctx.measureText(label).width <= room) add(indent, r.y + r.h / 2, label, room, font, color, 'lane', 4);
    else {
      // narrow screens: the name on one line, the id under it
      add(indent, r.y + r.h / 2 - 7, lane.name, room, font, color, 'lane', 4);
      add(indent, r.y + r.h / 2 + 7, lane.type === 'proc' ? `pid ${lane.pid}` : `tid ${lane.tid}`, room, '11px system-ui, sans-serif', col.muted, 'lane', 4);
    }
  }
}

/**
 * The gutter and the run headers, drawn last so spans never cover them: the
 * bands, each lane's colour, the process tree, then the names placed for them.
 * @param {Frame} f @param {(Candidate & {shown:string})[]} names
 */
export function drawGutter(f, names) {
  const { ctx, X0, width, rows } = f;
  const col = f.theme.colors;
  rows.forEach((r, i) => {
    if (r.core !== null) {
      // a CPU of the per-core view: its name in its core colour
      ctx.fillStyle = col.bg;
      ctx.fillRect(0, r.y, X0 - 4, r.h);
      ctx.fillStyle = col.grid;
      if (rows[i - 1]?.core === null) ctx.fillRect(0, r.y, width, 1);
      ctx.fillStyle = cpuColor(f.theme, r.core);
      ctx.fillRect(8, r.y + CORE_BAR_Y + 3, 10, CORE_BAR_H - 6);
      return;
    }
    if (!r.lane) {
      ctx.fillStyle = col.header;
      ctx.fillRect(0, r.y, X0 - 4, r.h);
      return;
    }
    const lane = r.lane;
    ctx.fillStyle = i % 2 === 0 ? col.band : col.bg;
    ctx.fillRect(0, r.y, X0 - 4, r.h);
    // The lane's own colour: the per-core view and the code panel's current lines use it too.
    ctx.fillStyle = f.laneColor(r.run, lane);
    ctx.fillRect(0, r.y + 3, LANE_MARK_W, r.h - 6);
    const indent = 8 + lane.depth * 12;
    // tree line from the parent row down to this one
    if (lane.depth > 0) {
      ctx.fillStyle = col.alive;
      const parentRow = rows.find((p) => p.run === r.run && p.lane && p.lane.id === lane.parentId);
      const top = parentRow ? parentRow.y + parentRow.h / 2 + 6 : r.y;
      const xl = indent - 8;
      ctx.fillRect(xl, top, 1, r.y + r.h / 2 - top);
      ctx.fillRect(xl, r.y + r.h / 2, 6, 1);
    }
  });
  ctx.fillStyle = col.grid;
  const last = rows.at(-1);
  ctx.fillRect(X0 - 4, AXIS_H, 1, Math.max(0, (last ? last.y + last.h : 0) - AXIS_H));
  LabelLayer.paint(ctx, names, col.bg);
}

// timeline/tooltip.js — the tooltip of the item under the pointer, or of the
// selection when exploring by keyboard: what happened, where, when, and the
// event's own fields, placed beside the item and kept inside the viewport.
// Its own module because it is the timeline's one piece of DOM besides the
// canvas, and the only place that turns an item into words.

import { RunModel } from '../model/run.js';
import { describe, fmtTime } from '../format.js';

/** @typedef {import('../model/run.js').Item} Item */

/** The first event of an item: a span's begin, an instant's own event. @param {Item} it */
export function firstSeq(it) { return 't0' in it ? it.begin.seq : it.ev.seq; }

/** A /proc state in words. @param {string} state @param {number} cpu */
export function stateWords(state, cpu) {
  switch (state) {
    case 'R': return `R, on CPU ${cpu} (running, or runnable waiting for it)`;
    case 'S': return 'S, asleep (waiting for something)';
    case 'D': return 'D, uninterruptible sleep (usually disk I/O)';
    case 'Z': return 'Z, zombie (exited, not yet reaped)';
    default: return state;
  }
}

/** Tooltip body: what happened, where, when, and the event's own fields. @param {RunModel} run @param {Item} it */
export function tooltipContent(run, it) {
  const out = [];
  const head = document.createElement('strong');
  const lane = document.createElement('div');
  lane.textContent = RunModel.laneLabel(it.lane);
  lane.className = 'tl-tip-lane';
  const dl = document.createElement('dl');
  const row = (/** @type {string} */ k, /** @type {string} */ v) => {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  };
  if ('t0' in it) {
    head.textContent = it.label;
    const t1 = it.t1 ?? run.endT;
    row('from', fmtTime(it.t0, 1e6));
    row('to', it.t1 === null ? `${fmtTime(t1, 1e6)} (still open)` : fmtTime(t1, 1e6));
    row('lasted', fmtTime(t1 - it.t0));
    row('cpu', it.end && it.end.cpu !== it.cpu ? `${it.cpu} → ${it.end.cpu}` : String(it.cpu));
    const f = describe(it.begin);
    if (f) row('begin', f);
    if (it.end) { const g = describe(it.end); if (g) row('end', g); }
  } else {
    head.textContent = it.ev.kind;
    row('at', fmtTime(it.t, 1e6));
    row('cpu', String(it.ev.cpu));
    const f = describe(it.ev);
    if (f) row('fields', f);
  }
  for (const a of it.links) {
    const other = a.from.seq === firstSeq(it) || (('end' in it) && it.end && a.from.seq === it.end.seq) ? a.to : a.from;
    row(a.kind, `${a.label} ${other === a.to ? '→' : '←'} ${RunModel.laneLabel(other.lane)}`);
  }
  out.push(head, lane, dl);
  return out;
}

/**
 * Fill and place the tooltip: beside the pointer, or under the item when
 * there is no pointer (x < 0: the keyboard's selection). Fixed to the
 * viewport, so the scrolling lane box never clips it.
 * @param {HTMLElement} tip @param {HTMLCanvasElement} canvas
 * @param {{run:RunModel, item:Item, x:number, y:number}|null} h
 * @param {(run:RunModel, item:Item)=>{x:number, y:number}} under  where an item's tooltip goes without a pointer
 */
export function showTooltip(tip, canvas, h, under) {
  if (!h) { tip.hidden = true; return; }
  const key = `${h.run.version}|${firstSeq(h.item)}`;
  if (tip.dataset.key !== key) {
    tip.dataset.key = key;
    tip.replaceChildren(...tooltipContent(h.run, h.item));
  }
  tip.hidden = false;
  let { x, y } = h;
  if (x < 0) ({ x, y } = under(h.run, h.item));
  const box = canvas.getBoundingClientRect();
  const w = tip.offsetWidth, th = tip.offsetHeight;
  const left = Math.max(4, Math.min(box.left + x + 12, innerWidth - w - 4));
  let top = box.top + y + 14;
  if (top + th > innerHeight - 4) top = Math.max(4, box.top + y - th - 8);
  tip.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
}

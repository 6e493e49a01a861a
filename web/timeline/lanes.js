// timeline/lanes.js — the layers inside each process and thread lane: the
// lifetime line, the kernel strip (the thread's /proc state), the span bars,
// the CPU strip under them and the instants with their text. Each layer
// culls by binary search and coalesces what falls within a pixel, then adds
// rectangles to one Path2D per colour; paintLanes fills each once, because
// canvas state changes, not arithmetic, dominate the cost of a frame.

import { lowerBound } from '../sorted.js';
import { sampleEnd } from '../model/kernel.js';
import { SPAN_RULES } from '../model/schema.js';
import { BAR_Y, BAR_H, CPU_Y, KSTRIP_Y, KSTRIP_H, PRIORITY, spanLabel } from './layout.js';
import { cpuColor, hatch } from './theme.js';

/**
 * @typedef {import('./frame.js').Frame} Frame
 * @typedef {import('./layout.js').Row} Row
 * @typedef {import('../model/run.js').Span} Span
 * @typedef {import('../labels.js').Candidate} Candidate
 *
 * The rectangles of every lane of a frame, by what colours them.
 * @typedef {object} LaneBatches
 * @property {Path2D} alive
 * @property {Map<string, Path2D>} states  kernel strip: `cpu<N>` for R on core N, else the state letter
 * @property {Map<string, Path2D>} spans   by span style
 * @property {Map<number, Path2D>} cpus    CPU strip, by core
 * @property {Map<string, Path2D>} marks   instants, by group
 */

/** Drawing order of span styles: later ones paint over earlier ones. A style
 * the schema adds is drawn with the full-height ones (in the `other` colour
 * until style.css gives it one), so a new span rule is never invisible. */
export const SPAN_ORDER = ['sleep', 'compute', 'system', 'other', 'join', 'wait', 'hold', 'zombie'];
for (const r of SPAN_RULES) if (!SPAN_ORDER.includes(r.style)) SPAN_ORDER.splice(SPAN_ORDER.indexOf('other'), 0, r.style);
const HATCHED = new Set(['wait', 'join', 'zombie']);
const INSTANT_GROUPS = ['life', 'other', 'value', 'message', 'note', 'print', 'error'];
/** Instant groups whose events say something in words on the lane. */
const TEXT_GROUPS = new Set(['print', 'note', 'message', 'value', 'error']);
/** Past this many labels in one lane's instants, none of them can be read: skip the text. */
const LANE_LABEL_LIMIT = 400;

/**
 * The CPU strip under one lane's bars: one pending run, extended while the
 * next strip starts within a pixel of it. Where cores change faster than a
 * pixel, the first core seen stands for that pixel.
 */
class CpuStrip {
  /** @param {number} y the lane's top @param {Map<number, Path2D>} cpus */
  constructor(y, cpus) {
    this.y = y;
    this.cpus = cpus;
    /** @type {[number, number, number]|null} cpu, x0, x1 */
    this.pc = null;
  }

  /** @param {number} cpu @param {number} xa @param {number} xb */
  add(cpu, xa, xb) {
    const pc = this.pc;
    const narrow = xb - xa < 1;
    if (pc && xa >= pc[1] - 1 && xa <= pc[2] + (narrow ? 3 : 1) && (cpu === pc[0] || xa < pc[2] || narrow)) {
      if (xb > pc[2]) pc[2] = xb;
      return;
    }
    this.flush();
    this.pc = [cpu, xa, xb];
  }

  flush() {
    const pc = this.pc;
    if (!pc) return;
    let p = this.cpus.get(pc[0]);
    if (!p) { p = new Path2D(); this.cpus.set(pc[0], p); }
    p.rect(pc[1], this.y + CPU_Y, Math.max(1, pc[2] - pc[1]), 3);
    this.pc = null;
  }
}

/**
 * Every lane row's layers, as rectangles by colour and label candidates.
 * @param {Frame} f @returns {{batches: LaneBatches, labels: Candidate[], spans: number, instants: number}}
 */
export function collectLanes(f) {
  /** @type {LaneBatches} */
  const batches = {
    alive: new Path2D(), states: new Map(), cpus: new Map(),
    spans: new Map(SPAN_ORDER.map((s) => [s, new Path2D()])),
    marks: new Map(INSTANT_GROUPS.map((g) => [g, new Path2D()])),
  };
  /** @type {Candidate[]} the plot's labels: placed with the fixed ones once everything is known */
  const labels = [];
  let spans = 0, instants = 0;
  for (const row of f.rows) {
    if (!row.lane) continue;
    const endOf = f.endOf(row);
    const tEnd = Math.min(f.v1, f.cut ?? Infinity);
    lifetimeLayer(f, row, tEnd, endOf, batches.alive);
    kernelStripLayer(f, row, tEnd, endOf, batches.states);
    const strip = new CpuStrip(row.y, batches.cpus);
    spans += spanLayer(f, row, tEnd, endOf, batches.spans, strip, labels);
    strip.flush();
    instants += instantLayer(f, row, tEnd, batches.marks, strip, labels);
    strip.flush();
  }
  return { batches, labels, spans, instants };
}

/** Fill every lane's rectangles, one colour at a time, in drawing order. @param {Frame} f @param {LaneBatches} b */
export function paintLanes(f, b) {
  const { ctx, theme } = f;
  const col = theme.colors;
  ctx.fillStyle = col.alive;
  ctx.fill(b.alive);
  for (const [key, p] of b.states) {
    ctx.fillStyle = key.startsWith('cpu') ? cpuColor(theme, Number(key.slice(3))) : (col[key] ?? col.muted);
    ctx.fill(p);
  }
  for (const style of SPAN_ORDER) {
    const color = col[style] ?? col.other;
    ctx.fillStyle = HATCHED.has(style) ? hatch(theme, ctx, color) : color;
    ctx.fill(/** @type {Path2D} */ (b.spans.get(style)));
  }
  for (const [cpu, p] of b.cpus) { ctx.fillStyle = cpuColor(theme, cpu); ctx.fill(p); }
  for (const g of INSTANT_GROUPS) { ctx.fillStyle = col[g] ?? col.text; ctx.fill(/** @type {Path2D} */ (b.marks.get(g))); }
}

/** The lifetime: a thin line from start to exit. @param {Frame} f @param {Row} row @param {number} tEnd @param {number} endOf @param {Path2D} alive */
function lifetimeLayer(f, row, tEnd, endOf, alive) {
  const lane = /** @type {import('../model/run.js').Lane} */ (row.lane);
  if (!lane.alive || lane.alive.t0 > tEnd) return;
  const { v0, X0, scale } = f;
  const a0 = Math.max(lane.alive.t0, v0), a1 = Math.min(lane.alive.t1 ?? endOf, tEnd);
  if (a1 >= a0) alive.rect(X0 + (a0 - v0) * scale, row.y + BAR_Y + BAR_H / 2 - 1, Math.max(1, (a1 - a0) * scale), 2);
}

/**
 * The kernel strip (sampled from /proc): R in its core's colour, S, D, Z
 * each their own. One pending rect per state, extended while the next
 * starts within a pixel, so a zoomed-out frame costs pixels, not samples.
 * @param {Frame} f @param {Row} row @param {number} tEnd @param {number} endOf @param {Map<string, Path2D>} states
 */
function kernelStripLayer(f, row, tEnd, endOf, states) {
  const lane = /** @type {import('../model/run.js').Lane} */ (row.lane);
  const sm = lane.samples;
  if (!sm.length) return;
  const { v0, X0, scale } = f;
  const y = row.y;
  let i = Math.max(0, lowerBound(sm, v0, (s) => s.t) - 1);
  /** @type {[string, number, number]|null} key, x0, x1 */
  let pk = null;
  const flushK = () => {
    if (!pk) return;
    let p = states.get(pk[0]); if (!p) { p = new Path2D(); states.set(pk[0], p); }
    p.rect(pk[1], y + KSTRIP_Y, Math.max(1, pk[2] - pk[1]), KSTRIP_H);
  };
  for (; i < sm.length && sm[i].t <= tEnd; i++) {
    const s = sm[i];
    if (s.state === 'X') continue; // gone: nothing left to draw
    const e = Math.min(sampleEnd(lane, i, endOf), tEnd);
    if (e < v0) continue;
    const key = s.state === 'R' ? `cpu${s.cpu}` : s.state;
    const xa = X0 + (Math.max(s.t, v0) - v0) * scale, xb = X0 + (e - v0) * scale;
    if (pk && xa <= pk[2] + 1 && (pk[0] === key || xb - xa < 1)) { if (xb > pk[2]) pk[2] = xb; continue; }
    flushK();
    pk = [key, xa, xb];
  }
  flushK();
}

/**
 * The span bars: binary search from (view start − longest span), coalescing
 * sub-pixel neighbours; each span also marks the CPU strip under it.
 * @param {Frame} f @param {Row} row @param {number} tEnd @param {number} endOf
 * @param {Map<string, Path2D>} spans @param {CpuStrip} strip @param {Candidate[]} labels
 * @returns {number} the spans drawn
 */
function spanLayer(f, row, tEnd, endOf, spans, strip, labels) {
  const lane = /** @type {import('../model/run.js').Lane} */ (row.lane);
  const { v0, X0, X1, scale } = f;
  const y = row.y;
  const list = lane.spans;
  let n = 0;
  let i = lowerBound(list, v0 - lane.maxDur, (s) => s.t0);
  /** @type {Record<string, [number, number]>} */ const pend = {};
  // Waiting for and holding a lock or the GIL usually happen inside other
  // work (compute under the GIL): they take the lower half of the bar so both show.
  const barRect = (/** @type {string} */ style, /** @type {number} */ xa, /** @type {number} */ xb) => {
    const half = style === 'hold' || style === 'wait';
    spans.get(style)?.rect(xa, y + BAR_Y + (half ? BAR_H / 2 : 0), Math.max(1, xb - xa), half ? BAR_H / 2 : BAR_H);
  };
  const emit = (/** @type {Span} */ s, /** @type {number} */ st1) => {
    const xa = X0 + (Math.max(s.t0, v0) - v0) * scale;
    const xb = X0 + (Math.min(st1, tEnd) - v0) * scale;
    if (xb < X0 - 1) return;
    const p = pend[s.style];
    // Sub-pixel spans close together read as one bar; merging them is what keeps a zoomed-out frame cheap.
    if (p && xa <= p[1] + (xb - xa < 1 ? 3 : 1.25)) { if (xb > p[1]) p[1] = xb; }
    else {
      if (p) barRect(s.style, p[0], p[1]);
      pend[s.style] = [xa, xb];
    }
    if (s.style !== 'zombie') strip.add(s.cpu, xa, xb);
    n++;
    if (xb - xa > 46) labels.push(spanLabel(Math.max(xa, X0) + 4, y + BAR_Y + BAR_H / 2 + 0.5, s.label, Math.min(xb, X1) - Math.max(xa, X0) - 8, f.theme.colors.text, 'span'));
  };
  const px = 1 / scale; // one pixel of time
  while (i < list.length) {
    const s = list[i];
    if (s.t0 > tEnd) break;
    if (s.t1 === null || s.t1 < v0) { i++; continue; }
    emit(s, s.t1);
    // Level of detail: after a sub-pixel span, the next pixel's first span
    // stands for the rest of this one, so a zoomed-out frame costs pixels, not events.
    if ((s.t1 - s.t0) < px && i + 1 < list.length && list[i + 1].t0 < s.t0 + px) {
      i = Math.max(i + 1, lowerBound(list, s.t0 + px, (q) => q.t0));
    } else i++;
  }
  for (const s of lane.open) if (s.t0 <= tEnd) emit(s, endOf);
  for (const [style, p] of Object.entries(pend)) barRect(style, p[0], p[1]);
  return n;
}

/**
 * The instants: a tick with a head, one per pixel column per group, and the
 * text of what was printed, sent or noted beside it.
 * @param {Frame} f @param {Row} row @param {number} tEnd
 * @param {Map<string, Path2D>} marks @param {CpuStrip} strip @param {Candidate[]} labels
 * @returns {number} the instants drawn
 */
function instantLayer(f, row, tEnd, marks, strip, labels) {
  const lane = /** @type {import('../model/run.js').Lane} */ (row.lane);
  const { v0, X0, X1, scale, cut } = f;
  const col = f.theme.colors;
  const y = row.y;
  const px = 1 / scale;
  const ins = lane.instants;
  let n = 0;
  let j = lowerBound(ins, v0 - 4 / scale, (q) => q.t);
  // Dense instants merge into one tick per pixel run; heads only where there is room.
  /** @type {Record<string, [number, number]>} */ const tick = {};
  /** @type {Record<string, number>} */ const lastHead = {};
  const firstLabel = labels.length;
  let lastLabelX = -Infinity;
  for (; j < ins.length; j++) {
    const it = ins[j];
    if (it.t > tEnd + 4 / scale) break;
    if (cut !== null && it.t > cut) break;
    const x = X0 + (it.t - v0) * scale;
    const m = /** @type {Path2D} */ (marks.get(it.group));
    const tk = tick[it.group];
    if (tk && x - 0.75 <= tk[1] + 1.25) { tk[1] = x + 0.75; }
    else {
      if (tk) m.rect(tk[0], y + BAR_Y - 4, tk[1] - tk[0], BAR_H + 6);
      tick[it.group] = [x - 0.75, x + 0.75];
    }
    if (x - (lastHead[it.group] ?? -1e9) >= 6) {
      lastHead[it.group] = x;
      // No closePath(): fill() closes every subpath anyway, and in Chromium
      // the call alone was a third of a 100k-event frame.
      m.moveTo(x, y + BAR_Y - 8); m.lineTo(x + 4, y + BAR_Y - 4); m.lineTo(x, y + BAR_Y); m.lineTo(x - 4, y + BAR_Y - 4);
    }
    strip.add(it.ev.cpu, x - 2, x + 2);
    n++;
    if (j + 1 < ins.length && ins[j + 1].t - it.t < px / 2) {
      // same level of detail as spans: the rest of this pixel is already marked
      j = Math.max(j, lowerBound(ins, it.t + px / 2, (q) => q.t) - 1);
      continue;
    }
    if (!TEXT_GROUPS.has(it.group)) continue;
    const e = it.ev;
    const text = e.kind === 'print' || e.kind === 'note' || e.kind === 'result' ? String(e.text ?? '')
      : e.kind === 'exception' ? `${e.type ?? 'Exception'}: ${e.message ?? ''}`
      : e.kind === 'value' ? `${e.op} ${e.name ?? ''}=${e.value}` : `${e.op} ${JSON.stringify(e.value ?? e.msg)}`;
    // stderr lines (a traceback) in the error colour, as in the console
    const color = e.stream === 'stderr' ? col.error : (col[it.group] ?? col.text);
    // The label may run over the marks after it; the layer keeps it off other labels.
    // One label per few pixels of a lane is all that can show (the layer would drop the rest).
    if (x + 6 >= X0 + 2 && x - lastLabelX >= 6) {
      lastLabelX = x;
      labels.push({ x: x + 6, y: y + 7, text, max: X1 - x - 8, font: '600 11px system-ui, sans-serif', size: 11,
        color, kind: 'mark', backing: true, priority: PRIORITY[e.stream === 'stderr' ? 'error' : it.group] ?? PRIORITY.value });
    }
  }
  for (const [g, tk] of Object.entries(tick)) marks.get(g)?.rect(tk[0], y + BAR_Y - 4, tk[1] - tk[0], BAR_H + 6);
  if (labels.length - firstLabel > LANE_LABEL_LIMIT) labels.length = firstLabel; // too dense to read: skip text
  return n;
}

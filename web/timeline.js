// timeline.js — draws one or more runs on a canvas: a lane per process and
// thread, spans, instants, arrows, a time axis, a replay cursor. It exists so
// drawing and the explore gestures (zoom, pan, hover, select) live in one
// place that knows the geometry. Under each lane it draws the kernel's view
// of that thread (sampled from /proc), and below a run's lanes, one lane per
// CPU showing which thread the kernel had there ("By core"). Input handlers only change state and ask for
// a frame; the app's single requestAnimationFrame loop calls draw(). Drawing
// culls by binary search and batches rectangles by colour into one Path2D
// each, because canvas state changes, not arithmetic, dominate the cost.

import { RunModel, lowerBound, describe, fmtTime, sampleEnd, SPAN_RULES, ARROW_RULES } from './model.js';
import { activityRange } from './activity.js';
import { LabelLayer } from './labels.js';

/** @typedef {import('./model.js').Lane} Lane */
/** @typedef {import('./model.js').Item} Item */
/** @typedef {import('./model.js').Span} Span */
/** @typedef {import('./model.js').Instant} Instant */
/** @typedef {import('./model.js').CoreSlice} CoreSlice */
/** @typedef {import('./labels.js').Candidate} Candidate */
/** @typedef {import('./labels.js').LabelBox} LabelBox */
/** @typedef {{run:RunModel, runIndex:number, item:Item}} Hit */
/** A run's header (lane and core null), a process/thread lane, or a CPU of the per-core view.
 * @typedef {{run:RunModel, runIndex:number, lane:Lane|null, core:number|null, y:number, h:number}} Row */

const AXIS_H = 26;
const HEADER_H = 24;
const LANE_H = 44;
// Inside a lane: a text strip on top for what was printed or sent, the bar
// below it, the CPU strip under the bar (the core each event named), and the
// kernel strip under that (the thread's state in /proc).
const BAR_Y = 15, BAR_H = 14, CPU_Y = 31, KSTRIP_Y = 36, KSTRIP_H = 5;
// A CPU lane of the per-core view: one bar, the thread the kernel had there,
// and a tick above it where two threads were R on that core at once.
const CORE_H = 30, CORE_BAR_Y = 9, CORE_BAR_H = 15;
/** Width of the lane's colour mark at the gutter's left edge. */
const LANE_MARK_W = 4;
const MIN_RANGE = 2_000; // 2 µs: below that the clock's own jitter dominates
const ARROW_LIMIT = 600;
// Fit leaves this much room around the lesson's activity: pixels, at most
// this share of the plot; more on the right, where the last event's label reads.
const FIT_PAD_L = [14, 0.04], FIT_PAD_R = [40, 0.1];
/** Which label gives way when two collide: the higher number keeps its place. */
const PRIORITY = /** @type {Record<string, number>} */ ({
  notice: 110, header: 100, lane: 95, axis: 90, error: 70, print: 60, note: 55, message: 50, value: 45, span: 30, core: 20,
});
/** Label kinds drawn inside the plot's clip; the rest are the gutter's and the headers'. */
const PLOT_KINDS = new Set(['mark', 'span', 'core', 'notice']);

/** Drawing order of span styles: later ones paint over earlier ones. A style
 * the schema adds is drawn with the full-height ones (in the `other` colour
 * until style.css gives it one), so a new span rule is never invisible. */
const SPAN_ORDER = ['sleep', 'compute', 'system', 'other', 'join', 'wait', 'hold', 'zombie'];
for (const r of SPAN_RULES) if (!SPAN_ORDER.includes(r.style)) SPAN_ORDER.splice(SPAN_ORDER.indexOf('other'), 0, r.style);
const HATCHED = new Set(['wait', 'join', 'zombie']);
const INSTANT_GROUPS = ['life', 'other', 'value', 'message', 'note', 'print', 'error'];
/** Arrow kinds are the arrow rules' names; one the schema adds is drawn in the muted colour until style.css gives it one. */
const ARROW_KINDS = [...new Set(['spawn', 'join', 'message', 'lock', ...ARROW_RULES.map((r) => r.name)])];

/** Colours come from CSS custom properties so light/dark themes stay in style.css. */
const FALLBACK = /** @type {Record<string,string>} */ ({
  bg: '#ffffff', band: '#f5f7fa', header: '#eef1f5', grid: '#e3e7ec', text: '#1d2430', muted: '#5b6676',
  accent: '#0b63ce', alive: '#9aa5b4',
  sleep: '#9db4cf', compute: '#e8833a', system: '#2a9d8f', other: '#8e7cc3',
  join: '#7b61c9', wait: '#d64561', hold: '#2f9e44', zombie: '#6b7280',
  print: '#1d2430', message: '#1c7ed6', value: '#c88a04', note: '#ae3ec9', life: '#6b7280', error: '#c92a2a',
  'arrow-spawn': '#6b7280', 'arrow-join': '#7b61c9', 'arrow-message': '#1c7ed6', 'arrow-lock': '#2f9e44',
  R: '#2f9e44', S: '#c5cdd8', D: '#c92a2a', Z: '#495057', contend: '#c92a2a',
});
const CPU_FALLBACK = ['#4263eb', '#f08c00', '#0ca678', '#e64980', '#7048e8', '#1098ad', '#74b816', '#d6336c'];
/** Thread colours of the per-core view: neutral-ish hues, so they do not read as cores. */
const THREAD_FALLBACK = ['#5c7cfa', '#20c997', '#fab005', '#f06595', '#845ef7', '#15aabf', '#82c91e', '#ff922b'];

export class Timeline {
  /**
   * @param {HTMLElement} host  a positioned, focusable container; the canvas goes inside
   * @param {{request:()=>void, onSelect?:(hit:Hit|null)=>void}} opts
   */
  constructor(host, opts) {
    this.host = host;
    this.request = opts.request;
    this.onSelect = opts.onSelect ?? (() => {});
    this.canvas = document.createElement('canvas');
    this.canvas.setAttribute('aria-hidden', 'true');
    this.tip = document.createElement('div');
    this.tip.className = 'tl-tip';
    this.tip.hidden = true;
    this.tip.setAttribute('role', 'status');
    host.append(this.canvas, this.tip);
    /** @type {RunModel[]} */ this.runs = [];
    this.view = { t0: 0, t1: 1e9 };
    /** Follow mode keeps the whole run in view as it grows; any zoom or pan leaves it. */
    this.follow = true;
    /** @type {number|null} replay cursor (ns); null shows everything */
    this.cursor = null;
    /** Live "now" per run index, extrapolated by the app between events. */
    /** @type {number[]} */ this.now = [];
    /** @type {Hit|null} */ this.selected = null;
    /** @type {(Hit & {x:number, y:number})|null} */ this.hover = null;
    /** @type {Set<Item>} */ this.partners = new Set();
    this.colors = { ...FALLBACK };
    this.cpuColors = [...CPU_FALLBACK];
    this.threadColors = [...THREAD_FALLBACK];
    /** Show one lane per CPU under each run's lanes (the per-core view). */
    // Off at first: the lesson's own lanes come first; the CPU lanes are one click away.
    this.byCore = false;
    /** @type {WeakMap<RunModel, {version:number, map:Map<Lane, number>}>} */
    this._threadIdx = new WeakMap();
    /** @type {WeakMap<RunModel, {version:number, range:{t0:number, t1:number}|null}>} */
    this._activity = new WeakMap();
    /** Where every label of the last frame went (see labelBoxes). */
    this.labels = new LabelLayer();
    this.reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
    /** @type {Row[]} */ this.rows = [];
    this.stats = { spans: 0, instants: 0, arrows: 0, ms: 0 };
    this.hiddenArrows = 0;
    this.readColors();
    const dark = matchMedia('(prefers-color-scheme: dark)');
    dark.addEventListener?.('change', () => { this.readColors(); this.request(); });
    new ResizeObserver(() => this.request()).observe(host);
    this._bindInput();
  }

  readColors() {
    const cs = getComputedStyle(this.host);
    for (const k of Object.keys(FALLBACK)) {
      const v = cs.getPropertyValue(`--tl-${k}`).trim();
      this.colors[k] = v || FALLBACK[k];
    }
    this.cpuColors = CPU_FALLBACK.map((c, i) => cs.getPropertyValue(`--cpu-${i}`).trim() || c);
    this.threadColors = THREAD_FALLBACK.map((c, i) => cs.getPropertyValue(`--thr-${i}`).trim() || c);
    this._patterns = null;
  }

  /** @param {number} cpu */
  cpuColor(cpu) { return cpu < 0 ? this.colors.muted : this.cpuColors[cpu % this.cpuColors.length]; }

  /** @param {boolean} on */
  setByCore(on) {
    this.byCore = on;
    this.hover = null;
    if (this.selected && this.selected.item.style === 'core') this.select(null);
    this.request();
  }

  /**
   * Each lane's colour index, in lane order: a thread keeps its colour on
   * every core of the per-core view, beside its name in the gutter, and on
   * its current line in the code panel while replaying.
   * @param {RunModel} run
   */
  threadIndex(run) {
    let c = this._threadIdx.get(run);
    if (!c || c.version !== run.version) {
      const map = new Map();
      for (const l of run.lanes()) map.set(l, map.size);
      c = { version: run.version, map };
      this._threadIdx.set(run, c);
    }
    return c.map;
  }

  /** @param {RunModel} run @param {Lane} lane */
  threadColor(run, lane) {
    const i = this.threadIndex(run).get(lane) ?? 0;
    return this.threadColors[i % this.threadColors.length];
  }

  /** A lane's colour, as the gutter draws it (the page's other views use this). @param {RunModel} run @param {Lane} lane */
  laneColor(run, lane) { return this.threadColor(run, lane); }

  /** The label boxes of the last frame, in CSS pixels of the canvas (tests read
   * them through `window.forkline.timeline.labelBoxes()`). @returns {LabelBox[]} */
  labelBoxes() { return this.labels.boxes.map((b) => ({ ...b })); }

  /**
   * When the run's lesson happened (activity.js): a finished run's, cached by
   * version; a live run's from its first lesson event to now.
   * @param {RunModel} run @param {number} runIndex
   * @returns {{t0:number, t1:number}|null}
   */
  activityOf(run, runIndex = this.runs.indexOf(run)) {
    if (!run.finished) {
      return run.lessonT0 === null ? null : { t0: run.lessonT0, t1: Math.max(run.endT, this.now[runIndex] ?? 0) };
    }
    let c = this._activity.get(run);
    if (!c || c.version !== run.version) {
      c = { version: run.version, range: activityRange(run.byTime(), (e) => run.isRunLevel(e)) };
      this._activity.set(run, c);
    }
    return c.range;
  }

  /** The fitted view: every run's activity, with a margin of a few pixels. */
  _fitView() {
    let t0 = Infinity, t1 = -Infinity;
    this.runs.forEach((r, i) => {
      const a = this.activityOf(r, i);
      if (a) { t0 = Math.min(t0, a.t0); t1 = Math.max(t1, a.t1); }
    });
    if (!Number.isFinite(t0)) { t0 = 0; t1 = this.extent(); }
    const span = Math.max(t1 - t0, 1e5);
    const w = Math.max(40, this.plotX1 - this.plotX0);
    // Pixels of margin become time at the scale the activity gets.
    const left = Math.min(FIT_PAD_L[0], w * FIT_PAD_L[1]), right = Math.min(FIT_PAD_R[0], w * FIT_PAD_R[1]);
    const perPx = span / (w - left - right);
    return { t0: t0 - left * perPx, t1: t1 + right * perPx };
  }

  /** @param {RunModel[]} runs */
  setRuns(runs) {
    this.runs = runs;
    this.selected = null;
    this.hover = null;
    this.partners.clear();
    this.follow = true;
    this.request();
  }

  /** The largest time any run reaches (live runs: now). */
  extent() {
    let e = 0;
    this.runs.forEach((r, i) => { e = Math.max(e, r.finished ? r.endT : Math.max(r.endT, this.now[i] ?? 0)); });
    return Math.max(e, 1e6);
  }

  fit() {
    this.follow = true;
    this.request();
  }

  get plotX0() { return this.width < 520 ? 104 : 176; }
  get plotX1() { return this.width - 12; }

  /** @param {number} t */
  x(t) { return this.plotX0 + ((t - this.view.t0) / (this.view.t1 - this.view.t0)) * (this.plotX1 - this.plotX0); }
  /** @param {number} x */
  t(x) { return this.view.t0 + ((x - this.plotX0) / (this.plotX1 - this.plotX0)) * (this.view.t1 - this.view.t0); }

  /** Zoom by factor (<1 zooms in) around time `at`. */
  zoom(factor, at = (this.view.t0 + this.view.t1) / 2) {
    const max = this.extent() * 4;
    let range = (this.view.t1 - this.view.t0) * factor;
    range = Math.min(Math.max(range, MIN_RANGE), max);
    const frac = (at - this.view.t0) / (this.view.t1 - this.view.t0);
    this.follow = false;
    this._setView(at - frac * range, at - frac * range + range);
  }

  /** Pan by a fraction of the visible range (positive: later). */
  pan(frac) {
    const d = (this.view.t1 - this.view.t0) * frac;
    this.follow = false;
    this._setView(this.view.t0 + d, this.view.t1 + d);
  }

  /** @param {number} t0 @param {number} t1 */
  _setView(t0, t1) {
    const range = t1 - t0;
    const ext = this.extent();
    // Keep some of the run on screen: panning into empty time teaches nothing.
    const lo = -range * 0.5, hi = ext + range * 0.5 - range;
    t0 = Math.min(Math.max(t0, lo), Math.max(lo, hi));
    this.view = { t0, t1: t0 + range };
    this.request();
  }

  // ---------------------------------------------------------------- layout

  _layout() {
    /** @type {Row[]} */
    const rows = [];
    let y = AXIS_H;
    this.runs.forEach((run, runIndex) => {
      rows.push({ run, runIndex, lane: null, core: null, y, h: HEADER_H });
      y += HEADER_H;
      for (const lane of run.lanes()) {
        rows.push({ run, runIndex, lane, core: null, y, h: LANE_H });
        y += LANE_H;
      }
      if (this.byCore) {
        for (const cpu of run.coreList()) {
          rows.push({ run, runIndex, lane: null, core: cpu, y, h: CORE_H });
          y += CORE_H;
        }
      }
    });
    this.rows = rows;
    return y + 6;
  }

  /** Where an item sits, for outlines, arrows and keyboard tooltips. @param {RunModel} run @param {Lane} lane */
  _laneY(run, lane) {
    for (const r of this.rows) if (r.run === run && r.lane === lane) return r.y;
    return -1;
  }

  // ---------------------------------------------------------------- drawing

  _pattern(/** @type {CanvasRenderingContext2D} */ ctx, /** @type {string} */ color) {
    this._patterns ??= new Map();
    let p = this._patterns.get(color);
    if (!p) {
      const c = document.createElement('canvas');
      c.width = c.height = 8;
      const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
      g.fillStyle = color; g.globalAlpha = 0.28; g.fillRect(0, 0, 8, 8);
      g.globalAlpha = 1; g.strokeStyle = color; g.lineWidth = 2;
      g.beginPath(); g.moveTo(-2, 10); g.lineTo(10, -2); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
      p = /** @type {CanvasPattern} */ (ctx.createPattern(c, 'repeat'));
      this._patterns.set(color, p);
    }
    return p;
  }

  draw() {
    const started = performance.now();
    const host = this.host;
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(200, host.clientWidth);
    const height = this._layout();
    // Fit frames the lesson's own activity, not the runner's start-up or teardown.
    if (this.follow) this.view = this._fitView();
    this.labels.reset();
    const c = this.canvas;
    const W = Math.round(this.width * dpr), H = Math.round(height * dpr);
    if (c.width !== W || c.height !== H) {
      c.width = W; c.height = H;
      c.style.width = `${this.width}px`; c.style.height = `${height}px`;
    }
    const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const col = this.colors;
    ctx.fillStyle = col.bg;
    ctx.fillRect(0, 0, this.width, height);

    const { t0: v0, t1: v1 } = this.view;
    const X0 = this.plotX0, X1 = this.plotX1;
    const scale = (X1 - X0) / (v1 - v0);
    const cut = this.cursor;

    // Bands and headers first, so everything else paints over them.
    this.rows.forEach((r, i) => {
      if (!r.lane && r.core === null) { ctx.fillStyle = col.header; ctx.fillRect(0, r.y, this.width, r.h); }
      else if (i % 2 === 0) { ctx.fillStyle = col.band; ctx.fillRect(0, r.y, this.width, r.h); }
    });
    this._axis(ctx, height, scale);

    ctx.save();
    ctx.beginPath();
    ctx.rect(X0, 0, X1 - X0 + 1, height);
    ctx.clip();

    /** @type {Map<string, Path2D>} */ const spans = new Map(SPAN_ORDER.map((s) => [s, new Path2D()]));
    /** @type {Map<number, Path2D>} */ const cpus = new Map();
    /** @type {Map<string, Path2D>} */ const marks = new Map(INSTANT_GROUPS.map((g) => [g, new Path2D()]));
    /** @type {Map<string, Path2D>} */ const states = new Map();
    const alive = new Path2D();
    const cpuPath = (/** @type {number} */ cpu) => { let p = cpus.get(cpu); if (!p) { p = new Path2D(); cpus.set(cpu, p); } return p; };
    /** @type {Candidate[]} the plot's labels: placed with the fixed ones once everything is known */
    const labels = [];
    let nSpans = 0, nInst = 0;
    /** @type {Row[]} */ const coreRows = [];

    for (const row of this.rows) {
      const lane = row.lane;
      if (!lane) { if (row.core !== null) coreRows.push(row); continue; }
      const run = row.run;
      const live = !run.finished;
      const endOf = live ? Math.max(run.endT, this.now[row.runIndex] ?? 0) : run.endT;
      const tEnd = Math.min(v1, cut ?? Infinity);
      const y = row.y;
      // lifetime: a thin line from start to exit
      if (lane.alive && lane.alive.t0 <= tEnd) {
        const a0 = Math.max(lane.alive.t0, v0), a1 = Math.min(lane.alive.t1 ?? endOf, tEnd);
        if (a1 >= a0) alive.rect(X0 + (a0 - v0) * scale, y + BAR_Y + BAR_H / 2 - 1, Math.max(1, (a1 - a0) * scale), 2);
      }
      // The kernel strip (sampled from /proc): R in its core's colour, S, D, Z
      // each their own. One pending rect per state, extended while the next
      // starts within a pixel, so a zoomed-out frame costs pixels, not samples.
      const sm = lane.samples;
      if (sm.length) {
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
      // spans: binary search from (view start − longest span), coalescing sub-pixel neighbours
      const list = lane.spans;
      let i = lowerBound(list, v0 - lane.maxDur, (s) => s.t0);
      /** @type {Record<string, [number, number]>} */ const pend = {};
      // The CPU strip under the bars: one pending run, extended while the next
      // strip starts within a pixel of it. Where cores change faster than a
      // pixel, the first core seen stands for that pixel.
      /** @type {[number, number, number]|null} cpu, x0, x1 */
      let pc = null;
      const flushCpu = () => { if (pc) cpuPath(pc[0]).rect(pc[1], y + CPU_Y, Math.max(1, pc[2] - pc[1]), 3); };
      const cpuStrip = (/** @type {number} */ cpu, /** @type {number} */ xa, /** @type {number} */ xb) => {
        const narrow = xb - xa < 1;
        if (pc && xa >= pc[1] - 1 && xa <= pc[2] + (narrow ? 3 : 1) && (cpu === pc[0] || xa < pc[2] || narrow)) {
          if (xb > pc[2]) pc[2] = xb;
          return;
        }
        flushCpu();
        pc = [cpu, xa, xb];
      };
      // Waiting for and holding a lock or the GIL usually happen inside other
      // work (compute under the GIL): they take the lower half of the bar so both show.
      const barRect = (/** @type {string} */ style, /** @type {number} */ xa, /** @type {number} */ xb) => {
        const half = style === 'hold' || style === 'wait';
        spans.get(style)?.rect(xa, y + BAR_Y + (half ? BAR_H / 2 : 0), Math.max(1, xb - xa), half ? BAR_H / 2 : BAR_H);
      };
      const emitSpan = (/** @type {Span} */ s, /** @type {number} */ st1) => {
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
        if (s.style !== 'zombie') cpuStrip(s.cpu, xa, xb);
        nSpans++;
        if (xb - xa > 46) labels.push(spanLabel(Math.max(xa, X0) + 4, y + BAR_Y + BAR_H / 2 + 0.5, s.label, Math.min(xb, X1) - Math.max(xa, X0) - 8, col.text, 'span'));
      };
      const px = 1 / scale; // one pixel of time
      while (i < list.length) {
        const s = list[i];
        if (s.t0 > tEnd) break;
        if (s.t1 === null || s.t1 < v0) { i++; continue; }
        emitSpan(s, s.t1);
        // Level of detail: after a sub-pixel span, the next pixel's first span
        // stands for the rest of this one, so a zoomed-out frame costs pixels, not events.
        if ((s.t1 - s.t0) < px && i + 1 < list.length && list[i + 1].t0 < s.t0 + px) {
          i = Math.max(i + 1, lowerBound(list, s.t0 + px, (q) => q.t0));
        } else i++;
      }
      for (const s of lane.open) if (s.t0 <= tEnd) emitSpan(s, endOf);
      for (const [style, p] of Object.entries(pend)) barRect(style, p[0], p[1]);

      // instants: a tick with a head; one per pixel column per group is enough
      const ins = lane.instants;
      let j = lowerBound(ins, v0 - 4 / scale, (n) => n.t);
      flushCpu();
      pc = null;
      // Dense instants merge into one tick per pixel run; heads only where there is room.
      /** @type {Record<string, [number, number]>} */ const tick = {};
      /** @type {Record<string, number>} */ const lastHead = {};
      const firstLabel = labels.length;
      let lastLabelX = -Infinity;
      for (; j < ins.length; j++) {
        const n = ins[j];
        if (n.t > tEnd + 4 / scale) break;
        if (cut !== null && n.t > cut) break;
        const x = X0 + (n.t - v0) * scale;
        const m = /** @type {Path2D} */ (marks.get(n.group));
        const tk = tick[n.group];
        if (tk && x - 0.75 <= tk[1] + 1.25) { tk[1] = x + 0.75; }
        else {
          if (tk) m.rect(tk[0], y + BAR_Y - 4, tk[1] - tk[0], BAR_H + 6);
          tick[n.group] = [x - 0.75, x + 0.75];
        }
        if (x - (lastHead[n.group] ?? -1e9) >= 6) {
          lastHead[n.group] = x;
          // No closePath(): fill() closes every subpath anyway, and in Chromium
          // the call alone was a third of a 100k-event frame.
          m.moveTo(x, y + BAR_Y - 8); m.lineTo(x + 4, y + BAR_Y - 4); m.lineTo(x, y + BAR_Y); m.lineTo(x - 4, y + BAR_Y - 4);
        }
        cpuStrip(n.ev.cpu, x - 2, x + 2);
        nInst++;
        if (j + 1 < ins.length && ins[j + 1].t - n.t < px / 2) {
          // same level of detail as spans: the rest of this pixel is already marked
          j = Math.max(j, lowerBound(ins, n.t + px / 2, (q) => q.t) - 1);
          continue;
        }
        if (n.group === 'print' || n.group === 'note' || n.group === 'message' || n.group === 'value' || n.group === 'error') {
          const e = n.ev;
          const text = e.kind === 'print' || e.kind === 'note' || e.kind === 'result' ? String(e.text ?? '')
            : e.kind === 'exception' ? `${e.type ?? 'Exception'}: ${e.message ?? ''}`
            : e.kind === 'value' ? `${e.op} ${e.name ?? ''}=${e.value}` : `${e.op} ${JSON.stringify(e.value ?? e.msg)}`;
          // stderr lines (a traceback) in the error colour, as in the console
          const color = e.stream === 'stderr' ? col.error : (col[n.group] ?? col.text);
          // The label may run over the marks after it; the layer keeps it off other labels.
          // One label per few pixels of a lane is all that can show (the layer would drop the rest).
          if (x + 6 >= X0 + 2 && x - lastLabelX >= 6) {
            lastLabelX = x;
            labels.push({ x: x + 6, y: y + 7, text, max: X1 - x - 8, font: '600 11px system-ui, sans-serif', size: 11,
              color, kind: 'mark', backing: true, priority: PRIORITY[e.stream === 'stderr' ? 'error' : n.group] ?? PRIORITY.value });
          }
        }
      }
      for (const [g, tk] of Object.entries(tick)) marks.get(g)?.rect(tk[0], y + BAR_Y - 4, tk[1] - tk[0], BAR_H + 6);
      flushCpu();
      if (labels.length - firstLabel > 400) labels.length = firstLabel; // too dense to read: skip text
    }

    this._cores(ctx, coreRows, scale, labels);
    ctx.fillStyle = col.alive;
    ctx.fill(alive);
    for (const [key, p] of states) {
      ctx.fillStyle = key.startsWith('cpu') ? this.cpuColor(Number(key.slice(3))) : (col[key] ?? col.muted);
      ctx.fill(p);
    }
    for (const style of SPAN_ORDER) {
      const color = col[style] ?? col.other;
      ctx.fillStyle = HATCHED.has(style) ? this._pattern(ctx, color) : color;
      ctx.fill(/** @type {Path2D} */ (spans.get(style)));
    }
    for (const [cpu, p] of cpus) { ctx.fillStyle = this.cpuColor(cpu); ctx.fill(p); }
    for (const g of INSTANT_GROUPS) { ctx.fillStyle = col[g] ?? col.text; ctx.fill(/** @type {Path2D} */ (marks.get(g))); }

    const nArrows = this._arrows(ctx, scale);
    this._highlight(ctx, scale);

    // Every label of the frame is placed at once, fixed ones first (labels.js).
    if (this.hiddenArrows) {
      const text = `${this.hiddenArrows} arrows: zoom in to see them`;
      ctx.font = '11px system-ui, sans-serif';
      const w = ctx.measureText(text).width;
      this.labels.add({ x: X1 - 4 - w, y: AXIS_H + 12, text, max: w + 1, font: ctx.font, size: 11, color: col.muted, kind: 'notice', priority: PRIORITY.notice });
    }
    this._gutterLabels(ctx);
    // Too many to read: a frame that dense shows its text after a zoom.
    if (labels.length < 600) for (const l of labels) this.labels.add(l);
    const placed = this.labels.place(ctx);
    LabelLayer.paint(ctx, placed.filter((l) => PLOT_KINDS.has(l.kind)), col.bg);

    if (cut !== null) {
      const x = X0 + (cut - v0) * scale;
      ctx.fillStyle = col.accent;
      ctx.fillRect(x - 1, AXIS_H - 4, 2, height - AXIS_H + 4);
    }
    ctx.restore();
    this._gutter(ctx, placed.filter((l) => !PLOT_KINDS.has(l.kind)));
    this._tooltip();

    host.dataset.viewStart = String(Math.round(v0));
    host.dataset.viewEnd = String(Math.round(v1));
    host.dataset.lanes = String(this.rows.filter((r) => r.lane).length);
    host.dataset.cores = String(this.rows.filter((r) => r.core !== null).length);
    host.dataset.follow = String(this.follow);
    this.stats = { spans: nSpans, instants: nInst, arrows: nArrows, ms: performance.now() - started };
  }

  /** @param {CanvasRenderingContext2D} ctx @param {number} height @param {number} scale */
  _axis(ctx, height, scale) {
    const { t0: v0, t1: v1 } = this.view;
    const X0 = this.plotX0, X1 = this.plotX1;
    const col = this.colors;
    const target = (v1 - v0) / Math.max(2, (X1 - X0) / 90);
    const step = niceStep(target);
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    ctx.fillStyle = col.bg;
    ctx.fillRect(0, 0, this.width, AXIS_H);
    for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      const x = X0 + (t - v0) * scale;
      ctx.fillStyle = col.grid;
      ctx.fillRect(Math.round(x), AXIS_H - 6, 1, height - AXIS_H + 6);
      const label = fmtTick(t, step, v1 - v0);
      // A tick's number is one word: whole, or not at all.
      this.labels.add({ x: x + 3, y: AXIS_H / 2 - 1, text: label, max: this.width - 2 - (x + 3), font: ctx.font, size: 11,
        color: col.muted, kind: 'axis', priority: PRIORITY.axis });
    }
    LabelLayer.paint(ctx, this.labels.place(ctx), col.bg);
    ctx.fillStyle = col.grid;
    ctx.fillRect(0, AXIS_H - 1, this.width, 1);
  }

  /**
   * The run headers', lanes' and CPU lanes' names, as label candidates: the
   * highest priorities, so the plot's labels make room for them.
   * @param {CanvasRenderingContext2D} ctx
   */
  _gutterLabels(ctx) {
    const col = this.colors;
    const X0 = this.plotX0;
    const add = (/** @type {number} */ x, /** @type {number} */ y, /** @type {string} */ text, /** @type {number} */ max,
      /** @type {string} */ font, /** @type {string} */ color, /** @type {string} */ kind, /** @type {number|undefined} */ minChars) => {
      this.labels.add({ x, y, text, max, font, size: Number(/(\d+)px/.exec(font)?.[1] ?? 12), color, kind, priority: PRIORITY[kind], minChars });
    };
    for (const r of this.rows) {
      if (r.core !== null) {
        add(24, r.y + CORE_BAR_Y + CORE_BAR_H / 2, `CPU ${r.core} · kernel`, X0 - 34, '500 12px system-ui, sans-serif', col.text, 'lane', 3);
        continue;
      }
      if (!r.lane) {
        const run = r.run;
        const status = run.finished ? run.outcomeText() : 'running…';
        add(8, r.y + r.h / 2, `${run.label} · ${run.engineText()} · ${status}`, this.width - 16, '600 12px system-ui, sans-serif', col.text, 'header', undefined);
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
   * @param {CanvasRenderingContext2D} ctx @param {(Candidate & {shown:string})[]} names
   */
  _gutter(ctx, names) {
    const col = this.colors;
    const X0 = this.plotX0;
    this.rows.forEach((r, i) => {
      if (r.core !== null) {
        // a CPU of the per-core view: its name in its core colour
        ctx.fillStyle = col.bg;
        ctx.fillRect(0, r.y, X0 - 4, r.h);
        ctx.fillStyle = col.grid;
        if (this.rows[i - 1]?.core === null) ctx.fillRect(0, r.y, this.width, 1);
        ctx.fillStyle = this.cpuColor(r.core);
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
      ctx.fillStyle = this.laneColor(r.run, lane);
      ctx.fillRect(0, r.y + 3, LANE_MARK_W, r.h - 6);
      const indent = 8 + lane.depth * 12;
      // tree line from the parent row down to this one
      if (lane.depth > 0) {
        ctx.fillStyle = col.alive;
        const parentRow = this.rows.find((p) => p.run === r.run && p.lane && p.lane.id === lane.parentId);
        const top = parentRow ? parentRow.y + parentRow.h / 2 + 6 : r.y;
        const xl = indent - 8;
        ctx.fillRect(xl, top, 1, r.y + r.h / 2 - top);
        ctx.fillRect(xl, r.y + r.h / 2, 6, 1);
      }
    });
    ctx.fillStyle = col.grid;
    const last = this.rows.at(-1);
    ctx.fillRect(X0 - 4, AXIS_H, 1, Math.max(0, (last ? last.y + last.h : 0) - AXIS_H));
    LabelLayer.paint(ctx, names, col.bg);
  }

  /**
   * The per-core view: for each CPU row, the R stretches of the run's threads
   * there, coloured by thread, culled by binary search and batched into one
   * Path2D per thread colour; where two threads are R on one core at once, a
   * tick above the bar (one of them was only runnable, waiting for that core).
   * @param {CanvasRenderingContext2D} ctx @param {Row[]} rows @param {number} scale
   * @param {Candidate[]} labels
   */
  _cores(ctx, rows, scale, labels) {
    if (!rows.length) return;
    const { t0: v0, t1: v1 } = this.view;
    const X0 = this.plotX0, X1 = this.plotX1;
    const cut = this.cursor;
    const px = 1 / scale;
    /** @type {Map<string, Path2D>} */ const fills = new Map();
    const contend = new Path2D();
    const path = (/** @type {string} */ c) => { let p = fills.get(c); if (!p) { p = new Path2D(); fills.set(c, p); } return p; };
    for (const row of rows) {
      const run = row.run;
      const core = run.cores().get(/** @type {number} */ (row.core));
      if (!core) continue;
      const endOf = run.finished ? run.endT : Math.max(run.endT, this.now[row.runIndex] ?? 0);
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
          if (p) path(this.threadColor(run, s.lane)).rect(p[0], y, Math.max(1, p[1] - p[0]), CORE_BAR_H);
          pend.set(s.lane, [xa, xb]);
        }
        if (xb - xa > 40) labels.push(spanLabel(Math.max(xa, X0) + 4, y + CORE_BAR_H / 2 + 0.5, `${s.lane.name} · ${s.lane.type === 'proc' ? 'pid' : 'tid'} ${s.lane.tid}`, Math.min(xb, X1) - Math.max(xa, X0) - 8, this.colors.text, 'core'));
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
      for (const [lane, p] of pend) path(this.threadColor(run, lane)).rect(p[0], y, Math.max(1, p[1] - p[0]), CORE_BAR_H);
    }
    for (const [c, p] of fills) { ctx.fillStyle = c; ctx.fill(p); }
    ctx.fillStyle = this.colors.contend;
    ctx.fill(contend);
  }

  /**
   * What is under (x, y) in a CPU row: the thread the kernel had on that core,
   * as a span-shaped item so the tooltip and selection treat it like any other.
   * @param {Row} row @param {number} t @returns {Hit|null}
   */
  _hitCore(row, t) {
    const run = row.run;
    const core = run.cores().get(/** @type {number} */ (row.core));
    if (!core) return null;
    const cut = this.cursor ?? Infinity;
    const endOf = run.finished ? run.endT : Math.max(run.endT, this.now[row.runIndex] ?? 0);
    // Most slices are narrower than a pixel: anything within a few pixels counts,
    // the nearest first, then the shortest (the one a wider slice would hide).
    const tol = 4 * (this.view.t1 - this.view.t0) / (this.plotX1 - this.plotX0);
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
   * @param {Row} row @param {number} t @returns {Hit|null}
   */
  _hitKernel(row, t) {
    const lane = /** @type {Lane} */ (row.lane), run = row.run;
    const sm = lane.samples;
    const i = lowerBound(sm, t + 1, (s) => s.t) - 1;
    if (i < 0 || sm[i].state === 'X') return null;
    const endOf = run.finished ? run.endT : Math.max(run.endT, this.now[row.runIndex] ?? 0);
    const t1 = sampleEnd(lane, i, endOf);
    if (t > t1 || sm[i].t > (this.cursor ?? Infinity)) return null;
    const s = sm[i];
    /** @type {Span} */
    const item = { lane, style: 'kernel', t0: s.t, t1, begin: s.ev, end: null, cpu: s.cpu, label: `kernel: ${stateWords(s.state, s.cpu)}`, links: [] };
    return { run, runIndex: row.runIndex, item };
  }

  /** @param {CanvasRenderingContext2D} ctx @param {number} scale */
  _arrows(ctx, scale) {
    const X0 = this.plotX0, X1 = this.plotX1;
    const { t0: v0 } = this.view;
    const cut = this.cursor;
    /** @type {Map<string, Path2D>} */ const lines = new Map(ARROW_KINDS.map((k) => [k, new Path2D()]));
    /** @type {Map<string, Path2D>} */ const heads = new Map(ARROW_KINDS.map((k) => [k, new Path2D()]));
    // Count first with plain arithmetic: when far too many are visible, skip the rest.
    let visible = 0;
    for (const run of this.runs) for (const a of run.arrows) {
      if (cut !== null && a.to.t > cut) continue;
      const xa = X0 + (a.from.t - v0) * scale, xb = X0 + (a.to.t - v0) * scale;
      if (Math.max(xa, xb) >= X0 && Math.min(xa, xb) <= X1 && ++visible > ARROW_LIMIT * 4) break;
    }
    if (visible > ARROW_LIMIT * 4) { this.hiddenArrows = visible; return 0; }
    let n = 0;
    /** @type {{kind:string, xa:number, y1:number, xb:number, y2:number}[]} */
    const todo = [];
    // Arrows that would land on the same few pixels are drawn once.
    const seen = new Set();
    for (const row of this.rows) {
      if (row.lane || row.core !== null) continue;
      const run = row.run;
      /** @type {Map<Lane, number>} */
      const ys = new Map();
      for (const r of this.rows) if (r.run === run && r.lane) ys.set(r.lane, r.y);
      for (const a of run.arrows) {
        if (cut !== null && a.to.t > cut) continue;
        const xa = X0 + (a.from.t - v0) * scale, xb = X0 + (a.to.t - v0) * scale;
        if (Math.max(xa, xb) < X0 || Math.min(xa, xb) > X1) continue;
        const ya = ys.get(a.from.lane), yb = ys.get(a.to.lane);
        if (ya === undefined || yb === undefined) continue;
        const key = `${a.kind}|${ya}|${yb}|${Math.round(xa / 3)}|${Math.round(xb / 3)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const y1 = ya + BAR_Y + BAR_H / 2, y2 = yb + BAR_Y + BAR_H / 2 + (yb > ya ? -BAR_H / 2 - 1 : yb < ya ? BAR_H / 2 + 1 : 0);
        todo.push({ kind: a.kind, xa, y1, xb, y2 });
        n++;
      }
    }
    // Thousands of overlapping curves are a grey smear that costs more to
    // rasterise than everything else: past a limit, ask for a zoom instead.
    this.hiddenArrows = n > ARROW_LIMIT ? n : 0;
    if (this.hiddenArrows) return 0;
    for (const a of todo) arrowPath(/** @type {Path2D} */ (lines.get(a.kind)), /** @type {Path2D} */ (heads.get(a.kind)), a.xa, a.y1, a.xb, a.y2);
    ctx.lineWidth = 1.4;
    for (const k of ARROW_KINDS) {
      const color = this.colors[`arrow-${k}`] ?? this.colors.muted;
      ctx.strokeStyle = color; ctx.fillStyle = color;
      ctx.stroke(/** @type {Path2D} */ (lines.get(k)));
      ctx.fill(/** @type {Path2D} */ (heads.get(k)));
    }
    return n;
  }

  /** Box around the selected item and its partners; its arrows drawn bold. @param {CanvasRenderingContext2D} ctx @param {number} scale */
  _highlight(ctx, scale) {
    const sel = this.selected;
    if (!sel) return;
    const X0 = this.plotX0, v0 = this.view.t0;
    ctx.strokeStyle = this.colors.accent;
    for (const it of [sel.item, ...this.partners]) {
      const y = this._laneY(sel.run, it.lane);
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
      const ya = this._laneY(sel.run, a.from.lane), yb = this._laneY(sel.run, a.to.lane);
      if (ya < 0 || yb < 0) continue;
      const mid = BAR_Y + BAR_H / 2;
      arrowPath(lines, heads, X0 + (a.from.t - v0) * scale, ya + mid, X0 + (a.to.t - v0) * scale, yb + mid + (yb > ya ? -BAR_H / 2 - 1 : yb < ya ? BAR_H / 2 + 1 : 0));
    }
    ctx.lineWidth = 2.5;
    ctx.fillStyle = this.colors.accent;
    ctx.stroke(lines);
    ctx.fill(heads);
  }

  // ---------------------------------------------------------------- hit testing and tooltips

  /** @param {number} x @param {number} y @returns {Hit|null} */
  hitTest(x, y) {
    const row = this.rows.find((r) => y >= r.y && y < r.y + r.h);
    if (!row || x < this.plotX0) return null;
    const t = this.t(x);
    if (row.core !== null) return this._hitCore(row, t);
    if (!row.lane) return null;
    const lane = row.lane, run = row.run;
    if (y - row.y >= KSTRIP_Y - 1 && lane.samples.length) return this._hitKernel(row, t);
    const tol = 6 * (this.view.t1 - this.view.t0) / (this.plotX1 - this.plotX0);
    const cut = this.cursor ?? Infinity;
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

  /** @param {Hit|null} hit */
  select(hit) {
    this.selected = hit;
    this.partners = hit ? hit.run.partners(hit.item) : new Set();
    this.onSelect(hit);
    this.request();
  }

  /** Step the selection through events in time order (keyboard exploring). @param {1|-1} dir */
  step(dir) {
    const run = this.selected?.run ?? this.runs.at(-1);
    if (!run) return;
    const evs = run.byTime().filter((e) => run.itemBySeq.has(e.seq) && (this.cursor === null || e.t <= this.cursor));
    if (!evs.length) return;
    const curSeq = this.selected ? firstSeq(this.selected.item) : null;
    let idx = curSeq === null ? (dir > 0 ? 0 : evs.length - 1) : evs.findIndex((e) => e.seq === curSeq) + dir;
    idx = Math.max(0, Math.min(evs.length - 1, idx));
    const item = /** @type {Item} */ (run.itemBySeq.get(evs[idx].seq));
    const runIndex = this.runs.indexOf(run);
    this.select({ run, runIndex, item });
    // keep it in view
    const t = 't0' in item ? item.t0 : item.t;
    if (t < this.view.t0 || t > this.view.t1) {
      const r = this.view.t1 - this.view.t0;
      this.follow = false;
      this._setView(t - r / 2, t + r / 2);
    }
  }

  _tooltip() {
    const h = this.hover ?? (this.selected ? { ...this.selected, x: -1, y: -1 } : null);
    const tip = this.tip;
    if (!h) { tip.hidden = true; return; }
    const key = `${h.run.version}|${firstSeq(h.item)}`;
    if (tip.dataset.key !== key) {
      tip.dataset.key = key;
      tip.replaceChildren(...tooltipContent(h.run, h.item));
    }
    tip.hidden = false;
    let x = h.x, y = h.y;
    if (x < 0) {
      const it = h.item;
      x = this.x('t0' in it ? it.t0 : it.t);
      y = this._laneY(h.run, it.lane) + LANE_H;
    }
    // Fixed to the viewport so the scrolling lane box never clips it.
    const box = this.canvas.getBoundingClientRect();
    const w = tip.offsetWidth, th = tip.offsetHeight;
    const left = Math.max(4, Math.min(box.left + x + 12, innerWidth - w - 4));
    let top = box.top + y + 14;
    if (top + th > innerHeight - 4) top = Math.max(4, box.top + y - th - 8);
    tip.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
  }

  // ---------------------------------------------------------------- input

  _bindInput() {
    const c = this.canvas, host = this.host;
    /** @type {Map<number, {x:number, y:number}>} */
    const pointers = new Map();
    let drag = null;
    const local = (/** @type {PointerEvent|WheelEvent|MouseEvent} */ e) => {
      const r = c.getBoundingClientRect();
      return { x: e.clientX - r.left, y: e.clientY - r.top };
    };
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      const p = local(e);
      if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        const d = e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
        this.pan(d / (this.plotX1 - this.plotX0));
      } else {
        const k = e.ctrlKey ? 0.01 : 0.0015; // trackpad pinch arrives as ctrl+wheel with small deltas
        this.zoom(Math.exp(e.deltaY * (e.deltaMode === 1 ? 16 : 1) * k), this.t(Math.max(p.x, this.plotX0)));
      }
    }, { passive: false });
    c.addEventListener('pointerdown', (e) => {
      const p = local(e);
      pointers.set(e.pointerId, p);
      c.setPointerCapture(e.pointerId);
      drag = { x: p.x, y: p.y, view: { ...this.view }, moved: false, dist: pinchDist(pointers) };
    });
    c.addEventListener('pointermove', (e) => {
      const p = local(e);
      if (pointers.has(e.pointerId)) {
        pointers.set(e.pointerId, p);
        if (!drag) return;
        if (pointers.size >= 2) {
          const d = pinchDist(pointers);
          if (drag.dist > 0 && d > 0) {
            const mid = [...pointers.values()].reduce((a, b) => ({ x: (a.x + b.x) / 2, y: 0 }));
            this.zoom(drag.dist / d, this.t(mid.x));
            drag.dist = d;
          } else drag.dist = d;
          drag.moved = true;
          return;
        }
        const dx = p.x - drag.x;
        if (Math.abs(dx) > 3 || Math.abs(p.y - drag.y) > 3) drag.moved = true;
        if (drag.moved && Math.abs(dx) > 0) {
          const range = drag.view.t1 - drag.view.t0;
          const dt = -dx / (this.plotX1 - this.plotX0) * range;
          this.follow = false;
          this._setView(drag.view.t0 + dt, drag.view.t1 + dt);
        }
        this.hover = null;
        return;
      }
      const hit = this.hitTest(p.x, p.y);
      this.hover = hit ? { ...hit, x: p.x, y: p.y } : null;
      c.style.cursor = hit ? 'pointer' : 'grab';
      this.request();
    });
    const up = (/** @type {PointerEvent} */ e) => {
      const p = local(e);
      pointers.delete(e.pointerId);
      if (drag && !drag.moved && pointers.size === 0) {
        const hit = this.hitTest(p.x, p.y);
        this.select(hit);
        host.focus({ preventScroll: true });
      }
      if (pointers.size === 0) drag = null;
    };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', (e) => { pointers.delete(e.pointerId); drag = null; });
    c.addEventListener('pointerleave', () => { if (this.hover) { this.hover = null; this.request(); } });
    host.addEventListener('keydown', (e) => {
      if (e.target !== host || e.altKey || e.ctrlKey || e.metaKey) return;
      const k = e.key;
      if (k === '+' || k === '=') this.zoom(0.67);
      else if (k === '-' || k === '_') this.zoom(1.5);
      else if (k === 'ArrowLeft') this.pan(-0.15);
      else if (k === 'ArrowRight') this.pan(0.15);
      else if (k === '0' || k === 'Home') this.fit();
      else if (k === '.' || k === 'n') this.step(1);
      else if (k === ',' || k === 'p') this.step(-1);
      else if (k === 'Escape') this.select(null);
      else return;
      e.preventDefault();
    });
  }
}

/** @param {Map<number, {x:number, y:number}>} pointers */
function pinchDist(pointers) {
  if (pointers.size < 2) return 0;
  const [a, b] = [...pointers.values()];
  return Math.hypot(a.x - b.x, a.y - b.y);
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

/** An axis label: the unit suits the visible range, the decimals suit the tick step. */
export function fmtTick(/** @type {number} */ t, /** @type {number} */ step, /** @type {number} */ range) {
  const [unit, name] = range >= 2e9 ? [1e9, 's'] : range >= 2e6 ? [1e6, 'ms'] : range >= 2e3 ? [1e3, 'µs'] : [1, 'ns'];
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / unit) + 1e-9)));
  return `${(t / unit).toFixed(decimals)} ${name}`;
}

/** 1, 2 or 5 × a power of ten, in ns, near `target`. */
export function niceStep(/** @type {number} */ target) {
  const p = 10 ** Math.floor(Math.log10(Math.max(target, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= target) return m * p;
  return 10 * p;
}

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

/**
 * A label inside a bar (a span, a CPU slice): small, on a backing so it reads over hatching.
 * @param {number} x @param {number} y @param {string} text @param {number} max @param {string} color @param {'span'|'core'} kind
 * @returns {Candidate}
 */
function spanLabel(x, y, text, max, color, kind) {
  return { x, y, text, max, font: '10px system-ui, sans-serif', size: 10, color, kind, priority: PRIORITY[kind], backing: true };
}

/** @param {Item} it */
export function firstSeq(it) { return 't0' in it ? it.begin.seq : it.ev.seq; }

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

// timeline/timeline.js — draws one or more runs on a canvas: a lane per
// process and thread, spans, instants, arrows, a time axis, a replay cursor;
// under each lane the kernel's view of that thread (sampled from /proc), and
// below a run's lanes, optionally, one lane per CPU ("By core"). This is the
// Timeline's state and its public face; each layer and concern is a module
// of its own in this folder: the view math, the layout, the theme, the
// lanes, the cores, the arrows, the axis, the gutter, hit-testing, the
// tooltip and the input. Input handlers only change state and ask for a
// frame; the app's single requestAnimationFrame loop calls draw().

import { activityRange } from '../activity.js';
import { LabelLayer } from '../labels.js';
import { fitView, zoomView, panView, clampView, centreOn } from './view.js';
import { layoutRows, laneY, plotX0, plotX1, PLOT_KINDS, AXIS_H, LANE_H } from './layout.js';
import { readTheme } from './theme.js';
import { runEnd } from './frame.js';
import { drawAxis } from './axis.js';
import { drawBands, gutterLabels, drawGutter } from './gutter.js';
import { collectLanes, paintLanes } from './lanes.js';
import { drawCores } from './cores.js';
import { drawArrows, drawSelection, hiddenArrowsNotice } from './arrows.js';
import { hitTest } from './hit.js';
import { showTooltip, firstSeq } from './tooltip.js';
import { bindInput } from './input.js';

export { fmtTick, niceStep, MIN_RANGE } from './view.js';
export { firstSeq, stateWords, tooltipContent } from './tooltip.js';

/** @typedef {import('../model/run.js').RunModel} RunModel */
/** @typedef {import('../model/run.js').Lane} Lane */
/** @typedef {import('../model/run.js').Item} Item */
/** @typedef {import('../labels.js').LabelBox} LabelBox */
/** @typedef {import('./layout.js').Row} Row */
/** @typedef {import('./frame.js').Frame} Frame */
/** @typedef {import('./hit.js').Hit} Hit */

/** A frame with more plot labels than this shows none: text that dense reads after a zoom. */
const FRAME_LABEL_LIMIT = 600;

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
    /** Show one lane per CPU under each run's lanes (the per-core view). */
    // Off at first: the lesson's own lanes come first; the CPU lanes are one click away.
    this.byCore = false;
    /** @type {WeakMap<RunModel, {version:number, map:Map<Lane, number>}>} */
    this._threadIdx = new WeakMap();
    /** @type {WeakMap<RunModel, {version:number, range:{t0:number, t1:number}|null}>} */
    this._activity = new WeakMap();
    /** Where every label of the last frame went (see labelBoxes). */
    this.labels = new LabelLayer();
    /** @type {Row[]} */ this.rows = [];
    this.width = Math.max(200, host.clientWidth);
    this.stats = { spans: 0, instants: 0, arrows: 0, ms: 0 };
    this.hiddenArrows = 0;
    this.theme = readTheme(host);
    const dark = matchMedia('(prefers-color-scheme: dark)');
    dark.addEventListener?.('change', () => { this.theme = readTheme(host); this.request(); });
    new ResizeObserver(() => this.request()).observe(host);
    bindInput(this);
  }

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

  /** A lane's colour, as the gutter draws it (the page's other views use this). @param {RunModel} run @param {Lane} lane */
  laneColor(run, lane) {
    const i = this.threadIndex(run).get(lane) ?? 0;
    return this.theme.thread[i % this.theme.thread.length];
  }

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
    return fitView(Number.isFinite(t0) ? { t0, t1 } : null, this.extent(), this.plotX1 - this.plotX0);
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
    this.runs.forEach((r, i) => { e = Math.max(e, runEnd(r, this.now[i])); });
    return Math.max(e, 1e6);
  }

  fit() {
    this.follow = true;
    this.request();
  }

  get plotX0() { return plotX0(this.width); }
  get plotX1() { return plotX1(this.width); }

  /** @param {number} t */
  x(t) { return this.plotX0 + ((t - this.view.t0) / (this.view.t1 - this.view.t0)) * (this.plotX1 - this.plotX0); }
  /** @param {number} x */
  t(x) { return this.view.t0 + ((x - this.plotX0) / (this.plotX1 - this.plotX0)) * (this.view.t1 - this.view.t0); }

  /** Zoom by factor (<1 zooms in) around time `at`. */
  zoom(/** @type {number} */ factor, at = (this.view.t0 + this.view.t1) / 2) {
    this.follow = false;
    this.view = zoomView(this.view, factor, at, this.extent());
    this.request();
  }

  /** Pan by a fraction of the visible range (positive: later). @param {number} frac */
  pan(frac) {
    this.follow = false;
    this.view = panView(this.view, frac, this.extent());
    this.request();
  }

  /** Show [t0, t1] (kept partly on the run): a drag's view; leaves follow mode. @param {number} t0 @param {number} t1 */
  setView(t0, t1) {
    this.follow = false;
    this.view = clampView(t0, t1, this.extent());
    this.request();
  }

  draw() {
    const started = performance.now();
    const host = this.host;
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.max(200, host.clientWidth);
    const { rows, height } = layoutRows(this.runs, this.byCore);
    this.rows = rows;
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
    /** @type {Frame} */
    const f = {
      ctx, v0: this.view.t0, v1: this.view.t1, X0: this.plotX0, X1: this.plotX1,
      scale: (this.plotX1 - this.plotX0) / (this.view.t1 - this.view.t0), cut: this.cursor,
      width: this.width, height, rows, theme: this.theme, labels: this.labels,
      endOf: (row) => runEnd(row.run, this.now[row.runIndex]),
      laneColor: (run, lane) => this.laneColor(run, lane),
    };
    ctx.fillStyle = this.theme.colors.bg;
    ctx.fillRect(0, 0, f.width, height);
    drawBands(f);
    drawAxis(f);

    ctx.save();
    ctx.beginPath();
    ctx.rect(f.X0, 0, f.X1 - f.X0 + 1, height);
    ctx.clip();
    const lanes = collectLanes(f);
    drawCores(f, lanes.labels);
    paintLanes(f, lanes.batches);
    const arrows = drawArrows(f, this.runs);
    this.hiddenArrows = arrows.hidden;
    drawSelection(f, this.selected, this.partners);
    // Every label of the frame is placed at once, fixed ones first (labels.js).
    hiddenArrowsNotice(f, arrows.hidden);
    gutterLabels(f);
    if (lanes.labels.length < FRAME_LABEL_LIMIT) for (const l of lanes.labels) this.labels.add(l);
    const placed = this.labels.place(ctx);
    LabelLayer.paint(ctx, placed.filter((l) => PLOT_KINDS.has(l.kind)), this.theme.colors.bg);
    this._drawCursor(f);
    ctx.restore();
    drawGutter(f, placed.filter((l) => !PLOT_KINDS.has(l.kind)));
    this._tooltip();

    host.dataset.viewStart = String(Math.round(f.v0));
    host.dataset.viewEnd = String(Math.round(f.v1));
    host.dataset.lanes = String(rows.filter((r) => r.lane).length);
    host.dataset.cores = String(rows.filter((r) => r.core !== null).length);
    host.dataset.follow = String(this.follow);
    this.stats = { spans: lanes.spans, instants: lanes.instants, arrows: arrows.drawn, ms: performance.now() - started };
  }

  /** The replay cursor: a line down the plot at its time. @param {Frame} f */
  _drawCursor(f) {
    if (f.cut === null) return;
    const x = f.X0 + (f.cut - f.v0) * f.scale;
    f.ctx.fillStyle = this.theme.colors.accent;
    f.ctx.fillRect(x - 1, AXIS_H - 4, 2, f.height - AXIS_H + 4);
  }

  /** @param {number} x @param {number} y @returns {Hit|null} */
  hitTest(x, y) { return hitTest(this, x, y); }

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
      this.follow = false;
      this.view = centreOn(this.view, t, this.extent());
      this.request();
    }
  }

  _tooltip() {
    const h = this.hover ?? (this.selected ? { ...this.selected, x: -1, y: -1 } : null);
    showTooltip(this.tip, this.canvas, h, (run, it) => ({ x: this.x('t0' in it ? it.t0 : it.t), y: laneY(this.rows, run, it.lane) + LANE_H }));
  }
}

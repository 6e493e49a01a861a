// timeline/view.js — the visible stretch of time and how it moves: fit, zoom,
// pan, and the clamps that keep part of the run on screen. Pure arithmetic on
// {t0, t1} in nanoseconds, with no canvas and no DOM, so the rules a gesture
// follows can be tested by node (tests/web/view.test.js) and reasoned about
// apart from the pixels.

/** @typedef {{t0:number, t1:number}} View */

/** 2 µs: below that the clock's own jitter dominates. */
export const MIN_RANGE = 2_000;
/** How far out a zoom may go, as a multiple of the run's extent. */
export const MAX_ZOOM_OUT = 4;
// Fit leaves this much room around the lesson's activity: pixels, at most
// this share of the plot; more on the right, where the last event's label reads.
export const FIT_PAD_L = [14, 0.04], FIT_PAD_R = [40, 0.1];
/** A fit scales its margins as if the activity lasted at least this long (100 µs), so a lone instant gets a view of a few µs, not of nanoseconds. */
const MIN_FIT = 1e5;

/**
 * The fitted view: `activity` (or, with none, the whole run from 0 to
 * `extent`), with a margin of a few pixels at the scale the activity gets.
 * @param {View|null} activity @param {number} extent @param {number} plotWidth px
 * @returns {View}
 */
export function fitView(activity, extent, plotWidth) {
  const t0 = activity ? activity.t0 : 0, t1 = activity ? activity.t1 : extent;
  const span = Math.max(t1 - t0, MIN_FIT);
  const w = Math.max(40, plotWidth);
  // Pixels of margin become time at the scale the activity gets.
  const left = Math.min(FIT_PAD_L[0], w * FIT_PAD_L[1]), right = Math.min(FIT_PAD_R[0], w * FIT_PAD_R[1]);
  const perPx = span / (w - left - right);
  return { t0: t0 - left * perPx, t1: t1 + right * perPx };
}

/**
 * Keeps some of the run on screen: panning into empty time teaches nothing.
 * At most half a view before 0 or past the run's end.
 * @param {number} t0 @param {number} t1 @param {number} extent @returns {View}
 */
export function clampView(t0, t1, extent) {
  const range = t1 - t0;
  const lo = -range * 0.5, hi = extent + range * 0.5 - range;
  const start = Math.min(Math.max(t0, lo), Math.max(lo, hi));
  return { t0: start, t1: start + range };
}

/**
 * Zoom by `factor` (<1 zooms in) around time `at`, which stays where it was
 * on screen; the range stays within [MIN_RANGE, MAX_ZOOM_OUT × extent].
 * @param {View} view @param {number} factor @param {number} at @param {number} extent @returns {View}
 */
export function zoomView(view, factor, at, extent) {
  const range = Math.min(Math.max((view.t1 - view.t0) * factor, MIN_RANGE), extent * MAX_ZOOM_OUT);
  const frac = (at - view.t0) / (view.t1 - view.t0);
  return clampView(at - frac * range, at - frac * range + range, extent);
}

/**
 * Pan by a fraction of the visible range (positive: later).
 * @param {View} view @param {number} frac @param {number} extent @returns {View}
 */
export function panView(view, frac, extent) {
  const d = (view.t1 - view.t0) * frac;
  return clampView(view.t0 + d, view.t1 + d, extent);
}

/**
 * A view of the same range centred on `t` (keyboard stepping keeps the
 * selected event in view).
 * @param {View} view @param {number} t @param {number} extent @returns {View}
 */
export function centreOn(view, t, extent) {
  const r = view.t1 - view.t0;
  return clampView(t - r / 2, t + r / 2, extent);
}

/** 1, 2 or 5 × a power of ten, in ns, near `target`. */
export function niceStep(/** @type {number} */ target) {
  const p = 10 ** Math.floor(Math.log10(Math.max(target, 1)));
  for (const m of [1, 2, 5, 10]) if (m * p >= target) return m * p;
  return 10 * p;
}

/** An axis label: the unit suits the visible range, the decimals suit the tick step. */
export function fmtTick(/** @type {number} */ t, /** @type {number} */ step, /** @type {number} */ range) {
  const [unit, name] = range >= 2e9 ? [1e9, 's'] : range >= 2e6 ? [1e6, 'ms'] : range >= 2e3 ? [1e3, 'µs'] : [1, 'ns'];
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step / unit) + 1e-9)));
  return `${(t / unit).toFixed(decimals)} ${name}`;
}

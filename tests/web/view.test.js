// The timeline's view math (web/timeline/view.js): fit, zoom and pan on
// {t0, t1} in nanoseconds, and the axis's tick steps and labels.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fitView, zoomView, panView, clampView, centreOn, niceStep, fmtTick, MIN_RANGE, MAX_ZOOM_OUT } from '../../web/timeline/view.js';

const close = (/** @type {number} */ a, /** @type {number} */ b, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps * Math.max(1, Math.abs(b)), `${a} ≈ ${b}`);

test('fit frames the activity with a few pixels of margin, more on the right', () => {
  const v = fitView({ t0: 1e6, t1: 11e6 }, 20e6, 1000);
  // 14 px left and 40 px right of a 1000 px plot: the activity gets 946 px.
  const perPx = 10e6 / 946;
  close(v.t0, 1e6 - 14 * perPx);
  close(v.t1, 11e6 + 40 * perPx);
  assert.ok(v.t0 < 1e6 && v.t1 > 11e6);
});

test('fit on a phone: the margins shrink with the plot, and a tiny or missing activity still gets a sane view', () => {
  const v = fitView({ t0: 0, t1: 1e6 }, 1e6, 100);
  // At most 4% and 10% of the plot.
  const perPx = 1e6 / (100 - 4 - 10);
  close(v.t0, -4 * perPx);
  close(v.t1, 1e6 + 10 * perPx);
  // An activity shorter than 100 µs sets the margins' scale as if it lasted that long.
  const instant = fitView({ t0: 5e6, t1: 5e6 }, 1e7, 1000);
  assert.ok(instant.t0 < 5e6 && 5e6 < instant.t1, 'an instant is framed');
  close(instant.t1 - instant.t0, (14 + 40) * 1e5 / 946);
  const none = fitView(null, 3e6, 1000);
  assert.ok(none.t0 < 0 && none.t1 > 3e6, 'no activity: the whole run from 0');
});

test('zoom keeps the time under the pointer in place, and clamps the range to MIN_RANGE and to 4 × the run', () => {
  const view = { t0: 0, t1: 1e6 };
  const z = zoomView(view, 0.5, 250_000, 1e6);
  close(z.t1 - z.t0, 5e5);
  close((250_000 - z.t0) / (z.t1 - z.t0), 0.25, 1e-9);
  let v = view;
  for (let i = 0; i < 100; i++) v = zoomView(v, 0.5, 400_000, 1e6);
  assert.equal(v.t1 - v.t0, MIN_RANGE, 'no closer than 2 µs');
  assert.ok(v.t0 <= 400_000 && 400_000 <= v.t1, 'still around the pointer');
  for (let i = 0; i < 100; i++) v = zoomView(v, 2, 500_000, 1e6);
  assert.equal(v.t1 - v.t0, MAX_ZOOM_OUT * 1e6, 'no further out than 4 × the run');
});

test('pan moves by a share of the view and stops half a view past either end', () => {
  const p = panView({ t0: 0, t1: 1e6 }, 0.15, 10e6);
  close(p.t0, 150_000); close(p.t1, 1_150_000);
  let v = { t0: 0, t1: 1e6 };
  for (let i = 0; i < 200; i++) v = panView(v, -0.5, 10e6);
  close(v.t0, -5e5);
  for (let i = 0; i < 200; i++) v = panView(v, 0.5, 10e6);
  close(v.t1, 10e6 + 5e5);
  assert.equal(v.t1 - v.t0, 1e6, 'panning never changes the range');
  const wide = clampView(-9e6, 1e6, 2e6);
  assert.equal(wide.t1 - wide.t0, 10e6);
  close(wide.t0, -5e6, 1e-9);
  const c = centreOn({ t0: 0, t1: 2e6 }, 5e6, 10e6);
  close(c.t0, 4e6); close(c.t1, 6e6);
});

test('tick steps are 1, 2 or 5 × a power of ten, at least the target', () => {
  assert.equal(niceStep(1), 1);
  assert.equal(niceStep(3), 5);
  assert.equal(niceStep(7), 10);
  assert.equal(niceStep(1.5e6), 2e6);
  assert.equal(niceStep(2e6), 2e6);
  assert.equal(niceStep(4.2e8), 5e8);
  assert.equal(niceStep(0), 1);
  for (const t of [13, 999, 12345, 6.7e7]) {
    const s = niceStep(t);
    assert.ok(s >= t && s < t * 5, `${s} for ${t}`);
    assert.ok([1, 2, 5].includes(s / 10 ** Math.floor(Math.log10(s))), `${s} is 1, 2 or 5 × 10^n`);
  }
});

test('tick labels: the unit from the visible range, the decimals from the step', () => {
  assert.equal(fmtTick(0, 1e9, 5e9), '0 s');
  assert.equal(fmtTick(2.5e9, 5e8, 5e9), '2.5 s');
  assert.equal(fmtTick(40e6, 20e6, 100e6), '40 ms');
  assert.equal(fmtTick(1.2e6, 2e5, 2e6), '1.2 ms');
  assert.equal(fmtTick(150e3, 50e3, 500e3), '150 µs');
  assert.equal(fmtTick(1500, 500, 1999), '1500 ns');
  assert.equal(fmtTick(1.25e6, 5e4, 2e6), '1.25 ms');
});

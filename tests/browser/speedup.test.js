// speedup.test.js — the speedup curve drawn from real runs: on the gil page,
// "Sweep the workers" runs the demo with 1..N workers, and every point is
// one run's own measured speedup (its result's (a) time over the mode's),
// a link to that run; the table says the same; the permalink draws it again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

/** Sweeps 1..3 workers on `engine` with `work` and checks every point against its run. */
async function sweep(engine, work, shot) {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/gil?engine=${engine}`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#param-work', String(work));
  await page.selectOption('#speedup-most', '3');
  await page.selectOption('#speedup-runs', '2');
  await page.click('#speedup-run');
  await page.waitForSelector('#speeduplab[data-state=done]', { timeout: 150000 });
  const id = await page.getAttribute('#speeduplab', 'data-experiment-id');
  const report = await (await fetch(`${server.url}/api/experiments/${id}`)).json();
  assert.equal(report.vary, 'workers');
  assert.deepEqual(report.values, [1, 2, 3]);
  assert.equal(report.runs.length, 6);
  assert.ok(report.runs.every((r) => r.outcome === 'ok'), JSON.stringify(report.runs.map((r) => r.outcome)));
  const points = await page.$$eval('.speedup-point', (as) => as.map((a) => ({ ...a.dataset, href: a.getAttribute('href') })));
  const modes = engine === 'native' ? ['b', 'c', 'd'] : ['b', 'c'];
  assert.deepEqual([...new Set(points.map((p) => p.mode))].sort(), modes);
  assert.equal(points.length, modes.length * 3, 'a point per mode and number of workers');
  for (const p of points) {
    // The point is a run's own figure: read it from that run's events.
    const events = await fetchEvents(server.url, p.run);
    const start = events.find((e) => e.kind === 'run.start');
    const result = events.findLast((e) => e.kind === 'result').data;
    assert.equal(start.params.workers, Number(p.workers), `the run behind the point ran with ${p.workers} workers`);
    assert.equal(start.params.work, work);
    assert.equal(Number(p.speedup), result.modes[p.mode].speedup);
    assert.ok(Math.abs(result.modes.a.wall_s / result.modes[p.mode].wall_s - result.modes[p.mode].speedup) < 1e-9, 'speedup is (a)’s time over the mode’s');
    assert.equal(p.href, `/runs/${p.run}`);
    // The median of the two runs of that many workers.
    const both = report.runs.filter((r) => r.value === Number(p.workers)).map((r) => r.result.modes[p.mode].speedup).sort((x, y) => x - y);
    assert.equal(Number(p.speedup), both[0]);
  }
  const cells = await page.$$eval('.speedup-table tbody tr', (rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
  assert.equal(cells.length, 3);
  for (const p of points) {
    const column = modes.indexOf(p.mode) + 1;
    assert.match(cells[Number(p.workers) - 1][column], new RegExp(`^${Number(p.speedup).toFixed(2)}× on `));
  }
  assert.match(await page.textContent('#speedup-summary'), /^Measured here, on \d+ usable CPUs: /);
  await (await page.$('#speeduplab'))?.screenshot({ path: join(ARTIFACTS, `speedup-${shot}-1280.png`) });
  await page.setViewportSize({ width: 375, height: 800 });
  const wide = await page.$eval('#speeduplab', (el) => el.scrollWidth > el.clientWidth + 1);
  assert.equal(wide, false, 'the panel fits 375 px (the table scrolls inside it)');
  await (await page.$('#speeduplab'))?.screenshot({ path: join(ARTIFACTS, `speedup-${shot}-375.png`) });
  await page.setViewportSize({ width: 1280, height: 900 });
  // The permalink draws the same points.
  await page.goto(`${server.url}/demos/gil?engine=${engine}&experiment=${id}`);
  await page.waitForSelector('#speeduplab[data-state=done]', { timeout: 30000 });
  const again = await page.$$eval('.speedup-point', (as) => as.map((a) => a.dataset.run));
  assert.deepEqual(again, points.map((p) => p.run));
  assert.deepEqual(errors, []);
  await page.close();
}

test('the native speedup curve plots each run’s own speedup for 1 to 3 workers', { timeout: 180000 }, () => sweep('native', 40, 'native'));

test('the CPython speedup curve plots real CPython’s measured speedups', { timeout: 240000, skip: !TRACER_READY && 'no tracer' }, () => sweep('cpython', 2_000_000, 'cpython'));

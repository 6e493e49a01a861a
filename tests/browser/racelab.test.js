// racelab.test.js — the race lab drawn from real runs: on the lock page,
// "Run the experiment" runs the demo with and without its lock, and every
// bar's count is the number of runs whose own result says that balance; a
// bar opens a run that ended so; the experiment's permalink draws it again.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

test('the race lab counts the balances of real runs with and without the lock', { timeout: 120000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/lock?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForSelector('#racelab');
  await page.selectOption('#race-runs', '10');
  await page.click('#race-run');
  await page.waitForSelector('#racelab[data-state=done]', { timeout: 90000 });
  const id = await page.getAttribute('#racelab', 'data-experiment-id');
  const report = await (await fetch(`${server.url}/api/experiments/${id}`)).json();
  assert.equal(report.runs.length, 20);
  for (const side of [true, false]) {
    const bars = await page.$$eval(`.race-chart[data-side="${side}"] .race-bar`, (as) => as.map((a) => ({
      value: a.dataset.value, count: Number(a.dataset.count), href: a.getAttribute('href') })));
    const runs = report.runs.filter((r) => r.value === side);
    assert.equal(bars.reduce((n, b) => n + b.count, 0), runs.length, `every run of side ${side} is in a bar`);
    for (const bar of bars) {
      const [lo, hi = lo] = bar.value.split('–').map(Number);
      const inBar = runs.filter((r) => r.result.balance >= lo && r.result.balance <= hi);
      assert.equal(bar.count, inBar.length, `bar ${bar.value}`);
      assert.ok(inBar.some((r) => `/runs/${r.id}` === bar.href), `bar ${bar.value} opens one of its runs`);
    }
    if (side) assert.deepEqual(bars.map((b) => b.value), ['200'], 'with the lock: always 200');
    else assert.ok(!bars.every((b) => b.value === '200'), 'without: updates were lost');
  }
  await (await page.$('#racelab'))?.screenshot({ path: join(ARTIFACTS, 'racelab-lock.png') });
  await page.setViewportSize({ width: 375, height: 800 });
  await (await page.$('#racelab'))?.screenshot({ path: join(ARTIFACTS, 'racelab-lock-375.png') });
  await page.setViewportSize({ width: 1280, height: 900 });
  // A bar opens the run behind it; the permalink draws the same experiment.
  const href = await page.getAttribute('.race-chart[data-side="false"] .race-bar', 'href');
  await page.goto(`${server.url}/demos/lock?engine=native&experiment=${id}`);
  await page.waitForSelector('#racelab[data-state=done]', { timeout: 30000 });
  assert.equal(await page.getAttribute('.race-chart[data-side="false"] .race-bar', 'href'), href);
  await page.goto(`${server.url}${href}`);
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#outcome'), /balance \d+/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('on real CPython the pipe lab counts the runs whose reader raised beside the counts', { timeout: 120000, skip: !TRACER_READY && 'no tracer' }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/pipe?engine=cpython`);
  await page.waitForSelector('body[data-ready=true]');
  await page.selectOption('#race-runs', '10');
  await page.click('#race-run');
  await page.waitForSelector('#racelab[data-state=done]', { timeout: 100000 });
  const id = await page.getAttribute('#racelab', 'data-experiment-id');
  const report = await (await fetch(`${server.url}/api/experiments/${id}`)).json();
  assert.equal(report.engine, 'cpython');
  for (const side of [true, false]) {
    const runs = report.runs.filter((r) => r.value === side);
    const counted = runs.filter((r) => typeof r.result?.corrupt === 'number');
    const bars = await page.$$eval(`.race-chart[data-side="${side}"] .race-bar`, (as) => as.map((a) => Number(a.dataset.count)));
    assert.equal(bars.reduce((n, c) => n + c, 0), counted.length, `side ${side}: bars hold the runs that printed a count`);
    const uncounted = await page.getAttribute(`.race-chart[data-side="${side}"]`, 'data-uncounted');
    assert.equal(Number(uncounted ?? 0), runs.length - counted.length, `side ${side}: the rest are said to have no count`);
    // A run with no count really ended without printing one: its reader raised.
    for (const r of runs.filter((r) => !counted.includes(r)).slice(0, 2)) {
      const events = await fetchEvents(server.url, r.id);
      assert.ok(!events.some((e) => e.kind === 'print' && e.text?.startsWith('corrupted messages:')), 'no count printed');
      assert.notEqual(events.findLast((e) => e.kind === 'result').data.exit_code, 0);
    }
    if (side) assert.equal(counted.length, runs.length, 'with the lock every run gets to its count');
  }
  await (await page.$('#racelab'))?.screenshot({ path: join(ARTIFACTS, 'racelab-pipe-cpython.png') });
  await page.setViewportSize({ width: 375, height: 800 });
  await (await page.$('#racelab'))?.screenshot({ path: join(ARTIFACTS, 'racelab-pipe-cpython-375.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a run that lost updates is not shown as a success, nor one that lost none by luck', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/lock?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  for (const [k, useLock] of [false, true].entries()) {
    await page.setChecked('#param-use_lock', useLock);
    await page.click('#run');
    await page.waitForFunction((n) => document.getElementById('status')?.textContent?.includes(`Run ${n} finished`), k + 1, { timeout: 30000 });
    const cls = await page.getAttribute('#outcome', 'class');
    const text = await page.textContent('#outcome');
    if (useLock) {
      assert.match(text, /^balance 200, no update lost$/);
      assert.ok(!/outcome-(wrong|luck)/.test(cls), cls);
    } else if (/updates lost/.test(text)) {
      assert.match(cls, /outcome-wrong/, `${text}: ${cls}`);
    } else {
      assert.match(text, /by luck/);
      assert.match(cls, /outcome-luck/, `${text}: ${cls}`);
    }
  }
  assert.deepEqual(errors, []);
  await page.close();
});

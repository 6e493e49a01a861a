// demos.test.js — every demo in the catalog, run from its page in a real
// browser, must show what the server's own event log says: one lane per
// process/thread labelled with its real pid/tid, the printed lines in order,
// and the outcome in words. Screenshots land in artifacts/ for a human look.
// Each demo runs on the native engine, and again on CPython where it has a
// Python program and the server an interpreter.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, expected, runDemo, ARTIFACTS, TRACER_READY } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

test('the catalog lists every demo and links to its page', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const demos = await (await fetch(`${server.url}/api/demos`)).json();
  await page.goto(server.url + '/');
  const links = await page.$$eval('.demo-list a', (as) => as.map((a) => a.getAttribute('href')));
  // Scratch is no lesson: its card leads to the page for one's own program.
  for (const d of demos) {
    const href = d.name === 'scratch' ? '/play' : `/demos/${d.name}`;
    assert.ok(links.includes(href), `catalog links ${d.name} (${href})`);
  }
  await page.screenshot({ path: join(ARTIFACTS, 'catalog.png'), fullPage: true });
  await page.click(`a[href="/demos/${demos[0].name}"]`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.getAttribute('body', 'data-demo'), demos[0].name);
  assert.deepEqual(errors, []);
  await page.close();
});

const demos = await (async () => {
  // The demo list decides the tests, so ask a short-lived server for it.
  const s = await startServer();
  try { return await (await fetch(`${s.url}/api/demos`)).json(); } finally { await s.stop(); }
})();

// Scratch has no native program.
for (const demo of demos.filter((d) => (d.engines ?? ['native']).includes('native'))) {
  test(`demo ${demo.name}: lanes, console and outcome match the run's events`, { timeout: 90000 }, async () => {
    await checkDemo(demo, 'native');
  });
}

// The same for each demo's Python program under a real CPython, where this
// server offers one: the lanes are the interpreter's own processes and
// threads (MainProcess, Process-1, …), and the runner that started it has none.
for (const demo of demos.filter((d) => (d.engines ?? []).includes('cpython'))) {
  test(`demo ${demo.name} under CPython: lanes, console and outcome match the run's events`,
    { timeout: 90000, skip: TRACER_READY ? false : 'python/forkline_boot.py is missing: CPython runs cannot succeed' }, async () => {
      await checkDemo(demo, 'cpython');
    });
}

/** Run one demo from its page on one engine and compare the page with the API's log. */
async function checkDemo(demo, engine) {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const id = await runDemo(page, server.url, demo.name, { engine });
  assert.ok(id, 'the page knows its run id');
  assert.equal(await page.$eval('input[name=engine]:checked', (i) => i.value), engine, 'the page ran on the engine its URL named');
  const events = await fetchEvents(server.url, id);
  assert.equal(events.at(-1).kind, 'run.end', 'the API log ends with run.end');
  assert.equal(events[0].engine ?? 'native', engine, 'the server ran that engine');
  const want = expected(events);

  const lanes = await page.$$eval('#lanes li', (li) => li.map((l) => l.textContent.trim()));
  for (const label of want.lanes) assert.ok(lanes.includes(label), `lane "${label}" shown (lanes: ${lanes.join(' | ')})`);
  assert.ok(lanes.length >= want.lanes.length);
  if (engine === 'cpython') {
    const runner = events[0].pid;
    assert.ok(!lanes.some((l) => l.endsWith(`pid ${runner}`)), `no lane for the runner (pid ${runner}): ${lanes.join(' | ')}`);
    assert.match(lanes[0], /^MainProcess · pid \d+$/, 'MainProcess is the first lane');
  }

  // Exception lines (CPython) are the console's own; the rest are the prints, in order.
  const lines = await page.$$eval('#console li:not([data-kind=exception])', (li) => li.map((l) => ({ text: l.querySelector('.text').textContent, who: l.querySelector('.who').textContent, pid: l.dataset.pid })));
  assert.deepEqual(lines.map((l) => l.text), want.prints, 'console lines are the print events in order');
  const printers = events.filter((e) => e.kind === 'print');
  lines.forEach((l, i) => {
    assert.equal(Number(l.pid), printers[i].pid);
    assert.match(l.who, new RegExp(`(pid|tid) (${printers[i].pid}|${printers[i].tid})$`));
  });
  const raised = events.filter((e) => e.kind === 'exception');
  assert.equal(await page.locator('#console li[data-kind=exception]').count(), raised.length, 'one console line per uncaught exception');

  const outcome = (await page.textContent('#outcome')).trim();
  assert.equal(await page.getAttribute('#outcome', 'data-outcome'), want.end.outcome);
  if (want.result) assert.ok(outcome.includes(want.result), `outcome "${outcome}" carries the result text "${want.result}"`);
  if (want.end.outcome !== 'ok' && want.end.reason) assert.ok(outcome.includes(want.end.reason));

  const nLanes = Number(await page.getAttribute('#timeline', 'data-lanes'));
  assert.equal(nLanes, lanes.length, 'the canvas draws the lanes listed');
  const suffix = engine === 'native' ? '' : `-${engine}`;
  await page.screenshot({ path: join(ARTIFACTS, `demo-${demo.name}${suffix}.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForTimeout(100);
  await page.screenshot({ path: join(ARTIFACTS, `demo-${demo.name}${suffix}-dark.png`), fullPage: true });
  assert.deepEqual(errors, [], 'no page errors and no requests to other hosts');
  await page.close();
}

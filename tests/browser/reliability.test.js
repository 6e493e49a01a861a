// reliability.test.js — the page's side of issue 7: the Stop button really
// stops a run (its processes are killed, the outcome says cancelled), and text
// a demo prints is shown as text, never interpreted as markup.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, watchErrors, fetchEvents, TESTKIT_RUNNER } from './harness.js';

let server, browser;
// The testkit's runner: its `fault` demo prints a hostile string on purpose.
before(async () => { server = await startServer(['--runner', TESTKIT_RUNNER]); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

test('Stop cancels a running demo and the page says so', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/process?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('[name=delay_ms]', '5000');
  await page.click('#run');
  await page.waitForSelector('#stop:not([hidden])');
  // Wait until both children have lanes, then stop.
  await page.waitForFunction(() => Number(document.querySelector('#timeline')?.dataset.lanes ?? 0) >= 3);
  await page.click('#stop');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 20000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const events = await fetchEvents(server.url, id);
  const end = events.at(-1);
  assert.equal(end.kind, 'run.end');
  assert.equal(end.outcome, 'cancelled');
  assert.match(await page.textContent('#outcome'), /cancelled/);
  assert.equal(await page.isHidden('#stop'), true, 'Stop disappears once nothing runs');
  assert.deepEqual(errors, []);
  await page.close();
});

test('text printed by a demo is rendered as text, not markup', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/fault`);
  await page.waitForSelector('body[data-ready=true]');
  await page.selectOption('[name=mode]', 'hostile_print');
  const title = await page.title();
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const hostile = (await fetchEvents(server.url, id)).filter((e) => e.kind === 'print').at(-1).text;
  assert.match(hostile, /<img src=x onerror=/);
  const lines = await page.$$eval('#console li', (lis) => lis.map((li) => li.textContent));
  assert.ok(lines.some((l) => l.includes(hostile)), `console shows the string verbatim: ${JSON.stringify(lines)}`);
  assert.equal(await page.$$eval('#console img, #console b, #outcome img', (els) => els.length), 0, 'no element was created from it');
  // Hover every table cell too: the events table also shows the text.
  await page.click('#events summary');
  assert.equal(await page.$$eval('#events img', (els) => els.length), 0);
  assert.equal(await page.title(), title, 'no injected handler ran');
  assert.deepEqual(errors, []);
  await page.close();
});

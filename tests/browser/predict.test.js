// predict.test.js — predict, then run: with ?predict=1 the page asks the
// demo's question before a run and, after it, says what the run's own events
// answer; the test reads the same events from the API and checks the page's
// verdict against them. Without predict=1 nothing is asked.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

let server, browser, catalog;
before(async () => {
  server = await startServer();
  browser = await launch();
  catalog = await (await fetch(`${server.url}/api/demos`)).json();
});
after(async () => { await browser?.close(); await server?.stop(); });

/** The choice the events stand for, computed here independently of the page. */
function expectedAnswer(q, events) {
  if (q.check.kind === 'first_print') {
    const first = events.find((e) => e.kind === 'print' && !e.stream && q.choices.some((c) => e.text.startsWith(c.prefix)));
    return q.choices.find((c) => first.text.startsWith(c.prefix)).id;
  }
  let v = [...events].reverse().find((e) => e.kind === 'result').data;
  for (const k of q.check.path) v = v?.[k];
  if (typeof v !== 'number') return '';
  return q.choices.find((c) => (c.min == null || v >= c.min) && (c.max == null || v <= c.max)).id;
}

/** Opens `url`, answers `pick`, runs, and checks the verdict against the run's events. */
async function predictAndCheck(url, demo, pick, setup = async () => {}, shot = '') {
  const q = catalog.find((d) => d.name === demo).predict;
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForSelector('#predict');
  await setup(page);
  assert.equal(await page.isVisible('#predict-ask'), false, 'asked only when Run is pressed');
  await page.click('#run');
  await page.waitForSelector('#predict[data-state=asking]');
  assert.equal(await page.textContent('#predict-ask legend'), q.text);
  assert.equal(await page.getAttribute('#timeline', 'data-run-id'), null, 'nothing runs before the answer');
  await page.click('#predict-go');
  assert.match(await page.textContent('.predict-hint'), /Pick an answer/);
  await page.check(`input[name=predict][value=${pick}]`);
  if (shot) await (await page.$('.controls'))?.screenshot({ path: join(ARTIFACTS, `predict-${shot}-question.png`) });
  await page.click('#predict-go');
  await page.waitForSelector('#predict[data-state=judged]', { timeout: 60000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const events = await fetchEvents(server.url, id);
  const want = expectedAnswer(q, events);
  const verdict = await page.$eval('#predict-verdict', (el) => ({ ...el.dataset, text: el.textContent }));
  assert.equal(verdict.answer, want, verdict.text);
  assert.equal(verdict.guess, pick);
  assert.equal(verdict.right, want ? String(want === pick) : '');
  assert.ok(verdict.text.includes(q.why));
  if (shot) {
    await (await page.$('.controls'))?.screenshot({ path: join(ARTIFACTS, `predict-${shot}-verdict.png`) });
    await page.setViewportSize({ width: 375, height: 800 });
    await (await page.$('.controls'))?.screenshot({ path: join(ARTIFACTS, `predict-${shot}-verdict-375.png`) });
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  assert.deepEqual(errors, []);
  await page.close();
  return { verdict, events };
}

test('lock without the lock: the verdict is the balance the run printed', { timeout: 90000 }, async () => {
  const { verdict, events } = await predictAndCheck(`${server.url}/demos/lock?engine=native&predict=1`, 'lock', 'exact',
    (page) => page.uncheck('#param-use_lock'), 'lock');
  const balance = events.findLast((e) => e.kind === 'result').data.balance;
  assert.ok(verdict.text.includes(`balance ${balance}`), verdict.text);
});

test('process and fork: the verdict names the line the run printed first', { timeout: 90000 }, async () => {
  const { verdict } = await predictAndCheck(`${server.url}/demos/process?engine=native&predict=1`, 'process', 'cube',
    (page) => page.fill('#param-delay_ms', '20'), 'process');
  assert.match(verdict.text, /the first of those lines was “(square|cube) \d+”, printed by p[12]/);
  await predictAndCheck(`${server.url}/demos/fork?engine=native&predict=1`, 'fork', 'parent');
});

test('on real CPython the gil question is checked against the measured speedup', { timeout: 120000, skip: !TRACER_READY && 'no tracer' }, async () => {
  const { verdict } = await predictAndCheck(`${server.url}/demos/gil?engine=cpython&predict=1`, 'gil', 'same',
    (page) => page.fill('#param-work', '2000000'));
  assert.match(verdict.text, /its result says speedup \d/);
});

test('without predict=1 nothing is asked; an embed asks with predict=1 and refuses predict=2', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}/demos/fork?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.equal(await page.$('#predict'), null);
  await page.goto(`${server.url}/embed/fork?engine=native&predict=1&autorun=1`);
  await page.waitForSelector('#predict[data-state=asking]', { timeout: 30000 });
  await page.check('input[name=predict][value=child]');
  await page.click('#predict-go');
  await page.waitForSelector('#predict[data-state=judged]', { timeout: 30000 });
  const bad = await fetch(`${server.url}/embed/fork?predict=2`);
  assert.equal(bad.status, 422);
  assert.match(await bad.text(), /predict must be 1 or 0/);
  await page.close();
});

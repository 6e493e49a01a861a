// step.test.js — "You are the scheduler" in the page: on the lock demo
// without its lock, the student presses lanes to make the lost update happen
// on real shared memory (read in d, read in w, write in d, write in w), the
// page's balance comes out as that schedule implies, a lane waiting for a
// held lock says who holds it, and "Play my interleaving again" runs the
// same steps once more.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

/** Presses the lane whose name is `name`, once it waits to do `op` (each op differs from the lane's one before). */
async function stepLane(page, name, op) {
  const button = page.locator('.step-lane', { has: page.locator('strong', { hasText: new RegExp(`^${name} · `) }) });
  await button.locator('.step-what', { hasText: `next: ${op}` }).waitFor({ timeout: 15000 });
  // Playwright waits for it to be enabled: while a step settles, every lane is.
  await button.click();
}

test('pressing lanes makes the lost update happen, and the schedule plays again', { timeout: 120000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/lock?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  await page.setChecked('#param-use_lock', false);
  await page.fill('#param-iterations', '1');
  assert.equal(await page.isVisible('#step'), true, 'Step sits beside Run on a steppable demo');
  await page.click('#step');
  await page.waitForSelector('#stepper:not([hidden])');
  await stepLane(page, 'MainProcess', 'start d');
  await stepLane(page, 'MainProcess', 'start w');
  // The program line of the pending operation is shown with it.
  await page.locator('.step-lane', { hasText: 'next: read balance (line 11)' }).first().waitFor();
  await stepLane(page, 'd', 'read balance');
  await stepLane(page, 'w', 'read balance');
  await stepLane(page, 'd', 'write balance 201');
  // Its number key steps a lane as well as a click: w is the third lane.
  const w = page.locator('.step-lane', { has: page.locator('strong', { hasText: /^w · / }) });
  const keyOf = await w.getAttribute('aria-keyshortcuts');
  await page.locator('.step-lane:not([disabled])', { hasText: 'next: write balance 199' }).waitFor();
  await page.keyboard.press(String(keyOf));
  await w.locator('.step-what', { hasText: 'done' }).waitFor({ timeout: 15000 });
  await page.screenshot({ path: join(ARTIFACTS, 'step-lock.png'), fullPage: false });
  await page.click('#step-free');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#outcome'), /balance 199, expected 200: 1 updates lost/);
  assert.match(await page.textContent('#step-message'), /ended after 6 steps, then ran freely/);
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const events = await fetchEvents(server.url, id);
  const values = events.filter((e) => e.kind === 'value').map((e) => `${e.op} ${e.value}`);
  assert.deepEqual(values, ['read 200', 'read 200', 'write 201', 'write 199'], 'the operations ran in the order pressed');
  await (await page.$('#stepper'))?.screenshot({ path: join(ARTIFACTS, 'step-panel.png') });

  // The permalink replays the stepped run with its steps, and can play them again.
  await page.goto(`${server.url}/runs/${id}`);
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  await page.waitForSelector('#stepper:not([hidden])');
  assert.match(await page.textContent('#step-message'), /ended after 6 steps, then ran freely/);
  assert.match(await page.textContent('#outcome'), /balance 199/);

  await page.click('#step-replay');
  await page.waitForFunction((old) => document.querySelector('#timeline')?.dataset.runId !== old, id);
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#outcome'), /balance 199/, 'the same interleaving, the same loss');
  assert.deepEqual(errors, []);
  await page.close();
});

test('with the lock, a lane waiting for it says which lane holds it', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/lock?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#param-iterations', '1');
  await page.click('#step');
  await page.waitForSelector('#stepper:not([hidden])');
  await stepLane(page, 'MainProcess', 'start d');
  await stepLane(page, 'MainProcess', 'start w');
  await stepLane(page, 'd', 'acquire lock');
  await stepLane(page, 'w', 'acquire lock');
  const w = page.locator('.step-lane', { has: page.locator('strong', { hasText: /^w · / }) });
  await w.locator('.step-what', { hasText: /waiting for lock, which d · pid \d+ holds/ }).waitFor({ timeout: 15000 });
  assert.equal(await w.isDisabled(), true, 'a lane blocked on the lock cannot be stepped');
  await page.click('#step-free');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#outcome'), /balance 200, no update lost/);
  assert.deepEqual(errors, []);
  await page.close();
});

const OPPOSITE_ORDERS = `import multiprocessing as mp

def a(l1, l2):
    with l1:
        with l2:
            pass

def b(l1, l2):
    with l2:
        with l1:
            pass

if __name__ == '__main__':
    l1 = mp.Lock()
    l2 = mp.Lock()
    p = mp.Process(target=a, args=(l1, l2))
    q = mp.Process(target=b, args=(l1, l2))
    p.start()
    q.start()
    p.join()
    q.join()
`;

test('an edited program stepped into a deadlock on real CPython shows the cycle', { timeout: 90000, skip: !TRACER_READY && 'no tracer' }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/lock?engine=cpython`);
  await page.waitForSelector('body[data-ready=true]');
  const health = await (await fetch(`${server.url}/healthz`)).json();
  if (!health.editing?.enabled) { await page.close(); return; }
  await page.fill('#source-edit', OPPOSITE_ORDERS);
  await page.click('#step');
  await page.waitForSelector('#stepper:not([hidden])');
  await stepLane(page, 'MainProcess', 'start Process-1');
  await stepLane(page, 'MainProcess', 'start Process-2');
  // The tracer reports the program's own line.
  await page.locator('.step-lane', { hasText: 'next: acquire l1 (line 4)' }).waitFor();
  await stepLane(page, 'Process-1', 'acquire l1');
  await stepLane(page, 'Process-2', 'acquire l2');
  await stepLane(page, 'Process-1', 'acquire l2');
  await stepLane(page, 'Process-2', 'acquire l1');
  await page.waitForSelector('#stepper[data-state=deadlock]', { timeout: 15000 });
  const message = await page.textContent('#step-message');
  assert.match(message, /^Deadlock: Process-1 · pid \d+ waits for l2, which Process-2 · pid \d+ holds; Process-2 · pid \d+ waits for l1, which Process-1 · pid \d+ holds\. No step can end it: press Stop\.$/);
  // Only MainProcess, at its join, may still go; the two in the cycle cannot.
  const enabled = await page.$$eval('.step-lane:not([disabled]) strong', (els) => els.map((e) => e.textContent));
  assert.equal(enabled.length, 1);
  assert.match(String(enabled[0]), /^MainProcess · /);
  await (await page.$('#stepper'))?.screenshot({ path: join(ARTIFACTS, 'step-deadlock.png') });
  await page.click('#stop');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#runs'), /cancelled/);
  assert.deepEqual(errors, []);
  await page.close();
});

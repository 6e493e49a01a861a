// interaction.test.js — the page used the ways people use it: keyboard only,
// zoom and pan, the replay scrubber driving the source highlight, comparing
// two runs, the server's refusal shown at its field, and small screens (375 px
// phone, 800×500 iframe) without sideways scrolling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, runDemo, ARTIFACTS } from './harness.js';

const DEMO = 'process';
/** These tests explore the native engine's page (its source_lines drive the highlight); engines.test.js covers CPython. */
const PAGE = `/demos/${DEMO}?engine=native`;
/** Short delays keep the suite quick; the timeline is the same shape. */
const FAST = { numbers: '2, 3', delay_ms: '150' };

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

async function fastParams(page) {
  await page.fill('#param-numbers', FAST.numbers);
  await page.fill('#param-delay_ms', FAST.delay_ms);
}

/** Opens the demo page and runs it once with the fast parameters, to the end. */
async function runFast(page) {
  await page.goto(`${server.url}${PAGE}`);
  await page.waitForSelector('body[data-ready=true]');
  await fastParams(page);
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
}

const range = async (page) => ({
  start: Number(await page.getAttribute('#timeline', 'data-view-start')),
  end: Number(await page.getAttribute('#timeline', 'data-view-end')),
});

/** Wait until the canvas has painted a view different from `before`. */
async function changed(page, before) {
  await page.waitForFunction(([s, e]) => {
    const el = document.getElementById('timeline');
    return Number(el.dataset.viewStart) !== s || Number(el.dataset.viewEnd) !== e;
  }, [before.start, before.end], { timeout: 5000 });
  return range(page);
}

test('keyboard only: Tab to Run, Enter, then explore with keys', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}${PAGE}`);
  await page.waitForSelector('body[data-ready=true]');
  await fastParams(page);
  await page.evaluate(() => document.activeElement?.blur());
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.id === 'run');
  }
  assert.ok(reached, 'Run is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.match(await page.textContent('#outcome'), /Done!/);

  // Tab on to the timeline and use its keys.
  for (let i = 0; i < 20; i++) {
    if (await page.evaluate(() => document.activeElement?.id === 'timeline')) break;
    await page.keyboard.press('Tab');
  }
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'timeline');
  const r0 = await range(page);
  await page.keyboard.press('+');
  const r1 = await changed(page, r0);
  assert.ok(r1.end - r1.start < r0.end - r0.start, '+ zooms in');
  await page.keyboard.press('.');
  await page.waitForSelector('.tl-tip:not([hidden])');
  assert.ok((await page.textContent('.tl-tip')).length > 0, 'stepping selects an event and shows its fields');
  assert.deepEqual(errors, []);
  await page.close();
});

test('zoom and pan change the visible time range', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  await runFast(page);

  const r0 = await range(page);
  await page.click('button[aria-label="Zoom in"]');
  const r1 = await changed(page, r0);
  assert.ok(r1.end - r1.start < (r0.end - r0.start) * 0.9, 'zoom button narrows the range');

  await page.click('button[aria-label="Pan later"]');
  const r2 = await changed(page, r1);
  assert.ok(r2.start > r1.start, 'pan button moves later');
  assert.ok(Math.abs((r2.end - r2.start) - (r1.end - r1.start)) < 2, 'panning keeps the zoom');

  const box = await page.locator('#timeline canvas').boundingBox();
  await page.mouse.move(box.x + box.width * 0.6, box.y + 60);
  await page.mouse.wheel(0, -400);
  const r3 = await changed(page, r2);
  assert.ok(r3.end - r3.start < r2.end - r2.start, 'the wheel zooms in');

  await page.mouse.move(box.x + box.width * 0.6, box.y + 60);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.3, box.y + 60, { steps: 5 });
  await page.mouse.up();
  const r4 = await changed(page, r3);
  assert.ok(r4.start > r3.start, 'dragging left shows later time');

  await page.focus('#timeline');
  await page.keyboard.press('ArrowLeft');
  const r5 = await changed(page, r4);
  assert.ok(r5.start < r4.start, 'the left arrow key pans earlier');

  await page.click('text=Fit');
  const r6 = await changed(page, r5);
  assert.ok(Math.abs(r6.start - r0.start) < 1e4 && r6.end >= r0.end * 0.99, 'Fit shows the whole run again');
  await page.close();
});

test('the scrubber moves the highlighted source line, and console follows it', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await runFast(page);
  const total = await page.locator('#console li').count();

  const scrub = async (frac) => {
    await page.$eval('#replay input[type=range]', (el, v) => {
      el.value = String(Math.round(v * 1000));
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }, frac);
    await page.waitForTimeout(80);
    return {
      line: Number(await page.getAttribute('#source', 'data-current-line')),
      visible: await page.locator('#console li:not([hidden])').count(),
    };
  };
  const early = await scrub(0.1);
  const middle = await scrub(0.5);
  const end = await scrub(1);
  assert.ok(middle.line > 0, 'mid-run a source line is highlighted');
  assert.notEqual(end.line, middle.line, `the highlighted line moves with the scrubber (${middle.line} → ${end.line})`);
  // The end of the run is the program's last line that has an event: the result, or the final join.
  const lines = await page.evaluate(() => Object.values(window.forkline.demo?.source_lines ?? {}));
  if (lines.length) assert.ok(lines.includes(end.line));
  const highlighted = await page.locator('#source .line.current').count();
  assert.equal(highlighted, 1, 'exactly one source line is highlighted');
  assert.ok(early.visible < total, 'early in the replay fewer lines are printed');

  // Play at 4× runs to the end and shows every line again.
  await page.selectOption('#replay select', '4');
  await page.$eval('#replay input[type=range]', (el) => { el.value = '0'; el.dispatchEvent(new Event('input', { bubbles: true })); });
  await page.click('#replay button');
  await page.waitForFunction((n) => document.querySelectorAll('#console li:not([hidden])').length === n
    && document.querySelector('#replay button').getAttribute('aria-pressed') === 'false', total, { timeout: 15000 });
  assert.deepEqual(errors, []);
  await page.close();
});

test('compare: two runs stacked on one time scale, each with its outcome', { timeout: 90000 }, async () => {
  const page = await browser.ctx.newPage();
  await runFast(page);
  await page.fill('#param-delay_ms', '300');
  await page.click('#compare');
  await page.waitForFunction(() => document.querySelectorAll('#runs li').length === 2
    && document.getElementById('timeline').dataset.state === 'finished', null, { timeout: 30000 });
  const items = await page.$$eval('#runs li', (li) => li.map((l) => l.textContent));
  assert.match(items[0], /Run 1.*delay_ms=150.*Done!/);
  assert.match(items[1], /Run 2.*delay_ms=300.*Done!/);
  // Fit frames the lesson's activity (activity.js), not the runner's teardown after it.
  const runs = await page.evaluate(() => window.forkline.runs.map((r) => ({ end: window.forkline.timeline.activityOf(r).t1, lanes: r.lanes().length })));
  assert.equal(runs.length, 2);
  const r = await range(page);
  assert.ok(r.end >= Math.max(...runs.map((x) => x.end)), 'one scale covers the longer run\'s activity');
  assert.equal(Number(await page.getAttribute('#timeline', 'data-lanes')), runs[0].lanes + runs[1].lanes);
  await page.screenshot({ path: join(ARTIFACTS, 'compare.png'), fullPage: true });
  await page.close();
});

test('parameters: checked in the page, and the server\'s 422 shown at its field', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}${PAGE}`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#param-delay_ms', '-5');
  await page.click('#run');
  assert.match(await page.textContent('#param-delay_ms-err'), /between/);
  assert.equal(await page.getAttribute('#param-delay_ms', 'aria-invalid'), 'true');
  // Slip a bad value past the page to see the server's own refusal.
  await page.fill('#param-delay_ms', '100');
  await page.route('**/api/runs', (route) => {
    const body = JSON.parse(route.request().postData());
    body.params.delay_ms = 99999999;
    route.continue({ postData: JSON.stringify(body) });
  });
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('param-delay_ms-err').textContent.length > 0);
  const msg = await page.textContent('#param-delay_ms-err');
  assert.match(msg, /delay_ms/);
  await page.close();
});

for (const [name, viewport] of [['phone 375 px', { width: 375, height: 740 }], ['800×500', { width: 800, height: 500 }]]) {
  test(`no horizontal page scroll at ${name}`, { timeout: 60000 }, async () => {
    const page = await browser.ctx.newPage();
    await page.setViewportSize(viewport);
    const noSideways = async (what) => {
      const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      assert.ok(sw <= cw, `${what}: page is ${sw}px wide in a ${cw}px viewport`);
    };
    await page.goto(server.url + '/');
    await noSideways('catalog');
    await runFast(page);
    await page.click('summary:has-text("Legend")');
    await page.click('summary:has-text("All events")');
    await page.waitForTimeout(100);
    await noSideways('demo after a run');
    await page.screenshot({ path: join(ARTIFACTS, `layout-${viewport.width}x${viewport.height}.png`), fullPage: true });
    await page.close();
  });
}

test('embedded in an 800×500 iframe: runs, no sideways scroll', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}/healthz`);
  await page.evaluate((src) => {
    document.body.replaceChildren();
    const f = document.createElement('iframe');
    f.src = src; f.width = '800'; f.height = '500'; f.title = 'forkline demo';
    document.body.append(f);
  }, `${server.url}${PAGE}`);
  const frame = await (await page.waitForSelector('iframe')).contentFrame();
  await frame.waitForSelector('body[data-ready=true]');
  await frame.fill('#param-numbers', FAST.numbers);
  await frame.fill('#param-delay_ms', FAST.delay_ms);
  await frame.click('#run');
  await frame.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  const [sw, cw] = await frame.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `iframe content ${sw}px wide in ${cw}px`);
  await page.screenshot({ path: join(ARTIFACTS, 'iframe-800x500.png') });
  await page.close();
});

test('the program shown is the one the run had, its parameters written in', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  await runFast(page);
  const text = await page.textContent('#source');
  assert.match(text, /arr=\[2, 3\] +# \(numbers\)/, 'the numbers of this run');
  assert.match(text, /DELAY_MS = 150 +# \(delay_ms\)/, 'its delay');
  assert.doesNotMatch(text, /arr=\[2, 3, 8, 9\]/, 'not the lesson\'s defaults');
  await page.close();
});

test('the whole program is in view: the code panel grows with it', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  for (const demo of ['lock', 'gil', 'pipe']) {
    await page.goto(`${server.url}/demos/${demo}?engine=native`);
    await page.waitForSelector('body[data-ready=true]');
    const box = await page.$eval('.code', (el) => ({ client: el.clientHeight, scroll: el.scrollHeight }));
    assert.ok(box.scroll <= box.client + 1, `${demo}: the program scrolls inside its panel (${box.scroll} > ${box.client})`);
  }
  await page.close();
});

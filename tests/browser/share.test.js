// share.test.js — embedding and sharing in a real Chromium: a course page on a
// second loopback origin embeds /embed/{demo}; the demo runs and the host gets
// the height message when its origin is allowed, and the frame is refused
// (CSP frame-ancestors) when it is not. A replay.html file opened from file://
// with the network off shows the lanes and the outcome.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer as startForkline, launch, fetchEvents, expected } from './harness.js';

/** A course page on its own loopback origin that embeds `src` (set once
 * forkline knows the host's origin) and records the messages it gets. */
async function startHost() {
  let src = 'about:blank';
  const page = () => `<!doctype html><meta charset="utf-8"><title>course</title>
<h1>Course page</h1>
<iframe id="demo" src="${src}" style="width:100%;border:0" height="200"></iframe>
<script>
window.heights = [];
addEventListener('message', (e) => {
  if (e.data && e.data.type === 'forkline:height') {
    window.heights.push({ origin: e.origin, data: e.data });
    document.getElementById('demo').style.height = e.data.height + 'px';
  }
});
</script>`;
  const server = createServer((_, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end(page()); });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${port}`,
    /** @param {string} url */ embed(url) { src = url; },
    stop: () => new Promise((ok) => { server.closeAllConnections(); server.close(ok); }),
  };
}

test('an allowed course page embeds a demo that runs and reports its height', { timeout: 90000 }, async () => {
  const host = await startHost();
  const forkline = await startForkline(['--frame-ancestors', host.url]);
  host.embed(`${forkline.url}/embed/process?engine=native&numbers=2,3&delay_ms=50&autorun=1&panels=timeline,console`);
  const browser = await launch();
  try {
    const page = await browser.ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(host.url);
    const frame = await (await page.waitForSelector('#demo')).contentFrame();
    assert.ok(frame);
    await frame.waitForSelector('#timeline[data-state=finished]', { timeout: 60000 });
    assert.match(await frame.textContent('#console'), /square/, 'the frame shows the output');
    assert.equal(await frame.isVisible('section.source'), false, 'panels not asked for are hidden');
    assert.equal(await frame.inputValue('#param-numbers'), '2, 3', 'the query preset the parameters');
    await page.waitForFunction(() => window.heights.length > 0, null, { timeout: 10000 });
    const [first] = await page.evaluate(() => window.heights);
    assert.equal(first.origin, forkline.url, 'the message comes from the forkline origin');
    assert.equal(first.data.type, 'forkline:height');
    assert.equal(first.data.demo, 'process');
    assert.ok(Number.isInteger(first.data.height) && first.data.height > 100, `height ${first.data.height}`);
    const last = (await page.evaluate(() => window.heights)).at(-1);
    const frameHeight = await page.evaluate(() => document.getElementById('demo').getBoundingClientRect().height);
    assert.equal(Math.round(frameHeight), last.data.height, 'the host sized the frame to the content');
    assert.deepEqual(errors, [], 'no page errors');
  } finally {
    await browser.close();
    await host.stop();
    await forkline.stop();
  }
});

test('the copied embed code opens on a second origin as the page showed it, and runs', { timeout: 90000 }, async () => {
  const host = await startHost();
  const forkline = await startForkline(['--frame-ancestors', host.url]);
  const browser = await launch();
  try {
    const page = await browser.ctx.newPage();
    await page.goto(`${forkline.url}/demos/lock?engine=native`);
    await page.waitForSelector('#param-use_lock');
    await page.uncheck('#param-use_lock');
    await page.fill('#param-iterations', '150');
    await page.click('#share summary');
    const code = await page.inputValue('#embed-code');
    const src = /src="([^"]+)"/.exec(code)?.[1]?.replace(/&amp;/g, '&');
    assert.ok(src, code);
    assert.match(src, /autorun=1/);
    host.embed(src);
    const course = await browser.ctx.newPage();
    const errors = [];
    course.on('pageerror', (e) => errors.push(e.message));
    await course.goto(host.url);
    const frame = await (await course.waitForSelector('#demo')).contentFrame();
    assert.ok(frame);
    assert.equal(await frame.$('.embed-error, #embed-error'), null, 'no error frame');
    await frame.waitForSelector('#timeline[data-state=finished]', { timeout: 60000 });
    assert.equal(await frame.isChecked('#param-use_lock'), false, 'the copied parameters are the page\'s');
    assert.equal(await frame.inputValue('#param-iterations'), '150');
    assert.match(await frame.textContent('#console'), /\d/, 'the frame ran the demo and printed the balance');
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await host.stop();
    await forkline.stop();
  }
});

test('a course page whose origin is not allowed gets no frame and no message', { timeout: 60000 }, async () => {
  const forkline = await startForkline();
  const host = await startHost();
  host.embed(`${forkline.url}/embed/process?autorun=1`);
  const browser = await launch();
  try {
    const page = await browser.ctx.newPage();
    await page.goto(host.url);
    await page.waitForSelector('#demo');
    await page.waitForTimeout(2500);
    for (const frame of page.frames()) {
      const embed = await frame.evaluate(() => document.body?.dataset.embed ?? null).catch(() => null);
      assert.equal(embed, null, `frame ${frame.url()} must not be the embed page`);
    }
    assert.deepEqual(await page.evaluate(() => window.heights), []);
  } finally {
    await browser.close();
    await host.stop();
    await forkline.stop();
  }
});

test('replay.html opened from file:// with the network off shows the lanes and the outcome', { timeout: 90000 }, async () => {
  const forkline = await startForkline();
  const dir = mkdtempSync(join(tmpdir(), 'forkline-replay-'));
  const browser = await launch({ offline: true });
  try {
    const res = await fetch(`${forkline.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ demo: 'process', params: { numbers: [2, 3], delay_ms: 20 } }) });
    const { id } = await res.json();
    const events = await fetchEvents(forkline.url, id);
    const want = expected(events);
    const html = await (await fetch(`${forkline.url}/api/runs/${id}/replay.html`)).text();
    assert.match(html, /"forkline\/schema\.js"/, 'the file carries the schema module the run model imports');
    assert.match(html, /"forkline\/timeline\/timeline\.js"/, 'the file carries the modules in web/\'s folders');
    const file = join(dir, 'replay.html');
    writeFileSync(file, html);
    await forkline.stop();

    const requests = [];
    await browser.ctx.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    const page = await browser.ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
    const lanes = await page.$$eval('#lanes li', (lis) => lis.map((li) => li.textContent.trim()));
    assert.deepEqual(lanes.sort(), want.lanes.sort(), 'one lane per process and thread of the run');
    const colours = await page.$eval('#timeline canvas', (canvas) => {
      const { data } = /** @type {HTMLCanvasElement} */ (canvas).getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const seen = new Set();
      for (let i = 0; i < data.length; i += 4 * 97) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}`);
      return seen.size;
    });
    assert.ok(colours >= 10, `the timeline drew its lanes (${colours} colours on the canvas)`);
    const outcome = await page.textContent('#outcome');
    assert.ok(outcome && outcome.trim().length > 0, 'the outcome is shown');
    if (want.result) assert.match(outcome, new RegExp(want.result.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.deepEqual(await page.$$eval('#console li', (lis) => lis.length > 0), true);
    if (await page.isEnabled('#run')) {
      // Run in a replay file plays the recording again, and says so.
      await page.click('#run');
      await page.waitForFunction(() => /Replay 2 (finished|ended)/.test(document.getElementById('status')?.textContent ?? ''), null, { timeout: 30000 });
      assert.doesNotMatch(await page.textContent('#status'), /\bRun \d/, 'no "Run N" in a replay');
    }
    assert.deepEqual(requests, [], 'the file fetched nothing');
    assert.deepEqual(errors, [], 'no page errors');
  } finally {
    await browser.close();
    rmSync(dir, { recursive: true, force: true });
    await forkline.stop().catch(() => {});
  }
});

test('the permalink replays the run it names, with its share links', { timeout: 90000 }, async () => {
  const forkline = await startForkline();
  const browser = await launch();
  try {
    const res = await fetch(`${forkline.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ demo: 'process', params: { numbers: [4, 5], delay_ms: 20 } }) });
    const { id, permalink_url: permalink } = await res.json();
    const want = expected(await fetchEvents(forkline.url, id));
    const page = await browser.ctx.newPage();
    await page.goto(`${forkline.url}${permalink}`);
    await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
    assert.equal(await page.getAttribute('#timeline', 'data-run-id'), id, 'the page shows the named run, not a new one');
    const lanes = await page.$$eval('#lanes li', (lis) => lis.map((li) => li.textContent.trim()));
    assert.deepEqual(lanes.sort(), want.lanes.sort(), 'one lane per process of the run');
    assert.equal(await page.inputValue('#param-numbers'), '4, 5', 'the form shows the run\'s parameters');
    assert.equal(await page.getAttribute('#share-links a[href$="trace.json"]', 'href'), `/api/runs/${id}/trace.json`);
  } finally {
    await browser.close();
    await forkline.stop();
  }
});

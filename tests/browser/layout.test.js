// layout.test.js — what a finished run looks like, at 1280 and 375 px: the
// fitted view frames the lesson's own events (not the runner's start-up and
// teardown), no two labels the timeline drew overlap each other or a run
// header (the page exposes the boxes it drew: window.forkline.timeline.labelBoxes()),
// no word is broken inside an events-table cell, and while replaying each
// lane's current line is marked in that lane's colour. Screenshots of every
// demo at both widths land in artifacts/ as layout-<demo>-<width>.png.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

const WIDTHS = [1280, 375];
const SHORT = ['queue', 'fork', 'pipe', 'address_space'];
/** Smaller values where a demo's defaults take seconds: the layout is the question here, not the timing. */
const QUICK = /** @type {Record<string, Record<string, string>>} */ ({
  process: { delay_ms: '50' }, threads: { sleep_ms: '50' }, gil: { work: '100' }, join_zombie: { wait_ms: '100' },
});

let server, browser, demos;
// A short run limit: the pipe demo's unlocked writers can hang real CPython until it.
before(async () => {
  server = await startServer(['--run-timeout', '6']);
  browser = await launch();
  demos = await (await fetch(`${server.url}/api/demos`)).json();
});
after(async () => { await browser?.close(); await server?.stop(); });

/** Open a demo at a width, set quick values, run it and wait until the page has drawn it finished. */
async function finishedRun(name, width, engine = 'native') {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.setViewportSize({ width, height: 800 });
  await page.goto(`${server.url}/demos/${name}?engine=${engine}`);
  await page.waitForSelector('body[data-ready=true]');
  if (engine === 'native') for (const [k, v] of Object.entries(QUICK[name] ?? {})) await page.fill(`#param-${k}`, v);
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 60000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  return { page, errors, id };
}

/** Two boxes overlap by more than half a pixel both ways. */
const intersects = (a, b) => Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x) > 0.5
  && Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y) > 0.5;
const show = (b) => `${b.kind} "${b.text}" @${b.x.toFixed(1)},${b.y.toFixed(1)} ${b.w.toFixed(1)}×${b.h}`;

/**
 * The lesson's own events, from the API's log alone: on a process or thread
 * lane, not the kernel's samples, not the runner's (a CPython run's runner has
 * no lane), not the sampler's cost note (docs/events.md).
 */
function lessonEvents(events) {
  const start = events.find((e) => e.kind === 'run.start');
  const runner = start?.engine === 'cpython' ? start.pid : null;
  return events.filter((e) => e.kind !== 'run.start' && e.kind !== 'run.end' && e.kind !== 'kernel.sample'
    && !(e.kind === 'note' && /^sampler \(pid \d+, not part of the demo\)/.test(e.text ?? ''))
    && !(runner !== null && e.pid === runner)).sort((a, b) => a.t - b.t);
}

const LIFECYCLE = new Set(['proc.start', 'proc.exit', 'thread.start', 'thread.exit']);

async function checkLabels(page, what) {
  const boxes = await page.evaluate(() => window.forkline.timeline.labelBoxes());
  assert.ok(boxes.some((b) => b.kind === 'header'), `${what}: the run header is among the boxes`);
  assert.ok(boxes.some((b) => b.kind === 'lane'), `${what}: lane names are among the boxes`);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      assert.ok(!intersects(boxes[i], boxes[j]), `${what}: ${show(boxes[i])} overlaps ${show(boxes[j])}`);
    }
  }
  // A label cut to a letter or two says nothing: shortened ones keep whole words.
  for (const b of boxes) if (b.text.endsWith('…') && b.kind !== 'lane') assert.ok(b.text.length >= 7, `${what}: ${show(b)} is cut too short`);
  return boxes;
}

async function checkFit(page, events, what) {
  const lesson = lessonEvents(events);
  assert.ok(lesson.length >= 4, `${what}: the run has lesson events`);
  const g = await page.evaluate(() => { const tl = window.forkline.timeline; return { t0: tl.view.t0, t1: tl.view.t1, x0: tl.plotX0, x1: tl.plotX1 }; });
  const x = (t) => g.x0 + ((t - g.t0) / (g.t1 - g.t0)) * (g.x1 - g.x0);
  // A lone start-up or teardown event far from the rest may be left out, nothing else.
  let a = 0, b = lesson.length - 1;
  const inView = (e) => x(e.t) >= g.x0 - 0.5 && x(e.t) <= g.x1 + 0.5;
  if (!inView(lesson[a])) {
    assert.ok(LIFECYCLE.has(lesson[a].kind) && lesson[a + 1].t - lesson[a].t > (lesson[b].t - lesson[a + 1].t) / 2,
      `${what}: the first lesson event (${lesson[a].kind}) is out of view without being a lone start-up tail`);
    a++;
  }
  if (!inView(lesson[b])) {
    assert.ok(LIFECYCLE.has(lesson[b].kind) && lesson[b].t - lesson[b - 1].t > (lesson[b - 1].t - lesson[a].t) / 2,
      `${what}: the last lesson event (${lesson[b].kind}) is out of view without being a lone teardown tail`);
    b--;
  }
  for (let i = a; i <= b; i++) assert.ok(inView(lesson[i]), `${what}: ${lesson[i].kind} at ${lesson[i].t} ns is in view`);
  const spread = (x(lesson[b].t) - x(lesson[a].t)) / (g.x1 - g.x0);
  assert.ok(spread >= 0.6, `${what}: the lesson's events span ${(spread * 100).toFixed(0)}% of the plot (want ≥ 60%)`);
  return spread;
}

async function checkTable(page, what) {
  await page.click('#events > summary');
  await page.waitForSelector('#events tbody tr');
  const bad = await page.evaluate(() => {
    const out = [];
    for (const cell of document.querySelectorAll('#events th, #events td')) {
      const cs = getComputedStyle(cell);
      if (cs.wordBreak !== 'normal' || cs.overflowWrap !== 'normal') out.push(`${cell.textContent}: word-break ${cs.wordBreak}, overflow-wrap ${cs.overflowWrap}`);
      // Every word of the cell on one line: a word broken across lines has two boxes.
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent ?? '';
        for (const m of text.matchAll(/\S+/g)) {
          const r = document.createRange();
          r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
          const lines = new Set([...r.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
          if (lines.size > 1) out.push(`"${m[0]}" is broken over ${lines.size} lines`);
        }
      }
      if (out.length > 5) break;
    }
    return out;
  });
  assert.deepEqual(bad, [], `${what}: no word broken inside a table cell`);
  const fits = await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth);
  assert.ok(fits, `${what}: a wide table scrolls inside its panel, not the page`);
}

for (const name of SHORT) {
  for (const engine of ['native', 'cpython']) {
    test(`${name} (${engine}): the fit frames the lesson, labels never overlap, table cells keep their words`,
      { timeout: 60000, skip: engine === 'cpython' && !TRACER_READY ? 'python/forkline_boot.py is missing: CPython runs cannot succeed' : false }, async () => {
        for (const width of WIDTHS) {
          const what = `${name} ${engine} ${width}px`;
          const { page, errors, id } = await finishedRun(name, width, engine);
          const events = await fetchEvents(server.url, id);
          await checkLabels(page, what);
          await checkFit(page, events, what);
          // Fit after a zoom is the same frame.
          await page.click('button[aria-label="Zoom in"]');
          await page.click('.tools button:text-is("Fit")');
          await page.waitForFunction(() => document.getElementById('timeline').dataset.follow === 'true');
          await checkFit(page, events, `${what}, after Fit`);
          await checkTable(page, what);
          assert.deepEqual(errors, []);
          await page.close();
        }
      });
  }
}

test('replay: each lane\'s current line is marked in its lane\'s colour, with its name', { timeout: 60000 }, async () => {
  const { page, errors } = await finishedRun('threads', 1280);
  // The lanes' current lines at a cursor, and each lane's colour as the gutter paints it.
  const at = async (frac) => {
    await page.$eval('#replay input[type=range]', (el, v) => { el.value = String(Math.round(v * 1000)); el.dispatchEvent(new Event('input', { bubbles: true })); }, frac);
    await page.waitForTimeout(80);
    return page.evaluate(() => {
      const tl = window.forkline.timeline;
      const ctx = tl.canvas.getContext('2d');
      const dpr = window.devicePixelRatio || 1;
      const lanes = {};
      for (const r of tl.rows) {
        if (!r.lane) continue;
        const [R, G, B] = ctx.getImageData(Math.floor(1 * dpr), Math.floor((r.y + r.h / 2) * dpr), 1, 1).data;
        lanes[r.lane.id] = { name: r.lane.name, rgb: [R, G, B] };
      }
      const marked = [...document.querySelectorAll('#source .line.lane-line')].map((l) => ({
        line: Number(l.dataset.line), lanes: (l.dataset.lanes ?? '').split(' '), title: l.title,
        tags: [...l.querySelectorAll('.lane-tag')].map((t) => ({ lane: t.dataset.lane, text: t.textContent, color: getComputedStyle(t).borderLeftColor })),
      }));
      return { lanes, marked };
    });
  };
  let seen = null;
  for (const frac of [0.3, 0.5, 0.7, 0.15, 0.85]) {
    const s = await at(frac);
    if (new Set(s.marked.map((m) => m.line)).size >= 2) { seen = s; break; }
  }
  assert.ok(seen, 'a point of the replay where two lanes are on different lines');
  const rgb = (/** @type {string} */ c) => (c.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
  for (const m of seen.marked) {
    assert.ok(m.tags.length >= 1 && m.tags.length === m.lanes.length, `line ${m.line}: one tag per lane on it`);
    for (const tag of m.tags) {
      const lane = seen.lanes[tag.lane];
      assert.ok(lane, `line ${m.line}: tag for a drawn lane (${tag.lane})`);
      assert.equal(tag.text, lane.name, 'the tag names the lane');
      assert.ok(m.title.includes(lane.name), 'the line\'s title names its lanes too');
      const want = lane.rgb, got = rgb(tag.color);
      assert.ok(want.every((v, i) => Math.abs(v - got[i]) <= 3), `line ${m.line}: ${tag.lane}'s mark is ${tag.color}, its lane's colour is rgb(${want.join(', ')})`);
    }
  }
  // Lanes of different colours: the marks tell them apart without reading the tags.
  const colors = new Set(seen.marked.flatMap((m) => m.tags.map((t) => t.color)));
  assert.ok(colors.size >= 2, 'two lanes, two colours');
  await (await page.$('section.source')).screenshot({ path: join(ARTIFACTS, 'layout-replay-lanes.png') });
  // Off the replay, no lane marks.
  // The old run's finished state may still show the moment Run is pressed: wait for the new one's.
  const before = await page.getAttribute('#timeline', 'data-run-id');
  await page.click('#run');
  await page.waitForFunction((old) => { const t = document.getElementById('timeline'); return t?.dataset.runId !== old && t?.dataset.state === 'finished'; }, before, { timeout: 60000 });
  assert.equal(await page.locator('#source .line.lane-line').count(), 0, 'a new run clears the marks');
  assert.deepEqual(errors, []);
  await page.close();
});

test('screenshots of every demo at 1280 and 375 px, labels never overlapping', { timeout: 150000 }, async () => {
  for (const demo of demos.filter((d) => !d.hidden)) {
    const engines = demo.engines ?? ['native'];
    const engine = engines.includes('native') ? 'native' : 'cpython';
    // Scratch runs only an edited program, in the sandbox: where that is off, it has nothing to run.
    if (engine === 'cpython' && (!TRACER_READY || (demo.name === 'scratch' && !demo.cpython?.editing?.enabled))) continue;
    for (const width of WIDTHS) {
      const { page, errors } = await finishedRun(demo.name, width, engine);
      await checkLabels(page, `${demo.name} ${width}px`);
      await page.screenshot({ path: join(ARTIFACTS, `layout-${demo.name}-${width}.png`), fullPage: true });
      assert.deepEqual(errors, [], `${demo.name} ${width}px: no page errors`);
      await page.close();
    }
  }
});

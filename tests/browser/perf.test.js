// perf.test.js — the 100,000-event rendering benchmark. It loads the page's
// own run model and timeline (web/model/run.js, web/timeline/timeline.js)
// into a blank page from the real server, feeds them synthetic events (no run
// needed), and reports ingest time, a full draw, and per-frame draw and frame
// times while panning and zooming. Figures are printed, never asserted:
// timings depend on the machine.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, watchErrors } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch({ viewport: { width: 1280, height: 800 } }); });
after(async () => { await browser?.close(); await server?.stop(); });

/** Draw and frame times for a synthetic run of `total` events, in a blank page. */
async function measure(t, total) {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/healthz`);
  const r = await page.evaluate(async (total) => {
    const { RunModel } = await import('/static/model/run.js');
    const { Timeline } = await import('/static/timeline/timeline.js');
    const host = document.createElement('div');
    host.style.width = '1200px';
    host.style.height = '700px';
    host.style.overflow = 'auto';
    host.style.position = 'relative';
    document.body.replaceChildren(host);

    // 1 parent + 6 worker processes, 1 extra thread each: 13 lanes, `total` events over 10 s.
    const N = total;
    /** @type {any[]} */
    const evs = [];
    let seq = 0;
    const push = (/** @type {any} */ e) => evs.push({ seq: ++seq, cpu: seq % 4, ...e });
    push({ t: 0, kind: 'run.start', pid: 100, tid: 100, demo: 'bench', params: {} });
    push({ t: 10, kind: 'proc.start', pid: 100, tid: 100, name: 'MainProcess' });
    const workers = [];
    for (let w = 0; w < 6; w++) {
      const pid = 200 + w;
      push({ t: 20 + w, kind: 'proc.spawn', pid: 100, tid: 100, child: pid, name: `worker-${w}` });
      push({ t: 30 + w, kind: 'proc.start', pid, tid: pid, name: `worker-${w}`, ppid: 100 });
      push({ t: 40 + w, kind: 'thread.start', pid, tid: pid + 1000, name: 'feeder' });
      workers.push({ pid, tid: pid, t: 50 }, { pid, tid: pid + 1000, t: 50 });
    }
    let msg = 0;
    const step = 10e9 / (N / workers.length / 3);
    while (seq < N - 40) {
      for (const w of workers) {
        const t = w.t;
        const r = (seq * 2654435761) % 1000 / 1000;
        if (w.tid === w.pid) {
          push({ t, kind: 'compute', phase: 'begin', pid: w.pid, tid: w.tid });
          push({ t: t + step * (0.3 + r * 0.4), kind: 'compute', phase: 'end', pid: w.pid, tid: w.tid });
          push({ t: t + step * 0.8, kind: 'queue', op: 'put', queue: 'q', msg: ++msg, value: msg, pid: w.pid, tid: w.tid });
          push({ t: t + step * 0.9, kind: 'queue', op: 'get', queue: 'q', msg, value: msg, pid: 100, tid: 100 });
        } else {
          push({ t, kind: 'lock', phase: 'wait', lock: 'L', pid: w.pid, tid: w.tid });
          push({ t: t + step * 0.2, kind: 'lock', phase: 'acquire', lock: 'L', pid: w.pid, tid: w.tid });
          push({ t: t + step * (0.5 + r * 0.3), kind: 'lock', phase: 'release', lock: 'L', pid: w.pid, tid: w.tid });
          push({ t: t + step * 0.9, kind: 'print', text: `tick ${seq}`, pid: w.pid, tid: w.tid });
        }
        w.t += step;
      }
    }
    evs.length = Math.min(evs.length, N - 1);
    seq = evs.length;
    let end = 0;
    for (const w of workers) end = Math.max(end, w.t);
    while (seq < N - 1) push({ t: end + seq, kind: 'note', text: 'pad', pid: 100, tid: 100 });
    push({ t: end + N, kind: 'run.end', pid: 1, tid: 1, outcome: 'ok' });

    const model = new RunModel({ label: 'bench' });
    let t0 = performance.now();
    for (const e of evs) model.add(e);
    const ingestMs = performance.now() - t0;

    const tl = new Timeline(host, { request: () => {} });
    tl.setRuns([model]);
    t0 = performance.now();
    tl.draw();
    const firstDrawMs = performance.now() - t0;
    const fullStats = { ...tl.stats };

    // 240 frames: zoom in 12× around the middle, pan across, zoom back out.
    const draws = [], frames = [];
    let last = 0;
    await new Promise((done) => {
      let i = 0;
      const frame = (/** @type {number} */ ts) => {
        if (last) frames.push(ts - last);
        last = ts;
        if (i < 80) tl.zoom(0.97, 5e9);
        else if (i < 160) tl.pan(i < 120 ? 0.02 : -0.02);
        else tl.zoom(1 / 0.97, 5e9);
        const s = performance.now();
        tl.draw();
        draws.push(performance.now() - s);
        if (++i < 240) requestAnimationFrame(frame); else done(undefined);
      };
      requestAnimationFrame(frame);
    });
    const pct = (/** @type {number[]} */ a, /** @type {number} */ p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
    return {
      events: model.events.length, lanes: model.lanes().length, arrows: model.arrows.length,
      ingestMs, firstDrawMs, fullStats,
      drawP50: pct(draws, 0.5), drawP95: pct(draws, 0.95), drawMax: Math.max(...draws),
      frameP50: pct(frames, 0.5), frameP95: pct(frames, 0.95), frameMax: Math.max(...frames),
    };
  }, total);
  const f = (/** @type {number} */ x) => x.toFixed(2);
  const report = [
    `${total / 1000}k-event benchmark: ${r.events} events, ${r.lanes} lanes, ${r.arrows} arrows`,
    `  ingest (model.add × ${r.events}): ${f(r.ingestMs)} ms`,
    `  first full draw: ${f(r.firstDrawMs)} ms (${r.fullStats.spans} spans, ${r.fullStats.instants} instants, ${r.fullStats.arrows} arrows drawn after culling/coalescing)`,
    `  pan/zoom draw time: p50 ${f(r.drawP50)} ms, p95 ${f(r.drawP95)} ms, max ${f(r.drawMax)} ms`,
    `  pan/zoom frame time: p50 ${f(r.frameP50)} ms, p95 ${f(r.frameP95)} ms, max ${f(r.frameMax)} ms`,
  ];
  for (const line of report) { console.log(line); t.diagnostic(line); }
  assert.equal(r.events, total);
  assert.deepEqual(errors, []);
  await page.close();
}

test('100k events: draw time and frame times while panning and zooming (reported, not asserted)', { timeout: 120000 },
  (t) => measure(t, 100_000));

test('1M events: draw time and frame times while panning and zooming (reported, not asserted)', { timeout: 300000 },
  (t) => measure(t, 1_000_000));

test('page weight: a demo page\'s HTML, JS and CSS, gzipped, all from this server (reported)', { timeout: 60000 }, async () => {
  const { gzipSync } = await import('node:zlib');
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  /** @type {Map<string, Buffer>} */
  const bodies = new Map();
  const foreign = [];
  page.on('response', async (res) => {
    const url = res.url();
    if (!url.startsWith(server.url)) { foreign.push(url); return; }
    const type = res.headers()['content-type'] ?? '';
    if (/html|javascript|css/.test(type)) {
      try { bodies.set(url, await res.body()); } catch { /* a stream or a redirect has no body to weigh */ }
    }
  });
  await page.goto(`${server.url}/demos/process`);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForLoadState('networkidle');
  let raw = 0, gz = 0;
  for (const body of bodies.values()) { raw += body.length; gz += gzipSync(body, { level: 9 }).length; }
  console.log(`#   page weight: ${bodies.size} files, ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped (target ≤ 60 KB); other hosts: ${foreign.length}`);
  assert.ok(bodies.size >= 3, 'the HTML, the CSS and the modules were seen');
  assert.deepEqual(foreign, [], 'no request to any other host');
  assert.deepEqual(errors, []);
  await page.close();
});

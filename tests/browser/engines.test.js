// engines.test.js — the page's two engines in a real Chromium against a real
// server: CPython (a real interpreter runs the demo's Python program) is the
// default wherever it is offered and names its interpreter; Native is one
// keypress away; the URL, the embed and permalinks carry the engine; a
// CPython run draws the interpreter's own processes and threads with no lane
// for forkline's runner, and a CPython run and a Native run compare on one
// time scale; stderr lines and an uncaught exception are shown for what they
// are. Tests that need the Python tracer skip, saying why, when it is missing.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';

const NEEDS_TRACER = TRACER_READY ? false : 'python/forkline_boot.py is missing: CPython runs cannot succeed';

let server, browser, demos;
// A short run limit: the pipe demo's unlocked writers can hang real CPython until it.
before(async () => {
  server = await startServer(['--run-timeout', '6']);
  browser = await launch();
  demos = await (await fetch(`${server.url}/api/demos`)).json();
});
after(async () => { await browser?.close(); await server?.stop(); });

const demo = (/** @type {string} */ name) => demos.find((d) => d.name === name);
const checked = (page) => page.$eval('input[name=engine]:checked', (i) => i.value);
const text = (page, sel) => page.$eval(sel, (el) => el.textContent ?? '');
// A line's program text: its highlighted tokens, without the "← raised" note.
const program = (page) => page.$eval('#source code', (el) => [...el.querySelectorAll('.line')]
  .map((l) => [...l.childNodes].filter((n) => !(n instanceof Element && n.classList.contains('raised-note'))).map((n) => n.textContent).join('')).join(''));
const trimEnd = (/** @type {string} */ s) => s.replace(/\n+$/, '');

/** Wait until the page has finished `n` runs. */
async function finishedRuns(page, n, timeout = 30000) {
  await page.waitForFunction((k) => document.querySelectorAll('#runs li').length === k
    && document.getElementById('timeline').dataset.state === 'finished', n, { timeout });
}

test('CPython is the default, names its interpreter, and brings its own form, program and notes', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const process = demo('process');
  assert.deepEqual(process.engines, ['cpython', 'native'], 'this server offers CPython (the tests need an interpreter)');
  await page.goto(`${server.url}/demos/process`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await checked(page), 'cpython', 'CPython is selected by default');
  assert.equal((await text(page, '#engine-what')).trim(), process.cpython.interpreters[0].label, 'the interpreter is named');
  assert.equal(await text(page, '#notes'), process.cpython.notes, 'the notes are what real CPython does');
  assert.equal(trimEnd(await program(page)), trimEnd(process.cpython.source), 'the program shown is the one CPython runs');
  assert.match(await text(page, '#source-h'), /process\.py/);
  assert.equal(await page.locator('#param-start_method').count(), 1, 'the form has CPython\'s parameters');
  assert.match(page.url(), /[?&]engine=cpython\b/, 'the address names the engine');

  // Where the native page says the GIL is modelled, CPython's says what really happens.
  const gil = demo('gil');
  await page.goto(`${server.url}/demos/gil`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await text(page, '#notes'), gil.cpython.notes);
  await page.click('label[for=engine-native]');
  assert.equal(await text(page, '#notes'), gil.notes, 'Native shows the native notes');
  assert.equal(await page.locator('#param-switch_interval_ms').count(), 1, 'and the native form');
  assert.match(page.url(), /[?&]engine=native\b/);
  await page.click('label[for=engine-cpython]');
  assert.equal(await text(page, '#notes'), gil.cpython.notes);
  assert.equal(await page.locator('#param-switch_interval_ms').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('engine= in the URL: native selects Native, an unknown engine falls back and says so; embeds and embed code carry it', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const process = demo('process');
  await page.goto(`${server.url}/demos/process?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await checked(page), 'native');
  assert.equal(await text(page, '#notes'), process.notes);
  assert.equal(await page.locator('#param-start_method').count(), 0, 'the native form');
  assert.equal(await page.locator('#engine-notice').count(), 0, 'nothing to explain');

  const res = await page.goto(`${server.url}/demos/process?engine=bogus`);
  assert.equal(res.status(), 200, 'no error page');
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await checked(page), 'cpython', 'the default engine');
  const notice = await text(page, '#engine-notice');
  assert.match(notice, /“bogus” is not an engine/);
  assert.match(notice, /CPython, the default/);
  assert.match(page.url(), /[?&]engine=cpython\b/, 'the address now names the engine shown');

  // "Copy embed code" names the engine with the parameters.
  await page.click('summary:has-text("Share, embed")');
  assert.match(await page.inputValue('#embed-code'), /\/embed\/process\?engine=cpython&amp;start_method=fork/);
  await page.click('label[for=engine-native]');
  const code = await page.inputValue('#embed-code');
  assert.match(code, /\/embed\/process\?engine=native&amp;numbers=/);
  assert.doesNotMatch(code, /start_method/);

  for (const [query, want, noticed] of [['engine=native&delay_ms=50', 'native', false], ['engine=bogus', 'cpython', true]]) {
    const r = await page.goto(`${server.url}/embed/process?${query}`);
    assert.equal(r.status(), 200, `embed ?${query} is no error page`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await checked(page), want, `embed ?${query} shows ${want}`);
    assert.equal(await page.locator('#engine-notice').count(), noticed ? 1 : 0);
  }
  assert.equal(await page.inputValue('#param-numbers'), '2, 3, 8, 9');
  // An embed written before engines, with a parameter only the native demo has, keeps working.
  const old = await page.goto(`${server.url}/embed/lock?workers=4`);
  assert.equal(old.status(), 200);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await checked(page), 'native');
  assert.equal(await page.inputValue('#param-workers'), '4');

  // A permalink shows the engine its run ran on, whatever the default.
  const made = await (await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ demo: 'process', params: { numbers: [2], delay_ms: 10 } }) })).json();
  await fetchEvents(server.url, made.id);
  await page.goto(`${server.url}/runs/${made.id}`);
  await page.waitForSelector('#timeline[data-state=finished]');
  assert.equal(await checked(page), 'native', 'a native run\'s permalink shows Native');
  assert.match(await text(page, '#ran-on'), /Native \(forkline’s Rust demo\)/);
  assert.match(await text(page, '#runs li'), /Run 1 Native/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('keyboard only: Tab reaches the engine switch, arrow keys change the engine, Enter runs it', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/process`);
  await page.waitForSelector('body[data-ready=true]');
  await page.evaluate(() => document.activeElement?.blur());
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('name') === 'engine');
  }
  assert.ok(reached, 'the engine switch is reachable with Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'engine-cpython', 'Tab lands on the selected engine');
  const ring = await page.$eval('label[for=engine-cpython]', (l) => getComputedStyle(l).outlineStyle);
  assert.notEqual(ring, 'none', 'the focused engine shows a focus ring');
  const name = await page.$eval('#engine', (g) => g.getAttribute('role') + ':' + document.getElementById(g.getAttribute('aria-labelledby')).textContent);
  assert.equal(name, 'radiogroup:Engine', 'a labelled radio group');

  await page.keyboard.press('ArrowRight');
  assert.equal(await checked(page), 'native', 'an arrow key switches to Native');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'engine-native', 'focus stays on the switch');
  assert.equal(await page.locator('#param-start_method').count(), 0, 'the form is Native\'s');
  assert.match(page.url(), /[?&]engine=native\b/);
  await page.keyboard.press('ArrowLeft');
  assert.equal(await checked(page), 'cpython', 'and back');
  assert.equal(await page.locator('#param-start_method').count(), 1);
  await page.keyboard.press('ArrowRight');

  // On to Run (the next stop after the switch) and run it.
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'run', 'Run comes right after the switch');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const summary = await (await fetch(`${server.url}/api/runs/${id}`)).json();
  assert.equal(summary.engine, 'native', 'the run went to the engine chosen with the keys');
  assert.deepEqual(errors, []);
  await page.close();
});

test('CPython process run: the console is its prints in order, the lanes its own processes, and it compares with a Native run', { timeout: 90000, skip: NEEDS_TRACER }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const process = demo('process');
  await page.goto(`${server.url}/demos/process`);
  await page.waitForSelector('body[data-ready=true]');
  await page.fill('#param-numbers', '2, 3');
  await page.fill('#param-delay_ms', '50');
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  const id = await page.getAttribute('#timeline', 'data-run-id');
  const events = await fetchEvents(server.url, id);
  const start = events[0];
  assert.equal(start.engine, 'cpython');
  const runner = start.pid;

  const prints = events.filter((e) => e.kind === 'print');
  const lines = await page.$$eval('#console li:not([data-kind=exception])', (li) => li.map((l) => ({ text: l.querySelector('.text').textContent, pid: Number(l.dataset.pid) })));
  assert.deepEqual(lines.map((l) => l.text), prints.map((e) => e.text), 'the console lines are the print events, in order');
  assert.deepEqual(lines.map((l) => l.pid), prints.map((e) => e.pid), 'each from the process that printed it');
  assert.ok(prints.some((e) => e.text === 'Done!'));

  const lanes = await page.$$eval('#lanes li', (li) => li.map((l) => ({ text: l.textContent.trim(), depth: Number(l.dataset.depth) })));
  const names = lanes.map((l) => l.text.replace(/ · (pid|tid) \d+$/, ''));
  for (const n of ['MainProcess', 'Process-1', 'Process-2']) assert.ok(names.includes(n), `a lane for ${n}: ${names.join(' | ')}`);
  assert.equal(names[0], 'MainProcess', 'MainProcess is the top lane');
  assert.equal(lanes[0].depth, 0, 'a root lane');
  assert.ok(lanes.filter((l) => /^Process-\d/.test(l.text)).every((l) => l.depth === 1), 'its children under it');
  assert.ok(!lanes.some((l) => l.text.endsWith(`pid ${runner}`)), `no lane for the runner (pid ${runner})`);
  assert.equal(Number(await page.getAttribute('#timeline', 'data-lanes')), lanes.length);

  const interp = process.cpython.interpreters[0].label;
  assert.equal(await text(page, '#ran-on'), `Ran on ${interp} · fork start method`, 'the page names what ran');
  assert.match(await text(page, '#runs li'), new RegExp(`^Run 1 ${interp} · fork start method`));
  assert.equal(await program(page), start.source, 'the program shown is exactly the one that ran');
  assert.match(await program(page), /DELAY_MS = 50\b/, 'with the run\'s parameters written in');
  const result = events.find((e) => e.kind === 'result');
  assert.ok((await text(page, '#outcome')).includes(result.text), 'the runner\'s result is the outcome');
  const runNotes = await text(page, '#run-notes');
  const notes = events.filter((e) => e.kind === 'note' && e.pid === start.pid).map((e) => e.text);
  assert.ok(notes.some((n) => n.startsWith('sampler')), `the sampler says how it watched: ${notes.join(' | ')}`);
  for (const n of notes) assert.ok(runNotes.includes(n), `the runner's note is a note on the run: ${n}`);
  await page.screenshot({ path: join(ARTIFACTS, 'engine-cpython-process.png'), fullPage: true });

  // Native, then both on one time scale.
  await page.click('label[for=engine-native]');
  assert.equal(trimEnd(await program(page)), trimEnd(process.source), 'Native shows its program');
  await page.fill('#param-numbers', '2, 3');
  await page.fill('#param-delay_ms', '50');
  await page.click('#compare');
  await finishedRuns(page, 2);
  const items = await page.$$eval('#runs li', (li) => li.map((l) => l.textContent));
  assert.match(items[0], new RegExp(`^Run 1 ${interp} · fork start method · .*delay_ms=50.*process\\.py exited with code 0`));
  assert.match(items[1], /^Run 2 Native \(forkline’s Rust demo\) · .*delay_ms=50.*Done!/);
  const runs = await page.evaluate(() => window.forkline.runs.map((r) => ({ engine: r.engine, end: r.endT, lanes: r.lanes().length })));
  assert.deepEqual(runs.map((r) => r.engine), ['cpython', 'native']);
  assert.equal(Number(await page.getAttribute('#timeline', 'data-lanes')), runs[0].lanes + runs[1].lanes, 'both runs\' lanes stacked');
  // Fit frames each run's lesson activity (activity.js), not the runner's teardown after it.
  const ends = await page.evaluate(() => window.forkline.runs.map((r) => window.forkline.timeline.activityOf(r).t1));
  assert.ok(Number(await page.getAttribute('#timeline', 'data-view-end')) >= Math.max(...ends), 'one scale covers the longer run\'s activity');
  const stacked = await page.$$eval('#lanes li', (li) => li.map((l) => l.textContent.trim()));
  assert.ok(stacked.some((l) => /^Run 1: MainProcess/.test(l)) && stacked.some((l) => /^Run 2: MainProcess/.test(l)));
  assert.equal(await text(page, '#ran-on'), 'Ran on Native (forkline’s Rust demo)', 'the console follows the newest run');

  // Picking an event of the CPython run shows that run's program and says what ran.
  await page.evaluate(() => {
    const run = window.forkline.runs[0];
    const item = run.itemBySeq.get(run.prints.at(-1).ev.seq);
    window.forkline.timeline.select({ run, runIndex: 0, item });
  });
  await page.waitForFunction((src) => document.querySelector('#source code').textContent === src, start.source);
  assert.equal(await text(page, '#ran-on'), `Ran on ${interp} · fork start method`);
  await page.screenshot({ path: join(ARTIFACTS, 'engine-compare.png'), fullPage: true });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.waitForTimeout(150);
  const [sw, cw] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  assert.ok(sw <= cw, `no sideways scroll at 375 px (${sw} > ${cw})`);
  await page.screenshot({ path: join(ARTIFACTS, 'engine-compare-375.png'), fullPage: true });
  await page.locator('.controls').screenshot({ path: join(ARTIFACTS, 'engine-controls-375.png') });
  await page.setViewportSize({ width: 1280, height: 900 });

  // The CPython run's permalink shows CPython and the program it ran.
  await page.goto(`${server.url}/runs/${id}`);
  await page.waitForSelector('#timeline[data-state=finished]');
  assert.equal(await checked(page), 'cpython');
  assert.equal(await program(page), start.source);
  assert.equal(await text(page, '#ran-on'), `Ran on ${interp} · fork start method`);
  assert.equal(await page.inputValue('#param-delay_ms'), '50');
  assert.deepEqual(errors, []);
  await page.close();
});

test('stderr lines and an uncaught exception are shown for what they are (pipe, unlocked writers of 128 KiB)', { timeout: 60000, skip: NEEDS_TRACER }, async (t) => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/demos/pipe`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await checked(page), 'cpython');
  await page.fill('#param-writers', '3');
  await page.fill('#param-message_bytes', '131072');
  await page.setChecked('#param-use_lock', false);
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  const events = await fetchEvents(server.url, await page.getAttribute('#timeline', 'data-run-id'));
  const stderr = events.filter((e) => e.kind === 'print' && e.stream === 'stderr');
  const raised = events.filter((e) => e.kind === 'exception');
  await page.screenshot({ path: join(ARTIFACTS, 'engine-pipe-stderr.png'), fullPage: true });
  if (!stderr.length && !raised.length) {
    t.skip(`real CPython raised nothing this time (${events.at(-1).outcome}: ${await text(page, '#outcome')})`);
    await page.close();
    return;
  }

  // In order with the rest of the output, marked as stderr, in another colour.
  const shown = await page.$$eval('#console li', (li) => li.map((l) => ({ seq: Number(l.dataset.seq), stream: l.dataset.stream ?? '', text: l.querySelector('.text').textContent, tag: l.querySelector('.tag')?.textContent ?? '' })));
  const want = events.filter((e) => e.kind === 'print' || e.kind === 'exception').map((e) => e.seq);
  assert.deepEqual(shown.map((l) => l.seq), want, 'prints and exceptions in the order they happened');
  const errLines = shown.filter((l) => l.stream === 'stderr');
  assert.deepEqual(errLines.map((l) => l.text), stderr.map((e) => e.text), 'every stderr line, tracebacks included');
  assert.ok(errLines.every((l) => l.tag === 'stderr:'), 'each labelled stderr (read out as "stderr:")');
  const colours = await page.$$eval('#console li', (li) => li.map((l) => getComputedStyle(l.querySelector('.text')).color));
  const errColour = colours[shown.findIndex((l) => l.stream === 'stderr')];
  const outIndex = shown.findIndex((l) => l.stream === '' && l.tag === '');
  if (outIndex >= 0) assert.notEqual(colours[outIndex], errColour, 'stderr is drawn apart from stdout');

  for (const e of raised) {
    const line = await page.locator(`#console li[data-seq="${e.seq}"]`).textContent();
    assert.ok(line.includes(`${e.type}: ${e.message}${e.line ? ` (line ${e.line})` : ''}`), `the exception in words: ${line}`);
  }
  const withLine = raised.filter((e) => typeof e.line === 'number');
  if (withLine.length) {
    const marked = (await page.getAttribute('#source', 'data-raised-lines')).split(',').map(Number);
    for (const e of withLine) assert.ok(marked.includes(e.line), `line ${e.line} is marked as the one that raised`);
    assert.ok(await page.locator('#source .line.raised').first().isVisible());
  }
  if (raised.length) {
    const drawn = await page.evaluate(() => window.forkline.runs[0].lanes().flatMap((l) => l.instants).filter((i) => i.group === 'error').length);
    assert.equal(drawn, raised.length, 'each exception is an error instant on its lane');
  }
  await page.locator('.panels').screenshot({ path: join(ARTIFACTS, 'engine-pipe-stderr-panels.png') });
  await page.setViewportSize({ width: 375, height: 740 });
  await page.waitForTimeout(150);
  await page.locator('.console-panel').screenshot({ path: join(ARTIFACTS, 'engine-pipe-stderr-375.png') });
  assert.deepEqual(errors, []);
  await page.close();
});

test('a CPython run\'s events in the model: the runner has no lane, its note and result belong to the run', { timeout: 30000 }, async () => {
  // Synthetic events, so this holds without an interpreter or the tracer.
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}/demos/process`);
  const got = await page.evaluate(async () => {
    const { RunModel } = await import('/static/model/run.js');
    const ev = (seq, pid, tid, kind, rest = {}) => ({ seq, t: seq * 1000, pid, tid, cpu: 0, kind, ...rest });
    const cpython = [
      ev(1, 100, 100, 'run.start', { demo: 'queue', params: { start_method: 'spawn' }, engine: 'cpython', interpreter: 'CPython 3.11.7', source: 'x = 1\n' }),
      ev(2, 102, 102, 'kernel.sample', { of_pid: 100, of_tid: 100, state: 'R', on_cpu: 0 }),
      ev(3, 101, 101, 'proc.start', { name: 'MainProcess', ppid: 100 }),
      ev(4, 101, 101, 'proc.spawn', { child: 103, name: 'Process-1' }),
      ev(5, 103, 103, 'proc.start', { name: 'Process-1', ppid: 101 }),
      ev(6, 103, 103, 'thread.spawn', { child: 104, name: 'QueueFeederThread' }),
      ev(7, 103, 104, 'thread.start', { name: 'QueueFeederThread' }),
      ev(8, 103, 103, 'print', { text: 'Traceback (most recent call last):', stream: 'stderr' }),
      ev(9, 103, 103, 'exception', { type: 'ZeroDivisionError', message: 'division by zero', line: 7 }),
      ev(10, 101, 101, 'print', { text: 'done' }),
      ev(11, 100, 100, 'note', { text: 'sampler: cheap' }),
      ev(12, 100, 100, 'result', { text: 'queue.py exited with code 1', data: { exit_code: 1 } }),
      ev(13, 1, 1, 'run.end', { outcome: 'ok' }),
    ];
    const m = new RunModel({ engine: 'cpython' });
    for (const e of cpython) m.add(e);
    const native = new RunModel();
    for (const e of [ev(1, 100, 100, 'run.start', { demo: 'process', params: {} }), ev(2, 100, 100, 'proc.start', { name: 'MainProcess', ppid: 1 }),
      ev(3, 100, 100, 'note', { text: 'a lane note' }), ev(4, 100, 100, 'result', { text: 'Done!' }), ev(5, 1, 1, 'run.end', { outcome: 'ok' })]) native.add(e);
    return {
      lanes: m.lanes().map((l) => [RunModel.laneLabel(l), l.depth, l.type]),
      outcome: m.outcomeText(), notes: m.runNotes.map((e) => e.text), engine: m.engineText(),
      lines: m.lines.map((l) => l.ev.kind), errors: m.lanes().flatMap((l) => l.instants).filter((i) => i.group === 'error').length,
      firstT: m.firstT,
      nativeLanes: native.lanes().map((l) => [RunModel.laneLabel(l), l.instants.map((i) => i.ev.kind)]), nativeEngine: native.engineText(),
    };
  });
  assert.deepEqual(got.lanes, [['MainProcess · pid 101', 0, 'proc'], ['Process-1 · pid 103', 1, 'proc'], ['QueueFeederThread · tid 104', 2, 'thread']],
    'MainProcess at the top, its child under it, the feeder thread under the child, no lane for the runner (pid 100)');
  assert.equal(got.outcome, 'queue.py exited with code 1');
  assert.deepEqual(got.notes, ['sampler: cheap']);
  assert.equal(got.engine, 'CPython 3.11.7 · spawn start method');
  assert.deepEqual(got.lines, ['print', 'exception', 'print'], 'the console has the stderr line, the exception and stdout, in order');
  assert.equal(got.errors, 1, 'the exception is an error instant');
  assert.equal(got.firstT, 3000, 'the runner\'s own start-up is not where the program begins');
  assert.deepEqual(got.nativeLanes, [['MainProcess · pid 100', ['proc.start', 'note', 'result']]], 'in a native run the runner is MainProcess and keeps its lane');
  assert.equal(got.nativeEngine, 'Native (forkline’s Rust demo)');
  await page.close();
});

test('where the server has no interpreter, CPython is shown disabled with the server\'s reason', { timeout: 30000 }, async () => {
  const bare = await startServer(['--python', '/nonexistent/python3']);
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  try {
    const process = (await (await fetch(`${bare.url}/api/demos`)).json()).find((d) => d.name === 'process');
    assert.deepEqual(process.engines, ['native']);
    assert.ok(process.cpython_missing, 'the catalog says why');
    await page.goto(`${bare.url}/demos/process?engine=cpython`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await checked(page), 'native');
    assert.equal(await page.$eval('#engine-cpython', (i) => i.disabled), true, 'CPython is disabled');
    const why = await text(page, '#engine-why');
    assert.ok(why.includes(process.cpython_missing), `the reason is shown: ${why}`);
    assert.equal(await page.$eval('#engine-cpython', (i) => i.getAttribute('aria-describedby')), 'engine-why', 'and tied to the disabled option');
    assert.match(await text(page, '#engine-notice'), /CPython engine is not offered here/, 'the URL asked for CPython: the page says why it shows Native');
    await page.locator('.controls').screenshot({ path: join(ARTIFACTS, 'engine-cpython-missing.png') });
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await bare.stop();
  }
});

test('several interpreters: a select picks one, sent as python= and kept in the URL', { timeout: 60000 }, async (t) => {
  // Whatever CPythons this machine has; the server leaves out names it cannot find.
  const many = await startServer(['--python', 'python3,python3.13,python3.12,python3.11,python3.10,/usr/bin/python3']);
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  try {
    const process = (await (await fetch(`${many.url}/api/demos`)).json()).find((d) => d.name === 'process');
    const offered = process.cpython?.interpreters ?? [];
    if (offered.length < 2) { t.skip(`this machine offers ${offered.length} interpreter(s); a select needs two`); return; }
    const second = offered[1];
    await page.goto(`${many.url}/demos/process?python=${encodeURIComponent(second.id)}`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.$eval('#python', (s) => s.getAttribute('aria-label')), 'CPython interpreter', 'a labelled select');
    assert.deepEqual(await page.$$eval('#python option', (o) => o.map((x) => x.textContent)), offered.map((i) => i.label));
    assert.equal(await page.inputValue('#python'), second.id, 'the URL preset it');
    await page.selectOption('#python', offered[0].id);
    assert.match(page.url(), new RegExp(`python=${offered[0].id.replace(/\./g, '\\.')}\\b`), 'the URL follows the select');
    await page.selectOption('#python', second.id);
    await page.fill('#param-numbers', '2');
    await page.fill('#param-delay_ms', '10');
    await page.click('#run');
    await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
    const id = await page.getAttribute('#timeline', 'data-run-id');
    const summary = await (await fetch(`${many.url}/api/runs/${id}`)).json();
    assert.equal(summary.engine, 'cpython');
    assert.equal(summary.python, second.id, 'the run used the interpreter picked');
    if (TRACER_READY) assert.equal(await text(page, '#ran-on'), `Ran on ${second.label} · fork start method`);
    await page.locator('.controls').screenshot({ path: join(ARTIFACTS, 'engine-interpreters.png') });
    await page.click('label[for=engine-native]');
    assert.equal(await page.isHidden('#python'), true, 'no interpreter to pick for Native');
    assert.doesNotMatch(page.url(), /python=/);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await many.stop();
  }
});

test('a CPython run\'s replay.html, offline, names CPython and shows the program that ran', { timeout: 60000, skip: NEEDS_TRACER }, async () => {
  const made = await (await fetch(`${server.url}/api/runs`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ demo: 'process', engine: 'cpython', params: { numbers: [2, 3], delay_ms: 10 } }) })).json();
  const events = await fetchEvents(server.url, made.id);
  const html = await (await fetch(`${server.url}/api/runs/${made.id}/replay.html`)).text();
  const dir = mkdtempSync(join(tmpdir(), 'forkline-replay-'));
  const file = join(dir, 'replay.html');
  writeFileSync(file, html);
  const offline = await launch({ offline: true });
  try {
    const page = await offline.ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`file://${file}`);
    await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
    assert.equal(await checked(page), 'cpython');
    assert.equal(await page.$eval('#engine', (e) => e.classList.contains('fixed')), true, 'the switch only names the recorded engine');
    assert.equal(await program(page), events[0].source);
    assert.match(await text(page, '#ran-on'), /^Ran on CPython [\d.]+ · fork start method$/);
    const lanes = await page.$$eval('#lanes li', (li) => li.map((l) => l.textContent.trim().replace(/ · pid \d+$/, '')));
    assert.deepEqual(lanes, ['MainProcess', 'Process-1', 'Process-2']);
    assert.deepEqual(errors, []);
  } finally {
    await offline.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

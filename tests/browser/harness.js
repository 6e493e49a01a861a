// harness.js — what every browser test needs: a real forkline server on a
// free port, a headless Debian Chromium with a throwaway profile, and the
// run's events read straight from the API to compare the page against.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '../..');
export const ARTIFACTS = join(here, 'artifacts');
mkdirSync(ARTIFACTS, { recursive: true });
/** Whether this checkout has the Python tracer the CPython engine loads: without it CPython runs cannot succeed. */
export const TRACER_READY = existsSync(join(ROOT, 'python/forkline_boot.py'));

const BIN = process.env.FORKLINE_BIN ?? join(ROOT, 'target/debug/forkline');
/** The testkit's runner (crates/testkit: the lesson's demos and the fault and
 * benchmark ones), which the root build.rs builds beside the server's own
 * runner, in `<profile dir>/runner-build/<profile>/`. */
export const TESTKIT_RUNNER = process.env.FORKLINE_TESTKIT_RUNNER
  ?? join(dirname(BIN), 'runner-build', basename(dirname(BIN)), 'forkline-testkit-runner');

/** Start `forkline --listen 127.0.0.1:0` and learn its port from the line it prints.
 * @param {string[]} [extraArgs]  more flags, e.g. ['--runner', TESTKIT_RUNNER] */
export async function startServer(extraArgs = []) {
  const bin = BIN;
  // A test file starts more runs from 127.0.0.1 than a student would in a
  // minute: no run rate here (the API tests check it).
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--web-dir', join(ROOT, 'web'), '--db', ':memory:', '--client-runs-per-minute', '0', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`server did not start: ${stderr}`)), 15000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /forkline listening on (http:\/\/[\d.]+:\d+)/.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`server exited (${code}): ${stderr}`)); });
  });
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((ok) => { const t = setTimeout(() => { child.kill('SIGKILL'); ok(); }, 3000); child.on('exit', () => { clearTimeout(t); ok(); }); });
    },
  };
}

/** Headless Chromium from Debian with a fresh profile; never a downloaded browser. */
export async function launch(options = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'forkline-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
    ...options,
  });
  return {
    ctx,
    async close() { await ctx.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

/** Collect page errors and console errors so a test can assert there were none. */
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // A failed load is reported by URL below; the console's copy of it names none.
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`); });
  // Chromium asks for /favicon.ico on non-HTML pages (the benchmark's blank page); that 404 is not ours.
  page.on('response', (r) => { if (r.status() >= 400 && !r.url().endsWith('/favicon.ico') && r.request().resourceType() !== 'fetch') errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  page.on('requestfailed', (r) => {
    // The page closes each event stream itself after run.end: that abort is expected.
    if (r.url().includes('/events') && /ABORTED/.test(r.failure()?.errorText ?? '')) return;
    errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('request', (r) => { if (!r.url().startsWith('http://127.0.0.1') && !r.url().startsWith('data:')) errors.push(`foreign request: ${r.url()}`); });
  return errors;
}

/** Read a run's whole event log over SSE (the server closes the stream after run.end). */
export async function fetchEvents(base, id) {
  const res = await fetch(`${base}/api/runs/${id}/events`, { headers: { accept: 'text/event-stream' } });
  const text = await res.text();
  const events = [];
  for (const block of text.split(/\n\n/)) {
    const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
    if (data) events.push(JSON.parse(data));
  }
  return events;
}

/** What the page should show for a run, derived from the events alone. */
export function expected(events) {
  const lanes = new Map();
  for (const e of events) {
    if (e.kind === 'proc.start') lanes.set(`p${e.pid}`, `${e.name} · pid ${e.pid}`);
    if (e.kind === 'thread.start') lanes.set(`t${e.tid}`, `${e.name} · tid ${e.tid}`);
  }
  const prints = events.filter((e) => e.kind === 'print').map((e) => e.text);
  const result = events.find((e) => e.kind === 'result');
  const end = events.find((e) => e.kind === 'run.end');
  return { lanes: [...lanes.values()], prints, result: result?.text ?? null, end };
}

/** Open a demo page (on `engine`, when given), press Run, wait for run.end to reach the page; returns the run id. */
export async function runDemo(page, base, name, { timeout = 60000, engine = '' } = {}) {
  await page.goto(`${base}/demos/${name}${engine ? `?engine=${engine}` : ''}`);
  await page.waitForSelector('body[data-ready=true]');
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout });
  return page.getAttribute('#timeline', 'data-run-id');
}

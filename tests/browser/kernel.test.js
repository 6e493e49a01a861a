// kernel.test.js — the kernel's view on the page (issue 5): the per-CPU lanes
// must hold the CPUs and threads the run's kernel.sample events put there, the
// legend must explain the /proc states (and that R is running *or* runnable),
// and where the threads' own events and the kernel disagree, the page must say
// so: join_zombie's child is named as a zombie until its parent reaped it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, runDemo, ARTIFACTS } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

/** Screenshots in light and dark, with the legend open so its text is in the picture. */
async function shots(page, name) {
  await page.evaluate(() => { const d = document.querySelector('details.legend-wrap'); if (d) d.open = true; });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(ARTIFACTS, `kernel-${name}.png`), fullPage: true });
  await page.locator('.timeline-panel').screenshot({ path: join(ARTIFACTS, `kernel-${name}-timeline.png`) });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(ARTIFACTS, `kernel-${name}-dark.png`), fullPage: true });
  await page.locator('.timeline-panel').screenshot({ path: join(ARTIFACTS, `kernel-${name}-timeline-dark.png`) });
  await page.emulateMedia({ colorScheme: 'light' });
}

test('join_zombie: a note names the child that stayed a zombie until it was reaped', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const id = await runDemo(page, server.url, 'join_zombie');
  const events = await fetchEvents(server.url, id);
  const spawn = events.find((e) => e.kind === 'proc.spawn');
  assert.ok(spawn, 'the runner spawned a child');
  const child = spawn.child;
  assert.ok(events.some((e) => e.kind === 'kernel.sample' && e.of_pid === child && e.state === 'Z'), 'the API log has the child sampled Z');
  const exit = events.find((e) => e.kind === 'proc.exit' && e.pid === child);
  const reap = events.find((e) => e.kind === 'proc.join' && e.phase === 'end' && e.child === child);
  assert.ok(exit && reap, 'the child exited and was joined');

  const note = page.locator('#kernel-notes li[data-kind=zombie]');
  await note.first().waitFor({ timeout: 5000 });
  assert.equal(await note.count(), 1, 'one zombie note');
  assert.equal(Number(await note.getAttribute('data-pid')), child, 'the note is about the child');
  const text = await note.textContent();
  assert.match(text, new RegExp(`pid ${child}\\b`), `the note names pid ${child}: ${text}`);
  assert.match(text, /zombie \(Z\) for [\d.]+ ms until it was reaped/, text);
  // The figure is the Z time between its exit and its reaping: at most that gap.
  const ms = Number(/for ([\d.]+) ms/.exec(text)[1]);
  const gap = (reap.t - exit.t) / 1e6;
  assert.ok(ms > 0 && ms <= gap + 0.5, `zombie ${ms} ms within exit → reap ${gap.toFixed(1)} ms`);
  assert.ok(await page.isVisible('#kernel-notes'), 'the notes are shown, not only in the DOM');

  await shots(page, 'join_zombie');
  assert.deepEqual(errors, [], 'no page errors');
  await page.close();
});

test('threads: one CPU lane per core the samples saw the run on, a legend for the states, a By core toggle', { timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  const id = await runDemo(page, server.url, 'threads');
  const events = await fetchEvents(server.url, id);

  // What the per-core view should hold, from the API's events alone: the R
  // samples of the run's processes and threads, grouped by on_cpu.
  const label = new Map();
  for (const e of events) {
    if (e.kind === 'proc.start') label.set(`${e.pid}/${e.tid}`, `${e.name} · pid ${e.pid}`);
    if (e.kind === 'thread.start') label.set(`${e.pid}/${e.tid}`, `${e.name} · tid ${e.tid}`);
  }
  /** @type {Map<number, Set<string>>} */
  const want = new Map();
  for (const e of events) {
    if (e.kind !== 'kernel.sample' || e.state !== 'R' || !(e.on_cpu >= 0)) continue;
    const who = label.get(`${e.of_pid}/${e.of_tid}`);
    if (!who) continue;
    if (!want.has(e.on_cpu)) want.set(e.on_cpu, new Set());
    want.get(e.on_cpu).add(who);
  }
  assert.ok(want.size >= 1, 'the samples saw the run running somewhere');

  const cores = await page.$$eval('#cores li', (li) => li.map((l) => ({ cpu: Number(l.dataset.cpu), text: l.textContent })));
  assert.deepEqual(cores.map((c) => c.cpu), [...want.keys()].sort((a, b) => a - b), 'one CPU lane per core seen in R samples');
  for (const c of cores) {
    for (const who of want.get(c.cpu)) assert.ok(c.text.includes(who), `CPU ${c.cpu} lists ${who}: ${c.text}`);
  }
  assert.equal(Number(await page.getAttribute('#timeline', 'data-cores')), want.size, 'the canvas draws those CPU lanes');

  // Hovering the longest bar of a CPU lane names the thread that was there.
  const spot = await page.evaluate(() => {
    const tl = window.forkline.timeline;
    const run = window.forkline.runs[0];
    const pad = 6 * (tl.view.t1 - tl.view.t0) / (tl.plotX1 - tl.plotX0);
    const name = (/** @type {any} */ l) => `${l.type === 'proc' ? 'pid' : 'tid'} ${l.tid}`;
    let best = null;
    for (const row of tl.rows) {
      if (row.core === null) continue;
      const core = run.cores().get(row.core);
      const all = [...core.slices, ...core.open].map((s) => ({ s, t1: s.t1 ?? run.endT }));
      for (const { s, t1 } of all) {
        const mid = (s.t0 + t1) / 2;
        // the threads a hover here may fairly name: any bar on this core within a few pixels
        const near = all.filter((o) => o.s.t0 <= mid + pad && o.t1 >= mid - pad).map((o) => name(o.s.lane));
        const score = (near.length === 1 ? 1e15 : 0) + (t1 - s.t0); // a bar alone first, then the longest
        if (!best || score > best.score) best = { score, x: tl.x(mid), y: row.y + row.h / 2, who: [...new Set(near)] };
      }
    }
    return best;
  });
  assert.ok(spot, 'a bar to hover');
  await page.locator('#timeline').scrollIntoViewIfNeeded();
  await page.evaluate((y) => { document.querySelector('#timeline').scrollTop = Math.max(0, y - 100); }, spot.y);
  const box = await page.locator('#timeline canvas').boundingBox();
  await page.mouse.move(box.x + spot.x, box.y + spot.y);
  await page.waitForSelector('.tl-tip:not([hidden])');
  const tip = await page.textContent('.tl-tip');
  assert.ok(spot.who.some((w) => tip.includes(w)), `the tooltip names ${spot.who.join(' or ')}: ${tip}`);
  assert.match(tip, /on CPU \d/, tip);
  await page.mouse.move(0, 0);

  // The legend explains the states, honestly about R.
  const legend = await page.textContent('.legend-kernel');
  assert.match(legend, /R: running/);
  assert.match(legend, /runnable/);
  assert.match(legend, /cannot tell them apart/);
  assert.match(legend, /S: asleep/);
  assert.match(legend, /D: uninterruptible/);
  assert.match(legend, /Z: zombie/);

  // The threads' join is a wait the kernel spent asleep: the page says so.
  const waitNote = await page.textContent('#kernel-notes li[data-kind=wait]');
  assert.match(waitNote, /join\(\).*asleep \(S\)/, waitNote);

  await shots(page, 'threads');

  // By core is a real button: from the keyboard it hides and shows the CPU lanes.
  await page.focus('#by-core');
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute('#by-core', 'aria-pressed'), 'false');
  await page.waitForFunction(() => document.querySelector('#timeline').dataset.cores === '0');
  assert.equal(await page.locator('#cores li').count(), 0);
  await page.keyboard.press('Space');
  assert.equal(await page.getAttribute('#by-core', 'aria-pressed'), 'true');
  await page.waitForFunction((n) => document.querySelector('#timeline').dataset.cores === String(n), want.size);

  assert.deepEqual(errors, [], 'no page errors');
  await page.close();
});

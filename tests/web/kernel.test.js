// The kernel's side of real runs (web/model/kernel.js, web/model/notes.js):
// samples kept per lane, the per-core view, and the sentences the page
// writes where the threads' own events and /proc disagree.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRun } from './fixtures.js';
import { sampleEnd, stateTime } from '../../web/model/kernel.js';
import { kernelNotes } from '../../web/model/notes.js';

test('samples land on the lane of the thread they looked at, in time order, and none on a lane of the sampler', () => {
  const { run, of, events } = loadRun('process-sampled');
  const samples = of('kernel.sample');
  assert.ok(samples.length > 0, 'the capture was sampled');
  const sampler = samples[0].pid;
  assert.ok(!events.some((e) => e.kind === 'proc.start' && e.pid === sampler), 'the sampler never says proc.start');
  assert.ok(!run.laneMap.has(`p${sampler}`), 'and gets no lane');
  let kept = 0;
  for (const lane of run.lanes()) {
    const mine = samples.filter((e) => e.of_pid === lane.pid && e.of_tid === lane.tid);
    assert.equal(lane.samples.length, mine.length, `${lane.name}: every sample of it`);
    assert.deepEqual(lane.samples.map((s) => s.ev.seq), [...mine].sort((a, b) => a.t - b.t || a.seq - b.seq).map((e) => e.seq));
    kept += mine.length;
  }
  // The rest looked at the runner before the demo, or at the sampler's own start.
  assert.ok(kept > 0 && kept <= samples.length);
});

test('a zombie: the child exits, the kernel shows it Z until the join reaps it, and the note says how long', () => {
  const { run, of } = loadRun('join_zombie-sampled');
  const child = run.lanes().find((l) => l.name === 'p');
  assert.ok(child);
  const exit = of('proc.exit').find((e) => e.pid === child.pid);
  const reap = of('proc.join', { phase: 'end' }).find((e) => e.child === child.pid);
  assert.ok(exit && reap);
  assert.equal(child.exitT, exit.t);
  assert.equal(child.goneT, reap.t, 'gone when its parent reaped it');
  // The page's own zombie span: from the exit to the join's end.
  const zombie = child.spans.find((s) => s.style === 'zombie');
  assert.equal(zombie?.t0, exit.t);
  assert.equal(zombie?.t1, reap.t);
  // What the kernel saw: Z samples between exit and reap.
  const z = stateTime(child, exit.t, reap.t, 'Z', run.endT);
  assert.ok(z > 0 && z <= reap.t - exit.t, `Z for ${z / 1e6} ms`);
  const notes = run.kernelNotes();
  assert.deepEqual(notes, kernelNotes(run), 'the model caches what model/notes.js words');
  const note = notes.find((n) => n.kind === 'zombie' && n.lane === child);
  assert.ok(note, 'a zombie note for the child');
  assert.equal(note.ms, z / 1e6);
  assert.match(note.text, new RegExp(`^pid ${child.pid} \\(p\\) exited at [\\d.]+ ms but stayed a zombie \\(Z\\) for [\\d.]+ ms until it was reaped at [\\d.]+ ms: its exit status waited in the kernel for its parent's join\\(\\)\\.$`));
  // The demo's own result says the same thing.
  assert.match(String(run.result?.text), new RegExp(`child ${child.pid} exited and stayed a zombie \\(Z\\)`));
});

test('a parent asleep in join(): the wait note counts the joins and the time the kernel had it in S', () => {
  const { run, of } = loadRun('process-sampled');
  const main = run.lanes()[0];
  const joins = main.spans.filter((s) => s.style === 'join');
  assert.equal(joins.length, of('proc.join', { phase: 'begin' }).length);
  const waited = joins.reduce((sum, s) => sum + (/** @type {number} */ (s.t1) - s.t0), 0);
  const asleep = joins.reduce((sum, s) => sum + stateTime(main, s.t0, /** @type {number} */ (s.t1), 'S', run.endT), 0);
  const note = run.kernelNotes().find((n) => n.kind === 'wait' && n.lane === main);
  assert.ok(note, 'a wait note for MainProcess');
  assert.equal(note.ms, asleep / 1e6);
  assert.ok(asleep <= waited);
  assert.ok(note.text.startsWith(`waiting in join() (${joins.length} joins, `), note.text);
  assert.match(note.text, new RegExp(`the kernel shows pid ${main.pid} \\(MainProcess\\) asleep \\(S\\) for [\\d.]+ ms of it, not spinning on a CPU\\.$`));
  assert.deepEqual(run.kernelNotes().map((n) => n.t0), [...run.kernelNotes().map((n) => n.t0)].sort((a, b) => a - b), 'in time order');
});

test('the per-core view: each R slice sits on the CPU its sample named and lasts until the next state', () => {
  const { run } = loadRun('process-sampled');
  const cpus = run.coreList();
  assert.ok(cpus.length > 0);
  assert.deepEqual(cpus, [...cpus].sort((a, b) => a - b));
  for (const cpu of cpus) {
    const core = /** @type {import('../../web/model/run.js').Core} */ (run.cores().get(cpu));
    for (const s of core.slices) {
      assert.equal(s.cpu, cpu);
      assert.equal(s.ev.state, 'R');
      assert.equal(s.ev.on_cpu, cpu);
      const i = s.lane.samples.findIndex((q) => q.ev === s.ev);
      assert.ok(i >= 0, 'begun by one of its lane\'s samples');
      if (s.t1 !== null) assert.ok(s.t1 >= s.t0 && s.t1 <= sampleEnd(s.lane, s.lane.samples.length - 1, run.endT));
    }
  }
});

test('a run without samples has no notes, and a live run none yet', () => {
  assert.deepEqual(loadRun('threads').run.kernelNotes(), []);
  const { run, events } = loadRun('join_zombie-sampled');
  assert.ok(run.kernelNotes().length > 0);
  const live = loadRun('join_zombie-sampled').run;
  live.end = null; // as before its run.end arrived
  assert.deepEqual(live.kernelNotes(), [], 'a zombie\'s time is known only once it is reaped');
  assert.equal(events.at(-1)?.kind, 'run.end');
});

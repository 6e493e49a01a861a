// A stepped run in the page's model (web/model/run.js) and the scheduler
// panel's reading of it (web/stepper.js): what each lane waits to do, who
// holds the lock a lane waits for, and the schedule the server recorded, fed
// a real stepped run (tests/fixtures/runs/lock-stepped: d took the lock, w
// went for it, then the run was let go).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRun } from './fixtures.js';
import { RunModel } from '../../web/model/run.js';
import { laneState } from '../../web/stepper.js';

test('mid-run: d waits at its gate to read, w waits for the lock d holds', () => {
  const { events } = loadRun('lock-stepped');
  const d = events.find((e) => e.kind === 'proc.start' && e.name === 'd');
  const w = events.find((e) => e.kind === 'proc.start' && e.name === 'w');
  // Up to w's lock wait: the moment the student saw before pressing "Run freely".
  const upTo = events.findIndex((e) => e.kind === 'lock' && e.phase === 'wait' && e.pid === w?.pid);
  const run = new RunModel({ label: 'stepped' });
  for (const ev of events.slice(0, upTo + 1)) run.add(ev);
  assert.equal(run.stepped, true);
  const lane = (/** @type {number} */ pid) => /** @type {import('../../web/model/run.js').Lane} */ (run.laneMap.get(`p${pid}`));
  const dState = laneState(run, lane(Number(d?.pid)));
  assert.equal(dState.pending?.op, 'read balance', 'd holds the lock and waits to read');
  assert.equal(dState.pending?.at, 'value:read');
  const wState = laneState(run, lane(Number(w?.pid)));
  assert.equal(wState.pending, null, 'w is not at a gate: it is blocked on the real lock');
  assert.equal(wState.kind, 'blocked');
  assert.equal(wState.text, `waiting for lock, which d · pid ${d?.pid} holds`);
  // The step instants are not drawn as events of their own: each lane's items are its operations.
  assert.ok(![...run.laneMap.values()].some((l) => l.instants.some((i) => i.ev.kind === 'step.pending')));
});

test('the finished stepped run: nothing pending, the steps the server recorded, and the balance with the lock', () => {
  const { run, of } = loadRun('lock-stepped');
  assert.equal(run.pendingSteps.size, 0);
  assert.deepEqual(run.schedule?.steps, ['MainProcess', 'MainProcess', 'd', 'w']);
  assert.equal(run.schedule?.free, true);
  // Pending steps that were followed by their lane's next event.
  assert.equal(run.stepsTaken, of('step.pending').length);
  assert.equal(/** @type {any} */ (run.result?.data).balance, 200);
  assert.ok(!run.lanes().some((l) => l.pid === of('step.schedule')[0].pid), 'the server writing the schedule gets no lane');
});

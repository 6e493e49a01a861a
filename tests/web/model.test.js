// The run model (web/model/run.js) fed real runs' events: lanes, spans and
// arrows as the page draws them, checked against the runs' own events.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRun } from './fixtures.js';
import { RunModel } from '../../web/model/run.js';

/** @param {import('../../web/model/run.js').Lane[]} lanes */
const names = (lanes) => lanes.map((l) => RunModel.laneLabel(l));

test('an unlocked lock run: three process lanes, the children under MainProcess, and the lost updates in its result', () => {
  const { run, of } = loadRun('lock-unlocked');
  const main = of('proc.start', { name: 'MainProcess' })[0];
  const d = of('proc.start', { name: 'd' })[0], w = of('proc.start', { name: 'w' })[0];
  assert.deepEqual(names(run.lanes()), [`MainProcess · pid ${main.pid}`, `d · pid ${d.pid}`, `w · pid ${w.pid}`]);
  assert.deepEqual(run.lanes().map((l) => [l.type, l.depth, l.parentId]), [['proc', 0, null], ['proc', 1, `p${main.pid}`], ['proc', 1, `p${main.pid}`]]);
  assert.equal(d.ppid, main.pid, 'the capture is what it claims: d is a child of MainProcess');
  // The lesson's point: without the lock, updates are lost.
  const data = /** @type {any} */ (run.result?.data);
  assert.equal(data.use_lock, false);
  assert.equal(data.expected, 200);
  assert.ok(data.balance !== 200 && data.lost_updates > 0, `updates were lost: ${run.result?.text}`);
  assert.equal(data.lost_updates, data.lost_deposits + data.lost_withdrawals);
  // The balance the result reports is the last value written to the shared Value.
  const writes = of('value', { op: 'write', name: 'balance' });
  assert.equal(writes.at(-1)?.value, data.balance);
  assert.equal(writes.length, data.writes, 'every write is in the log');
  // Each write is an instant on the lane of the process that wrote it.
  const dWrites = run.laneMap.get(`p${d.pid}`)?.instants.filter((i) => i.ev.kind === 'value' && i.ev.op === 'write');
  assert.equal(dWrites?.length, writes.filter((e) => e.pid === d.pid).length);
  assert.equal(run.outcomeText(), run.result?.text);
  assert.equal(run.arrows.filter((a) => a.kind === 'lock').length, 0, 'no lock, nothing handed over');
});

test('spawn and join arrows go from the parent to each child and back, one per child', () => {
  for (const name of ['lock-unlocked', 'queue', 'pipe', 'fork', 'process-cpython']) {
    const { run, of } = loadRun(name);
    const spawns = run.arrows.filter((a) => a.kind === 'spawn');
    const joins = run.arrows.filter((a) => a.kind === 'join');
    assert.equal(spawns.length, of('proc.spawn').length, `${name}: one spawn arrow per proc.spawn`);
    for (const a of spawns) {
      const spawn = run.events.find((e) => e.seq === a.from.seq), start = run.events.find((e) => e.seq === a.to.seq);
      assert.equal(spawn?.kind, 'proc.spawn', name);
      assert.equal(start?.kind, 'proc.start', name);
      assert.equal(start?.pid, spawn?.child, `${name}: the arrow ends at the child it spawned`);
      assert.equal(a.from.lane.pid, spawn?.pid);
      assert.equal(a.to.lane.id, `p${spawn?.child}`);
    }
    const joined = of('proc.join', { phase: 'end' });
    assert.equal(joins.length, joined.length, `${name}: one join arrow per finished join`);
    for (const a of joins) {
      const exit = run.events.find((e) => e.seq === a.from.seq), join = run.events.find((e) => e.seq === a.to.seq);
      assert.equal(exit?.kind, 'proc.exit', name);
      assert.equal(join?.child, exit?.pid, `${name}: from the child's exit to its parent's join`);
    }
  }
});

test('a locked lock run: every hand-over arrow goes from a release on one lane to an acquire on another that was waiting', () => {
  const { run } = loadRun('lock-locked');
  assert.equal(/** @type {any} */ (run.result?.data).balance, 200, 'with the lock nothing is lost');
  const hand = run.arrows.filter((a) => a.kind === 'lock');
  assert.ok(hand.length > 0, 'the lock changed hands');
  for (const a of hand) {
    const rel = run.events.find((e) => e.seq === a.from.seq), acq = run.events.find((e) => e.seq === a.to.seq);
    assert.equal(rel?.kind, 'lock'); assert.equal(rel?.phase, 'release');
    assert.equal(acq?.kind, 'lock'); assert.equal(acq?.phase, 'acquire');
    assert.notEqual(a.from.lane, a.to.lane, 'handed to another process');
    assert.ok(a.from.t <= a.to.t, 'released before it was acquired');
    const wait = a.to.lane.spans.find((s) => s.end?.seq === acq?.seq && s.style === 'wait');
    assert.ok(wait && wait.t0 <= a.from.t, 'the acquirer began to wait before the release');
    assert.equal(a.label, `${rel?.lock} handed over`);
  }
  // Every wait ends at an acquire and every hold at a release, on its own lane.
  for (const lane of run.lanes()) {
    for (const s of lane.spans.filter((x) => x.style === 'wait' || x.style === 'hold')) {
      assert.equal(s.begin.tid, lane.tid);
      assert.equal(s.end?.phase, s.style === 'wait' ? 'acquire' : 'release');
      assert.equal(s.end?.tid, s.begin.tid);
    }
  }
});

test('the GIL demo draws the GIL handed from thread to thread, the rule schema/events.json defines', () => {
  const { run, of } = loadRun('gil');
  const hand = run.arrows.filter((a) => a.kind === 'lock' && a.label === 'GIL handed over');
  assert.ok(hand.length > 0, 'the GIL changed threads');
  for (const a of hand) {
    const rel = run.events.find((e) => e.seq === a.from.seq), acq = run.events.find((e) => e.seq === a.to.seq);
    assert.equal(rel?.kind, 'gil'); assert.equal(rel?.phase, 'release');
    assert.equal(acq?.kind, 'gil'); assert.equal(acq?.phase, 'acquire');
    assert.equal(rel?.pid, acq?.pid, 'one GIL per process');
    assert.notEqual(rel?.tid, acq?.tid, 'handed to another thread');
  }
  assert.ok(hand.length <= of('gil', { phase: 'acquire' }).length);
  // Lanes: MainProcess, its threads (b*, d*) before its processes (p*), as the page stacks them.
  const lanes = run.lanes();
  assert.equal(lanes[0].name, 'MainProcess');
  assert.deepEqual(lanes.slice(1).map((l) => l.type), [...of('thread.start').map(() => 'thread'), ...of('proc.start').slice(1).map(() => 'proc')]);
});

test('sleep spans: each opens at its begin and closes at its end on the same thread, as long as the events say', () => {
  const { run, of } = loadRun('threads');
  const lanes = run.lanes();
  assert.deepEqual(lanes.map((l) => [l.name, l.type]), [['MainProcess', 'proc'], ['t1', 'thread'], ['t2', 'thread']]);
  const main = lanes[0];
  for (const t of lanes.slice(1)) {
    assert.equal(t.pid, main.pid, 'threads share their process');
    assert.equal(t.parentId, main.id);
    const begins = of('sleep', { phase: 'begin' }).filter((e) => e.tid === t.tid);
    const ends = of('sleep', { phase: 'end' }).filter((e) => e.tid === t.tid);
    const sleeps = t.spans.filter((s) => s.style === 'sleep');
    assert.equal(sleeps.length, begins.length);
    assert.equal(begins.length, ends.length);
    sleeps.forEach((s, i) => {
      assert.equal(s.begin, begins[i]);
      assert.equal(s.end, ends[i]);
      assert.equal(s.t1 - s.t0, ends[i].t - begins[i].t);
      assert.equal(s.label, `sleep ${begins[i].ms} ms`);
      // It slept at least as long as it asked (the kernel may wake it a little late).
      assert.ok(s.t1 - s.t0 >= begins[i].ms * 1e6, `${s.label} lasted ${(s.t1 - s.t0) / 1e6} ms`);
    });
    assert.equal(t.open.size, 0, 'nothing left open in a finished run');
  }
  // The two threads overlap: the lesson's "done in 0.2 s, not 0.4 s".
  const [a, b] = lanes.slice(1).map((l) => l.spans.filter((s) => s.style === 'sleep')[0]);
  assert.ok(a.t0 < b.t1 && b.t0 < a.t1, 'the sleeping threads overlap');
  assert.equal(run.arrows.filter((x) => x.kind === 'spawn').length, 2);
  assert.equal(run.arrows.filter((x) => x.kind === 'join').length, 2);
});

test('queue and pipe messages: one arrow per message, from its put or send to its get or recv', () => {
  const q = loadRun('queue');
  const puts = q.of('queue', { op: 'put' });
  const msgs = q.run.arrows.filter((a) => a.kind === 'message');
  assert.equal(msgs.length, puts.length);
  for (const a of msgs) {
    const put = q.events.find((e) => e.seq === a.from.seq), get = q.events.find((e) => e.seq === a.to.seq);
    assert.equal(put?.op, 'put'); assert.equal(get?.op, 'get');
    assert.equal(get?.msg, put?.msg, 'paired by message id');
    assert.deepEqual(get?.value, put?.value, 'what was put is what was got');
    assert.equal(a.label, `q: ${JSON.stringify(put?.value)}`);
    assert.notEqual(a.from.lane, a.to.lane, 'from the producer to the parent');
  }
  // FIFO: gets in the order of the puts.
  assert.deepEqual(q.of('queue', { op: 'get' }).map((e) => e.msg), puts.map((e) => e.msg));

  const p = loadRun('pipe');
  const sends = p.of('pipe', { op: 'send' });
  const recvd = p.of('pipe', { op: 'recv' }).filter((e) => e.msg !== 0);
  const arrows = p.run.arrows.filter((a) => a.kind === 'message');
  assert.equal(arrows.length, Math.min(sends.length, recvd.length));
  for (const a of arrows) {
    const send = p.events.find((e) => e.seq === a.from.seq), recv = p.events.find((e) => e.seq === a.to.seq);
    assert.equal(send?.op, 'send'); assert.equal(recv?.op, 'recv');
    assert.equal(recv?.msg, send?.msg);
  }
});

test('fork: the child gets a lane under its parent, and each side has its fork.return', () => {
  const { run, of } = loadRun('fork');
  const [parent, child] = run.lanes();
  assert.equal(run.lanes().length, 2);
  assert.equal(child.parentId, parent.id);
  const returns = of('fork.return');
  assert.deepEqual(returns.map((e) => e.pid).sort(), [parent.pid, child.pid].sort());
  assert.equal(returns.find((e) => e.pid === parent.pid)?.value, child.pid, 'the parent is told the child\'s pid');
  assert.equal(returns.find((e) => e.pid === child.pid)?.value, 0, 'the child is told 0');
  assert.ok(parent.instants.some((i) => i.ev.kind === 'fork.return' && i.group === 'life'));
});

test('a CPython run: the runner has no lane, MainProcess is the root, and CPython names the children', () => {
  const { run, events } = loadRun('process-cpython');
  const start = events[0];
  assert.equal(start.kind, 'run.start');
  assert.equal(run.engine, 'cpython');
  assert.equal(run.runnerPid, start.pid);
  assert.ok(!run.laneMap.has(`p${start.pid}`), 'the runner is not part of the program');
  assert.deepEqual(run.lanes().map((l) => [l.name, l.depth]), [['MainProcess', 0], ['Process-1', 1], ['Process-2', 1]]);
  assert.equal(run.result?.text, 'process.py exited with code 0');
  assert.match(run.engineText(), /^CPython 3\.\d+\.\d+ · fork start method$/);
  // The printed lines, in order, each on the lane of the process that printed it.
  for (const { ev, lane } of run.prints) assert.equal(lane.pid, ev.pid);
  assert.ok(run.prints.length > 0);
});

test('every event has a drawn item, and an item\'s partners are the other ends of its arrows', () => {
  const { run, events } = loadRun('queue');
  for (const e of events) {
    if (e.kind === 'run.start' || e.kind === 'run.end') continue;
    assert.ok(run.itemBySeq.has(e.seq), `seq ${e.seq} (${e.kind}) is drawn`);
  }
  const a = run.arrows.find((x) => x.kind === 'message');
  const put = /** @type {import('../../web/model/run.js').Item} */ (run.itemBySeq.get(/** @type {any} */ (a).from.seq));
  assert.ok([...run.partners(put)].some((it) => 'ev' in it && it.ev.seq === a?.to.seq), 'selecting a put finds its get');
});

/** A synthetic event: seq, time and ids filled in. @param {number} seq @param {Record<string, any>} fields */
const ev = (seq, fields) => /** @type {import('../../web/model/run.js').FlEvent} */ ({ seq, t: seq * 10, pid: 1, tid: 1, cpu: 0, ...fields });

test('events out of order still make the tree: a thread before its process, a child before its spawn', () => {
  const run = new RunModel();
  run.add(ev(1, { kind: 'print', pid: 7, tid: 8, text: 'early' }));
  run.add(ev(2, { kind: 'proc.start', pid: 7, tid: 7, name: 'child', ppid: 1 }));
  run.add(ev(3, { kind: 'proc.start', name: 'MainProcess', ppid: 0 }));
  run.add(ev(4, { kind: 'proc.spawn', child: 7, name: 'child' }));
  assert.deepEqual(run.lanes().map((l) => [l.id, l.depth, l.name]), [['p1', 0, 'MainProcess'], ['p7', 1, 'child'], ['t8', 2, 'thread']]);
  assert.equal(run.prints[0].lane.id, 't8', 'the print is the thread\'s');
});

test('a kind the schema has no span for still draws a span from its phases, and a process\'s exit leaves a zombie until its join', () => {
  const run = new RunModel();
  run.add(ev(1, { kind: 'proc.start', name: 'MainProcess', ppid: 0 }));
  run.add(ev(2, { kind: 'proc.spawn', child: 2, name: 'c' }));
  run.add(ev(3, { kind: 'proc.start', pid: 2, tid: 2, name: 'c', ppid: 1 }));
  run.add(ev(4, { kind: 'made.up', phase: 'begin', pid: 2, tid: 2 }));
  run.add(ev(5, { kind: 'made.up', phase: 'end', pid: 2, tid: 2 }));
  run.add(ev(6, { kind: 'proc.exit', pid: 2, tid: 2, code: 0 }));
  run.add(ev(7, { kind: 'proc.join', phase: 'end', child: 2 }));
  const child = /** @type {import('../../web/model/run.js').Lane} */ (run.laneMap.get('p2'));
  assert.deepEqual(child.spans.map((s) => [s.style, s.label, s.t0, s.t1]), [['other', 'made.up', 40, 50], ['zombie', 'zombie: exited, not yet joined', 60, 70]]);
  assert.equal(run.itemBySeq.get(7)?.lane.id, 'p1', 'the join\'s end is the parent\'s item, not the zombie\'s');
  assert.equal(child.goneT, 70, 'reaped by the join');
});

// model/run.js — turns a run's event stream into what the timeline draws:
// lanes, spans, instants and arrows. It exists apart from the drawing so it
// can stay pure (no DOM), be fed 100,000 synthetic events by a benchmark, and
// be tested by node without a browser (tests/web/). docs/events.md is the
// contract it reads.
//
// Which events open and close spans, and which pair into arrows, is not
// written here: it is schema/events.json's `spans` and `arrows`, compiled by
// model/schema.js and applied by model/spans.js and model/arrows.js, so the
// page draws what the schema says and what the Chrome-trace export draws.
// What the schema does not say is the table of kinds below (`LIFE`): lanes'
// names and parents (model/lanes.js keeps the lanes), the zombie between a
// proc.exit and its join, prints, results, exceptions. The kernel's samples
// are model/kernel.js's, the sentences about them model/notes.js's.
//
// Two engines make runs: in a native run the runner is the lesson's
// MainProcess and has its lane; in a CPython run the runner only starts the
// interpreter and reports on it (its `note` and `result` belong to the run,
// not to a lane), and the interpreter's MainProcess is the root lane.

import { isLessonEvent } from '../activity.js';
import { KernelSamples } from './kernel.js';
import { kernelNotes } from './notes.js';
import { Lanes } from './lanes.js';
import { Spans } from './spans.js';
import { Arrows } from './arrows.js';
import { lowerBound } from '../sorted.js';

/**
 * @typedef {{seq:number, t:number, kind:string, pid:number, tid:number, cpu:number, [k:string]:any}} FlEvent
 *
 * @typedef {object} Lane
 * @property {string} id          'p<pid>' for a process (its main thread), 't<tid>' for a thread
 * @property {'proc'|'thread'} type
 * @property {number} pid
 * @property {number} tid
 * @property {string} name
 * @property {number} order       creation order, used to sort siblings
 * @property {string|null} parentId  the parent process lane (tree) or owning process (thread)
 * @property {number} depth       filled by RunModel.lanes()
 * @property {Span[]} spans       closed and open spans, sorted by t0
 * @property {Set<Span>} open     spans still waiting for their end
 * @property {number} maxDur      longest closed span: lets culling binary-search by t0
 * @property {Instant[]} instants sorted by t
 * @property {{t0:number, t1:number|null}|null} alive  start → exit of the process/thread
 * @property {Sample[]} samples  kernel.sample states, sorted by t
 * @property {number|null} exitT  when it said proc.exit / thread.exit
 * @property {number|null} goneT  when its /proc entry went away: reaped by a join, or sampled X
 * @property {CoreSlice|null} openCore  the core slice its latest `R` sample keeps open
 *
 * @typedef {{t:number, state:string, cpu:number, ev:FlEvent}} Sample
 *
 * A stretch of one thread in state R on one core, for the per-core view. R in
 * /proc means running *or* runnable (queued for that core): a sample cannot
 * tell the two apart, so two slices may overlap on one core.
 * @typedef {object} CoreSlice
 * @property {number} cpu
 * @property {Lane} lane
 * @property {number} t0
 * @property {number|null} t1  null while it is the lane's latest state
 * @property {FlEvent} ev     the sample that began it
 *
 * @typedef {{slices:CoreSlice[], open:Set<CoreSlice>, maxDur:number}} Core
 *
 * @typedef {import('./notes.js').KernelNote} KernelNote
 *
 * @typedef {object} Span
 * @property {Lane} lane
 * @property {string} style   sleep | compute | wait | hold | join | system | zombie | other
 * @property {number} t0
 * @property {number|null} t1  null while open
 * @property {FlEvent} begin
 * @property {FlEvent|null} end
 * @property {number} cpu
 * @property {string} label
 * @property {Arrow[]} links
 *
 * @typedef {object} Instant
 * @property {Lane} lane
 * @property {number} t
 * @property {FlEvent} ev
 * @property {string} group   print | message | value | note | life | error | other
 * @property {Arrow[]} links
 *
 * @typedef {Span|Instant} Item
 *
 * @typedef {{lane:Lane, t:number, seq:number}} End
 * `kind` is the arrow rule's name: spawn | join | message | lock (schema/events.json `arrows`).
 * @typedef {{kind:string, from:End, to:End, label:string}} Arrow
 */

/** Kinds that are bookkeeping for the whole run, not something a lane did. */
const RUN_KINDS = new Set(['run.start', 'run.end']);

/**
 * What the page alone knows about a kind, after the schema's spans: the
 * lanes' life, the console, the result. Each gets the event's lane and
 * whether something drew it already, and says whether it drew now.
 * @type {Record<string, (run:RunModel, lane:Lane, ev:FlEvent, drawn:boolean)=>boolean>}
 */
const LIFE = {
  'proc.start'(run, lane, ev, drawn) {
    lane.name = ev.name ?? lane.name;
    const ppidLane = ev.ppid != null ? run.laneMap.get(`p${ev.ppid}`) : undefined;
    if (ppidLane && ppidLane !== lane) lane.parentId = ppidLane.id;
    else if (ev.ppid != null && !run.spawnParent.has(ev.pid)) run.spawnParent.set(ev.pid, `p${ev.ppid}`);
    lane.alive = { t0: ev.t, t1: null };
    run.lanesChanged();
    return drawn;
  },
  'thread.start'(_run, lane, ev, drawn) {
    lane.name = ev.name ?? lane.name;
    lane.alive = { t0: ev.t, t1: null };
    return drawn;
  },
  'proc.spawn'(run, lane, ev, drawn) {
    // The child's lane is made here, so siblings line up in the order they were started.
    const known = run.laneMap.has(`p${ev.child}`);
    const child = run.lane(ev.child, ev.child);
    if (!known && ev.name) child.name = ev.name;
    if (child.parentId === null) { child.parentId = lane.type === 'proc' ? lane.id : lane.parentId; run.lanesChanged(); }
    run.spawnParent.set(ev.child, lane.type === 'proc' ? lane.id : /** @type {string} */ (lane.parentId));
    return drawn;
  },
  'thread.spawn'(run, _lane, ev, drawn) {
    if (!run.laneMap.has(`t${ev.child}`)) { const t = run.lane(ev.pid, ev.child); if (ev.name) t.name = ev.name; }
    return drawn;
  },
  'proc.exit'(run, lane, ev, drawn) {
    exited(run, lane, ev, drawn);
    // A child with a parent in this run is a zombie until that parent reaps it.
    if (lane.parentId) run.spans.open(lane, 'zombie', ev, `zombie:${ev.pid}`, 'zombie: exited, not yet joined');
    return true;
  },
  'thread.exit'(run, lane, ev, drawn) { exited(run, lane, ev, drawn); return true; },
  'proc.join'(run, _lane, ev, drawn) {
    // The join's end also ends the child's zombie span (its own item is the join).
    if (ev.phase === 'end') run.spans.close(`zombie:${ev.child}`, ev, false);
    joined(run, `p${ev.child}`, ev);
    return drawn;
  },
  'thread.join'(run, _lane, ev, drawn) { joined(run, `t${ev.child}`, ev); return drawn; },
  print(run, lane, ev, drawn) {
    run.prints.push({ ev, lane });
    run.lines.push({ ev, lane });
    return drawn;
  },
  exception(run, lane, ev, drawn) {
    run.exceptions.push(ev);
    run.lines.push({ ev, lane });
    return drawn;
  },
  result(run, _lane, ev, drawn) { run.result = ev; return drawn; },
};

/** A process or thread said it exited: its life ends here, drawn as an instant unless a span took it. @param {RunModel} run @param {Lane} lane @param {FlEvent} ev @param {boolean} drawn */
function exited(run, lane, ev, drawn) {
  if (lane.alive) lane.alive.t1 = ev.t;
  lane.exitT = ev.t;
  if (!drawn) run.spans.instant(lane, ev);
}

/** A join's end reaps its child: the child's lane is gone from then. @param {RunModel} run @param {string} childId @param {FlEvent} ev */
function joined(run, childId, ev) {
  if (ev.phase !== 'end') return;
  const reaped = run.laneMap.get(childId);
  if (reaped && reaped.goneT === null) reaped.goneT = ev.t;
}

export class RunModel {
  /** @param {{label?:string, params?:object, engine?:'cpython'|'native', interpreter?:string}} [opts] */
  constructor(opts = {}) {
    this.label = opts.label ?? 'Run';
    /** Which engine ran it: as asked, until run.start says. @type {'cpython'|'native'} */
    this.engine = opts.engine ?? 'native';
    /** The interpreter's label as asked; run.start's `interpreter` wins. */
    this.interpreter = opts.interpreter ?? '';
    /** @type {number|null} a CPython run's runner: its events are the run's, it has no lane */
    this.runnerPid = null;
    /** @type {FlEvent[]} the runner's notes in a CPython run (e.g. the sampler's cost) */
    this.runNotes = [];
    /** The server's run id, when there is one. */
    this.id = '';
    /** Whether it ran a program someone edited, and that program (the page sets both). */
    this.edited = false;
    /** @type {string|null} */
    this.program = null;
    /** Parameters as sent; run.start replaces them with the validated ones. */
    this.params = opts.params ?? null;
    /** @type {FlEvent[]} in seq order */
    this.events = [];
    /** @type {{ev:FlEvent, lane:Lane}[]} print events in seq order */
    this.prints = [];
    /** @type {{ev:FlEvent, lane:Lane}[]} the console: print and exception events in seq order */
    this.lines = [];
    /** @type {FlEvent[]} uncaught exceptions (CPython), in seq order */
    this.exceptions = [];
    /** @type {FlEvent|null} */ this.result = null;
    /** @type {FlEvent|null} */ this.end = null;
    /** @type {FlEvent|null} */ this.start = null;
    this.lastT = 0;
    /** @type {number|null} first thing a process did; before it the runner was only starting */
    this.firstT = null;
    /** @type {number|null} the first of the lesson's own events (activity.js): where a live run's fit starts */
    this.lessonT0 = null;
    /** @type {Set<number>} CPU cores seen, for the legend */
    this.cpus = new Set();
    /** @type {Map<number, Item>} every event's drawn item, for selection and partners */
    this.itemBySeq = new Map();
    /** The kernel's samples of this run's threads, and the per-core view made of them. */
    this.kernel = new KernelSamples(this);
    this._lanes = new Lanes((id) => this.kernel.adopt(id));
    /** @type {Map<string, Lane>} every lane by id ('p<pid>', 't<tid>') */
    this.laneMap = this._lanes.map;
    /** @type {Map<number, string>} child pid → parent lane id, from proc.spawn or proc.start's ppid */
    this.spawnParent = this._lanes.spawnParent;
    /** The drawn spans and instants, and the schema's span rules (model/spans.js); `LIFE` draws through it too. */
    this.spans = new Spans(this.itemBySeq);
    this._arrows = new Arrows(this.itemBySeq);
    /** @type {Arrow[]} */
    this.arrows = this._arrows.list;
    /** A lane's name by a pid or tid, for `{field:name}` in labels (the raw id when there is no such lane). */
    this._nameOf = (/** @type {number} */ id) => this._lanes.nameOf(id);
    /** @type {{version:number, notes:KernelNote[]}|null} */ this._notes = null;
    /** @type {FlEvent[]|null} */ this._byTime = null;
    // A stepped run: what each lane waits at its gate to do (its latest
    // step.pending, until its next event), the steps taken, the recorded
    // schedule, and who waits for and holds which lock, to say why a lane
    // cannot go.
    /** Whether the run is stepped. */ this.stepped = false;
    /** @type {Map<string, FlEvent>} lane id → its pending step */ this.pendingSteps = new Map();
    /** Steps seen taken (pending steps that were let go). */ this.stepsTaken = 0;
    /** @type {FlEvent|null} the server's step.schedule */ this.schedule = null;
    /** @type {Map<string, string>} lane id → the lock it waits for */ this._lockWaits = new Map();
    /** @type {Map<string, Lane>} lock → the lane holding it */ this._lockHolders = new Map();
    /** Bumped on every change so views can cache per version. */
    this.version = 0;
  }

  get finished() { return this.end !== null; }

  /** The run's end, or the latest time seen while it is live. */
  get endT() { return this.end ? Math.max(this.end.t, this.lastT) : this.lastT; }

  /** @param {number} pid @param {number} tid */
  laneIdOf(pid, tid) { return Lanes.idOf(pid, tid); }

  /**
   * The lane of a process or thread, created on first sight (model/lanes.js):
   * for the events' lanes, and for the kernel's samples of a process seen
   * only from outside. @param {number} pid @param {number} tid
   */
  lane(pid, tid) { return this._lanes.get(pid, tid); }

  /** A lane's name or parent was changed from outside: the drawing order is made again. */
  lanesChanged() { this._lanes.changed(); }

  /** @param {Lane} lane @param {FlEvent} ev */
  _lockState(lane, ev) {
    const lock = String(ev.lock);
    if (ev.phase === 'wait') this._lockWaits.set(lane.id, lock);
    else if (ev.phase === 'acquire') { this._lockWaits.delete(lane.id); this._lockHolders.set(lock, lane); }
    else if (ev.phase === 'release' && this._lockHolders.get(lock) === lane) this._lockHolders.delete(lock);
  }

  /** The lock a lane waits for now, if any. @param {string} laneId */
  lockWaitOf(laneId) { return this._lockWaits.get(laneId) ?? null; }

  /** The lane holding `lock` now, if any. @param {string} lock */
  lockHolder(lock) { return this._lockHolders.get(lock) ?? null; }

  /** @param {FlEvent} ev */
  add(ev) {
    this.events.push(ev);
    this._byTime = null;
    this.version++;
    const k = ev.kind;
    if (typeof ev.t === 'number' && ev.t > this.lastT) this.lastT = ev.t;
    if (k === 'run.start') {
      this.start = ev;
      if (ev.params) this.params = ev.params;
      this.engine = ev.engine === 'cpython' ? 'cpython' : 'native';
      if (typeof ev.interpreter === 'string') this.interpreter = ev.interpreter;
      this.runnerPid = this.engine === 'cpython' ? ev.pid : null;
      return;
    }
    if (k === 'run.end') { this.end = ev; this.pendingSteps.clear(); this._finish(ev.t); return; }
    if (k === 'step.schedule') { this.schedule = ev; this.stepped = true; return; }
    // The runner's own samples: it is no lane, and its start-up is not the program's.
    if (k === 'kernel.sample' && this.runnerPid !== null && ev.of_pid === this.runnerPid) return;
    if (this.isRunLevel(ev)) {
      if (k === 'result') this.result = ev; else this.runNotes.push(ev);
      return;
    }
    if (ev.cpu >= 0) this.cpus.add(ev.cpu);
    if (this.firstT === null || ev.t < this.firstT) this.firstT = ev.t;
    if (k !== 'kernel.sample' && (this.lessonT0 === null || ev.t < this.lessonT0) && isLessonEvent(ev)) this.lessonT0 = ev.t;
    if (k === 'kernel.sample') { this.kernel.add(ev); return; }

    const lane = this.lane(ev.pid, ev.tid);
    if (k === 'step.pending') { this.stepped = true; this.pendingSteps.set(lane.id, ev); return; }
    if (this.pendingSteps.delete(lane.id)) this.stepsTaken++;
    if (k === 'lock') this._lockState(lane, ev);
    /** @type {End} */
    const here = { lane, t: ev.t, seq: ev.seq };
    // The schema's spans, then what only the page knows, then a span of its
    // own for a phased kind the schema has none for, then an instant for an
    // event nothing else drew, then the schema's arrows (which link the
    // items their ends drew).
    let drawn = this.spans.schema(lane, ev, this._nameOf);
    const life = Object.hasOwn(LIFE, k) ? LIFE[k] : undefined;
    if (life) drawn = life(this, lane, ev, drawn);
    if (!drawn) drawn = this.spans.phased(lane, ev);
    if (!drawn) this.spans.instant(lane, ev);
    this._arrows.schema(lane, ev, here, this.spans.closedNow, this._nameOf);
  }

  /**
   * The per-core view: for each CPU a sample saw a thread of this run running
   * on, the R stretches there, sorted by start (model/kernel.js).
   * @returns {Map<number, Core>}
   */
  cores() { return this.kernel.cores(); }

  /** CPUs in the per-core view, in order. */
  coreList() { return [...this.cores().keys()].sort((a, b) => a - b); }

  /**
   * Where self-reported events and the kernel's samples disagree in a way
   * worth teaching (model/notes.js): once the run is finished, cached per version.
   * @returns {KernelNote[]}
   */
  kernelNotes() {
    if (!this.finished) return [];
    if (!this._notes || this._notes.version !== this.version) this._notes = { version: this.version, notes: kernelNotes(this) };
    return this._notes.notes;
  }

  /** Open spans stay drawn to the end of the run; nothing is left half-open. */
  _finish(/** @type {number} */ t) {
    for (const lane of this.laneMap.values()) {
      if (lane.alive && lane.alive.t1 === null) lane.alive.t1 = Math.max(t, lane.alive.t0);
    }
  }

  /** Lanes in drawing order: a depth-first walk of the process tree, threads first under their process. */
  lanes() { return this._lanes.tree(); }

  /** Label shown for a lane: the lesson's name and the real id. */
  static laneLabel(/** @type {Lane} */ l) {
    return l.type === 'proc' ? `${l.name} · pid ${l.pid}` : `${l.name} · tid ${l.tid}`;
  }

  /** Events sorted by time (seq order is read order, which can differ slightly between processes). */
  byTime() {
    if (!this._byTime) this._byTime = [...this.events].sort((a, b) => a.t - b.t || a.seq - b.seq);
    return this._byTime;
  }

  /** The last event at or before t (for replay), or null. */
  eventAt(/** @type {number} */ t) {
    const bt = this.byTime();
    const i = lowerBound(bt, t + 1, (e) => e.t) - 1;
    return i >= 0 ? bt[i] : null;
  }

  /**
   * The items an item is linked with: both ends of its arrows. Selecting a put
   * highlights its get; an acquire its handing-over release; a spawn its start.
   * @param {Item} item
   */
  partners(item) {
    /** @type {Set<Item>} */
    const out = new Set();
    for (const a of item.links) {
      for (const end of [a.from, a.to]) {
        const it = this.itemBySeq.get(end.seq);
        if (it && it !== item) out.add(it);
      }
    }
    return out;
  }

  /**
   * An event of the whole run rather than of a lane: in a CPython run, what
   * the runner (not part of the program) says, apart from run.start/run.end.
   * @param {FlEvent} ev
   */
  isRunLevel(ev) {
    return this.runnerPid !== null && ev.pid === this.runnerPid && ev.kind !== 'kernel.sample' && !RUN_KINDS.has(ev.kind);
  }

  /** What ran, in words: "CPython 3.11.7 · fork start method", or the native engine. */
  engineText() {
    if (this.engine !== 'cpython') return 'Native (forkline’s Rust demo)';
    const who = this.interpreter || 'CPython';
    const method = /** @type {Record<string, unknown>|null} */ (this.params)?.start_method;
    return typeof method === 'string' && method ? `${who} · ${method} start method` : who;
  }

  /** Outcome in words: the result's text, and how the run ended. */
  outcomeText() {
    if (!this.end) return '';
    const o = this.end.outcome ?? 'ok';
    const words = this.result?.text ?? '';
    if (o === 'ok') return words || 'finished';
    return `${o}${this.end.reason ? `: ${this.end.reason}` : ''}${words ? ` — ${words}` : ''}`;
  }
}

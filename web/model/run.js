// model/run.js — turns a run's event stream into what the timeline draws:
// lanes, spans, instants and arrows. It exists apart from the drawing so it
// can stay pure (no DOM), be fed 100,000 synthetic events by a benchmark, and
// be tested by node without a browser (tests/web/). docs/events.md is the
// contract it reads.
//
// Which events open and close spans, and which pair into arrows, is not
// written here: it is schema/events.json's `spans` and `arrows`, compiled by
// model/schema.js and applied by the one engine below, so the page draws what
// the schema says and what the Chrome-trace export draws. What the schema does
// not say stays code: lanes and their names and parents, the zombie between a
// proc.exit and its join, prints, results, notes, exceptions. The kernel's
// samples are model/kernel.js's, the sentences about them model/notes.js's.
//
// Two engines make runs: in a native run the runner is the lesson's
// MainProcess and has its lane; in a CPython run the runner only starts the
// interpreter and reports on it (its `note` and `result` belong to the run,
// not to a lane), and the interpreter's MainProcess is the root lane.

import { isLessonEvent } from '../activity.js';
import { SPANS_BY_KIND, ARROWS_BY_KIND, fits, keyOf } from './schema.js';
import { KernelSamples } from './kernel.js';
import { kernelNotes } from './notes.js';
import { lowerBound, insertSorted } from '../sorted.js';

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

/** @param {string} kind */
function instantGroup(kind) {
  if (kind === 'print') return 'print';
  if (kind === 'queue' || kind === 'pipe') return 'message';
  if (kind === 'value') return 'value';
  if (kind === 'note' || kind === 'result') return 'note';
  if (kind === 'exception') return 'error';
  if (kind.startsWith('proc.') || kind.startsWith('thread.') || kind === 'fork.return') return 'life';
  return 'other';
}

const spanKey = (/** @type {Span} */ s) => s.t0;
const instKey = (/** @type {Instant} */ i) => i.t;

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
    /** @type {Map<string, Lane>} */
    this.laneMap = new Map();
    /** @type {Arrow[]} */
    this.arrows = [];
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
    /** @type {Map<string, Span>} */ this._openSpans = new Map();
    /** @type {Map<string, {end:End, label:string}|{end:End, label:string}[]>} arrow ends waiting for their partner, by side and key (several: oldest first) */
    this._waiting = new Map();
    /** @type {Span[]} the spans the event being added closed (reused: no array per event) */
    this._closedNow = [];
    /** @type {Map<string, {end:End, ev:FlEvent}>} the last `from` of each hand-over arrow and key (a lock's last release) */
    this._handFrom = new Map();
    /** A lane's name by a pid or tid, for `{field:name}` in labels (the raw id when there is no such lane). */
    this._nameOf = (/** @type {number} */ id) => (this.laneMap.get(`p${id}`) ?? this.laneMap.get(`t${id}`))?.name;
    /** @type {Map<number, string>} child pid → parent lane id, from proc.spawn or proc.start's ppid */
    this.spawnParent = new Map();
    /** The kernel's samples of this run's threads, and the per-core view made of them. */
    this.kernel = new KernelSamples(this);
    /** @type {{version:number, notes:KernelNote[]}|null} */ this._notes = null;
    this._order = 0;
    /** @type {Lane[]|null} */ this._lanes = null;
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
  laneIdOf(pid, tid) { return tid === pid ? `p${pid}` : `t${tid}`; }

  /**
   * The lane an event belongs to, created on first sight: a process or thread
   * that never announced itself still gets drawn rather than dropped.
   * @param {number} pid @param {number} tid
   */
  _lane(pid, tid) {
    const id = this.laneIdOf(pid, tid);
    let lane = this.laneMap.get(id);
    if (!lane) {
      const isProc = tid === pid;
      lane = {
        id, type: isProc ? 'proc' : 'thread', pid, tid,
        name: isProc ? `process` : `thread`,
        order: this._order++, parentId: isProc ? null : `p${pid}`, depth: 0,
        spans: [], open: new Set(), maxDur: 0, instants: [], alive: null, samples: [],
        exitT: null, goneT: null, openCore: null,
      };
      if (!isProc && !this.laneMap.has(`p${pid}`)) this._lane(pid, pid);
      this.laneMap.set(id, lane);
      this._lanes = null;
      this.kernel.adopt(id);
    }
    return lane;
  }

  /**
   * @param {Lane} lane @param {string} style @param {FlEvent} ev @param {string} key @param {string} label
   */
  _open(lane, style, ev, key, label) {
    const prev = this._openSpans.get(key);
    if (prev) this._close(key, ev); // a begin without its end: close it rather than leak it
    /** @type {Span} */
    const span = { lane, style, t0: ev.t, t1: null, begin: ev, end: null, cpu: ev.cpu, label, links: [] };
    insertSorted(lane.spans, span, spanKey);
    lane.open.add(span);
    this._openSpans.set(key, span);
    this.itemBySeq.set(ev.seq, span);
    return span;
  }

  /**
   * @param {string} key @param {FlEvent} ev
   * @param {boolean} [claim] false when the event belongs to another item (a join end also ends the child's zombie span)
   */
  _close(key, ev, claim = true) {
    const span = this._openSpans.get(key);
    if (!span) return null;
    this._openSpans.delete(key);
    span.t1 = Math.max(ev.t, span.t0);
    span.end = ev;
    span.lane.open.delete(span);
    span.lane.maxDur = Math.max(span.lane.maxDur, span.t1 - span.t0);
    if (claim) this.itemBySeq.set(ev.seq, span);
    return span;
  }

  /** @param {Lane} lane @param {FlEvent} ev */
  _instant(lane, ev) {
    /** @type {Instant} */
    const inst = { lane, t: ev.t, ev, group: instantGroup(ev.kind), links: [] };
    insertSorted(lane.instants, inst, instKey);
    this.itemBySeq.set(ev.seq, inst);
    return inst;
  }

  /** @param {Arrow['kind']} kind @param {End} from @param {End} to @param {string} label */
  _arrow(kind, from, to, label) {
    /** @type {Arrow} */
    const a = { kind, from, to, label };
    this.arrows.push(a);
    this.itemBySeq.get(from.seq)?.links.push(a);
    this.itemBySeq.get(to.seq)?.links.push(a);
  }

  /**
   * Two ends of an arrow can arrive in either order (a consumer may write its
   * `get` before the producer writes its `put`), so each side waits for the
   * other; ends with the same key pair up oldest first.
   * @param {string} key @param {'from'|'to'} side @param {End} end @param {string} kind @param {string} label (from the `from` end)
   */
  _pair(key, side, end, kind, label) {
    const otherKey = (side === 'from' ? 't|' : 'f|') + key;
    const w = this._waiting.get(otherKey);
    if (w !== undefined) {
      let partner;
      if (Array.isArray(w)) { partner = /** @type {{end:End, label:string}} */ (w.shift()); if (w.length === 0) this._waiting.delete(otherKey); }
      else { partner = w; this._waiting.delete(otherKey); }
      if (side === 'from') this._arrow(kind, end, partner.end, label);
      else this._arrow(kind, partner.end, end, partner.label);
      return;
    }
    // Nothing to pair with yet: wait (one end, or several with the same key in order).
    const mine = (side === 'from' ? 'f|' : 't|') + key;
    const have = this._waiting.get(mine);
    if (have === undefined) this._waiting.set(mine, { end, label });
    else if (Array.isArray(have)) have.push({ end, label });
    else this._waiting.set(mine, [have, { end, label }]);
  }

  /**
   * The schema's spans for one event: it closes the spans it ends, then opens
   * the ones it begins (a lock's acquire ends its wait and begins its hold).
   * A span is keyed by its thread, its rule and the rule's `by` fields. The
   * spans it closed are left in `_closedNow` for the arrows.
   * @param {Lane} lane @param {FlEvent} ev
   * @returns {boolean} whether it is part of a span
   */
  _schemaSpans(lane, ev) {
    const closed = this._closedNow;
    closed.length = 0;
    const rules = SPANS_BY_KIND.get(ev.kind);
    if (!rules) return false;
    let opened = false;
    for (const r of rules) {
      if (!fits(ev, r.closes)) continue;
      const span = this._close(`${lane.id}|${r.i}|${keyOf(ev, r.by)}`, ev);
      if (span) closed.push(span);
    }
    for (const r of rules) {
      if (!fits(ev, r.opens)) continue;
      this._open(lane, r.style, ev, `${lane.id}|${r.i}|${keyOf(ev, r.by)}`, r.label(ev, this._nameOf));
      opened = true;
    }
    return opened || closed.length > 0;
  }

  /**
   * The schema's arrows for one event, once its item is drawn: each rule whose
   * `from` or `to` it matches pairs it by the rule and the key's values; a
   * hand-over rule instead remembers the last `from` and draws from it to a
   * `to` on another lane that waited across it (a span this event closed
   * began at or before that `from`).
   * @param {Lane} lane @param {FlEvent} ev @param {End} here @param {readonly Span[]} closed spans this event ended
   */
  _schemaArrows(lane, ev, here, closed) {
    const rules = ARROWS_BY_KIND.get(ev.kind);
    if (!rules) return;
    for (const r of rules) {
      const isFrom = r.from.kind === ev.kind && fits(ev, r.from.when);
      const isTo = r.to.kind === ev.kind && fits(ev, r.to.when);
      if (!isFrom && !isTo) continue;
      if (r.handover) {
        if (isTo && closed.length) {
          const key = `${r.i}|${keyOf(ev, r.to.key)}`;
          const rel = this._handFrom.get(key);
          if (rel && rel.end.lane !== lane && closed.some((s) => s.t0 <= rel.end.t)) {
            this._handFrom.delete(key);
            this._arrow(r.name, rel.end, here, r.label(rel.ev, this._nameOf));
          }
        }
        // (labelled when handed over: most releases hand nothing over)
        if (isFrom) this._handFrom.set(`${r.i}|${keyOf(ev, r.from.key)}`, { end: here, ev });
        continue;
      }
      if (isFrom) this._pair(`${r.i}|${keyOf(ev, r.from.key)}`, 'from', here, r.name, r.label(ev, this._nameOf));
      else this._pair(`${r.i}|${keyOf(ev, r.to.key)}`, 'to', here, r.name, '');
    }
  }

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

    const lane = this._lane(ev.pid, ev.tid);
    if (k === 'step.pending') { this.stepped = true; this.pendingSteps.set(lane.id, ev); return; }
    if (this.pendingSteps.delete(lane.id)) this.stepsTaken++;
    if (k === 'lock') this._lockState(lane, ev);
    /** @type {End} */
    const here = { lane, t: ev.t, seq: ev.seq };
    // The schema's spans, then what only the page knows, then an instant for
    // an event nothing else drew, then the schema's arrows (which link the
    // items their ends drew).
    let drawn = this._schemaSpans(lane, ev);

    switch (k) {
      case 'proc.start': {
        lane.name = ev.name ?? lane.name;
        const ppidLane = ev.ppid != null ? this.laneMap.get(`p${ev.ppid}`) : undefined;
        if (ppidLane && ppidLane !== lane) lane.parentId = ppidLane.id;
        else if (ev.ppid != null && !this.spawnParent.has(ev.pid)) this.spawnParent.set(ev.pid, `p${ev.ppid}`);
        lane.alive = { t0: ev.t, t1: null };
        this._lanes = null;
        break;
      }
      case 'thread.start':
        lane.name = ev.name ?? lane.name;
        lane.alive = { t0: ev.t, t1: null };
        break;
      case 'proc.spawn': {
        // The child's lane is made here, so siblings line up in the order they were started.
        const known = this.laneMap.has(`p${ev.child}`);
        const child = this._lane(ev.child, ev.child);
        if (!known && ev.name) child.name = ev.name;
        if (child.parentId === null) { child.parentId = lane.type === 'proc' ? lane.id : lane.parentId; this._lanes = null; }
        this.spawnParent.set(ev.child, lane.type === 'proc' ? lane.id : /** @type {string} */ (lane.parentId));
        break;
      }
      case 'thread.spawn':
        if (!this.laneMap.has(`t${ev.child}`)) { const t = this._lane(ev.pid, ev.child); if (ev.name) t.name = ev.name; }
        break;
      case 'proc.exit':
      case 'thread.exit':
        if (lane.alive) lane.alive.t1 = ev.t;
        lane.exitT = ev.t;
        if (!drawn) this._instant(lane, ev);
        drawn = true;
        // A child with a parent in this run is a zombie until that parent reaps it.
        if (k === 'proc.exit' && lane.parentId) this._open(lane, 'zombie', ev, `zombie:${ev.pid}`, 'zombie: exited, not yet joined');
        break;
      case 'proc.join':
      case 'thread.join':
        if (ev.phase === 'end') {
          // The join's end also ends the child's zombie span (its own item is the join).
          if (k === 'proc.join') this._close(`zombie:${ev.child}`, ev, false);
          const reaped = this.laneMap.get(k === 'proc.join' ? `p${ev.child}` : `t${ev.child}`);
          if (reaped && reaped.goneT === null) reaped.goneT = ev.t;
        }
        break;
      case 'print':
        this.prints.push({ ev, lane });
        this.lines.push({ ev, lane });
        break;
      case 'exception':
        this.exceptions.push(ev);
        this.lines.push({ ev, lane });
        break;
      case 'result':
        this.result = ev;
        break;
      default:
        break;
    }
    // Any other kind with a begin/end phase is a span, so kinds the schema has no span for still draw.
    if (!drawn && !SPANS_BY_KIND.has(k) && (ev.phase === 'begin' || ev.phase === 'end')) {
      const key = `${lane.id}|${k}`;
      if (ev.phase === 'begin') { this._open(lane, 'other', ev, key, k); drawn = true; }
      else if (this._close(key, ev)) drawn = true;
    }
    if (!drawn) this._instant(lane, ev);
    this._schemaArrows(lane, ev, here, this._closedNow);
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
  lanes() {
    if (this._lanes) return this._lanes;
    const all = [...this.laneMap.values()].sort((a, b) => a.order - b.order);
    // proc.spawn may name a parent before or instead of proc.start's ppid.
    for (const l of all) {
      if (l.type === 'proc' && l.parentId === null) {
        const p = this.spawnParent.get(l.pid);
        if (p && p !== l.id && this.laneMap.has(p)) l.parentId = p;
      }
    }
    /** @type {Map<string, Lane[]>} */
    const kids = new Map();
    const roots = [];
    for (const l of all) {
      if (l.parentId && this.laneMap.has(l.parentId)) {
        if (!kids.has(l.parentId)) kids.set(l.parentId, []);
        /** @type {Lane[]} */ (kids.get(l.parentId)).push(l);
      } else roots.push(l);
    }
    /** @type {Lane[]} */
    const out = [];
    const seen = new Set();
    const walk = (/** @type {Lane} */ l, /** @type {number} */ d) => {
      if (seen.has(l.id)) return; // a cycle from bad data must not hang the page
      seen.add(l.id);
      l.depth = d;
      out.push(l);
      const ch = kids.get(l.id) ?? [];
      for (const c of ch) if (c.type === 'thread') walk(c, d + 1);
      for (const c of ch) if (c.type === 'proc') walk(c, d + 1);
    };
    for (const r of roots) walk(r, 0);
    this._lanes = out;
    return out;
  }

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

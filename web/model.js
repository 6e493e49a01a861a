// model.js — turns a run's event stream into what the timeline draws: lanes,
// spans, instants and arrows. It exists apart from the drawing so it can stay
// pure (no DOM), be fed 100,000 synthetic events by a benchmark, and be tested
// without a canvas. docs/events.md is the contract it reads.
//
// Two engines make runs: in a native run the runner is the lesson's
// MainProcess and has its lane; in a CPython run the runner only starts the
// interpreter and reports on it (its `note` and `result` belong to the run,
// not to a lane), and the interpreter's MainProcess is the root lane.

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
 * Where the thread's own events and the kernel's view say different things
 * worth a sentence: a wait the kernel spent asleep, an exit followed by zombie time.
 * @typedef {object} KernelNote
 * @property {'wait'|'zombie'} kind
 * @property {Lane} lane
 * @property {number} t0      where it starts (the first wait, or the exit)
 * @property {number} ms      the kernel-side figure: asleep or zombie time
 * @property {string} text
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
 * @typedef {{kind:'spawn'|'join'|'message'|'lock', from:End, to:End, label:string}} Arrow
 */

/** Kinds whose `phase` begin/end pair draws a span in this style. */
const SPAN_STYLE = /** @type {Record<string,string>} */ ({
  sleep: 'sleep',
  compute: 'compute',
  system: 'system',
  'proc.join': 'join',
  'thread.join': 'join',
});

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

/**
 * Index of the first element whose key is >= x (arrays sorted by key).
 * @template T
 * @param {T[]} arr
 * @param {number} x
 * @param {(v:T)=>number} key
 */
export function lowerBound(arr, x, key) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(arr[mid]) < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/**
 * Events of one thread arrive in time order, but events about a lane can come
 * from elsewhere (a join's zombie span, a sampler); inserting in place keeps the
 * arrays sorted so culling can binary-search them.
 * @template T
 * @param {T[]} arr
 * @param {T} v
 * @param {(v:T)=>number} key
 */
function insertSorted(arr, v, key) {
  const k = key(v);
  if (arr.length === 0 || key(arr[arr.length - 1]) <= k) arr.push(v);
  else arr.splice(lowerBound(arr, k + 1e-9, key), 0, v);
}

const spanKey = (/** @type {Span} */ s) => s.t0;
const instKey = (/** @type {Instant} */ i) => i.t;

/** Short human text for an event's own fields (used by labels, tooltips, the table). */
export function describe(/** @type {FlEvent} */ e) {
  const skip = new Set(['seq', 't', 'kind', 'pid', 'tid', 'cpu']);
  const parts = [];
  for (const [k, v] of Object.entries(e)) {
    if (skip.has(k)) continue;
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return parts.join(' ');
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
    /** @type {Set<number>} CPU cores seen, for the legend */
    this.cpus = new Set();
    /** @type {Map<number, Item>} every event's drawn item, for selection and partners */
    this.itemBySeq = new Map();
    /** @type {Map<string, Span>} */ this._openSpans = new Map();
    /** @type {Map<string, {from?:End, to?:End, kind:Arrow['kind'], label:string}>} */ this._pairs = new Map();
    /** @type {Map<string, End>} last release per lock, for release → acquire arrows */
    this._lastRelease = new Map();
    /** @type {Map<number, End>} child pid → its proc.exit, until the parent reaps it */
    this._exited = new Map();
    /** @type {Map<number, string>} child pid → parent lane id, from proc.spawn or proc.start's ppid */
    this._spawnParent = new Map();
    /** @type {Set<string>} lanes known only from kernel.sample (processes that emit no events) */
    this._observedOnly = new Set();
    /** @type {Map<string, FlEvent[]>} samples of a thread whose own first event has not arrived yet */
    this._earlySamples = new Map();
    /** @type {Map<number, Core>} cpu → its R slices, for the per-core view */
    this._cores = new Map();
    /** A sample arrived out of time order for its thread: rebuild the cores from the lanes. */
    this._coresDirty = false;
    /** @type {{version:number, notes:KernelNote[]}|null} */ this._notes = null;
    this._order = 0;
    /** @type {Lane[]|null} */ this._lanes = null;
    /** @type {FlEvent[]|null} */ this._byTime = null;
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
      // The sampler is another process: it can see a new thread in /proc
      // before that thread's own first event reaches the pipe.
      const early = this._earlySamples.get(id);
      if (early) {
        this._earlySamples.delete(id);
        for (const e of early) this._sample(e);
      }
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
   * `get` before the producer writes its `put`), so each side waits for the other.
   * @param {string} key @param {'from'|'to'} side @param {End} end @param {Arrow['kind']} kind @param {string} label
   */
  _pair(key, side, end, kind, label) {
    let p = this._pairs.get(key);
    if (!p) { p = { kind, label }; this._pairs.set(key, p); }
    if (p[side]) return; // duplicate id: keep the first pairing
    p[side] = end;
    if (label) p.label = label;
    if (p.from && p.to) {
      this._pairs.delete(key);
      this._arrow(p.kind, p.from, p.to, p.label);
    }
  }

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
    if (k === 'run.end') { this.end = ev; this._finish(ev.t); return; }
    // The runner's own samples: it is no lane, and its start-up is not the program's.
    if (k === 'kernel.sample' && this.runnerPid !== null && ev.of_pid === this.runnerPid) return;
    if (this.isRunLevel(ev)) {
      if (k === 'result') this.result = ev; else this.runNotes.push(ev);
      return;
    }
    if (ev.cpu >= 0) this.cpus.add(ev.cpu);
    if (this.firstT === null || ev.t < this.firstT) this.firstT = ev.t;
    if (k === 'kernel.sample') { this._sample(ev); return; }

    const lane = this._lane(ev.pid, ev.tid);
    /** @type {End} */
    const here = { lane, t: ev.t, seq: ev.seq };

    switch (k) {
      case 'proc.start': {
        lane.name = ev.name ?? lane.name;
        const ppidLane = ev.ppid != null ? this.laneMap.get(`p${ev.ppid}`) : undefined;
        if (ppidLane && ppidLane !== lane) lane.parentId = ppidLane.id;
        else if (ev.ppid != null && !this._spawnParent.has(ev.pid)) this._spawnParent.set(ev.pid, `p${ev.ppid}`);
        lane.alive = { t0: ev.t, t1: null };
        this._lanes = null;
        this._instant(lane, ev);
        this._pair(`spawn:${ev.pid}`, 'to', here, 'spawn', 'spawn');
        return;
      }
      case 'thread.start': {
        lane.name = ev.name ?? lane.name;
        lane.alive = { t0: ev.t, t1: null };
        this._instant(lane, ev);
        this._pair(`tspawn:${ev.tid}`, 'to', here, 'spawn', 'spawn');
        return;
      }
      case 'proc.spawn': {
        this._instant(lane, ev);
        // The child's lane is made here, so siblings line up in the order they were started.
        const known = this.laneMap.has(`p${ev.child}`);
        const child = this._lane(ev.child, ev.child);
        if (!known && ev.name) child.name = ev.name;
        if (child.parentId === null) { child.parentId = lane.type === 'proc' ? lane.id : lane.parentId; this._lanes = null; }
        this._spawnParent.set(ev.child, lane.type === 'proc' ? lane.id : /** @type {string} */ (lane.parentId));
        this._pair(`spawn:${ev.child}`, 'from', here, 'spawn', 'spawn');
        return;
      }
      case 'thread.spawn': {
        this._instant(lane, ev);
        if (!this.laneMap.has(`t${ev.child}`)) { const t = this._lane(ev.pid, ev.child); if (ev.name) t.name = ev.name; }
        this._pair(`tspawn:${ev.child}`, 'from', here, 'spawn', 'spawn');
        return;
      }
      case 'proc.exit':
      case 'thread.exit': {
        if (lane.alive) lane.alive.t1 = ev.t;
        lane.exitT = ev.t;
        this._instant(lane, ev);
        if (k === 'proc.exit') {
          this._exited.set(ev.pid, here);
          // A child with a parent in this run is a zombie until that parent reaps it.
          if (lane.parentId) this._open(lane, 'zombie', ev, `zombie:${ev.pid}`, 'zombie: exited, not yet joined');
        } else {
          this._exited.set(-ev.tid, here);
        }
        return;
      }
      case 'proc.join':
      case 'thread.join': {
        const key = `${ev.tid}|${k}|${ev.child}`;
        if (ev.phase === 'begin') {
          const child = this.laneMap.get(k === 'proc.join' ? `p${ev.child}` : `t${ev.child}`);
          this._open(lane, 'join', ev, key, `${child ? child.name : ev.child}.join()`);
          return;
        }
        if (ev.phase === 'end') {
          const span = this._close(key, ev) ?? this._instant(lane, ev);
          const exited = this._exited.get(k === 'proc.join' ? ev.child : -ev.child);
          if (k === 'proc.join') this._close(`zombie:${ev.child}`, ev, false);
          const reaped = this.laneMap.get(k === 'proc.join' ? `p${ev.child}` : `t${ev.child}`);
          if (reaped && reaped.goneT === null) reaped.goneT = ev.t;
          if (exited) this._arrow('join', exited, here, ev.signal != null ? `killed by signal ${ev.signal}` : 'join');
          void span;
          return;
        }
        break;
      }
      case 'lock':
      case 'gil': {
        const name = k === 'gil' ? 'GIL' : String(ev.lock ?? 'lock');
        const base = `${ev.tid}|${k}|${name}`;
        if (ev.phase === 'wait') { this._open(lane, 'wait', ev, `${base}|wait`, `wait for ${name}`); return; }
        if (ev.phase === 'acquire') {
          const waited = this._close(`${base}|wait`, ev);
          const rel = this._lastRelease.get(`${k}|${name}`);
          this._open(lane, 'hold', ev, `${base}|hold`, `hold ${name}`);
          if (waited && rel && rel.t >= waited.t0 && rel.lane !== lane) {
            this._lastRelease.delete(`${k}|${name}`);
            this._arrow('lock', rel, here, `${name} handed over`);
          }
          return;
        }
        if (ev.phase === 'release') {
          if (!this._close(`${base}|hold`, ev)) this._instant(lane, ev);
          this._lastRelease.set(`${k}|${name}`, here);
          return;
        }
        this._instant(lane, ev); // gil drop_request
        return;
      }
      case 'queue': {
        this._instant(lane, ev);
        const key = `queue:${ev.queue}:${ev.msg}`;
        this._pair(key, ev.op === 'put' ? 'from' : 'to', here, 'message', `${ev.queue ?? 'queue'}: ${JSON.stringify(ev.value)}`);
        return;
      }
      case 'pipe': {
        this._instant(lane, ev);
        const key = `pipe:${ev.msg}`;
        const label = ev.value !== undefined ? `pipe: ${JSON.stringify(ev.value)}` : 'pipe';
        this._pair(key, ev.op === 'send' ? 'from' : 'to', here, 'message', label);
        return;
      }
      case 'print':
        this.prints.push({ ev, lane });
        this.lines.push({ ev, lane });
        this._instant(lane, ev);
        return;
      case 'exception':
        this.exceptions.push(ev);
        this.lines.push({ ev, lane });
        this._instant(lane, ev);
        return;
      case 'result':
        this.result = ev;
        this._instant(lane, ev);
        return;
      default:
        break;
    }
    // Any kind with a begin/end phase is a span, so kinds added later still draw.
    if (ev.phase === 'begin' || ev.phase === 'end') {
      const key = `${ev.tid}|${k}`;
      if (ev.phase === 'begin') {
        const what = k === 'sleep' && ev.ms != null ? `sleep ${ev.ms} ms` : k === 'system' ? `os.system(${ev.command ?? ''})` : k;
        this._open(lane, SPAN_STYLE[k] ?? 'other', ev, key, what);
      } else if (!this._close(key, ev)) {
        this._instant(lane, ev);
      }
      return;
    }
    this._instant(lane, ev);
  }

  /** @param {FlEvent} ev */
  _sample(ev) {
    const id = this.laneIdOf(ev.of_pid, ev.of_tid);
    let lane = this.laneMap.get(id);
    if (!lane && ev.of_ppid != null) {
      // A process seen only from outside (a program a shell started): it gets
      // a lane under its parent, alive from the first look until it is gone.
      lane = this._lane(ev.of_pid, ev.of_tid);
      lane.parentId = `p${ev.of_ppid}`;
      lane.alive = { t0: ev.t, t1: null };
      this._observedOnly.add(id);
    }
    if (!lane) {
      // Not started yet as far as the pipe has told us: keep it for its lane
      // (a few per thread; a thread that never reports gets no lane).
      const early = this._earlySamples.get(id) ?? [];
      if (early.length < 64) early.push(ev);
      this._earlySamples.set(id, early);
      return;
    }
    if (this._observedOnly.has(id)) {
      if (ev.name) lane.name = String(ev.name); // follows exec: sh, then sleep
      if (ev.state === 'X' && lane.alive && lane.alive.t1 === null) lane.alive.t1 = ev.t;
      this._lanes = null;
    }
    /** @type {Sample} */
    const s = { t: ev.t, state: String(ev.state ?? '?'), cpu: typeof ev.on_cpu === 'number' ? ev.on_cpu : -1, ev };
    if (s.state === 'X' && (lane.goneT === null || ev.t < lane.goneT)) lane.goneT = ev.t;
    const sm = lane.samples;
    if (sm.length && sm[sm.length - 1].t > s.t) {
      // Two watchers (the sampler and a demo) can report one thread slightly out of order.
      insertSorted(sm, s, (q) => q.t);
      this._coresDirty = true;
      return;
    }
    sm.push(s);
    if (!this._coresDirty) this._coreStep(lane, s);
  }

  /** Extend the per-core view by a thread's newest sample. @param {Lane} lane @param {Sample} s */
  _coreStep(lane, s) {
    const open = lane.openCore;
    const running = s.state === 'R' && s.cpu >= 0;
    if (open && running && open.cpu === s.cpu) return; // still R on the same core
    if (open) {
      open.t1 = s.t;
      const core = /** @type {Core} */ (this._cores.get(open.cpu));
      core.open.delete(open);
      core.maxDur = Math.max(core.maxDur, s.t - open.t0);
      lane.openCore = null;
    }
    if (!running) return;
    let core = this._cores.get(s.cpu);
    if (!core) { core = { slices: [], open: new Set(), maxDur: 0 }; this._cores.set(s.cpu, core); }
    /** @type {CoreSlice} */
    const slice = { cpu: s.cpu, lane, t0: s.t, t1: null, ev: s.ev };
    insertSorted(core.slices, slice, (q) => q.t0);
    core.open.add(slice);
    lane.openCore = slice;
  }

  /**
   * The per-core view: for each CPU a sample saw a thread of this run running
   * on, the R stretches there, sorted by start. Open slices last until the
   * lane's kernel view ends (see sampleEnd).
   * @returns {Map<number, Core>}
   */
  cores() {
    if (this._coresDirty) {
      this._coresDirty = false;
      this._cores = new Map();
      for (const lane of this.laneMap.values()) {
        lane.openCore = null;
        for (const s of lane.samples) this._coreStep(lane, s);
      }
    }
    return this._cores;
  }

  /** CPUs in the per-core view, in order. */
  coreList() { return [...this.cores().keys()].sort((a, b) => a - b); }

  /**
   * Where self-reported events and the kernel's samples disagree in a way
   * worth teaching. Computed once the run is finished (a zombie's time is
   * only known when it is reaped), and cached per version.
   * @returns {KernelNote[]}
   */
  kernelNotes() {
    if (!this.finished) return [];
    if (this._notes && this._notes.version === this.version) return this._notes.notes;
    /** @type {KernelNote[]} */
    const notes = [];
    const end = this.endT;
    for (const lane of this.lanes()) {
      if (!lane.samples.length) continue;
      const who = lane.type === 'proc' ? `pid ${lane.pid}` : `tid ${lane.tid}`;
      // Waits the thread reported, grouped by what it waited for.
      /** @type {Map<string, {what:string, n:number, waited:number, asleep:number, t0:number}>} */
      const waits = new Map();
      for (const sp of lane.spans) {
        if (sp.t1 === null || (sp.style !== 'wait' && sp.style !== 'join')) continue;
        const k = sp.begin.kind;
        const key = k === 'gil' || k === 'lock' ? `${k}|${sp.begin.lock ?? ''}` : 'join';
        let w = waits.get(key);
        if (!w) {
          const what = k === 'gil' ? 'waiting for the GIL'
            : k === 'lock' ? `waiting for lock ${sp.begin.lock ?? ''}`.trimEnd() : `waiting in ${sp.label}`;
          w = { what, n: 0, waited: 0, asleep: 0, t0: sp.t0 };
          waits.set(key, w);
        }
        if (key === 'join' && w.n === 1) w.what = 'waiting in join()';
        w.n++;
        w.waited += sp.t1 - sp.t0;
        w.asleep += stateTime(lane, sp.t0, sp.t1, 'S', end);
      }
      for (const w of waits.values()) {
        // Worth saying when the kernel saw a real share of it asleep (not spinning).
        if (w.asleep < 2e6 || w.asleep < 0.25 * w.waited) continue;
        const many = w.n > 1 ? ` (${w.n} ${w.what.endsWith("join()") ? "joins" : "waits"}, ${fmtMs(w.waited)} in all)` : ` (${fmtMs(w.waited)})`;
        notes.push({ kind: 'wait', lane, t0: w.t0, ms: w.asleep / 1e6,
          text: `${w.what}${many}: the kernel shows ${who} (${lane.name}) asleep (S) for ${fmtMs(w.asleep)} of it, not spinning on a CPU.` });
      }
      // An exit the process reported, and the zombie the kernel kept until a join reaped it.
      if (lane.type === 'proc' && lane.exitT !== null) {
        const until = lane.goneT ?? end;
        const z = stateTime(lane, lane.exitT, until, 'Z', end);
        if (z > 0 && this.runnerPid !== null && this._spawnParent.get(lane.pid) === `p${this.runnerPid}`) {
          // A CPython run's MainProcess: its parent is the runner, which no join() of the program reaps.
          const reaped = lane.goneT !== null ? `, until the runner reaped it at ${fmtTime(lane.goneT, 1e6)}` : ' (until the sampler stopped looking)';
          notes.push({ kind: 'zombie', lane, t0: lane.exitT, ms: z / 1e6,
            text: `pid ${lane.pid} (${lane.name}) exited at ${fmtTime(lane.exitT, 1e6)} and stayed a zombie (Z) for ${fmtMs(z)}${reaped}: its parent is forkline's runner, which started the interpreter and is not part of the program.` });
        } else if (z > 0) {
          const reaped = lane.goneT !== null ? `until it was reaped at ${fmtTime(lane.goneT, 1e6)}` : 'and was still one when the run ended';
          notes.push({ kind: 'zombie', lane, t0: lane.exitT, ms: z / 1e6,
            text: `pid ${lane.pid} (${lane.name}) exited at ${fmtTime(lane.exitT, 1e6)} but stayed a zombie (Z) for ${fmtMs(z)} ${reaped}: its exit status waited in the kernel for its parent's join().` });
        }
      }
    }
    notes.sort((a, b) => a.t0 - b.t0);
    this._notes = { version: this.version, notes };
    return notes;
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
        const p = this._spawnParent.get(l.pid);
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

/**
 * Where a lane's i-th kernel sample stops holding. The sampler reports only
 * changes, so a state lasts until the next sample; the last one lasts until
 * the thread is gone: a zombie until it was reaped, anything else until it
 * exited (or the run's end, for a thread still there).
 * @param {Lane} lane @param {number} i @param {number} endOf the run's end (or now)
 */
export function sampleEnd(lane, i, endOf) {
  const sm = lane.samples;
  if (i + 1 < sm.length) return sm[i + 1].t;
  const s = sm[i];
  if (s.state === 'X') return s.t;
  if (s.state === 'Z') return Math.max(s.t, Math.min(lane.goneT ?? endOf, endOf));
  const stop = lane.goneT ?? lane.exitT;
  return stop !== null ? Math.max(s.t, Math.min(stop, endOf)) : Math.max(s.t, endOf);
}

/**
 * How long, within [t0, t1], the kernel's samples show a lane in `state`.
 * Time before the first sample is unknown and not counted.
 * @param {Lane} lane @param {number} t0 @param {number} t1 @param {string} state @param {number} endOf
 */
export function stateTime(lane, t0, t1, state, endOf) {
  const sm = lane.samples;
  let total = 0;
  for (let i = Math.max(0, lowerBound(sm, t0, (s) => s.t) - 1); i < sm.length && sm[i].t < t1; i++) {
    if (sm[i].state !== state) continue;
    const a = Math.max(sm[i].t, t0), b = Math.min(sampleEnd(lane, i, endOf), t1);
    if (b > a) total += b - a;
  }
  return total;
}

/** Nanoseconds in milliseconds, for sentences. @param {number} ns */
function fmtMs(ns) {
  const ms = ns / 1e6;
  return `${ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)} ms`;
}

/** Nanoseconds as a short human time, precise enough for the zoom level. */
export function fmtTime(/** @type {number} */ ns, /** @type {number} */ span = ns) {
  const a = Math.abs(span);
  if (a >= 1e9) return `${(ns / 1e9).toFixed(a >= 1e10 ? 1 : 2)} s`;
  if (a >= 1e6) return `${(ns / 1e6).toFixed(a >= 1e7 ? 0 : 1)} ms`;
  if (a >= 1e3) return `${(ns / 1e3).toFixed(a >= 1e4 ? 0 : 1)} µs`;
  return `${Math.round(ns)} ns`;
}

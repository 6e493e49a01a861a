// model/lanes.js — a run's lanes: one per process and per thread, made on
// first sight, named and parented by what the run says about them, and put
// in drawing order (the process tree, depth first). Apart from run.js so the
// tree's rules read on their own, and so the kernel's samples (kernel.js) can
// make a lane for a process seen only from outside through one public door.

/** @typedef {import('./run.js').Lane} Lane */

export class Lanes {
  /** @param {(id:string)=>void} onNew  told of each new lane's id (the kernel adopts its early samples) */
  constructor(onNew) {
    /** @type {Map<string, Lane>} */
    this.map = new Map();
    /** @type {Map<number, string>} child pid → parent lane id, from proc.spawn or proc.start's ppid */
    this.spawnParent = new Map();
    this._onNew = onNew;
    this._order = 0;
    /** @type {Lane[]|null} */ this._tree = null;
  }

  /** @param {number} pid @param {number} tid */
  static idOf(pid, tid) { return tid === pid ? `p${pid}` : `t${tid}`; }

  /**
   * The lane of a process or thread, created on first sight: one that never
   * announced itself still gets drawn rather than dropped (a thread's
   * process too).
   * @param {number} pid @param {number} tid @returns {Lane}
   */
  get(pid, tid) {
    const id = Lanes.idOf(pid, tid);
    let lane = this.map.get(id);
    if (!lane) {
      const isProc = tid === pid;
      lane = {
        id, type: isProc ? 'proc' : 'thread', pid, tid,
        name: isProc ? `process` : `thread`,
        order: this._order++, parentId: isProc ? null : `p${pid}`, depth: 0,
        spans: [], open: new Set(), maxDur: 0, instants: [], alive: null, samples: [],
        exitT: null, goneT: null, openCore: null,
      };
      if (!isProc && !this.map.has(`p${pid}`)) this.get(pid, pid);
      this.map.set(id, lane);
      this._tree = null;
      this._onNew(id);
    }
    return lane;
  }

  /** A lane's name or parent changed: the drawing order is made again. */
  changed() { this._tree = null; }

  /** A lane's name by a pid or tid (undefined when there is no such lane). @param {number} id */
  nameOf(id) { return (this.map.get(`p${id}`) ?? this.map.get(`t${id}`))?.name; }

  /** Lanes in drawing order: a depth-first walk of the process tree, threads first under their process. */
  tree() {
    if (this._tree) return this._tree;
    const all = [...this.map.values()].sort((a, b) => a.order - b.order);
    // proc.spawn may name a parent before or instead of proc.start's ppid.
    for (const l of all) {
      if (l.type === 'proc' && l.parentId === null) {
        const p = this.spawnParent.get(l.pid);
        if (p && p !== l.id && this.map.has(p)) l.parentId = p;
      }
    }
    /** @type {Map<string, Lane[]>} */
    const kids = new Map();
    const roots = [];
    for (const l of all) {
      if (l.parentId && this.map.has(l.parentId)) {
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
    this._tree = out;
    return out;
  }
}

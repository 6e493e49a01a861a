// model/spans.js — the drawn items of a run's lanes: spans (a begin and its
// end on one thread) and instants, and the schema's span rules applied to
// each event. Every item is indexed by the seq of each event it drew, which
// is how arrows (arrows.js) and a selection find it.

import { SPANS_BY_KIND, fits, keyOf } from './schema.js';
import { insertSorted } from '../sorted.js';

/**
 * @typedef {import('./run.js').FlEvent} FlEvent
 * @typedef {import('./run.js').Lane} Lane
 * @typedef {import('./run.js').Span} Span
 * @typedef {import('./run.js').Instant} Instant
 * @typedef {import('./run.js').Item} Item
 */

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

export class Spans {
  /** @param {Map<number, Item>} itemBySeq  the run's index of items by event, filled here */
  constructor(itemBySeq) {
    this.itemBySeq = itemBySeq;
    /** @type {Map<string, Span>} */ this._open = new Map();
    /** @type {Span[]} the spans the event being added closed (reused: no array per event) */
    this.closedNow = [];
  }

  /** @param {Lane} lane @param {string} style @param {FlEvent} ev @param {string} key @param {string} label */
  open(lane, style, ev, key, label) {
    const prev = this._open.get(key);
    if (prev) this.close(key, ev); // a begin without its end: close it rather than leak it
    /** @type {Span} */
    const span = { lane, style, t0: ev.t, t1: null, begin: ev, end: null, cpu: ev.cpu, label, links: [] };
    insertSorted(lane.spans, span, spanKey);
    lane.open.add(span);
    this._open.set(key, span);
    this.itemBySeq.set(ev.seq, span);
    return span;
  }

  /**
   * @param {string} key @param {FlEvent} ev
   * @param {boolean} [claim] false when the event belongs to another item (a join end also ends the child's zombie span)
   */
  close(key, ev, claim = true) {
    const span = this._open.get(key);
    if (!span) return null;
    this._open.delete(key);
    span.t1 = Math.max(ev.t, span.t0);
    span.end = ev;
    span.lane.open.delete(span);
    span.lane.maxDur = Math.max(span.lane.maxDur, span.t1 - span.t0);
    if (claim) this.itemBySeq.set(ev.seq, span);
    return span;
  }

  /** @param {Lane} lane @param {FlEvent} ev */
  instant(lane, ev) {
    /** @type {Instant} */
    const inst = { lane, t: ev.t, ev, group: instantGroup(ev.kind), links: [] };
    insertSorted(lane.instants, inst, instKey);
    this.itemBySeq.set(ev.seq, inst);
    return inst;
  }

  /**
   * The schema's spans for one event: it closes the spans it ends, then opens
   * the ones it begins (a lock's acquire ends its wait and begins its hold).
   * A span is keyed by its thread, its rule and the rule's `by` fields. The
   * spans it closed are left in `closedNow` for the arrows.
   * @param {Lane} lane @param {FlEvent} ev @param {(id:number)=>string|undefined} nameOf
   * @returns {boolean} whether it is part of a span
   */
  schema(lane, ev, nameOf) {
    const closed = this.closedNow;
    closed.length = 0;
    const rules = SPANS_BY_KIND.get(ev.kind);
    if (!rules) return false;
    let opened = false;
    for (const r of rules) {
      if (!fits(ev, r.closes)) continue;
      const span = this.close(`${lane.id}|${r.i}|${keyOf(ev, r.by)}`, ev);
      if (span) closed.push(span);
    }
    for (const r of rules) {
      if (!fits(ev, r.opens)) continue;
      this.open(lane, r.style, ev, `${lane.id}|${r.i}|${keyOf(ev, r.by)}`, r.label(ev, nameOf));
      opened = true;
    }
    return opened || closed.length > 0;
  }

  /**
   * Any kind the schema has no span for that still has a begin/end phase is a
   * span of its own, so new kinds draw. @param {Lane} lane @param {FlEvent} ev
   * @returns {boolean} whether it drew
   */
  phased(lane, ev) {
    if (SPANS_BY_KIND.has(ev.kind) || (ev.phase !== 'begin' && ev.phase !== 'end')) return false;
    const key = `${lane.id}|${ev.kind}`;
    if (ev.phase === 'begin') { this.open(lane, 'other', ev, key, ev.kind); return true; }
    return this.close(key, ev) !== null;
  }
}

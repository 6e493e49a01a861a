// model/arrows.js — a run's arrows: the schema's arrow rules applied to each
// event once its item is drawn, pairing the two ends of a spawn, a join, a
// message or a lock hand-over, whichever order they arrive in.

import { ARROWS_BY_KIND, fits, keyOf } from './schema.js';

/**
 * @typedef {import('./run.js').FlEvent} FlEvent
 * @typedef {import('./run.js').Lane} Lane
 * @typedef {import('./run.js').Span} Span
 * @typedef {import('./run.js').Item} Item
 * @typedef {import('./run.js').End} End
 * @typedef {import('./run.js').Arrow} Arrow
 */

export class Arrows {
  /** @param {Map<number, Item>} itemBySeq  the run's items by event: an arrow is linked to both ends' items */
  constructor(itemBySeq) {
    this.itemBySeq = itemBySeq;
    /** @type {Arrow[]} */
    this.list = [];
    /** @type {Map<string, {end:End, label:string}|{end:End, label:string}[]>} arrow ends waiting for their partner, by side and key (several: oldest first) */
    this._waiting = new Map();
    /** @type {Map<string, {end:End, ev:FlEvent}>} the last `from` of each hand-over arrow and key (a lock's last release) */
    this._handFrom = new Map();
  }

  /** @param {Arrow['kind']} kind @param {End} from @param {End} to @param {string} label */
  _link(kind, from, to, label) {
    /** @type {Arrow} */
    const a = { kind, from, to, label };
    this.list.push(a);
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
      if (side === 'from') this._link(kind, end, partner.end, label);
      else this._link(kind, partner.end, end, partner.label);
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
   * The schema's arrows for one event, once its item is drawn: each rule whose
   * `from` or `to` it matches pairs it by the rule and the key's values; a
   * hand-over rule instead remembers the last `from` and draws from it to a
   * `to` on another lane that waited across it (a span this event closed
   * began at or before that `from`).
   * @param {Lane} lane @param {FlEvent} ev @param {End} here @param {readonly Span[]} closed spans this event ended
   * @param {(id:number)=>string|undefined} nameOf
   */
  schema(lane, ev, here, closed, nameOf) {
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
            this._link(r.name, rel.end, here, r.label(rel.ev, nameOf));
          }
        }
        // (labelled when handed over: most releases hand nothing over)
        if (isFrom) this._handFrom.set(`${r.i}|${keyOf(ev, r.from.key)}`, { end: here, ev });
        continue;
      }
      if (isFrom) this._pair(`${r.i}|${keyOf(ev, r.from.key)}`, 'from', here, r.name, r.label(ev, nameOf));
      else this._pair(`${r.i}|${keyOf(ev, r.to.key)}`, 'to', here, r.name, '');
    }
  }
}

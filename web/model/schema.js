// model/schema.js — the schema's span and arrow rules, compiled once into the
// form the run model applies to every event. It exists apart from the model
// so that what opens a span or pairs an arrow is read from schema/events.json
// (through the generated web/schema.js) in one place, matched exactly as the
// server's `schema::matches` and `schema::label` do, so the page draws what
// the Chrome-trace export draws.

import { SCHEMA } from '../schema.js';

/**
 * A schema span rule: an event of `kind` matching `opens` opens it, the next
 * one on the same thread matching `closes` with the same `by` fields closes it.
 * @typedef {{kind:string, opens:Record<string,unknown>, closes:Record<string,unknown>, by:string[], style:string, label:string}} SpanRule
 * @typedef {{kind:string, when?:Record<string,unknown>, key:string[]}} ArrowEnd
 * A schema arrow rule: from an event matching `from` to the one matching `to` with the same key values.
 * @typedef {{name:string, from:ArrowEnd, to:ArrowEnd, handover?:boolean, label:string}} ArrowRule
 */

/** @type {readonly SpanRule[]} */
export const SPAN_RULES = SCHEMA.spans;

/** @type {readonly ArrowRule[]} */
export const ARROW_RULES = SCHEMA.arrows;

/**
 * A rule's `opens`/`closes`/`when` as [field, value] pairs, so matching an
 * event allocates nothing (this runs for every event of a 100,000-event run).
 * @typedef {[string, unknown][]} When
 */
export const when = (/** @type {Record<string,unknown>|undefined} */ w) => /** @type {When} */ (Object.entries(w ?? {}));

/** Whether `ev` has every field of `w` with that value (as the server's `schema::matches`). */
export function fits(/** @type {Record<string,unknown>} */ ev, /** @type {When} */ w) {
  for (let j = 0; j < w.length; j++) {
    const v = w[j][1], have = ev[w[j][0]];
    if (have !== v && (v === null || typeof v !== 'object' || JSON.stringify(have) !== JSON.stringify(v))) return false;
  }
  return true;
}

/**
 * The values of `fields` in `ev`, as one comparable text (absent is null).
 * One field, the common case, needs no quoting: a string is marked with `s`,
 * which no number or JSON text begins with.
 */
export function keyOf(/** @type {Record<string,unknown>} */ ev, /** @type {string[]} */ fields) {
  if (fields.length === 0) return '';
  if (fields.length === 1) {
    const v = ev[fields[0]];
    return typeof v === 'number' ? String(v) : typeof v === 'string' ? `s${v}` : JSON.stringify(v ?? null);
  }
  let out = '';
  for (let j = 0; j < fields.length; j++) {
    const v = ev[fields[j]];
    out += (j ? '|' : '') + (typeof v === 'number' ? String(v) : JSON.stringify(v ?? null));
  }
  return out;
}

/** @typedef {(ev:Record<string,unknown>, nameOf:(id:number)=>string|undefined)=>string} Label */

/**
 * A schema label template, parsed once, as the server's `schema::label`
 * fills it: `{field}` the event's value (a string as is, absent or null as
 * `?`, anything else as JSON), `{field:json}` its JSON (absent is `null`),
 * `{field:name}` the name `nameOf` gives that id (else the raw value).
 * @param {string} template @returns {Label}
 */
export function compileLabel(template) {
  /** @type {(string|{field:string, how:string})[]} */
  const parts = [];
  let last = 0;
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const at = m[1].indexOf(':');
    parts.push(at < 0 ? { field: m[1], how: '' } : { field: m[1].slice(0, at), how: m[1].slice(at + 1) });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (parts.every((x) => typeof x === 'string')) return () => template;
  return (ev, nameOf) => {
    let out = '';
    for (const x of parts) {
      if (typeof x === 'string') { out += x; continue; }
      const v = ev[x.field];
      if (x.how === 'json') out += JSON.stringify(v ?? null);
      else if (x.how === 'name') out += (Number.isInteger(v) ? nameOf(/** @type {number} */ (v)) : undefined) ?? JSON.stringify(v ?? null);
      else if (typeof v === 'string') out += v;
      else out += v === undefined || v === null ? '?' : JSON.stringify(v);
    }
    return out;
  };
}

/** @type {Map<string, Label>} */
const labelCache = new Map();
/**
 * Fills a schema label template from `ev` (see compileLabel).
 * @param {string} template @param {Record<string,unknown>} ev
 * @param {(id:number)=>string|undefined} [nameOf]
 */
export function fillLabel(template, ev, nameOf = () => undefined) {
  let f = labelCache.get(template);
  if (!f) { f = compileLabel(template); labelCache.set(template, f); }
  return f(ev, nameOf);
}

/** The span rules as the engine runs them, by the kind of event they read; `i` is the rule's index, part of a span's key. */
export const SPANS_BY_KIND = /** @type {Map<string, {i:number, style:string, opens:When, closes:When, by:string[], label:Label}[]>} */ (new Map());
SPAN_RULES.forEach((r, i) => {
  if (!SPANS_BY_KIND.has(r.kind)) SPANS_BY_KIND.set(r.kind, []);
  SPANS_BY_KIND.get(r.kind)?.push({ i, style: r.style, opens: when(r.opens), closes: when(r.closes), by: r.by, label: compileLabel(r.label) });
});

/** The arrow rules as the engine runs them, by the kind of event they read (either end). */
export const ARROWS_BY_KIND = /** @type {Map<string, {i:number, name:string, handover:boolean, label:Label,
  from:{kind:string, when:When, key:string[]}, to:{kind:string, when:When, key:string[]}}[]>} */ (new Map());
ARROW_RULES.forEach((r, i) => {
  const plan = { i, name: r.name, handover: !!r.handover, label: compileLabel(r.label),
    from: { kind: r.from.kind, when: when(r.from.when), key: r.from.key }, to: { kind: r.to.kind, when: when(r.to.when), key: r.to.key } };
  for (const k of new Set([r.from.kind, r.to.kind])) {
    if (!ARROWS_BY_KIND.has(k)) ARROWS_BY_KIND.set(k, []);
    ARROWS_BY_KIND.get(k)?.push(plan);
  }
});

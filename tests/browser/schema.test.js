// schema.test.js — the page's run model draws the spans and arrows that
// schema/events.json defines, and only those. A synthetic run is built from
// the schema itself (web/schema.js, generated from it): for every span rule
// an event that opens it and one that closes it, on a process of its own;
// for every arrow rule a `from` and a `to` on two processes (plain arrows
// alternate which end comes first; a hand-over gets the holding and waiting
// it needs, and three lanes around it that must get no arrow). The page's
// own run model (web/model/run.js) ingests it, and what it made is compared
// with what the schema's rules make of those events, worked out here from the
// rules' own texts (`spans_about`, `arrows_about`). A rule added to the
// schema is covered without touching this file.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SCHEMA } from '../../web/schema.js';
import { startServer, launch, watchErrors } from './harness.js';

let server, browser;
before(async () => { server = await startServer(); browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

/** @typedef {Record<string, any>} Ev */

/** Whether `ev` has every field of `when` with that value (the schema's matching). */
function matches(/** @type {Ev} */ ev, /** @type {Ev|undefined} */ when) {
  return Object.entries(when ?? {}).every(([k, v]) => JSON.stringify(ev[k]) === JSON.stringify(v));
}

/** A label template filled from `ev`, as schema/events.json's `spans_about` and the server's `schema::label` say. */
function label(/** @type {string} */ template, /** @type {Ev} */ ev, /** @type {Map<number,string>} */ names) {
  let out = '';
  let rest = template;
  for (;;) {
    const open = rest.indexOf('{');
    const close = open < 0 ? -1 : rest.indexOf('}', open);
    if (close < 0) return out + rest;
    out += rest.slice(0, open);
    const spec = rest.slice(open + 1, close);
    const colon = spec.indexOf(':');
    const field = colon < 0 ? spec : spec.slice(0, colon), how = colon < 0 ? '' : spec.slice(colon + 1);
    const v = ev[field] ?? null;
    if (how === 'json') out += JSON.stringify(v);
    else if (how === 'name') out += names.get(v) ?? JSON.stringify(v);
    else out += typeof v === 'string' ? v : v === null ? '?' : JSON.stringify(v);
    rest = rest.slice(close + 1);
  }
}

/** The lane id the model gives an event's thread. */
const laneOf = (/** @type {Ev} */ e) => (e.tid === e.pid ? `p${e.pid}` : `t${e.tid}`);

/**
 * The synthetic run. Every value it makes up is unique, so no two rules'
 * events can pair or close each other by accident.
 * @param {readonly any[]} arrowRules  the schema's arrows and any the page adds
 */
function syntheticRun(arrowRules) {
  let id = 70000;
  const fresh = () => ++id;
  /** @type {Ev[]} */ const events = [];
  /** @type {Map<number, string>} names the run gave pids, for `{field:name}` */
  const names = new Map();
  let t = 0;
  // What the schema's rules make of the events, worked out as its
  // `spans_about` says: an event closes the open spans on its thread whose
  // rule it `closes` (same `by` values), then opens one per rule it `opens`
  // (a span of that rule and key still open ends there). A kind with no span
  // rule but a begin/end phase is the model's own fallback ('other').
  /** @typedef {{rule:number, lane:string, key:string, begin:Ev, end:Ev|null, style:string, label:string}} OSpan */
  /** @type {OSpan[]} */ const spans = [];
  /** @type {OSpan[]} */ let open = [];
  /** @type {Map<number, {opened:boolean, closed:boolean}>} what each event did to spans */
  const did = new Map();
  // And its arrows, as `arrows_about` says: a `from` and a `to` with the same
  // key values pair, whichever comes first (oldest first when several wait);
  // a hand-over goes from the last `from` to a `to` on another thread that
  // ends a span begun at or before it.
  /** @type {{rule:number, kind:string, from:Ev, to:Ev, label:string}[]} */ const arrows = [];
  /** @type {Map<string, {ev:Ev, label:string}[]>} */ const waiting = new Map();
  /** @type {Map<string, {ev:Ev, label:string}>} */ const lastFrom = new Map();
  const rulesOf = (/** @type {string} */ kind) => {
    const rs = SCHEMA.spans.map((r, i) => ({ r, i })).filter(({ r }) => r.kind === kind);
    return rs.length ? rs : [{ r: { kind, opens: { phase: 'begin' }, closes: { phase: 'end' }, by: [], style: 'other', label: kind }, i: -1 }];
  };
  const keyOf = (/** @type {any} */ r, /** @type {number} */ i, /** @type {Ev} */ ev) => `${laneOf(ev)}|${i}|${r.kind}|${JSON.stringify(r.by.map((/** @type {string} */ f) => ev[f] ?? null))}`;
  const send = (/** @type {Ev} */ e) => {
    const ev = { seq: events.length + 1, t: (t += 1000), cpu: 0, ...e };
    events.push(ev);
    const mark = { opened: false, closed: false };
    did.set(ev.seq, mark);
    if (ev.kind !== 'run.start' && ev.kind !== 'run.end') {
      const rs = rulesOf(ev.kind);
      for (const { r, i } of rs) {
        if (!matches(ev, r.closes)) continue;
        for (const s of open) if (s.key === keyOf(r, i, ev)) { s.end = ev; mark.closed = true; }
        open = open.filter((s) => !s.end);
      }
      for (const { r, i } of rs) {
        if (!matches(ev, r.opens)) continue;
        for (const s of open) if (s.key === keyOf(r, i, ev)) s.end = ev;
        open = open.filter((s) => !s.end);
        const s = { rule: i, lane: laneOf(ev), key: keyOf(r, i, ev), begin: ev, end: null, style: r.style, label: label(r.label, ev, names) };
        spans.push(s);
        open.push(s);
        mark.opened = true;
      }
    }
    if (ev.kind === 'proc.start' || ev.kind === 'thread.start') names.set(ev.kind === 'proc.start' ? ev.pid : ev.tid, ev.name);
    arrowRules.forEach((r, i) => {
      const isFrom = r.from.kind === ev.kind && matches(ev, r.from.when);
      const isTo = r.to.kind === ev.kind && matches(ev, r.to.when);
      if (!isFrom && !isTo) return;
      const key = (/** @type {'from'|'to'} */ side) => `${i}|${JSON.stringify(r[side].key.map((/** @type {string} */ f) => ev[f] ?? null))}`;
      if (r.handover) {
        const last = isTo ? lastFrom.get(key('to')) : undefined;
        if (last && laneOf(last.ev) !== laneOf(ev) && spans.some((sp) => sp.end === ev && sp.begin.t <= last.ev.t)) {
          lastFrom.delete(key('to'));
          arrows.push({ rule: i, kind: r.name, from: last.ev, to: ev, label: last.label });
        }
        if (isFrom) lastFrom.set(key('from'), { ev, label: label(r.label, ev, names) });
        return;
      }
      const side = isFrom ? 'from' : 'to';
      const queue = waiting.get(`${isFrom ? 'to' : 'from'}|${key(side)}`) ?? [];
      const partner = queue.shift();
      if (!partner) waiting.set(`${side}|${key(side)}`, [...(waiting.get(`${side}|${key(side)}`) ?? []), { ev, label: isFrom ? label(r.label, ev, names) : '' }]);
      else if (isFrom) arrows.push({ rule: i, kind: r.name, from: ev, to: partner.ev, label: label(r.label, ev, names) });
      else arrows.push({ rule: i, kind: r.name, from: partner.ev, to: ev, label: partner.label });
    });
    return ev;
  };
  /** A made-up value of a schema field type. */
  const valueOf = (/** @type {any} */ type, /** @type {string} */ field) => {
    if (Array.isArray(type)) return type[0];
    const base = String(type ?? 'int').replace(/\?$/, '');
    if (base === 'int') return fresh();
    if (base === 'string') return `${field}-${fresh()}`;
    if (base === 'bool') return true;
    if (base === 'object') return { n: fresh() };
    if (base === 'strings') return [`${field}-${fresh()}`];
    return { [field]: fresh(), list: [1, 'two', null] };
  };
  const typeOf = (/** @type {string} */ kind, /** @type {string} */ field) => SCHEMA.kinds[kind]?.[field] ?? SCHEMA.event_fields[field] ?? 'int';
  /** An event of `kind` with `fixed` fields, every other field of its kind made up (optional ones too, so labels fill). */
  const make = (/** @type {string} */ kind, /** @type {Ev} */ fixed, /** @type {number} */ pid, /** @type {number} */ tid = pid) => {
    /** @type {Ev} */ const ev = { kind, pid, tid };
    for (const [f, type] of Object.entries(SCHEMA.kinds[kind] ?? {})) if (!(f in fixed)) ev[f] = valueOf(type, f);
    return Object.assign(ev, fixed);
  };
  const newProcess = (/** @type {string} */ name) => { const pid = fresh(); send({ kind: 'proc.start', pid, tid: pid, name, ppid: 1 }); return pid; };
  /** Fields a label names a lane by (`{child:name}`): each gets a named process of its own. */
  const namedFields = (/** @type {string} */ template) => [...template.matchAll(/\{([^}:]+):name\}/g)].map((m) => m[1]);

  send({ kind: 'run.start', pid: 1, tid: 1, demo: 'schema', params: {} });

  // Spans: for each rule, on a process of its own, an event that opens it and one that closes it.
  /** @type {{rule:number, opener:Ev, closer:Ev}[]} the event pair sent for each rule */
  const perRule = [];
  SCHEMA.spans.forEach((rule, i) => {
    const pid = newProcess(`spans-${i}`);
    /** @type {Ev} */ const fixed = {};
    for (const f of namedFields(rule.label)) { const named = newProcess(`named-${i}-${f}`); fixed[f] = named; }
    for (const f of rule.by) if (!(f in fixed)) fixed[f] = valueOf(typeOf(rule.kind, f), f);
    const opener = send(make(rule.kind, { ...fixed, ...rule.opens }, pid));
    const keep = Object.fromEntries(rule.by.map((f) => [f, opener[f]]));
    const closer = send(make(rule.kind, { ...keep, ...rule.closes }, pid));
    perRule.push({ rule: i, opener, closer });
    // Anything the closer opened in turn (an acquire begins the hold) is closed too.
    for (let n = 0; n < 16 && open.some((s) => s.lane === laneOf(opener)); n++) {
      const s = /** @type {OSpan} */ (open.find((x) => x.lane === laneOf(opener)));
      const r = SCHEMA.spans[s.rule];
      send(make(r.kind, { ...Object.fromEntries(r.by.map((/** @type {string} */ f) => [f, s.begin[f]])), ...r.closes }, pid));
    }
  });

  // Arrows: from and to on two lanes of their own. The key's values are
  // shared (a key of `pid` or `tid` is the event's own thread); plain arrows
  // alternate which end the log carries first.
  /** @type {{rule:number, from:Ev, to:Ev}[]} the pair sent for each rule */
  const perArrow = [];
  arrowRules.forEach((rule, i) => {
    const a = newProcess(`arrow-${i}-from`), b = newProcess(`arrow-${i}-to`);
    const key = rule.from.key.map((/** @type {string} */ f) => valueOf(typeOf(rule.from.kind, f), f));
    const end = (/** @type {any} */ side, /** @type {number} */ home) => {
      /** @type {Ev} */ const fixed = { ...(side.when ?? {}) };
      side.key.forEach((/** @type {string} */ f, /** @type {number} */ j) => { fixed[f] = key[j]; });
      let pid = home, tid = home;
      if ('pid' in fixed) { pid = fixed.pid; tid = 'tid' in fixed ? fixed.tid : pid; } else if ('tid' in fixed) tid = fixed.tid;
      delete fixed.pid; delete fixed.tid;
      return make(side.kind, fixed, pid, tid);
    };
    const from = end(rule.from, a), to = end(rule.to, b);
    let fromEv, toEv;
    if (rule.handover) {
      // The releasing lane held it; the acquiring lane began to wait before the release.
      const before = (/** @type {Ev} */ ev) => SCHEMA.spans.filter((s) => s.kind === ev.kind && matches(ev, s.closes))
        .map((s) => make(s.kind, { ...Object.fromEntries(s.by.map((f) => [f, ev[f]])), ...s.opens }, ev.pid, ev.tid));
      // Around them, three that get no arrow: e "released" it while waiting
      // for it itself (nothing is handed to the same thread); c waited across
      // the release too, but b took it first; d began to wait only after it.
      const e0 = newProcess(`arrow-${i}-self`);
      const toE = end(rule.to, e0);
      for (const e of before(toE)) send(e);
      send(end(rule.from, e0));
      send(toE);
      const c = newProcess(`arrow-${i}-late`), d = newProcess(`arrow-${i}-after`);
      const toC = end(rule.to, c), toD = end(rule.to, d);
      for (const e of before(from)) send(e);
      for (const e of before(to)) send(e);
      for (const e of before(toC)) send(e);
      fromEv = send(from);
      for (const e of before(toD)) send(e);
      send(toD);
      toEv = send(to);
      send(toC);
    } else if (i % 2 === 0) {
      fromEv = send(from);
      toEv = send(to);
    } else {
      toEv = send(to);
      fromEv = send(from);
    }
    perArrow.push({ rule: i, from: fromEv, to: toEv });
  });

  send({ kind: 'run.end', pid: 1, tid: 1, outcome: 'ok' });
  return { events, spans, perRule, arrows, perArrow, did };
}

test('the model draws one span per schema span rule and one arrow per arrow rule, as the schema says', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/healthz`);
  const rules = await page.evaluate(async () => {
    const { SCHEMA: schema } = await import('/static/schema.js');
    const { SPAN_RULES, ARROW_RULES } = await import('/static/model/schema.js');
    return { schema, spans: SPAN_RULES, arrows: ARROW_RULES };
  });
  assert.deepEqual(rules.schema, SCHEMA, 'the page is served the schema module this checkout has');
  assert.ok(SCHEMA.spans.length > 0 && SCHEMA.arrows.length > 0, 'the schema has span and arrow rules');
  assert.deepEqual(rules.spans, SCHEMA.spans, "the model's span rules are the schema's");
  assert.deepEqual(rules.arrows.slice(0, SCHEMA.arrows.length), SCHEMA.arrows, "the model's arrow rules are the schema's, first and unchanged");

  const run = syntheticRun(rules.arrows);
  const got = await page.evaluate(async (events) => {
    const { RunModel } = await import('/static/model/run.js');
    const model = new RunModel({ label: 'schema' });
    for (const e of events) model.add(e);
    const end = (/** @type {any} */ x) => ({ lane: x.lane.id, seq: x.seq, t: x.t });
    return {
      spans: [...model.laneMap.values()].flatMap((l) => l.spans.map((s) => ({
        lane: l.id, style: s.style, label: s.label, t0: s.t0, t1: s.t1, begin: s.begin.seq, end: s.end?.seq ?? null, open: l.open.has(s) }))),
      arrows: model.arrows.map((a) => ({ kind: a.kind, label: a.label, from: end(a.from), to: end(a.to),
        linked: !!model.itemBySeq.get(a.from.seq)?.links.includes(a) && !!model.itemBySeq.get(a.to.seq)?.links.includes(a),
        // (one span can be both ends: what opened it and what closed it)
        partners: model.itemBySeq.get(a.from.seq) === model.itemBySeq.get(a.to.seq)
          || [...model.partners(/** @type {any} */ (model.itemBySeq.get(a.from.seq)))].some((it) => it === model.itemBySeq.get(a.to.seq)) })),
      finished: model.finished,
      items: events.map((e) => {
        const it = /** @type {any} */ (model.itemBySeq.get(e.seq));
        return it ? { seq: e.seq, what: it.ev ? 'instant' : 'span', of: it.ev ? it.ev.seq : null, begin: it.begin?.seq ?? null, end: it.end?.seq ?? null, style: it.style ?? null } : { seq: e.seq, what: 'none' };
      }),
    };
  }, run.events);
  assert.ok(got.finished, 'the run ended');

  // Spans: each rule's own pair made its span, with the rule's style and filled label.
  for (const { rule, opener, closer } of run.perRule) {
    const r = SCHEMA.spans[rule];
    const what = `span rule ${rule} (${r.kind} ${JSON.stringify(r.opens)} → ${JSON.stringify(r.closes)})`;
    const o = run.spans.find((s) => s.rule === rule && s.begin === opener);
    assert.ok(o && o.end === closer, `${what}: the synthetic run opens and closes it (a test bug otherwise)`);
    const mine = got.spans.filter((s) => s.begin === opener.seq && s.style === r.style && s.label === o.label);
    assert.equal(mine.length, 1, `${what}: one span at its opening event, style ${r.style}, label "${o.label}" (spans there: ${JSON.stringify(got.spans.filter((s) => s.begin === opener.seq))})`);
    assert.deepEqual(mine[0], { lane: laneOf(opener), style: r.style, label: o.label, t0: opener.t, t1: closer.t, begin: opener.seq, end: closer.seq, open: false },
      `${what}: on its thread, from its opening to its closing event`);
    if (/\{[^}]+:name\}/.test(r.label)) assert.doesNotMatch(o.label, /\b7\d{4}\b/, `${what}: "${o.label}" names the lane, not its id`);
  }
  // And every span the model made is one the rules make of the whole run, nothing else.
  const show = (/** @type {any} */ s) => `${s.lane} ${s.style} "${s.label}" ${s.begin}→${s.end}`;
  assert.deepEqual(
    got.spans.filter((s) => s.style !== 'zombie').map(show).sort(),
    run.spans.map((s) => show({ ...s, begin: s.begin.seq, end: s.end?.seq ?? null })).sort(),
    'the spans are exactly the ones the schema rules make of these events');

  // Arrows: each rule's own pair is joined by one arrow of the rule's kind,
  // from its `from` event to its `to` event, labelled from the `from`.
  const shown = (/** @type {any} */ a) => `${a.kind} ${a.from.lane}#${a.from.seq} → ${a.to.lane}#${a.to.seq} "${a.label}"`;
  const asDrawn = (/** @type {{kind:string, from:Ev, to:Ev, label:string}} */ a) => ({ kind: a.kind, label: a.label,
    from: { lane: laneOf(a.from), seq: a.from.seq, t: a.from.t }, to: { lane: laneOf(a.to), seq: a.to.seq, t: a.to.t } });
  for (const { rule, from, to } of run.perArrow) {
    const r = rules.arrows[rule];
    const what = `arrow rule ${rule} (${r.name}: ${r.from.kind} → ${r.to.kind}${r.handover ? ', hand-over' : ''})`;
    const o = run.arrows.find((a) => a.rule === rule && a.from === from && a.to === to);
    assert.ok(o, `${what}: the synthetic run pairs its events (a test bug otherwise)`);
    const same = got.arrows.filter((a) => a.from.seq === from.seq && a.to.seq === to.seq);
    assert.equal(same.length, 1, `${what}: one arrow between its events`);
    assert.equal(shown(same[0]), shown(asDrawn(o)), `${what}: its kind, ends and label`);
    assert.equal(same[0].from.t, from.t, `${what}: starts at its from event`);
    assert.equal(same[0].to.t, to.t, `${what}: ends at its to event`);
  }
  // And every arrow the model drew is one the rules make of the whole run, nothing else, each linked from both ends.
  assert.deepEqual(got.arrows.map(shown).sort(), run.arrows.map((a) => shown(asDrawn(a))).sort(), 'the arrows are exactly the ones the schema rules make of these events');
  for (const a of got.arrows) {
    assert.ok(a.linked, `${shown(a)}: both ends' items link it`);
    assert.ok(a.partners, `${shown(a)}: selecting its from end finds its to end`);
  }

  // Each event's item (what a click selects, what its arrows link): the span
  // it opened, else the span it closed, else an instant of its own.
  for (const it of got.items) {
    const ev = run.events[it.seq - 1];
    const d = /** @type {{opened:boolean, closed:boolean}} */ (run.did.get(it.seq));
    if (ev.kind === 'run.start' || ev.kind === 'run.end') { assert.equal(it.what, 'none', `${ev.kind} is the run's, no item`); continue; }
    if (it.style === 'zombie') continue; // the code's own span after a proc.exit
    const want = d.opened ? { what: 'span', begin: it.seq } : d.closed ? { what: 'span', end: it.seq } : { what: 'instant', of: it.seq };
    const have = Object.fromEntries(Object.keys(want).map((k) => [k, it[k]]));
    assert.deepEqual(have, want, `event #${it.seq} (${ev.kind} ${JSON.stringify(ev.phase ?? ev.op ?? '')}) is drawn as ${d.opened ? 'the span it opened' : d.closed ? 'the span it closed' : 'an instant'}`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('label templates: {field}, {field:json} and {field:name} fill as the schema says', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(`${server.url}/healthz`);
  const out = await page.evaluate(async () => {
    const { fillLabel } = await import('/static/model/schema.js');
    const names = (/** @type {number} */ id) => (id === 7 ? 'worker' : undefined);
    const ev = { s: 'q', n: 3, o: { a: [1, 'x'] }, z: null, child: 7, other: 8 };
    return [
      fillLabel('{s}: {o:json}', ev, names),
      fillLabel('{n} {z} {missing}', ev, names),
      fillLabel('{missing:json} {z:json} {s:json}', ev, names),
      fillLabel('{child:name}.join() {other:name}', ev, names),
      fillLabel('no fields', ev, names),
    ];
  });
  assert.deepEqual(out, ['q: {"a":[1,"x"]}', '3 ? ?', 'null null "q"', 'worker.join() 8', 'no fields']);
  assert.deepEqual(errors, []);
  await page.close();
});

// engine.js — which engine runs the demo: CPython (a real interpreter runs
// the demo's Python program with forkline's tracer) or Native (forkline's
// Rust rebuild of it). It knows what each engine brings to the page (its
// parameters, program and notes, from /api/demos) and builds the small
// switch beside Run. It exists apart from app.js so the choice, and how it
// falls back when an engine is not offered, lives in one place.

import { h } from './dom.js';

/**
 * @typedef {'cpython'|'native'} Engine
 * @typedef {import('./api.js').Demo} Demo
 * @typedef {import('./api.js').ParamSpec} ParamSpec
 * @typedef {{params: ParamSpec[], source: string, notes: string, sourceLines: Record<string, number>,
 *   heading: string, file: string}} EngineView
 */

export const NATIVE_WORDS = 'Native (forkline’s Rust demo)';

/** Engines the demo can run under here, the page's default first. @param {Demo} demo @returns {Engine[]} */
export function offeredEngines(demo) {
  const list = /** @type {Engine[]} */ ((demo.engines ?? ['native']).filter((e) => e === 'cpython' || e === 'native'));
  return list.length ? list : ['native'];
}

/** @param {Demo} demo @returns {Engine} */
export function defaultEngine(demo) { return offeredEngines(demo)[0]; }

/**
 * What the page shows under an engine. A CPython engine the catalog does not
 * describe (a replay file made without it) shows nothing of its own.
 * @param {Demo} demo @param {Engine} engine @returns {EngineView}
 */
export function engineView(demo, engine) {
  if (engine === 'cpython') {
    const c = demo.cpython;
    return {
      params: c?.params ?? [], source: c?.source ?? '', notes: c?.notes ?? '', sourceLines: {},
      file: c?.file ?? '', heading: c ? `The Python program CPython runs · ${c.file}` : 'The Python program CPython ran',
    };
  }
  return {
    params: demo.params ?? [], source: demo.source ?? '', notes: demo.notes ?? '', sourceLines: demo.source_lines ?? {},
    file: '', heading: 'The Python program this demo mirrors',
  };
}

/**
 * The engine a page starts with: what the server chose from the URL
 * (data-engine), if this demo offers it, else the default.
 * @param {Demo} demo @param {string|undefined} asked @returns {Engine}
 */
export function initialEngine(demo, asked) {
  const offered = offeredEngines(demo);
  return offered.includes(/** @type {Engine} */ (asked)) ? /** @type {Engine} */ (asked) : offered[0];
}

/**
 * The engine switch: a radio group (CPython | Native) styled as a segmented
 * control, the interpreter beside it (a select when several are offered),
 * and why CPython is not offered when it is not.
 */
export class EngineSwitch {
  /**
   * @param {Demo} demo
   * @param {{engine: Engine, python?: string, onChange: (engine: Engine, python: string) => void}} opts
   */
  constructor(demo, opts) {
    this.demo = demo;
    this.onChange = opts.onChange;
    const offered = offeredEngines(demo);
    const interpreters = demo.cpython?.interpreters ?? [];
    this.el = h('div', { class: 'engine', id: 'engine', role: 'radiogroup', 'aria-labelledby': 'engine-label' });
    const label = h('span', { class: 'engine-label', id: 'engine-label', text: 'Engine' });
    const seg = h('span', { class: 'seg' });
    /** @type {Record<Engine, HTMLInputElement>} */
    this.radios = /** @type {any} */ ({});
    for (const [value, text, title] of /** @type {[Engine, string, string][]} */ ([
      ['cpython', 'CPython', 'A real CPython interpreter runs the program shown below, traced'],
      ['native', 'Native', 'forkline’s Rust rebuild of the program, with the lesson’s names (the GIL demo models the GIL)'],
    ])) {
      const input = /** @type {HTMLInputElement} */ (h('input', { type: 'radio', name: 'engine', value, id: `engine-${value}` }));
      if (!offered.includes(value)) input.disabled = true;
      this.radios[value] = input;
      seg.append(h('label', { for: `engine-${value}`, title }, input, text));
      input.addEventListener('change', () => { if (input.checked) this._changed(); });
    }
    /** @type {HTMLSelectElement|null} */
    this.select = null;
    this.what = h('span', { class: 'engine-what', id: 'engine-what' });
    if (interpreters.length > 1) {
      this.select = /** @type {HTMLSelectElement} */ (h('select', { id: 'python', name: 'python', 'aria-label': 'CPython interpreter' }));
      for (const i of interpreters) this.select.append(h('option', { value: i.id, text: i.label }));
      this.select.addEventListener('change', () => this._changed());
    }
    /** The interpreter the URL or a recorded run named, when there is no select. */
    this._python = '';
    this.why = h('small', { class: 'engine-why', id: 'engine-why' });
    const missing = !offered.includes('cpython')
      ? (demo.cpython_missing ?? (demo.cpython ? '' : 'this demo has no Python program for CPython to run'))
      : '';
    if (missing) {
      this.why.textContent = `CPython is not offered: ${missing}.`.replace(/\.\.$/, '.');
      this.radios.cpython.setAttribute('aria-describedby', 'engine-why');
    } else this.why.hidden = true;
    // `why` is placed by the page (below the Run row), so a long reason does not push Run aside.
    this.el.append(label, seg, ...(this.select ? [this.select] : []), this.what);
    this.set(opts.engine, opts.python ?? '');
  }

  /**
   * Show a recorded run's engine and allow no other (a replay file, where
   * nothing runs): the switch only says what ran.
   * @param {Engine} engine
   */
  fix(engine) {
    this.set(engine);
    for (const r of Object.values(this.radios)) r.disabled = true;
    this.el.classList.add('fixed');
    this.el.setAttribute('aria-disabled', 'true');
    this.why.hidden = true;
  }

  /** @returns {Engine} */
  get engine() { return this.radios.cpython.checked ? 'cpython' : 'native'; }

  /** The interpreter id to send, or '' for the server's default. */
  get python() {
    if (this.engine !== 'cpython') return '';
    return this.select ? this.select.value : (this._python ?? '');
  }

  /** Show an engine (and interpreter) without telling anyone. @param {Engine} engine @param {string} [python] */
  set(engine, python = '') {
    const interpreters = this.demo.cpython?.interpreters ?? [];
    this._python = interpreters.some((i) => i.id === python) ? python : '';
    if (this.select && this._python) this.select.value = this._python;
    this.radios[engine].checked = true;
    this._describe();
  }

  _describe() {
    const interpreters = this.demo.cpython?.interpreters ?? [];
    const id = this.python;
    const chosen = interpreters.find((i) => i.id === id) ?? interpreters[0];
    if (this.engine === 'native') this.what.textContent = 'forkline’s Rust demo';
    else this.what.textContent = this.select ? '' : (chosen?.label ?? '');
    this.what.hidden = this.what.textContent === '';
    if (this.select) this.select.hidden = this.engine !== 'cpython';
    // Read by share.js for "Copy embed code".
    this.el.dataset.engine = this.engine;
    this.el.dataset.python = this.python;
  }

  _changed() {
    this._describe();
    this.onChange(this.engine, this.python);
  }
}

/**
 * The engine and interpreter in a URL's query, as the page's address and
 * "Copy embed code" carry them. The default engine is written too, so a
 * link keeps meaning the same engine if the server's default changes.
 * @param {URLSearchParams} q @param {Engine} engine @param {string} python
 */
export function putEngine(q, engine, python) {
  q.set('engine', engine);
  if (engine === 'cpython' && python) q.set('python', python); else q.delete('python');
  return q;
}

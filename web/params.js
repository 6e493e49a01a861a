// params.js — the parameter form, generated from a demo's parameter specs
// (types, defaults, bounds) in /api/demos. It validates in the page so most
// mistakes never reach the server, and shows the server's own 422 message
// against the right field when it still refuses.

/** @typedef {import('./api.js').ParamSpec} ParamSpec */

/**
 * @param {HTMLElement} host  where the fields go
 * @param {ParamSpec[]} specs
 */
export function buildParams(host, specs) {
  /** @type {Map<string, {spec:ParamSpec, input:HTMLInputElement|HTMLSelectElement, err:HTMLElement}>} */
  const fields = new Map();
  host.replaceChildren();
  if (!specs.length) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = 'This demo has no parameters.';
    host.append(p);
  }
  for (const spec of specs) {
    const id = `param-${spec.name}`;
    const wrap = document.createElement('div');
    wrap.className = `field field-${spec.type}`;
    const label = document.createElement('label');
    label.htmlFor = id;
    label.textContent = spec.name;
    /** @type {HTMLInputElement|HTMLSelectElement} */
    let input;
    if (spec.type === 'choice') {
      input = document.createElement('select');
      for (const o of spec.options ?? []) {
        const opt = document.createElement('option');
        opt.value = opt.textContent = String(o);
        input.append(opt);
      }
      input.value = String(spec.default ?? '');
    } else {
      input = document.createElement('input');
      if (spec.type === 'bool') {
        input.type = 'checkbox';
        input.checked = Boolean(spec.default);
      } else if (spec.type === 'int') {
        input.type = 'number';
        input.step = '1';
        input.inputMode = 'numeric';
        if (spec.min != null) input.min = String(spec.min);
        if (spec.max != null) input.max = String(spec.max);
        input.value = String(spec.default ?? '');
      } else {
        input.type = 'text';
        input.inputMode = 'numeric';
        input.spellcheck = false;
        input.autocomplete = 'off';
        input.value = Array.isArray(spec.default) ? spec.default.join(', ') : String(spec.default ?? '');
      }
    }
    input.id = id;
    input.name = spec.name;
    const help = document.createElement('small');
    help.className = 'help';
    help.id = `${id}-help`;
    help.textContent = [spec.help, bounds(spec)].filter(Boolean).join(' · ');
    const err = document.createElement('small');
    err.className = 'field-error';
    err.id = `${id}-err`;
    err.setAttribute('aria-live', 'polite');
    input.setAttribute('aria-describedby', `${help.id} ${err.id}`);
    if (spec.type === 'bool') {
      label.prepend(input);
      wrap.append(label, help, err);
    } else {
      wrap.append(label, input, help, err);
    }
    host.append(wrap);
    fields.set(spec.name, { spec, input, err });
    input.addEventListener('input', () => setError(spec.name, ''));
  }

  /** @param {string} name @param {string} msg */
  function setError(name, msg) {
    const f = fields.get(name);
    if (!f) return false;
    f.err.textContent = msg;
    if (msg) f.input.setAttribute('aria-invalid', 'true'); else f.input.removeAttribute('aria-invalid');
    return true;
  }

  /** Read and check every field. @returns {{params: Record<string, unknown>, ok: boolean}} */
  function read() {
    /** @type {Record<string, unknown>} */
    const params = {};
    let ok = true;
    let first = null;
    for (const [name, f] of fields) {
      const [value, msg] = parse(f.spec, f.input);
      setError(name, msg);
      if (msg) { ok = false; first ??= f.input; } else params[name] = value;
    }
    first?.focus();
    return { params, ok };
  }

  /** Show the server's refusal next to its field; false when it names no field here. */
  function showServerError(/** @type {string|undefined} */ field, /** @type {string} */ msg) {
    // The server names nested fields by path ("params.delay_ms").
    const name = field?.replace(/^params\./, '');
    if (name && setError(name, msg)) { fields.get(name)?.input.focus(); return true; }
    return false;
  }

  /** Short text of the current values, for naming runs in a comparison. */
  function summary(/** @type {Record<string, unknown>} */ params) {
    return Object.entries(params).map(([k, v]) => `${k}=${Array.isArray(v) ? `[${v.join(',')}]` : v}`).join(' ');
  }

  /** Put values into the form (a permalink's or an embed's parameters); unknown names are ignored. */
  function set(/** @type {Record<string, unknown>} */ params) {
    for (const [name, value] of Object.entries(params)) {
      const f = fields.get(name);
      if (!f) continue;
      if (f.spec.type === 'bool') /** @type {HTMLInputElement} */ (f.input).checked = Boolean(value);
      else f.input.value = Array.isArray(value) ? value.join(', ') : String(value);
      setError(name, '');
    }
  }

  /** The fields as they stand, checked or not (to keep them while another engine's form is shown). */
  function values() {
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [name, f] of fields) out[name] = f.spec.type === 'bool' ? /** @type {HTMLInputElement} */ (f.input).checked : f.input.value;
    return out;
  }

  return { read, showServerError, summary, set, values };
}

/** @param {ParamSpec} s */
function bounds(s) {
  if (s.type === 'int' && s.min != null && s.max != null) return `${s.min} to ${s.max}`;
  if (s.type === 'int_list') {
    const parts = [];
    if (s.min_len != null && s.max_len != null) parts.push(`${s.min_len}–${s.max_len} integers`);
    if (s.min != null && s.max != null) parts.push(`each ${s.min} to ${s.max}`);
    return parts.join(', ');
  }
  return '';
}

/**
 * @param {ParamSpec} s @param {HTMLInputElement|HTMLSelectElement} input
 * @returns {[unknown, string]} value and an error message ('' when fine)
 */
export function parse(s, input) {
  const raw = input.value.trim();
  const int = (/** @type {string} */ t) => /^[-+]?\d+$/.test(t) ? Number(t) : NaN;
  const inRange = (/** @type {number} */ n) => (s.min == null || n >= s.min) && (s.max == null || n <= s.max);
  switch (s.type) {
    case 'bool':
      return [/** @type {HTMLInputElement} */ (input).checked, ''];
    case 'choice':
      return (s.options ?? []).map(String).includes(raw) ? [raw, ''] : [raw, `choose one of ${(s.options ?? []).join(', ')}`];
    case 'int': {
      const n = int(raw);
      if (Number.isNaN(n)) return [raw, 'enter a whole number'];
      if (!inRange(n)) return [n, `must be between ${s.min} and ${s.max}`];
      return [n, ''];
    }
    case 'int_list': {
      const parts = raw.replace(/^\[|\]$/g, '').split(/[\s,]+/).filter(Boolean);
      const nums = parts.map(int);
      if (nums.some(Number.isNaN)) return [raw, 'enter whole numbers separated by commas'];
      if (s.min_len != null && nums.length < s.min_len) return [nums, `needs at least ${s.min_len} number${s.min_len === 1 ? '' : 's'}`];
      if (s.max_len != null && nums.length > s.max_len) return [nums, `at most ${s.max_len} numbers`];
      const bad = nums.find((n) => !inRange(n));
      if (bad !== undefined) return [nums, `${bad} is outside ${s.min} to ${s.max}`];
      return [nums, ''];
    }
    default:
      return [raw, ''];
  }
}

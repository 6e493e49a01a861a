// predict.js — predict, then run (for instructors: `?predict=1` on a demo
// page, `predict=1` on an embed). Pressing Run first asks the question the
// demo's lesson implies (the catalog's `predict`); once answered, the run
// starts, and when it ends the run's own events give the answer: the first
// line printed, or a figure of its result. The page then says what the run
// did, with the evidence, whether the guess was right, and why. It holds the
// run back through app.js's cancelable `forkline:before-run` event and
// reads the run through `forkline:run-finished` and the events API.

import { h } from './dom.js';
import { fetchDemos } from './api.js';

const body = document.body;
const on = body.dataset.embed ? body.dataset.predict === '1' : new URLSearchParams(location.search).get('predict') === '1';
if (on && !body.dataset.replay) {
  // Held from the start: an embed's autorun may press Run before the
  // question has arrived; it is asked once it has.
  /** @type {{ compare: boolean }|null} */
  let early = null;
  const hold = (/** @type {Event} */ e) => { e.preventDefault(); early = { compare: Boolean(/** @type {CustomEvent} */ (e).detail?.compare) }; };
  document.addEventListener('forkline:before-run', hold);
  void start().then((ask) => {
    document.removeEventListener('forkline:before-run', hold);
    const held = /** @type {{ compare: boolean }|null} */ (early);
    if (!held) return;
    if (ask) ask(held.compare);
    else document.getElementById(held.compare ? 'compare' : 'run')?.click();
  });
}

/** Builds the panel; resolves to what asks the question, or null where the demo has none. */
async function start() {
  const demo = (await fetchDemos()).find((d) => d.name === body.dataset.demo);
  const q = /** @type {any} */ (demo)?.predict;
  const form = document.querySelector('form.params');
  if (!q || !form) return null;
  const choices = q.choices.map((/** @type {any} */ c) => h('label', { class: 'predict-choice' },
    h('input', { type: 'radio', name: 'predict', value: c.id }), ` ${c.text}`));
  const go = h('button', { type: 'button', class: 'btn btn-primary', id: 'predict-go', text: 'Run and check' });
  const skip = h('button', { type: 'button', class: 'btn', id: 'predict-skip', text: 'Run without guessing' });
  const hint = h('p', { class: 'predict-hint', role: 'alert' });
  const asking = h('fieldset', { class: 'predict-ask', id: 'predict-ask' },
    h('legend', { text: q.text }), ...choices, h('div', { class: 'actions' }, go, skip), hint);
  const verdict = h('div', { class: 'predict-verdict', id: 'predict-verdict', role: 'status', 'aria-live': 'polite' });
  const panel = h('section', { class: 'predict', id: 'predict', 'aria-label': 'Predict, then run', 'data-state': 'idle' },
    h('p', { class: 'predict-lead', text: 'Predict, then run: make your guess before each run, and the run’s own events will check it.' }),
    asking, verdict);
  asking.hidden = true;
  form.after(panel);

  /** The guess for the run about to start: undefined while none was asked for. @type {any} */
  let guess;
  let pass = false;
  /** Whether the last hold was for "Run again & compare". */
  let compare = false;
  let awaiting = false;

  document.addEventListener('forkline:before-run', (e) => {
    if (pass) {
      pass = false;
      awaiting = true;
      panel.dataset.state = 'running';
      return;
    }
    e.preventDefault();
    ask(Boolean(/** @type {CustomEvent} */ (e).detail?.compare));
  });

  /** @param {boolean} forCompare */
  function ask(forCompare) {
    compare = forCompare;
    asking.hidden = false;
    hint.textContent = '';
    panel.dataset.state = 'asking';
    /** @type {HTMLInputElement|null} */ (asking.querySelector('input'))?.focus();
  }

  /** @param {any} chosen */
  function release(chosen) {
    guess = chosen;
    asking.hidden = true;
    verdict.replaceChildren();
    pass = true;
    document.getElementById(compare ? 'compare' : 'run')?.click();
  }
  go.addEventListener('click', () => {
    const picked = /** @type {HTMLInputElement|null} */ (asking.querySelector('input:checked'));
    if (!picked) { hint.textContent = 'Pick an answer first, or run without guessing.'; return; }
    release(q.choices.find((/** @type {any} */ c) => c.id === picked.value));
  });
  skip.addEventListener('click', () => release(null));

  document.addEventListener('forkline:run-finished', async (e) => {
    const id = /** @type {CustomEvent} */ (e).detail?.id;
    if (!awaiting || !id) return;
    awaiting = false;
    const res = await fetch(`/api/runs/${id}/events.jsonl`);
    const events = res.ok ? (await res.text()).split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    const found = answer(q, events);
    show(found);
  });

  /** @param {{ choice: any, evidence: string }} found */
  function show(found) {
    const right = guess && found.choice ? guess.id === found.choice.id : null;
    verdict.dataset.answer = found.choice?.id ?? '';
    verdict.dataset.guess = guess?.id ?? '';
    verdict.dataset.right = right === null ? '' : String(right);
    const said = guess ? `You said: ${guess.text}. ` : '';
    const mark = right === null ? '' : right ? 'Right.' : 'Not this time.';
    verdict.className = `predict-verdict${right === true ? ' right' : right === false ? ' wrong' : ''}`;
    verdict.replaceChildren(
      h('p', { class: 'predict-result' }, h('strong', { text: mark }), ` ${said}This run: ${found.choice ? found.choice.text : 'no answer'}, ${found.evidence}.`),
      h('p', { class: 'predict-why muted', text: q.why }));
    panel.dataset.state = 'judged';
  }
  return ask;
}

/**
 * Which choice the run's events stand for, and the evidence.
 * @param {any} q @param {any[]} events @returns {{ choice: any, evidence: string }}
 */
export function answer(q, events) {
  if (q.check.kind === 'first_print') {
    const names = new Map(events.filter((e) => e.kind === 'proc.start' || e.kind === 'thread.start').map((e) => [e.kind === 'proc.start' ? `p${e.pid}` : `t${e.tid}`, e.name]));
    const start = events.find((e) => e.kind === 'run.start');
    for (const e of events) {
      if (e.kind !== 'print' || e.stream) continue;
      const choice = q.choices.find((/** @type {any} */ c) => String(e.text).startsWith(c.prefix));
      if (!choice) continue;
      const who = names.get(`t${e.tid}`) ?? names.get(`p${e.pid}`) ?? (e.pid === start?.pid ? 'MainProcess' : `pid ${e.pid}`);
      return { choice, evidence: `the first of those lines was “${e.text}”, printed by ${who} (pid ${e.pid}) at ${(e.t / 1e6).toFixed(1)} ms` };
    }
    return { choice: null, evidence: 'none of those lines was printed' };
  }
  const result = events.findLast((e) => e.kind === 'result');
  let value = result?.data;
  for (const key of q.check.path) value = value?.[key];
  if (typeof value !== 'number') {
    const code = result?.data?.exit_code;
    return { choice: null, evidence: typeof code === 'number' && code !== 0
      ? `the program ended with exit code ${code} before it could report a ${q.check.path.at(-1)}`
      : `the run reported no ${q.check.path.join('.')}` };
  }
  const choice = q.choices.find((/** @type {any} */ c) => (c.min == null || value >= c.min) && (c.max == null || value <= c.max)) ?? null;
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(2);
  return { choice, evidence: `its result says ${q.check.path.at(-1)} ${shown}${q.check.unit}` };
}

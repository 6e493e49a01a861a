// experiment.js — what the race lab and the speedup curve share: the
// experiment the page's form describes (this page's engine and parameters,
// one of them varied), starting it (POST /api/experiments), following its
// report until it is done, and the page URL that names it (`?experiment=ID`,
// the permalink), and the panel's button and state around them. Each panel
// draws the report its own way.

import { fetchDemos } from './api.js';
import { parse } from './params.js';

const POLL_MS = 400;

/**
 * The experiment request for `demo` on the page's engine, with the form's
 * parameters but `vary`.
 * @param {string} demoName @param {string} vary @param {unknown[]|undefined} values @param {number} runsEach
 */
export async function requestFromForm(demoName, vary, values, runsEach) {
  const engine = /** @type {HTMLInputElement|null} */ (document.querySelector('input[name=engine]:checked'))?.value ?? 'native';
  const python = document.getElementById('engine')?.dataset.python || undefined;
  const demo = (await fetchDemos()).find((d) => d.name === demoName);
  const specs = engine === 'cpython' ? demo?.cpython?.params ?? [] : demo?.params ?? [];
  /** @type {Record<string, unknown>} */
  const params = {};
  for (const spec of specs) {
    const input = /** @type {HTMLInputElement|null} */ (document.getElementById(`param-${spec.name}`));
    if (!input || spec.name === vary) continue;
    const [value, error] = parse(spec, input);
    if (error) throw new Error(`${spec.name}: ${error}`);
    params[spec.name] = value;
  }
  return { demo: demoName, engine, python: engine === 'cpython' ? python : undefined, params, vary, values, runs_each: runsEach };
}

/** Starts an experiment; resolves to its id, or throws the server's reason. @param {object} request */
export async function startExperiment(request) {
  const res = await fetch('/api/experiments', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer?.error?.message ?? `${res.status} ${res.statusText}`);
  history.replaceState(null, '', withExperiment(answer.id));
  return /** @type {string} */ (answer.id);
}

/**
 * Calls `draw` with each report until the experiment is done; resolves to
 * null then, or to why it could not be read.
 * @param {string} id @param {(report: any) => void} draw
 */
export async function followExperiment(id, draw) {
  for (;;) {
    const res = await fetch(`/api/experiments/${id}`);
    if (!res.ok) return res.status === 404 ? 'That experiment is not on this server any more.' : `The experiment could not be read (${res.status}).`;
    const report = await res.json();
    draw(report);
    if (report.done) return null;
    await new Promise((ok) => setTimeout(ok, POLL_MS));
  }
}

/** The experiment this page's URL names, if any. */
export function askedExperiment() {
  const asked = new URLSearchParams(location.search).get('experiment');
  // An id is 32 hex digits, after the name of the instance that made it.
  return asked && /^(?:[a-z0-9][a-z0-9-]{0,19}-)?[0-9a-f]{32}$/.test(asked) ? asked : null;
}

/** This page's URL naming the experiment. @param {string} id */
export function withExperiment(id) {
  const url = new URL(location.href);
  url.searchParams.set('experiment', id);
  return `${url.pathname}${url.search}`;
}

/**
 * Wires a panel to its experiment: `go` starts the one `request()` builds
 * and `draw` is called with each report; the panel's `data-state` (idle,
 * running, done, missing) and `data-experiment-id` say where it is, for
 * readers and tests; an experiment the URL names is followed at once.
 * @param {{ panel: HTMLElement, go: HTMLButtonElement, progress: HTMLElement,
 *   request: () => Promise<object>, draw: (report: any) => void }} parts
 */
export function wireExperiment({ panel, go, progress, request, draw }) {
  /** @param {string} id */
  async function follow(id) {
    panel.dataset.state = 'running';
    panel.dataset.experimentId = id;
    const missing = await followExperiment(id, draw);
    if (missing) progress.textContent = missing;
    panel.dataset.state = missing ? 'missing' : 'done';
  }
  go.addEventListener('click', async () => {
    go.disabled = true;
    progress.classList.remove('bad');
    try {
      await follow(await startExperiment(await request()));
    } catch (e) {
      progress.textContent = `It did not start: ${e instanceof Error ? e.message : e}`;
      progress.classList.add('bad');
    } finally {
      go.disabled = false;
    }
  });
  const asked = askedExperiment();
  if (asked) void follow(asked);
}

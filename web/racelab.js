// racelab.js — the race lab on the lock and pipe pages: "Run N times" runs
// the demo N times with its lock and N times without (POST /api/experiments,
// every run a real run, queued like any other), then draws how often each
// outcome came up, one histogram per side. Every bar is a link to a run that
// produced it, so a student can open the interleaving behind a number. An
// experiment has a permalink (`?experiment=ID` on the demo page) and its
// report is the export (GET /api/experiments/ID, JSON). Like share.js it
// reads only the page's public surface (the engine switch and the form
// fields), so it stays out of app.js's way. Load it after app.js.

import { h } from './dom.js';
import { requestFromForm, wireExperiment, withExperiment } from './experiment.js';

/** What each demo's experiment varies and counts. */
const LABS = {
  lock: { vary: 'use_lock', metric: 'balance', what: 'final balance', sides: { true: 'with the lock', false: 'without the lock' },
    ask: 'How often does the balance end at 200 without the lock?' },
  pipe: { vary: 'use_lock', metric: 'corrupt', what: 'corrupted messages', sides: { true: 'with a lock around send', false: 'without a lock' },
    ask: 'How many messages break when writers share a pipe without a lock?' },
};
const SVG = 'http://www.w3.org/2000/svg';
/** Most bars one histogram draws before it groups outcomes in ranges. */
const BINS = 10;

const body = document.body;
const demoName = body.dataset.demo ?? '';
const lab = LABS[/** @type {keyof typeof LABS} */ (demoName)];
if (lab && !body.dataset.replay && !body.dataset.embed) start();

function start() {
  const app = document.getElementById('app');
  if (!app) return;
  const runsEach = h('select', { id: 'race-runs', 'aria-label': 'Runs of each side' },
    ...[10, 20, 50, 100].map((n) => h('option', { value: String(n), text: String(n) })));
  runsEach.value = '20';
  const go = h('button', { type: 'button', class: 'btn', id: 'race-run', text: 'Run the experiment' });
  const progress = h('p', { class: 'race-progress muted', id: 'race-progress', role: 'status', 'aria-live': 'polite' });
  const charts = h('div', { class: 'race-charts', id: 'race-charts' });
  const link = h('p', { class: 'race-link', id: 'race-link' });
  const panel = h('section', { class: 'panel racelab', id: 'racelab', 'aria-labelledby': 'race-h', 'data-state': 'idle' },
    h('h2', { id: 'race-h', text: 'Race lab' }),
    h('p', { class: 'muted', text: `${lab.ask} Run it many times ${lab.sides.true} and ${lab.sides.false}, and count. Each run is a real run on this machine; click a bar to open one run that ended that way.` }),
    h('div', { class: 'race-controls' }, h('label', { for: 'race-runs', text: 'Runs of each ' }), runsEach, go),
    progress, charts, link);
  const share = document.getElementById('share');
  if (share) app.insertBefore(panel, share); else app.append(panel);

  wireExperiment({ panel, go, progress, draw, request: () => requestFromForm(demoName, lab.vary, undefined, Number(runsEach.value)) });

  /** @param {any} report */
  function draw(report) {
    const runs = /** @type {any[]} */ (report.runs ?? []);
    progress.textContent = report.done
      ? `${runs.length} runs${report.stopped ? `, stopped: ${report.stopped}` : ''}.`
      : `${runs.length} of ${report.planned} runs done…`;
    charts.replaceChildren(...report.values.map((/** @type {unknown} */ value) => histogram(lab, value, runs.filter((r) => r.value === value))));
    link.replaceChildren(h('a', { href: withExperiment(report.id), text: 'Permalink to this experiment' }), ' · ',
      h('a', { href: `/api/experiments/${report.id}`, download: `forkline-${report.demo}-experiment-${report.id}.json`, text: 'its report (JSON)' }));
  }
}

/**
 * One side's histogram: a bar per outcome value, as tall as the runs that
 * ended with it, each a link to one of those runs.
 * @param {typeof LABS[keyof typeof LABS]} lab @param {unknown} value @param {any[]} runs
 */
function histogram(lab, value, runs) {
  const measured = runs.filter((r) => typeof r.result?.[lab.metric] === 'number');
  const values = measured.map((r) => /** @type {number} */ (r.result[lab.metric]));
  // Up to BINS distinct outcomes get a bar each; more are grouped in ranges,
  // so bars and their labels never crowd each other.
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const lo = Math.min(...values), hi = Math.max(...values);
  const width = distinct.length > BINS ? Math.ceil((hi - lo + 1) / BINS) : 1;
  const binOf = (/** @type {number} */ v) => distinct.length > BINS ? lo + Math.floor((v - lo) / width) * width : v;
  const name = (/** @type {number} */ b) => width > 1 ? `${b}–${Math.min(hi, b + width - 1)}` : String(b);
  /** @type {Map<number, string[]>} bin → run ids */
  const counts = new Map();
  for (const r of measured) {
    const b = binOf(r.result[lab.metric]);
    if (!counts.has(b)) counts.set(b, []);
    counts.get(b)?.push(r.id);
  }
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const most = Math.max(1, ...[...counts.values()].map((ids) => ids.length));
  // TOP leaves room for the count above the tallest bar.
  const W = 360, H = 150, TOP = 16, pad = 22, bw = Math.max(6, Math.min(40, (W - 2 * pad) / Math.max(1, keys.length) - 4));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${TOP + H + 34}`);
  svg.setAttribute('role', 'img');
  const side = lab.sides[/** @type {'true'|'false'} */ (String(value))] ?? String(value);
  svg.setAttribute('aria-label', `${lab.what} ${side}: ${keys.map((k) => `${name(k)} in ${counts.get(k)?.length} runs`).join(', ') || 'no runs yet'}`);
  keys.forEach((k, i) => {
    const ids = counts.get(k) ?? [];
    const x = pad + i * (bw + 4);
    const hgt = Math.max(2, (ids.length / most) * H);
    const a = document.createElementNS(SVG, 'a');
    a.setAttribute('href', `/runs/${ids[0]}`);
    a.setAttribute('class', 'race-bar');
    a.dataset.value = name(k);
    a.dataset.count = String(ids.length);
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(TOP + H - hgt + 4));
    rect.setAttribute('width', String(bw));
    rect.setAttribute('height', String(hgt));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${lab.what} ${name(k)}: ${ids.length} run${ids.length === 1 ? '' : 's'} (open one)`;
    rect.append(title);
    a.append(rect);
    const count = document.createElementNS(SVG, 'text');
    count.setAttribute('x', String(x + bw / 2));
    count.setAttribute('y', String(TOP + H - hgt));
    count.setAttribute('class', 'race-count');
    count.textContent = String(ids.length);
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', String(x + bw / 2));
    label.setAttribute('y', String(TOP + H + 20));
    label.setAttribute('class', 'race-label');
    label.textContent = name(k);
    svg.append(a, count, label);
  });
  const figure = h('figure', { class: 'race-chart', 'data-side': String(value), 'data-runs': String(runs.length) });
  figure.append(svg, h('figcaption', { text: `${side}: ${lab.what} over ${measured.length} run${measured.length === 1 ? "" : "s"}` }));
  // Real CPython's reader raises at the first broken frame, so those runs
  // have no count: they are an outcome too, and one of them is a click away.
  const uncounted = runs.filter((r) => !measured.includes(r));
  if (uncounted.length) {
    figure.dataset.uncounted = String(uncounted.length);
    figure.append(h('p', { class: 'race-uncounted' }, `${uncounted.length} run${uncounted.length === 1 ? '' : 's'} ended with no count (${[...new Set(uncounted.map(endedHow))].join(', ')}: the program raised, hung or was stopped): `,
      h('a', { href: `/runs/${uncounted[0].id}`, text: 'open one' })));
  }
  return figure;
}

/** How a run with no count ended, in a few words. @param {any} run */
function endedHow(run) {
  if (typeof run.result?.exit_code === 'number') return `exit code ${run.result.exit_code}`;
  if (run.result?.signal) return `killed by signal ${run.result.signal}`;
  return run.outcome ?? 'still running';
}

// speedup.js — the speedup curve on the gil page: "Sweep the workers" runs
// the demo with 1, 2, … N workers (one experiment, every run a real run on
// this server's cores) and plots each mode's measured speedup, (a)'s time
// over the mode's, against the ideal line and the CPUs the machine really
// gave. Threads under one GIL stay flat; processes rise until the cores run
// out. Each point is one run's own figure (the median run of that many
// workers) and a link to it. Like racelab.js it reads only the page's public
// surface; load it after app.js.

import { h } from './dom.js';
import { requestFromForm, wireExperiment, withExperiment } from './experiment.js';

const SVG = 'http://www.w3.org/2000/svg';
/** The modes a gil run times beside its baseline (a), in drawing order. */
const MODES = [
  { key: 'b', cls: 'threads', name: 'threads (one GIL)' },
  { key: 'c', cls: 'processes', name: 'processes (a GIL each)' },
  { key: 'd', cls: 'free', name: 'threads, no GIL' },
];

const body = document.body;
if (body.dataset.demo === 'gil' && !body.dataset.replay && !body.dataset.embed) start();

function start() {
  const app = document.getElementById('app');
  if (!app) return;
  const most = h('select', { id: 'speedup-most', 'aria-label': 'Most workers' },
    ...[2, 3, 4, 5, 6, 8].map((n) => h('option', { value: String(n), text: String(n) })));
  most.value = '4';
  const runsEach = h('select', { id: 'speedup-runs', 'aria-label': 'Runs of each' },
    ...[1, 2, 3, 5].map((n) => h('option', { value: String(n), text: String(n) })));
  runsEach.value = '2';
  const go = h('button', { type: 'button', class: 'btn', id: 'speedup-run', text: 'Sweep the workers' });
  const progress = h('p', { class: 'race-progress muted', id: 'speedup-progress', role: 'status', 'aria-live': 'polite' });
  const chart = h('div', { class: 'speedup-chart', id: 'speedup-chart' });
  const summary = h('p', { class: 'speedup-summary', id: 'speedup-summary' });
  const link = h('p', { class: 'race-link', id: 'speedup-link' });
  const panel = h('section', { class: 'panel speeduplab', id: 'speeduplab', 'aria-labelledby': 'speedup-h', 'data-state': 'idle' },
    h('h2', { id: 'speedup-h', text: 'Speedup curve' }),
    h('p', { class: 'muted', text: 'How much faster do N workers finish the same countdown? Sweep N from 1 up: each run times (a) one thread and the same work split over N threads and N processes, on this machine. Speedup is (a)’s time over the mode’s; the dashed line is the ideal, N times faster, and no mode can beat the CPUs the machine gives. The form’s other parameters apply; click a point to open its run.' }),
    h('div', { class: 'race-controls' },
      h('label', { for: 'speedup-most', text: 'Workers 1 to ' }), most,
      h('label', { for: 'speedup-runs', text: ' runs of each ' }), runsEach, go),
    progress, chart, summary, link);
  const share = document.getElementById('share');
  if (share) app.insertBefore(panel, share); else app.append(panel);

  const workers = () => Array.from({ length: Number(most.value) }, (_, i) => i + 1);
  wireExperiment({ panel, go, progress, draw, request: () => requestFromForm('gil', 'workers', workers(), Number(runsEach.value)) });

  /** @param {any} report */
  function draw(report) {
    const runs = /** @type {any[]} */ (report.runs ?? []);
    progress.textContent = report.done
      ? `${runs.length} runs${report.stopped ? `, stopped: ${report.stopped}` : ''}.`
      : `${runs.length} of ${report.planned} runs done…`;
    const curve = measure(report);
    chart.replaceChildren(plot(curve), table(curve));
    summary.textContent = describe(curve);
    link.replaceChildren(h('a', { href: withExperiment(report.id), text: 'Permalink to this sweep' }), ' · ',
      h('a', { href: `/api/experiments/${report.id}`, download: `forkline-gil-speedup-${report.id}.json`, text: 'its report (JSON)' }));
  }
}

/**
 * @typedef {{ id: string, speedup: number, cpus: number, disturbed: boolean }} Point
 * @typedef {{ workers: number[], cpus: number, modes: { key: string, cls: string, name: string, runs: Map<number, Point[]>, median: Map<number, Point> }[], disturbed: number }} Curve
 */

/** Each mode's speedup at each number of workers, from the runs' own results. @param {any} report @returns {Curve} */
function measure(report) {
  const workers = /** @type {number[]} */ (report.values);
  const results = (report.runs ?? []).filter((/** @type {any} */ r) => r.result?.modes?.a);
  const cpus = Math.max(0, ...results.map((/** @type {any} */ r) => Number(r.result.cpus) || 0));
  const modes = MODES.filter((m) => results.some((/** @type {any} */ r) => r.result.modes[m.key])).map((m) => {
    /** @type {Map<number, Point[]>} */
    const runs = new Map();
    for (const r of results) {
      const mode = r.result.modes[m.key];
      if (!mode) continue;
      const list = runs.get(r.value) ?? [];
      list.push({ id: r.id, speedup: mode.speedup, cpus: mode.cpus_used, disturbed: Boolean(r.result.disturbed) });
      runs.set(r.value, list);
    }
    /** @type {Map<number, Point>} the median run: a point is always one run's own figure */
    const median = new Map();
    for (const [n, list] of runs) median.set(n, [...list].sort((x, y) => x.speedup - y.speedup)[Math.floor((list.length - 1) / 2)]);
    // CPython without a GIL: its threads are free threads.
    const name = m.key === 'b' && results.some((/** @type {any} */ r) => r.result.gil_enabled === false) ? 'threads, no GIL (free-threaded build)' : m.name;
    return { ...m, name, runs, median };
  });
  return { workers, cpus, modes, disturbed: results.filter((/** @type {any} */ r) => r.result.disturbed).length };
}

/** @param {string} name @param {Record<string, string|number>} attrs */
function svgEl(name, attrs) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The chart: speedup against workers, the ideal and the CPU ceiling. @param {Curve} curve */
function plot(curve) {
  const W = 480, H = 260, L = 40, R = 12, T = 14, B = 36;
  const most = Math.max(1, ...curve.workers);
  const top = Math.ceil(Math.max(most, curve.cpus, ...curve.modes.flatMap((m) => [...m.runs.values()].flat().map((p) => p.speedup))) * 1.05);
  const x = (/** @type {number} */ n) => L + (most === 1 ? 0.5 : (n - 1) / (most - 1)) * (W - L - R);
  const y = (/** @type {number} */ s) => T + (1 - s / top) * (H - T - B);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'speedup-plot' });
  svg.setAttribute('aria-label', `Speedup against workers: ${curve.modes.map((m) => `${m.name} ${[...m.median].map(([n, p]) => `${n}: ${p.speedup.toFixed(2)}×`).join(', ')}`).join('; ') || 'no runs yet'}`);
  for (let s = 0; s <= top; s += top > 8 ? 2 : 1) {
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(s), y2: y(s), class: 'speedup-grid' }));
    const label = svgEl('text', { x: L - 6, y: y(s) + 4, class: 'speedup-tick', 'text-anchor': 'end' });
    label.textContent = `${s}×`;
    svg.append(label);
  }
  for (const n of curve.workers) {
    const label = svgEl('text', { x: x(n), y: H - B + 16, class: 'speedup-tick', 'text-anchor': 'middle' });
    label.textContent = String(n);
    svg.append(label);
  }
  const axis = svgEl('text', { x: (L + W - R) / 2, y: H - 4, class: 'speedup-tick', 'text-anchor': 'middle' });
  axis.textContent = 'workers (N)';
  svg.append(axis);
  svg.append(svgEl('line', { x1: x(1), y1: y(1), x2: x(most), y2: y(most), class: 'speedup-ideal' }));
  const ideal = svgEl('text', { x: x(most) - 4, y: y(most) + 14, class: 'speedup-note', 'text-anchor': 'end' });
  ideal.textContent = 'ideal';
  svg.append(ideal);
  if (curve.cpus) {
    svg.append(svgEl('line', { x1: L, x2: W - R, y1: y(curve.cpus), y2: y(curve.cpus), class: 'speedup-cpus' }));
    const note = svgEl('text', { x: L + 4, y: y(curve.cpus) - 4, class: 'speedup-note' });
    note.textContent = `${curve.cpus} CPUs usable`;
    svg.append(note);
  }
  for (const mode of curve.modes) {
    const line = [...mode.median].sort((p, q) => p[0] - q[0]).map(([n, p]) => `${x(n)},${y(p.speedup)}`).join(' ');
    svg.append(svgEl('polyline', { points: line, class: `speedup-line ${mode.cls}` }));
    for (const [n, list] of mode.runs) for (const p of list) svg.append(svgEl('circle', { cx: x(n), cy: y(p.speedup), r: 2.5, class: `speedup-run ${mode.cls}${p.disturbed ? ' disturbed' : ''}` }));
    for (const [n, p] of mode.median) {
      const a = svgEl('a', { href: `/runs/${p.id}`, class: `speedup-point ${mode.cls}` });
      Object.assign(a.dataset, { mode: mode.key, workers: String(n), speedup: String(p.speedup), run: p.id });
      const dot = svgEl('circle', { cx: x(n), cy: y(p.speedup), r: 5 });
      const title = svgEl('title', {});
      title.textContent = `${mode.name}, ${n} worker${n === 1 ? '' : 's'}: ${p.speedup.toFixed(2)}× on ${p.cpus.toFixed(2)} CPUs (open this run)`;
      dot.append(title);
      a.append(dot);
      svg.append(a);
    }
  }
  const legend = h('p', { class: 'speedup-legend' }, ...curve.modes.map((m) => h('span', { class: `speedup-key ${m.cls}`, text: m.name })));
  return h('figure', { class: 'speedup-figure' }, svg, legend);
}

/** The same figures as a table: speedup and CPUs used, per mode and workers. @param {Curve} curve */
function table(curve) {
  const head = h('tr', {}, h('th', { scope: 'col', text: 'workers' }), ...curve.modes.map((m) => h('th', { scope: 'col', text: m.name })));
  const rows = curve.workers.map((n) => h('tr', {}, h('th', { scope: 'row', text: String(n) }),
    ...curve.modes.map((m) => {
      const p = m.median.get(n);
      return h('td', { text: p ? `${p.speedup.toFixed(2)}× on ${p.cpus.toFixed(2)} CPUs` : '—' });
    })));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'speedup-table' }, h('thead', {}, head), h('tbody', {}, ...rows)));
}

/** What this sweep measured, in a sentence or two. @param {Curve} curve */
function describe(curve) {
  const best = (/** @type {Curve['modes'][number]} */ m) => [...m.median].reduce((b, [n, p]) => (p.speedup > b[1].speedup ? [n, p] : b), [0, { speedup: 0, cpus: 0 }]);
  const parts = curve.modes.filter((m) => m.median.size).map((m) => {
    const [n, p] = /** @type {[number, Point]} */ (best(m));
    return `${m.name} reached at most ${p.speedup.toFixed(2)}× (with ${n})`;
  });
  if (!parts.length) return '';
  const disturbed = curve.disturbed ? ` ${curve.disturbed} run${curve.disturbed === 1 ? ' was' : 's were'} disturbed by other load ((a) got less than 0.85 of a CPU): the hollow dots.` : '';
  return `Measured here, on ${curve.cpus} usable CPUs: ${parts.join('; ')}.${disturbed}`;
}

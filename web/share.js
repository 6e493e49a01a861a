// share.js — the demo page's "Share & export" panel: the last run's permalink,
// its exports (and how to open the trace in Perfetto or chrome://tracing),
// and "Copy embed code" for a course page. It only reads the page's public
// surface — the engine switch (input[name=engine], #python), the form fields
// (#param-*) and #timeline's data-run-id and data-state, and the
// `forkline:engine` event app.js sends after a switch — so it stays out of
// app.js's way. Load it after app.js.

import { h } from './dom.js';
import { putEngine } from './engine.js';

const demo = document.body.dataset.demo ?? '';
const app = document.getElementById('app');

/** The engine and form's current values as an embed query
 * (`engine=cpython&numbers=2,3&delay_ms=200&autorun=1`): the frame opens as
 * the page shows the demo, and runs it, as the course page's reader expects. */
function currentQuery() {
  const q = new URLSearchParams();
  const engine = /** @type {HTMLInputElement|null} */ (document.querySelector('input[name=engine]:checked'))?.value;
  if (engine === 'cpython' || engine === 'native') {
    putEngine(q, engine, document.getElementById('engine')?.dataset.python ?? '');
  }
  for (const el of document.querySelectorAll('input[id^="param-"], select[id^="param-"]')) {
    const input = /** @type {HTMLInputElement} */ (el);
    const value = input.type === 'checkbox' ? (input.checked ? '1' : '0') : input.value.replace(/\s+/g, '');
    q.set(input.name || input.id.slice(6), value);
  }
  q.set('autorun', '1');
  // An instructor's predict page embeds as one: the frame asks too.
  if (new URLSearchParams(location.search).get('predict') === '1') q.set('predict', '1');
  return q.toString().replace(/%2C/gi, ',');
}

/** The iframe tag and the listener that sizes it, for a course page. */
export function embedCode(origin = location.origin, query = currentQuery()) {
  const title = document.querySelector('h1')?.textContent?.trim() ?? demo;
  const src = `${origin}/embed/${demo}${query ? `?${query}` : ''}`;
  const attr = (/** @type {string} */ s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<iframe src="${attr(src)}" title="forkline: ${attr(title)}" style="width:100%;border:0" height="640" loading="lazy"></iframe>
<script>
addEventListener('message', (e) => {
  if (e.origin !== '${origin}' || e.data?.type !== 'forkline:height') return;
  for (const f of document.querySelectorAll('iframe')) if (f.contentWindow === e.source) f.style.height = e.data.height + 'px';
});
</script>`;
}

const links = h('ul', { class: 'share-links', id: 'share-links' });
const none = h('p', { class: 'muted', id: 'share-none', text: 'Run the demo to get a permalink and its exports.' });
const code = /** @type {HTMLTextAreaElement} */ (h('textarea', { class: 'embed-code', id: 'embed-code', rows: '8', readonly: '', spellcheck: 'false', 'aria-label': 'Embed code' }));
const copy = h('button', { type: 'button', class: 'btn', id: 'copy-embed', text: 'Copy embed code' });
const copied = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
const panel = h('details', { class: 'panel share-panel', id: 'share' },
  h('summary', { text: 'Share, embed & export' }),
  h('h3', { text: 'This run' }), none, links,
  h('h3', { text: 'Embed in a course page' }),
  h('p', { class: 'muted', text: 'The frame runs on the engine and with the parameters above. The script sizes the frame to its content; the course site’s origin must be allowed with --frame-ancestors.' }),
  code, h('div', { class: 'actions' }, copy, copied));
(document.getElementById('events') ?? app?.lastElementChild)?.after(panel);

function refreshCode() { code.value = embedCode(); }
panel.addEventListener('toggle', refreshCode);
document.addEventListener('input', (e) => { if (/** @type {HTMLElement} */ (e.target).id?.startsWith('param-')) refreshCode(); });
document.addEventListener('forkline:engine', refreshCode);
copy.addEventListener('click', async () => {
  refreshCode();
  try { await navigator.clipboard.writeText(code.value); copied.textContent = 'Copied.'; } catch {
    code.select();
    copied.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
  }
});
refreshCode();

/** @param {string} id */
function showRun(id) {
  const base = `/api/runs/${id}`;
  const a = (/** @type {string} */ href, /** @type {string} */ text, download = false) =>
    h('a', download ? { href, download: '' } : { href }, text);
  links.replaceChildren(
    h('li', {}, a(`/runs/${id}`, 'Permalink'), ' — replays this run, also after the server restarts.'),
    h('li', {}, a(`${base}/trace.json`, 'trace.json', true),
      ' — open it in Perfetto (ui.perfetto.dev → “Open trace file”) or in Chrome at chrome://tracing (“Load”): one track per process and thread, arrows for spawn, join and messages.'),
    h('li', {}, a(`${base}/events.jsonl`, 'events.jsonl', true), ' — the raw event log, one JSON event per line.'),
    h('li', {}, a(`${base}/replay.html`, 'replay.html', true), ' — one self-contained file that replays this run anywhere, even offline.'));
  none.hidden = true;
}

const timeline = document.getElementById('timeline');
if (timeline) {
  const watch = () => {
    if (timeline.dataset.state === 'finished' && timeline.dataset.runId) showRun(timeline.dataset.runId);
  };
  new MutationObserver(watch).observe(timeline, { attributes: true, attributeFilter: ['data-state', 'data-run-id'] });
  watch();
}

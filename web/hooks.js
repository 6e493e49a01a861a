// hooks.js — settings a page receives as data-* attributes on <body>, applied
// through the page's public surface (its form fields, its Run button, fetch),
// for pages whose app.js does not (yet) honour them itself:
//
//   data-run="<id>"      replay that finished run instead of starting one (permalink, replay file)
//   data-params='{…}'    preset the parameter form (embed)
//   data-autorun="1"     press Run once the page is ready (embed)
//
// When app.js handles these natively it sets `window.forkline.hooks` (an
// array of the names it handles: 'run', 'params', 'autorun'), and this module
// leaves those alone. Load it before app.js.

'use strict';

const body = document.body;
const runId = body.dataset.run ?? '';
const inlineReplay = body.dataset.replay === 'inline';

/** @param {string} name */
function native(name) {
  const hooks = /** @type {any} */ (window).forkline?.hooks;
  return Array.isArray(hooks) && hooks.includes(name);
}

// The first "start a run" on a permalink answers with the run it names, so the
// page streams that run's log (the server replays a finished log in full).
// Any later press of Run starts a real, new run.
if (runId && !inlineReplay) {
  const realFetch = window.fetch.bind(window);
  let answered = false;
  window.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (!answered && !native('run') && method === 'POST' && new URL(url, location.href).pathname === '/api/runs') {
      answered = true;
      const ref = { id: runId, events_url: `/api/runs/${runId}/events`, status_url: `/api/runs/${runId}`, permalink_url: `/runs/${runId}` };
      return Promise.resolve(new Response(JSON.stringify(ref), { status: 201, headers: { 'content-type': 'application/json' } }));
    }
    return realFetch(input, init);
  };
}

/** The parameters to put in the form. @returns {Promise<Record<string, unknown>|null>} */
async function presetParams() {
  if (runId && !native('run')) {
    if (inlineReplay) {
      const run = JSON.parse(document.getElementById('forkline-run')?.textContent ?? 'null');
      return run?.params ?? null;
    }
    try {
      const res = await fetch(`/api/runs/${runId}`, { headers: { accept: 'application/json' } });
      return res.ok ? (await res.json()).params ?? null : null;
    } catch { return null; }
  }
  if (body.dataset.params && !native('params')) {
    try { return JSON.parse(body.dataset.params); } catch { return null; }
  }
  return null;
}

/** @param {Record<string, unknown>} params */
function fillForm(params) {
  for (const [name, value] of Object.entries(params)) {
    const input = /** @type {HTMLInputElement|null} */ (document.getElementById(`param-${name}`));
    if (!input) continue;
    if (input.type === 'checkbox') input.checked = Boolean(value);
    else input.value = Array.isArray(value) ? value.join(', ') : String(value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  }
}

async function whenReady() {
  const params = await presetParams();
  if (params) fillForm(params);
  const start = (runId && !native('run')) || (body.dataset.autorun === '1' && !native('autorun'));
  if (start) document.getElementById('run')?.click();
}

if (body.dataset.ready === 'true') whenReady();
else {
  const watch = new MutationObserver(() => {
    if (body.dataset.ready !== 'true') return;
    watch.disconnect();
    whenReady();
  });
  watch.observe(body, { attributes: true, attributeFilter: ['data-ready'] });
}

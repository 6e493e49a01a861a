// offline-api.js — stands in for api.js inside a replay file (see
// server/replay.rs): the same exports, answered from the demo, run and events
// inlined in the file, so the page replays a recorded run with no server and
// no network. Only inside that file does './api-online.js' exist (it is the
// real api.js): re-exporting it keeps every name app.js imports resolvable,
// and the names defined here take precedence over the re-exported ones.

'use strict';

export * from './api-online.js';

/** @param {string} id */
function inline(id) {
  return JSON.parse(document.getElementById(id)?.textContent ?? 'null');
}

export async function fetchDemos() {
  return [inline('forkline-demo')];
}

/** The recorded run, whatever is asked: a file has nothing else to run. */
export async function startRun() {
  const run = inline('forkline-run');
  return { id: run.id, events_url: 'inline:forkline-events', status_url: 'inline:forkline-run' };
}

/**
 * Hands the recorded events to the page as if they streamed in, asynchronously
 * like a real stream.
 * @param {string} _url @param {(ev: any) => void} onEvent @param {(message: string) => void} _onTrouble
 */
export function streamEvents(_url, onEvent, _onTrouble) {
  let closed = false;
  setTimeout(() => {
    for (const ev of inline('forkline-events') ?? []) {
      if (closed) return;
      onEvent(ev);
    }
  }, 0);
  return { close: () => { closed = true; } };
}

/** The recorded run's status and parameters. */
export async function fetchRun() {
  return inline('forkline-run');
}

/** Nothing runs in a file, so there is nothing to cancel. */
export async function cancelRun() {
  return null;
}

// fixtures.js — real runs for the model's tests. Each file under
// tests/fixtures/runs/ is the events.jsonl export of a run a real server ran
// on real processes (see that folder's README); this feeds one to the page's
// own RunModel in order, as the event stream would, with no browser.

import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunModel } from '../../web/model/run.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/runs');

/** @typedef {import('../../web/model/run.js').FlEvent} FlEvent */

/**
 * A captured run: its events as the server logged them, and the model built from them.
 * @param {string} name  the file's name without `.events.jsonl`
 * @returns {{events: FlEvent[], run: RunModel, of: (kind:string, fields?:Record<string, unknown>) => FlEvent[]}}
 */
export function loadRun(name) {
  const text = readFileSync(join(DIR, `${name}.events.jsonl`), 'utf8');
  const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const run = new RunModel({ label: name });
  for (const ev of events) run.add(ev);
  const of = (/** @type {string} */ kind, /** @type {Record<string, unknown>} */ fields = {}) =>
    events.filter((e) => e.kind === kind && Object.entries(fields).every(([k, v]) => e[k] === v));
  return { events, run, of };
}

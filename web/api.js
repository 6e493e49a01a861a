// api.js — the page's only door to the server: the demo catalog, starting a
// run, and the run's event stream. Kept apart so every other module works on
// plain data and the HTTP details (status codes, error JSON, SSE) live here.

/**
 * @typedef {{name:string, type:'int'|'bool'|'int_list'|'choice', default:any, min?:number, max?:number,
 *   min_len?:number, max_len?:number, options?:string[], help?:string}} ParamSpec
 * @typedef {{id:string, label:string, version:string, free_threaded:boolean}} Interpreter
 * @typedef {{enabled:boolean, reason:string|null, max_source_bytes:number, interpreter?:string}} EditingInfo
 * @typedef {{file:string, source:string, notes:string, params:ParamSpec[], interpreters:Interpreter[], editing?:EditingInfo}} CpythonInfo
 * @typedef {{name:string, title:string, summary:string, notes?:string, params:ParamSpec[], source?:string,
 *   source_lines?:Record<string, number>, engines?:string[], cpython?:CpythonInfo, cpython_missing?:string, steppable?:boolean}} Demo
 * @typedef {{engine?:'cpython'|'native', python?:string, source?:string, mode?:'step', schedule?:{steps:string[], free:boolean}}} EngineChoice
 * @typedef {{id:string, events_url:string, status_url?:string, stepped?:boolean}} RunRef
 */

/** An error the server explained: status plus its `{"error":{code,message,field}}` body. */
export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {string|undefined} field */
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** @param {Response} res */
async function failure(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON: fall back to the status line */ }
  const e = body && body.error ? body.error : {};
  return new ApiError(res.status, e.code ?? 'http', e.message ?? `${res.status} ${res.statusText}`, e.field);
}

/** @returns {Promise<Demo[]>} */
export async function fetchDemos() {
  const res = await fetch('/api/demos', { headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/**
 * Start a run. Without an engine the server runs the native demo. With a
 * `source` (an edited program, CPython only) the parameters are not sent:
 * an edited program has its values written in.
 * @param {string} demo @param {Record<string, unknown>} params @param {EngineChoice} [engine]
 * @returns {Promise<RunRef>}
 */
export async function startRun(demo, params, engine = {}) {
  /** @type {Record<string, unknown>} */
  const body = typeof engine.source === 'string' ? { demo, source: engine.source } : { demo, params };
  if (engine.engine) body.engine = engine.engine;
  if (engine.engine === 'cpython' && engine.python) body.python = engine.python;
  if (engine.mode) body.mode = engine.mode;
  if (engine.schedule) body.schedule = engine.schedule;
  const res = await fetch('/api/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201 && !res.ok) throw await failure(res);
  const created = await res.json();
  // Only the page that started a run may stop it: keep its token here, never
  // in a URL, a shared link or the page's state that is exported.
  if (typeof created.cancel_token === 'string') cancelTokens.set(created.id, created.cancel_token);
  delete created.cancel_token;
  return created;
}

/** @type {Map<string, string>} run id → the cancel token the server gave this page */
const cancelTokens = new Map();

/**
 * Follow a run's events. The browser's EventSource reconnects by itself with
 * Last-Event-ID, so there is no retry loop here; we only close it after
 * `run.end`, or it would reconnect to a finished stream forever.
 * @param {string} url
 * @param {(ev: import('./model/run.js').FlEvent) => void} onEvent
 * @param {(message: string) => void} onTrouble  told when the stream drops (it may come back)
 * @param {(place: {position: number, waiting: number}) => void} [onQueue]  told the run's place while it waits in line
 */
export function streamEvents(url, onEvent, onTrouble, onQueue) {
  const es = new EventSource(url);
  // Places in line come as `event: queue` messages, outside the run's log.
  es.addEventListener('queue', (m) => {
    try { onQueue?.(JSON.parse(/** @type {MessageEvent} */ (m).data)); } catch { /* a malformed place is not worth a word */ }
  });
  let lastSeq = 0;
  es.onmessage = (m) => {
    /** @type {import('./model/run.js').FlEvent} */
    let ev;
    try { ev = JSON.parse(m.data); } catch { onTrouble('the server sent an event that is not JSON'); return; }
    if (typeof ev.seq === 'number') {
      if (ev.seq <= lastSeq) return; // replayed after a reconnect
      lastSeq = ev.seq;
    }
    onEvent(ev);
    if (ev.kind === 'run.end') es.close();
  };
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) onTrouble('the event stream closed');
    else onTrouble('connection lost, reconnecting…');
  };
  return { close: () => es.close() };
}

/** Stop a run: the server kills its processes and ends its stream with run.end (cancelled).
 * @param {string} id */
export async function cancelRun(id) {
  const token = cancelTokens.get(id);
  if (!token) throw new ApiError(403, 'forbidden', 'only the page that started this run can stop it');
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: { accept: 'application/json', authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw await failure(res);
  cancelTokens.delete(id);
}

/** Let one thread of a stepped run perform its next operation (`{tid}`), or
 * every thread run on (`{free: true}`). Answers once the step settled.
 * @param {string} id @param {{tid?: number, free?: boolean}} what
 * @returns {Promise<{lane?: string, op?: string, steps: number, free: boolean}>} */
export async function stepRun(id, what) {
  const token = cancelTokens.get(id);
  if (!token) throw new ApiError(403, 'forbidden', 'only the page that started this run can step it');
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}/step`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(what),
  });
  if (!res.ok) throw await failure(res);
  return res.json();
}

/** A run's status and parameters, e.g. to replay a permalink.
 * @param {string} id
 * @returns {Promise<{id: string, params: Record<string, unknown>, status: string, engine?: 'cpython'|'native', python?: string, source?: string}>}
 * (`source`: the program, when it was an edited one) */
export async function fetchRun(id) {
  const res = await fetch(`/api/runs/${encodeURIComponent(id)}`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return res.json();
}

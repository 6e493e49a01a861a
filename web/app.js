// app.js — the demo page's entry point. It builds the page's working parts
// around the server-rendered intro and source, wires them together, starts
// runs and owns the one requestAnimationFrame loop that paints. Everything
// else is a module with a single concern; this file is the glue. The engine
// switch (engine.js) decides which parameters, program and notes the page
// shows; every run remembers the engine it ran on, so runs of both engines
// can be compared on one time scale. Under CPython, where the server allows
// it, the program panel is an editor (editor.js): Run then sends the edited
// program instead of the parameters. Other modules hook on through two DOM
// events on document: `forkline:before-run` (cancelable: hold the run back)
// and `forkline:run-finished` (detail: the run's id, label and engine).

import { fetchDemos, fetchRun, startRun, streamEvents, cancelRun, stepRun, ApiError } from './api.js';
import { StepPanel } from './stepper.js';
import { RunModel } from './model/run.js';
import { Timeline, firstSeq } from './timeline/timeline.js';
import { ConsoleView, exceptionText } from './console.js';
import { SourceView } from './source.js';
import { Editor } from './editor.js';
import { Replay } from './replay.js';
import { buildParams } from './params.js';
import { EventTable } from './table.js';
import { buildLegend } from './legend.js';
import { KernelNotes } from './model/notes.js';
import { h } from './dom.js';
import { EngineSwitch, engineView, initialEngine, putEngine } from './engine.js';

/** @typedef {import('./api.js').Demo} Demo */
/** @typedef {import('./engine.js').Engine} Engine */


const app = /** @type {HTMLElement} */ (document.getElementById('app'));
const demoName = document.body.dataset.demo ?? '';
/** The demo with no lesson program of its own (/play): Run always sends the editor's program. */
const SCRATCH = 'scratch';
const reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;

// ------------------------------------------------------------------ the page's parts

/** Put `box` where `el` is, with `el` inside it. @param {HTMLElement} el @param {HTMLElement} box */
function wrap(el, box) {
  el.replaceWith(box);
  box.append(el);
  return box;
}

const form = /** @type {HTMLFormElement} */ (h('form', { class: 'params', novalidate: '', 'aria-labelledby': 'run-h' }));
const fieldsBox = h('div', { class: 'fields' });
const runBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'run', text: 'Run' });
const compareBtn = h('button', { type: 'button', class: 'btn', id: 'compare', text: 'Run again & compare',
  title: 'Run once more with the current parameters and show both runs on one time scale' });
const stepBtn = h('button', { type: 'button', class: 'btn', id: 'step', text: 'Step',
  title: 'Run it with you as the scheduler: every process and thread waits for your go before each operation' });
stepBtn.hidden = true;
const stopBtn = h('button', { type: 'button', class: 'btn btn-stop', id: 'stop', text: 'Stop',
  title: 'Stop the running demo: its processes are killed and the run ends as cancelled' });
stopBtn.hidden = true;
const status = h('p', { class: 'status', id: 'status', role: 'status', 'aria-live': 'polite' });
const formError = h('p', { class: 'form-error', id: 'form-error', role: 'alert' });
const paramsNote = h('p', { class: 'params-note', id: 'params-note',
  text: 'Parameters are written in the program when you edit it: change the values there (Reset brings the form back).' });
paramsNote.hidden = true;
const engineSlot = h('div', { class: 'engine-slot' });
form.append(paramsNote, fieldsBox, h('div', { class: 'actions' }, engineSlot, runBtn, stepBtn, compareBtn, stopBtn, status), formError);
const runsList = h('ul', { class: 'runs', id: 'runs', 'aria-label': 'Runs shown on the timeline' });
const controls = h('section', { class: 'panel controls', 'aria-labelledby': 'run-h' },
  h('h2', { id: 'run-h', text: 'Run it' }), form, runsList);

const zoomIn = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Zoom in', title: 'Zoom in (+)', text: '+' });
const zoomOut = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Zoom out', title: 'Zoom out (−)', text: '−' });
const panL = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Pan earlier', title: 'Earlier (←)', text: '←' });
const panR = h('button', { type: 'button', class: 'btn btn-icon', 'aria-label': 'Pan later', title: 'Later (→)', text: '→' });
const fitBtn = h('button', { type: 'button', class: 'btn', title: 'Show the whole run (0)', text: 'Fit' });
const byCoreBtn = h('button', { type: 'button', class: 'btn', id: 'by-core', 'aria-pressed': 'false',
  title: 'One lane per CPU under the lanes: which thread the kernel had on each core', text: 'By core' });
const hint = h('p', { class: 'hint', id: 'tl-hint',
  text: 'Wheel or pinch to zoom, drag to pan, tap an event for details. Keys: + − zoom, ← → pan, 0 fit, . , step through events, Esc clear.' });
const view = h('div', { class: 'tl-view', id: 'timeline', tabindex: '0', role: 'group',
  'aria-roledescription': 'timeline', 'aria-label': 'Timeline of processes and threads', 'aria-describedby': 'tl-hint' });
const empty = h('p', { class: 'tl-empty', text: 'Press Run: each process and thread gets a lane here as it starts.' });
view.append(empty);
const lanesList = h('ul', { class: 'visually-hidden', id: 'lanes', 'aria-label': 'Lanes' });
const coresList = h('ul', { class: 'visually-hidden', id: 'cores', 'aria-label': 'CPU lanes: threads the kernel saw running on each core' });
const notesBox = h('section', { id: 'kernel-notes-box', 'aria-live': 'polite' });
const replayBox = h('div', { class: 'replay', id: 'replay', role: 'group', 'aria-label': 'Replay' });
const legendBox = h('div', { class: 'legend' });
const legendDetails = h('details', { class: 'legend-wrap' }, h('summary', { text: 'Legend' }), legendBox);
const timelinePanel = h('section', { class: 'panel timeline-panel', 'aria-labelledby': 'tl-h' },
  h('div', { class: 'toolbar' }, h('h2', { id: 'tl-h', text: 'Timeline' }),
    h('div', { class: 'tools', role: 'group', 'aria-label': 'Zoom, pan and view' }, zoomOut, zoomIn, panL, panR, fitBtn, byCoreBtn)),
  view, replayBox, hint, notesBox, legendDetails, lanesList, coresList);

const consoleTitle = h('h2', { id: 'console-h', text: 'Output' });
const consoleList = /** @type {HTMLOListElement} */ (h('ol', { class: 'console', id: 'console', 'aria-labelledby': 'console-h', tabindex: '0' }));
const outcome = h('p', { class: 'outcome', id: 'outcome', role: 'status', 'aria-live': 'polite' });
const ranOn = h('p', { class: 'ran-on', id: 'ran-on' });
const runNotesList = h('ul', { class: 'run-notes', id: 'run-notes', 'aria-label': 'Notes on the run' });
runNotesList.hidden = true;
const consolePanel = h('section', { class: 'panel console-panel', 'aria-labelledby': 'console-h' },
  consoleTitle, ranOn, consoleList, outcome, runNotesList);

const tableDetails = /** @type {HTMLDetailsElement} */ (h('details', { class: 'panel events-panel', id: 'events' },
  h('summary', { text: 'All events (table)' }),
  h('p', { class: 'table-note muted' }),
  h('div', { class: 'table-scroll', tabindex: '0', role: 'region', 'aria-label': 'Events table' },
    h('table', {},
      h('thead', {}, h('tr', {}, ...['seq', 'time', 'process / thread', 'cpu', 'kind', 'fields'].map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody')))));

const sourceSection = app.querySelector('section.source') ?? h('section', { class: 'source' });
const pre = /** @type {HTMLElement} */ (document.getElementById('source') ?? sourceSection.appendChild(h('pre', { id: 'source' }, h('code'))));
pre.tabIndex = 0;
// The box that scrolls the program, and holds the editor's textarea over it.
const codeBox = /** @type {HTMLElement|null} */ (pre.closest('.code')) ?? wrap(pre, h('div', { class: 'code' }));
const resetBtn = h('button', { type: 'button', class: 'btn', id: 'reset-source', text: 'Reset to the lesson’s code',
  title: 'Put the lesson’s program back (Ctrl-Z undoes this too)' });
const editedBadge = h('span', { class: 'edited-badge', id: 'edited-badge', text: 'edited' });
const editorHint = h('p', { class: 'hint editor-hint', id: 'editor-hint' },
  'Tab indents, Shift-Tab dedents, Ctrl-Z undoes. To leave the editor with the keyboard, press ', h('kbd', { text: 'Esc' }),
  ' then ', h('kbd', { text: 'Tab' }), '.');
const editorMsg = h('p', { class: 'editor-message', id: 'editor-message', 'aria-live': 'polite' });
const editorBar = h('div', { class: 'editor-bar', id: 'editor-bar' }, resetBtn, editedBadge, editorHint);
editorBar.hidden = true;
codeBox.after(editorBar, editorMsg);
const sourceHeading = document.getElementById('source-h') ?? sourceSection.insertBefore(h('h2', { id: 'source-h' }), sourceSection.firstChild);
sourceSection.classList.add('panel');
const panels = h('div', { class: 'panels' }, consolePanel, sourceSection);
const intro = h('div', { class: 'intro' });
for (const el of [...app.children]) if (el.matches('h1, p.summary, p.notes, p.engine-notice')) intro.append(el);
const notesEl = /** @type {HTMLElement|null} */ (intro.querySelector('p.notes'));
app.prepend(intro);
const stepBox = h('div', { class: 'step-box' });
intro.after(controls, stepBox, timelinePanel, panels, tableDetails);

// ------------------------------------------------------------------ state

/**
 * Everything the page knows that changes, in one place: which demo and
 * engine, the runs on the timeline and their streams, what the panels
 * follow, and the paint loop's own bookkeeping. Handlers change it and ask
 * for a frame (request()); frame() brings every view in line with it.
 */
const page = {
  /** @type {Demo|null} */ demo: null,
  /** The engine the next run uses. @type {Engine} */ engine: /** @type {Engine} */ ('native'),
  /** @type {EngineSwitch|null} */ engineSwitch: null,
  /** The parameter form of the engine shown. @type {ReturnType<typeof buildParams>|null} */ form: null,
  /** Each engine's form values, kept while the other engine is shown. @type {Map<Engine, Record<string, unknown>>} */ stash: new Map(),
  /** Runs on the timeline (one, or two when comparing). @type {RunModel[]} */ runs: [],
  /** The run the console, source and table follow. @type {RunModel|null} */ active: null,
  /** @type {{close:()=>void}[]} */ streams: [],
  /** Wall-clock arrival of each run's latest event, to let the axis grow between events. @type {number[]} */ lastArrival: [],
  /** Runs started on this page, for their labels. */ runCounter: 0,
  /** What the source panel follows. @type {'live'|'cursor'|'selection'} */ focus: /** @type {'live'|'cursor'|'selection'} */ ('live'),
  /** The run whose program the source panel shows; null: the selected engine's default program. @type {RunModel|null} */ sourceOwner: null,
  editor: {
    /** Why the last Run with the editor's program did not start (the server's words); cleared by the next edit. */
    error: '',
    /** The lesson run whose program the editor last took. @type {RunModel|null} */
    adopted: null,
    /** The editor's text when last looked at, to see an edit. */
    lastValue: '',
  },
  frame: {
    /** A frame is asked for and not drawn yet. */
    pending: false,
    /** A state for the timeline's data-state, set once the frame after it has drawn
     * everything (so whoever waits for "finished" sees the whole run on the page). @type {string|null} */
    stateAfterDraw: null,
    /** The last frame's time, for the replay's clock (0: the loop is idle). */
    last: 0,
  },
  /** What the DOM views last showed, so a frame rebuilds only what changed. */
  drawn: { editor: '', lanes: '', cores: '', coresAt: 0 },
};

function request() {
  if (page.frame.pending) return;
  page.frame.pending = true;
  requestAnimationFrame(frame);
}

const timeline = new Timeline(view, { request, onSelect: (hit) => {
  // In a live stepped run, picking something on a waiting lane steps that lane.
  const picked = hit && 'lane' in hit.item ? /** @type {{lane: import('./model/run.js').Lane}} */ (hit.item).lane : null;
  if (picked && hit?.run.stepped && !hit.run.finished && hit.run.pendingSteps.has(picked.id)) stepPanel.stepLane(picked.tid);
  page.focus = hit ? 'selection' : (replay.cursor !== null ? 'cursor' : 'live');
  if (hit && hit.run !== page.active) setActive(hit.run);
  else if (hit) page.sourceOwner = hit.run; // after an engine switch, picking an event shows its run's program again
  const item = hit?.item;
  consoleView.highlight(item && !('t0' in item) && (item.ev.kind === 'print' || item.ev.kind === 'exception') ? item.ev.seq : null);
} });
const consoleView = new ConsoleView(consoleList, outcome, consoleTitle, { ran: ranOn, notes: runNotesList });
const sourceView = new SourceView(pre, codeBox);
const editor = new Editor(codeBox, { onInput: request });
resetBtn.addEventListener('click', () => {
  editor.reset();
  page.editor.adopted = page.sourceOwner;
  // The lesson's code is the program with its default parameters: the form goes back to them too.
  if (page.demo && page.form) page.form.set(Object.fromEntries(engineView(page.demo, 'cpython').params.map((p) => [p.name, p.default])));
  request();
});
const replay = new Replay(replayBox, { onChange: () => { page.focus = 'cursor'; page.sourceOwner = page.active; request(); } });
const table = new EventTable(tableDetails, (seq) => {
  const run = page.active;
  const item = run?.itemBySeq.get(seq);
  if (!run || !item) return;
  timeline.select({ run, runIndex: page.runs.indexOf(run), item });
  view.focus();
});
tableDetails.addEventListener('toggle', request);
const stepPanel = new StepPanel(stepBox, {
  step: async (tid) => {
    const run = page.active;
    if (!run?.id) return;
    try { await stepRun(run.id, { tid }); } catch (e) { stepPanel.say(e instanceof Error ? e.message : String(e)); }
    request();
  },
  free: async () => {
    const run = page.active;
    if (!run?.id) return;
    try { await stepRun(run.id, { free: true }); } catch (e) { stepPanel.say(e instanceof Error ? e.message : String(e)); }
    request();
  },
  replay: (schedule) => run(false, { mode: 'step', schedule }),
  lineOf: (ev) => {
    // The CPython tracer knows the program's line; a native demo maps its kind to one.
    if (typeof ev.line === 'number') return ev.line;
    const at = typeof ev.at === 'string' ? ev.at : '';
    const map = engineView(/** @type {Demo} */ (page.demo), 'native').sourceLines;
    return map[at] ?? map[at.split(':')[0]] ?? null;
  },
  colorOf: (run, lane) => timeline.laneColor(run, lane),
});
const legend = buildLegend(legendBox);
const kernelNotes = new KernelNotes(notesBox);

/** @param {RunModel} run */
function setActive(run) {
  page.active = run;
  page.sourceOwner = run;
  consoleView.setRun(run);
  table.setRun(run);
}

/** The single paint loop: advance replay and live time, then bring every view up to date. */
function frame(/** @type {number} */ ts) {
  page.frame.pending = false;
  const dt = page.frame.last ? Math.min(ts - page.frame.last, 100) : 16;
  page.frame.last = ts;
  const playing = replay.tick(dt);
  const live = page.runs.some((r) => !r.finished);
  const nowMs = performance.now();
  timeline.now = page.runs.map((r, i) => (r.finished || reduceMotion ? r.endT : r.endT + (nowMs - (page.lastArrival[i] ?? nowMs)) * 1e6));
  timeline.cursor = replay.cursor;
  timeline.draw();
  consoleView.sync(replay.cursor);
  table.sync();
  const cpus = new Set();
  for (const r of page.runs) for (const c of r.cpus) cpus.add(c);
  legend.setCpus([...cpus].sort((a, b) => a - b));
  syncEditing();
  syncSource();
  syncLanes();
  syncCores();
  // Step goes with Run: shown where the server can step this demo (either engine) or the edited program.
  stepBtn.hidden = !(page.demo?.steppable || sendsSource()) || Boolean(document.body.dataset.replay);
  stepBtn.disabled = runBtn.disabled;
  stepPanel.sync();
  kernelNotes.sync(page.runs);
  if (page.frame.stateAfterDraw) {
    view.dataset.state = page.frame.stateAfterDraw;
    page.frame.stateAfterDraw = null;
  }
  if (live || playing) request(); else page.frame.last = 0;
}

/**
 * The program the source panel shows: the owner run's (a CPython run's is the
 * exact program it ran, from its run.start), else the selected engine's.
 * @param {RunModel|null} run
 * @returns {{text: string, map: Record<string, number>, heading: string}}
 */
function programOf(run) {
  if (!page.demo) return { text: '', map: {}, heading: '' };
  if (!run) {
    const v = engineView(page.demo, page.engine);
    return { text: v.source, map: v.sourceLines, heading: v.heading };
  }
  if (run.engine === 'native') {
    const v = engineView(page.demo, 'native');
    // The mirrored Python with this run's values written in (the same lines, so the map holds).
    const text = typeof run.start?.source === 'string' ? run.start.source : v.source;
    return { text, map: v.sourceLines, heading: page.runs.length > 1 ? `${v.heading} · ${run.label}` : v.heading };
  }
  const v = engineView(page.demo, 'cpython');
  const file = run.start?.file ?? v.file;
  const who = run.interpreter || 'CPython';
  if (typeof run.start?.source === 'string') {
    return { text: run.start.source, map: {}, heading: `The Python program ${run.label} ran · ${file} on ${who}` };
  }
  if (run.start) return { text: v.source, map: {}, heading: `${run.label} did not record its program (too long to send); this is ${file} with its default parameters` };
  return { text: v.source, map: {}, heading: v.heading };
}

/** The program a run ran, when the page knows it in full. @param {RunModel} run @returns {string|null} */
function ranProgram(run) {
  if (typeof run.program === 'string') return run.program;
  return typeof run.start?.source === 'string' ? run.start.source : null;
}

/**
 * Whether the program panel is an editor now, and if not, why not in words
 * (empty when there is nothing to explain: the native engine, a replay file,
 * an embed asked for a read-only program).
 * @returns {{on: boolean, why: string}}
 */
function editingState() {
  const c = page.demo?.cpython;
  const body = document.body;
  if (!c || page.engine !== 'cpython' || body.dataset.replay || body.dataset.editable === '0') return { on: false, why: '' };
  if (!c.editing) return { on: false, why: '' }; // a server from before editing
  if (!c.editing.enabled) return { on: false, why: `Editing is off on this server: ${c.editing.reason ?? 'it was turned off'}.`.replace(/\.\.$/, '.') };
  return { on: true, why: '' };
}

/** Run sends the editor's program (not the parameters): it was edited, or scratch has nothing else to run. */
function sendsSource() {
  return editingState().on && (editor.edited || demoName === SCRATCH);
}

/** The editor's bar, message and the parameter form, in step with the editing state. */
function syncEditing() {
  const st = editingState();
  editor.setEditable(st.on);
  // A lesson run shows its program with its parameters written in; while
  // nobody has edited it, the editor holds that program (still not an edit:
  // Run sends the parameters).
  const owner = page.sourceOwner;
  const ran = owner && !owner.edited && owner.engine === 'cpython' ? ranProgram(owner) : null;
  if (st.on && ran !== null && owner !== page.editor.adopted) {
    // Once per run: after Reset, the lesson's own program stays.
    page.editor.adopted = owner;
    if (!editor.edited && editor.value !== ran) {
      editor.base = ran;
      editor.setValue(ran);
    }
  }
  if (editor.value !== page.editor.lastValue) { page.editor.lastValue = editor.value; page.editor.error = ''; }
  const sending = sendsSource();
  const run = marksRun();
  const syntax = run?.exceptions.find((e) => /^(SyntaxError|IndentationError|TabError)$/.test(String(e.type)));
  const message = page.editor.error
    || (syntax ? `The program did not compile, so none of it ran: ${syntaxText(syntax)}.` : '')
    || st.why;
  const key = JSON.stringify([st.on, editor.edited, editor.atLesson, sending, message, page.form ? fieldsBox.childElementCount : 0]);
  if (key === page.drawn.editor) return;
  page.drawn.editor = key;
  editorBar.hidden = !st.on;
  resetBtn.toggleAttribute('disabled', editor.atLesson);
  editedBadge.hidden = !editor.edited;
  editorMsg.textContent = message;
  editorMsg.classList.toggle('bad', Boolean(page.editor.error || syntax));
  editorMsg.hidden = message === '';
  paramsNote.hidden = !sending || demoName === SCRATCH;
  for (const el of fieldsBox.querySelectorAll('input, select')) /** @type {HTMLInputElement} */ (el).disabled = sending;
  fieldsBox.classList.toggle('fields-off', sending);
  compareBtn.title = sending ? 'Run the program in the editor once more and show both runs on one time scale'
    : 'Run once more with the current parameters and show both runs on one time scale';
}

/**
 * A syntax error in words. CPython's message already names the file and
 * line ("… (process.py, line 2)"): said once, as the editor's line.
 * @param {import('./model/run.js').FlEvent} ev
 */
function syntaxText(ev) {
  const message = String(ev.message ?? '').replace(/ \([^()]*, line \d+\)$/, '');
  return `${exceptionText({ ...ev, message })}`;
}

/**
 * The run whose current line and raised lines the panel marks: the one it
 * follows, unless the editor now holds another program than that run ran
 * (a lesson run with other parameters ran the same lines, so it counts).
 */
function marksRun() {
  const run = page.sourceOwner;
  if (!run || !editor.editable) return run;
  const ran = ranProgram(run);
  if (ran === editor.value || (!run.edited && !editor.edited)) return run;
  return null;
}

function syncSource() {
  const program = editor.editable
    ? { text: editor.value, map: {}, heading: editorHeading() }
    : programOf(page.sourceOwner);
  const run = marksRun();
  sourceView.setProgram(program.text, program.map);
  if (sourceHeading.textContent !== program.heading) sourceHeading.textContent = program.heading;
  /** @type {Map<number, string>} */
  const raised = new Map();
  for (const e of run?.exceptions ?? []) {
    if (replay.cursor !== null && e.t > replay.cursor) continue;
    if (typeof e.line === 'number' && e.line > 0) raised.set(e.line, `${e.type ?? 'Exception'}${e.message ? `: ${e.message}` : ''}`);
  }
  sourceView.markRaised(raised);
  sourceView.markLanes(run && replay.cursor !== null ? laneLines(run, replay.cursor) : []);
  if (!run) { sourceView.highlight(0); return; }
  let ev = null;
  const sel = timeline.selected;
  if (page.focus === 'selection' && sel) {
    const it = sel.item;
    ev = 't0' in it ? it.begin : it.ev;
  } else if (replay.cursor !== null) {
    // the latest event up to the cursor that the program has a line for
    const bt = run.byTime();
    for (let i = bt.length - 1; i >= 0; i--) {
      if (bt[i].t > replay.cursor) continue;
      if (sourceView.lineFor(bt[i])) { ev = bt[i]; break; }
    }
  } else if (!run.finished) {
    const evs = run.events;
    for (let i = evs.length - 1; i >= Math.max(0, evs.length - 50); i--) if (sourceView.lineFor(evs[i])) { ev = evs[i]; break; }
  }
  sourceView.highlight(sourceView.lineFor(ev));
}

/**
 * Every live lane's current line at the replay cursor: the line of its latest
 * event up to there that the program has a line for. A lane not started yet,
 * or already exited, is on no line.
 * @param {RunModel} run @param {number} cursor
 */
function laneLines(run, cursor) {
  /** @type {{line:number, lane:string, name:string, label:string, color:string}[]} */
  const out = [];
  const open = new Map();
  for (const l of run.lanes()) {
    if ((l.alive && l.alive.t0 > cursor) || (l.exitT !== null && l.exitT < cursor)) continue;
    open.set(l.id, l);
  }
  const bt = run.byTime();
  for (let i = bt.length - 1; i >= 0 && open.size; i--) {
    const e = bt[i];
    if (e.t > cursor) continue;
    const id = run.laneIdOf(e.pid, e.tid);
    const lane = open.get(id);
    if (!lane) continue;
    const line = sourceView.lineFor(e);
    if (!line) continue;
    open.delete(id);
    out.push({ line, lane: id, name: lane.name, label: RunModel.laneLabel(lane), color: timeline.laneColor(run, lane) });
  }
  // In lane order, as the timeline stacks them.
  const order = run.lanes().map((l) => l.id);
  return out.sort((a, b) => order.indexOf(a.lane) - order.indexOf(b.lane));
}

/** The panel's heading while it is an editor. */
function editorHeading() {
  if (!page.demo) return '';
  const v = engineView(page.demo, 'cpython');
  const where = page.demo.cpython?.editing?.interpreter ?? 'CPython';
  if (demoName === SCRATCH) return `Your program · ${v.file} · runs on ${where}, sandboxed`;
  if (editor.edited) return `Your version of ${v.file} · runs on ${where}, sandboxed`;
  return `${v.heading} · edit it and press Run`;
}

/** The lanes as a list, for screen readers (and tests): the canvas itself is opaque. */
function syncLanes() {
  const items = [];
  for (const r of page.runs) for (const l of r.lanes()) items.push([r.label, RunModel.laneLabel(l), l.depth, l.type]);
  const key = JSON.stringify(items);
  if (key === page.drawn.lanes) return;
  page.drawn.lanes = key;
  lanesList.replaceChildren(...items.map(([run, label, depth, type]) => {
    const li = h('li', { 'data-depth': String(depth), 'data-type': String(type) });
    li.textContent = `${page.runs.length > 1 ? `${run}: ` : ''}${'  '.repeat(Number(depth))}${label}`;
    return li;
  }));
  empty.hidden = items.length > 0;
}

/** The per-core view as a list, for screen readers (and tests): each CPU and the threads it had. */
function syncCores() {
  const vkey = `${timeline.byCore}|${page.runs.map((r) => `${r.label}:${r.version}`).join('|')}`;
  if (vkey === page.drawn.cores) return;
  // While a run streams, a refresh twice a second is plenty for a hidden list.
  if (page.runs.some((r) => !r.finished) && performance.now() - page.drawn.coresAt < 500) return;
  page.drawn.cores = vkey;
  page.drawn.coresAt = performance.now();
  const items = [];
  if (timeline.byCore) {
    for (const r of page.runs) {
      for (const cpu of r.coreList()) {
        const core = /** @type {import('./model/run.js').Core} */ (r.cores().get(cpu));
        const who = new Set([...core.slices, ...core.open].map((s) => RunModel.laneLabel(s.lane)));
        items.push(h('li', { 'data-cpu': String(cpu), text: `${page.runs.length > 1 ? `${r.label}: ` : ''}CPU ${cpu}: ${[...who].join(', ')}` }));
      }
    }
  }
  coresList.replaceChildren(...items);
}

function renderRunsList() {
  runsList.replaceChildren(...page.runs.map((r) => {
    const o = r.end?.outcome;
    const li = h('li', { class: `run-item ${o ? `outcome-${o}` : 'running'}`, 'data-engine': r.engine });
    li.append(h('strong', { text: r.label }), ' ', h('span', { class: 'run-engine', text: r.engineText() }),
      ` · ${r.edited ? 'edited program' : page.form?.summary(/** @type {Record<string, unknown>} */ (r.params ?? {})) ?? ''} · `,
      h('span', { class: 'run-outcome', text: r.finished ? r.outcomeText() : 'running…' }));
    return li;
  }));
}

// ------------------------------------------------------------------ running

/**
 * @param {boolean} compare  keep the previous run and stack the new one under it
 * @param {{mode?:'step', schedule?:{steps:string[], free:boolean}}} [stepping]  a stepped run (native engine)
 */
async function run(compare, stepping = {}) {
  if (!page.demo || !page.form) return;
  // Modules beside this one (predict.js) may hold a run back: they cancel
  // this event and press Run again when they are ready.
  if (!document.dispatchEvent(new CustomEvent('forkline:before-run', { cancelable: true, detail: { compare } }))) return;
  formError.textContent = '';
  const source = sendsSource() ? editor.value : null;
  /** @type {Record<string, unknown>} */
  let params = {};
  if (source === null) {
    if (demoName === SCRATCH) { status.textContent = 'Scratch runs only a program of your own, and editing is not available here.'; return; }
    const read = page.form.read();
    if (!read.ok) { status.textContent = 'Fix the highlighted parameter first.'; return; }
    params = read.params;
  } else {
    const max = page.demo.cpython?.editing?.max_source_bytes ?? Infinity;
    const bytes = new TextEncoder().encode(source).length;
    if (bytes > max) {
      page.editor.error = `The program is ${bytes.toLocaleString('en')} bytes; this server runs programs of at most ${max.toLocaleString('en')} bytes.`;
      status.textContent = 'The run did not start.';
      request();
      return;
    }
  }
  runBtn.setAttribute('disabled', '');
  compareBtn.setAttribute('disabled', '');
  status.textContent = 'Starting…';
  /** @type {import('./api.js').RunRef} */
  let ref;
  // Edited programs run on the sandbox's own interpreter: the server picks it.
  const chosen = { ...(source === null ? { engine: page.engine, python: page.engineSwitch?.python ?? '' } : { engine: page.engine, source }), ...stepping };
  try {
    ref = await startRun(page.demo.name, params, chosen);
    ref.stepped = Boolean(stepping.mode);
  } catch (e) {
    const err = e instanceof ApiError ? e : null;
    const msg = err ? err.message : `Could not reach the server (${e})`;
    if (source !== null && err) { page.editor.error = `The server did not run this program: ${msg}.`.replace(/\.\.$/, '.'); request(); }
    else if (!err || !page.form.showServerError(err.field, msg)) formError.textContent = msg;
    status.textContent = err && err.status === 422 && source === null ? 'The server refused a parameter.' : 'The run did not start.';
    runBtn.removeAttribute('disabled');
    compareBtn.removeAttribute('disabled');
    return;
  }
  follow(ref, params, compare, chosen.engine,
    source === null ? interpreterLabel(chosen.python ?? '') : (page.demo.cpython?.editing?.interpreter ?? ''), source);
}

/** The label of an offered interpreter (the default's for ''). @param {string} id */
function interpreterLabel(id) {
  const list = page.demo?.cpython?.interpreters ?? [];
  return (list.find((i) => i.id === id) ?? list[0])?.label ?? '';
}

/**
 * Show a run's events as they stream in (a new run, or a recorded one from a
 * permalink: the server replays a finished log in full).
 * @param {import('./api.js').RunRef} ref @param {Record<string, unknown>} params @param {boolean} compare
 * @param {Engine} runEngine @param {string} [interpreter]  the run's engine (its run.start confirms it)
 * @param {string|null} [program]  the edited program it runs, if it was edited
 */
function follow(ref, params, compare, runEngine, interpreter = '', program = null) {
  // A replay file runs nothing: pressing Run there plays the recording again.
  const label = document.body.dataset.replay ? `Replay ${++page.runCounter}` : `Run ${++page.runCounter}`;
  const model = new RunModel({ label, params, engine: runEngine, interpreter });
  model.id = ref.id;
  model.edited = program !== null;
  model.program = program;
  if (!compare) {
    for (const s of page.streams) s.close();
    page.streams = [];
    page.runs = [model];
    page.lastArrival = [performance.now()];
  } else {
    if (page.runs.length >= 2) { page.runs.shift(); page.lastArrival.shift(); page.streams.shift()?.close(); }
    page.runs.push(model);
    page.lastArrival.push(performance.now());
  }
  replay.setEnabled(false);
  page.focus = 'live';
  timeline.setRuns(page.runs);
  setActive(model);
  if (ref.stepped) model.stepped = true;
  stepPanel.follow(model);
  view.dataset.runId = ref.id;
  view.dataset.state = 'running';
  page.frame.stateAfterDraw = null;
  renderRunsList();
  stopBtn.hidden = false;
  status.textContent = `Running ${model.label}…`;
  // On a phone or in a small iframe the timeline can be below the fold: bring it up.
  const top = timelinePanel.getBoundingClientRect().top;
  if (top > innerHeight * 0.6) timelinePanel.scrollIntoView({ block: 'start', behavior: reduceMotion ? 'auto' : 'smooth' });
  const stream = streamEvents(ref.events_url, (ev) => {
    model.add(ev);
    page.lastArrival[page.runs.indexOf(model)] = performance.now();
    if (ev.kind === 'run.end' || ev.kind === 'proc.start' || ev.kind === 'thread.start') renderRunsList();
    if (ev.kind === 'run.end') finished(model);
    request();
  }, (msg) => { if (!model.finished) status.textContent = `${model.label}: ${msg}`; },
  ({ position, waiting }) => {
    if (!model.finished && model.events.length === 0) {
      status.textContent = `${model.label} is waiting in line: place ${position} of ${waiting}. It starts when a slot frees up.`;
    }
  });
  page.streams.push(stream);
  request();
}

/** @param {RunModel} model */
function finished(model) {
  const allDone = page.runs.every((r) => r.finished);
  if (allDone) {
    stopBtn.hidden = true;
    runBtn.removeAttribute('disabled');
    compareBtn.removeAttribute('disabled');
    page.frame.stateAfterDraw = 'finished';
    request();
    replay.setEnd(Math.max(...page.runs.map((r) => r.endT)));
  }
  status.textContent = `${model.label} ${model.end?.outcome === 'ok' ? 'finished' : `ended: ${model.end?.outcome}`} · ${model.events.length} events`;
  document.dispatchEvent(new CustomEvent('forkline:run-finished', { detail: { id: model.id, label: model.label, engine: model.engine } }));
}

form.addEventListener('submit', (e) => { e.preventDefault(); run(false); });
compareBtn.addEventListener('click', () => run(true));
stepBtn.addEventListener('click', () => run(false, { mode: 'step' }));
stopBtn.addEventListener('click', async () => {
  status.textContent = 'Stopping…';
  for (const r of page.runs) {
    if (r.finished || !r.id) continue;
    try { await cancelRun(r.id); } catch (e) { status.textContent = `Could not stop ${r.label}: ${e instanceof Error ? e.message : e}`; }
  }
});
zoomIn.addEventListener('click', () => timeline.zoom(0.67));
zoomOut.addEventListener('click', () => timeline.zoom(1.5));
panL.addEventListener('click', () => timeline.pan(-0.15));
panR.addEventListener('click', () => timeline.pan(0.15));
fitBtn.addEventListener('click', () => timeline.fit());
byCoreBtn.addEventListener('click', () => {
  const on = byCoreBtn.getAttribute('aria-pressed') !== 'true';
  byCoreBtn.setAttribute('aria-pressed', String(on));
  timeline.setByCore(on);
});
addEventListener('resize', request);
// The tooltip is fixed to the viewport: any scroll moves what it points at.
addEventListener('scroll', request, { passive: true, capture: true });

// ------------------------------------------------------------------ start

async function init() {
  runBtn.setAttribute('disabled', '');
  compareBtn.setAttribute('disabled', '');
  status.textContent = 'Loading the demo…';
  try {
    const demos = await fetchDemos();
    page.demo = demos.find((d) => d.name === demoName) ?? null;
  } catch (e) {
    status.textContent = `Could not load the demo list: ${e instanceof Error ? e.message : e}`;
    return;
  }
  if (!page.demo) { status.textContent = `No demo called “${demoName}”.`; return; }
  const d = page.demo;
  editor.lesson = editor.base = d.cpython?.source ?? '';
  editor.setValue(editor.lesson);
  page.editor.lastValue = editor.value;
  resetBtn.textContent = demoName === SCRATCH ? 'Reset to the starting program' : 'Reset to the lesson’s code';
  page.engine = initialEngine(d, document.body.dataset.engine);
  page.engineSwitch = new EngineSwitch(d, { engine: page.engine, python: document.body.dataset.python, onChange: (e) => switchEngine(e) });
  engineSlot.replaceChildren(page.engineSwitch.el);
  engineSlot.parentElement?.after(page.engineSwitch.why);
  showEngine(null);
  runBtn.removeAttribute('disabled');
  compareBtn.removeAttribute('disabled');
  status.textContent = 'Ready.';
  document.body.dataset.ready = 'true';
  request();
  await applyPageSettings();
}

/**
 * Settings the server put on <body>: `data-run` (a permalink or replay file:
 * show that recorded run), `data-params` (an embed's preset parameters) and
 * `data-autorun` (an embed that runs at once).
 */
async function applyPageSettings() {
  const body = document.body;
  if (body.dataset.run) {
    try {
      const recorded = await fetchRun(body.dataset.run);
      const runEngine = recorded.engine === 'cpython' ? 'cpython' : 'native';
      // A replay file runs nothing: its switch only names the recorded engine.
      if (body.dataset.replay) page.engineSwitch?.fix(runEngine);
      if (runEngine !== page.engine) {
        page.engine = runEngine;
        page.engineSwitch?.set(runEngine, recorded.python ?? '');
        showEngine(null, { keepUrl: true });
      } else page.engineSwitch?.set(runEngine, recorded.python ?? '');
      const program = runEngine === 'cpython' && typeof recorded.source === 'string' ? recorded.source : null;
      // An edited run's page holds its program in the editor, to change further (Reset: the lesson's).
      if (program !== null) editor.setValue(program); else page.form?.set(recorded.params ?? {});
      runBtn.setAttribute('disabled', '');
      compareBtn.setAttribute('disabled', '');
      follow({ id: recorded.id, events_url: `/api/runs/${encodeURIComponent(recorded.id)}/events` }, recorded.params ?? {}, false,
        runEngine, runEngine === 'cpython' ? (program !== null ? page.demo?.cpython?.editing?.interpreter ?? '' : interpreterLabel(recorded.python ?? '')) : '', program);
      status.textContent = 'Replaying a recorded run.';
    } catch (e) {
      status.textContent = `Could not load that run: ${e instanceof Error ? e.message : e}`;
    }
    return;
  }
  if (body.dataset.params) {
    try { page.form?.set(JSON.parse(body.dataset.params)); } catch { /* the server rendered it; nothing to preset if not */ }
  }
  if (body.dataset.autorun === '1') run(false);
}

// ------------------------------------------------------------------ engines

/** The user picked an engine (or interpreter) with the switch. @param {Engine} next */
function switchEngine(next) {
  if (!page.demo || !page.form) return;
  const prev = page.engine;
  const values = page.form.values();
  page.stash.set(prev, values);
  page.engine = next;
  showEngine(prev === next ? null : sameMeaning(values, engineView(page.demo, prev).params, engineView(page.demo, next).params));
  // What the URL asked for and could not have is no longer the question.
  document.getElementById('engine-notice')?.setAttribute('hidden', '');
  const named = next === 'cpython' ? interpreterLabel(page.engineSwitch?.python ?? '') || 'CPython' : 'Native';
  status.textContent = `Engine: ${named}. The next run uses it.`;
}

/**
 * The values worth carrying to the other engine's form: those of parameters
 * both engines define alike (same type, default and bounds). A name alone
 * proves little: `gil`'s `work` is 400 units natively and 20,000,000 steps
 * under CPython.
 * @param {Record<string, unknown>} values @param {import('./api.js').ParamSpec[]} from @param {import('./api.js').ParamSpec[]} to
 */
function sameMeaning(values, from, to) {
  const key = (/** @type {import('./api.js').ParamSpec} */ p) => JSON.stringify([p.type, p.default, p.min, p.max, p.min_len, p.max_len, p.options]);
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const p of to) {
    const q = from.find((f) => f.name === p.name);
    if (q && key(p) === key(q) && p.name in values) out[p.name] = values[p.name];
  }
  return out;
}

/**
 * Bring the form, notes and program in line with the selected engine.
 * @param {Record<string, unknown>|null} carry  values of the engine shown before, kept where this one has the same parameter
 * @param {{keepUrl?: boolean}} [opts]
 */
function showEngine(carry, opts = {}) {
  if (!page.demo) return;
  const v = engineView(page.demo, page.engine);
  if (v.params.length || page.engine === 'native' || page.demo.cpython) page.form = buildParams(fieldsBox, v.params);
  else {
    // A recorded CPython run in a file made without the CPython catalog: show its parameters as text.
    page.form = buildParams(fieldsBox, []);
    fieldsBox.replaceChildren(h('p', { class: 'muted', text: 'Recorded under the CPython engine; its parameters are listed with the run below.' }));
  }
  const kept = page.stash.get(page.engine);
  if (kept) page.form.set(kept);
  if (carry) page.form.set(carry);
  sourceView.setMap(v.sourceLines);
  if (notesEl) {
    notesEl.textContent = v.notes;
    notesEl.hidden = v.notes === '';
    notesEl.dataset.engine = page.engine;
  }
  // The panel shows this engine's program until a run is picked again.
  page.sourceOwner = null;
  document.body.dataset.engineShown = page.engine;
  if (!opts.keepUrl) syncUrl();
  document.dispatchEvent(new CustomEvent('forkline:engine', { detail: { engine: page.engine, python: page.engineSwitch?.python ?? '' } }));
  request();
}

/** Put the engine into the page's address, so a reload or a copied link keeps it. */
function syncUrl() {
  const body = document.body;
  if (body.dataset.run || body.dataset.embed || body.dataset.replay || !/^https?:$/.test(location.protocol)) return;
  const url = new URL(location.href);
  putEngine(url.searchParams, page.engine, page.engineSwitch?.python ?? '');
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}

init();

// For the browser tests and curious students: the live models, read-only in spirit.
Object.defineProperty(window, 'forkline', { value: { get runs() { return page.runs; }, get demo() { return page.demo; }, get engine() { return page.engine; }, timeline, firstSeq } });

// stepper.js — "You are the scheduler": the panel of a stepped run. Each
// process and thread of the run is a button, in the timeline's lane order,
// saying what it will do next and on which line of the program; pressing one
// (or its number key) lets exactly that one perform its next operation on
// the real processes. A lane that cannot go says why: it is running, waits
// for a lock another lane holds (and which), waits in the kernel, or is done.
// When the run has ended, its recorded schedule can be played again.
//
// It reads the run's model and the server's answers; app.js starts the runs
// and passes steps on to the API.

import { h } from './dom.js';
import { RunModel } from './model/run.js';

/** @typedef {import('./model/run.js').RunModel} Model */

export class StepPanel {
  /**
   * @param {HTMLElement} box  where the panel goes
   * @param {{step: (tid:number) => Promise<void>, free: () => Promise<void>,
   *          replay: (schedule:{steps:string[], free:boolean}) => void,
   *          lineOf: (ev: Record<string, unknown>) => number|null,
   *          colorOf: (run: Model, lane: import('./model/run.js').Lane) => string}} actions
   */
  constructor(box, actions) {
    this.actions = actions;
    /** @type {Model|null} */ this.run = null;
    this.busy = false;
    this.message = '';
    this.drawn = '';
    this.heading = h('h2', { id: 'step-h', text: 'You are the scheduler' });
    this.help = h('p', { class: 'step-help', id: 'step-help' },
      'Every process and thread waits before each operation until you let it go: press a lane below, or its number key. ',
      'Between two of your steps a lane runs only up to its next operation.');
    this.list = h('ol', { class: 'step-lanes', id: 'step-lanes', 'aria-label': 'Lanes to step' });
    this.note = h('p', { class: 'step-message', id: 'step-message', role: 'status', 'aria-live': 'polite' });
    this.freeBtn = h('button', { type: 'button', class: 'btn', id: 'step-free', text: 'Run freely',
      title: 'Let every process and thread run on without waiting for steps' });
    this.replayBtn = h('button', { type: 'button', class: 'btn', id: 'step-replay', text: 'Play my interleaving again',
      title: 'A new run, stepped exactly as this one was' });
    this.freeBtn.addEventListener('click', () => this._do(() => this.actions.free()));
    this.replayBtn.addEventListener('click', () => {
      const s = this.run?.schedule;
      if (s) this.actions.replay({ steps: /** @type {string[]} */ (s.steps), free: Boolean(s.free) });
    });
    this.panel = h('section', { class: 'panel stepper', id: 'stepper', 'aria-labelledby': 'step-h' },
      this.heading, this.help, this.list, h('div', { class: 'actions' }, this.freeBtn, this.replayBtn), this.note);
    this.panel.hidden = true;
    box.append(this.panel);
    addEventListener('keydown', (e) => {
      if (this.panel.hidden || !this.run || this.run.finished || e.altKey || e.ctrlKey || e.metaKey) return;
      const target = /** @type {HTMLElement|null} */ (e.target);
      if (target?.closest('input, textarea, select, [contenteditable]')) return;
      const n = Number(e.key);
      if (!Number.isInteger(n) || n < 1 || n > 9) return;
      const button = /** @type {HTMLButtonElement|undefined} */ (this.list.querySelectorAll('button')[n - 1]);
      if (button && !button.disabled) { e.preventDefault(); button.click(); }
    });
  }

  /** Follows `run`: the panel shows while it is a stepped one. @param {Model|null} run */
  follow(run) {
    this.run = run;
    this.message = '';
    this.drawn = '';
  }

  /** Steps one lane, as its button would. @param {number} tid */
  stepLane(tid) {
    this._do(() => this.actions.step(tid));
  }

  /** The server refused a step: say why, in its words. @param {string} text */
  say(text) {
    this.message = text;
    this.drawn = '';
  }

  /** @param {() => Promise<void>} act */
  async _do(act) {
    if (this.busy) return;
    this.busy = true;
    this.message = '';
    this.drawn = '';
    try { await act(); } catch (e) { this.message = e instanceof Error ? e.message : String(e); }
    this.busy = false;
    this.drawn = '';
  }

  /** Brings the panel in line with the run; cheap when nothing changed. */
  sync() {
    const run = this.run;
    this.panel.hidden = !run?.stepped;
    if (!run?.stepped) return;
    const key = `${run.version}|${this.busy}|${this.message}`;
    if (key === this.drawn) return;
    this.drawn = key;
    const lanes = run.lanes().filter((l) => l.type === 'proc' || l.type === 'thread');
    const done = run.finished;
    const items = lanes.map((lane, i) => {
      const state = laneState(run, lane);
      const line = state.pending ? this.actions.lineOf(/** @type {Record<string, unknown>} */ (state.pending)) : null;
      const what = state.pending ? `next: ${state.pending.op}${line ? ` (line ${line})` : ''}` : state.text;
      // Set through the CSSOM: a style attribute would break the page's CSP.
      const swatch = h('span', { class: 'swatch' });
      swatch.style.background = this.actions.colorOf(run, lane);
      const button = /** @type {HTMLButtonElement} */ (h('button', {
        type: 'button', class: 'btn step-lane', 'data-lane': lane.id, 'data-tid': String(lane.tid),
        'aria-keyshortcuts': i < 9 ? String(i + 1) : '',
      },
      swatch,
      h('kbd', { text: i < 9 ? String(i + 1) : '' }),
      h('strong', { text: RunModel.laneLabel(lane) }), ' ', h('span', { class: 'step-what', text: what })));
      button.disabled = done || !state.pending || this.busy;
      button.addEventListener('click', () => this.stepLane(lane.tid));
      return h('li', { 'data-state': state.pending ? 'pending' : state.kind }, button);
    });
    this.list.replaceChildren(...items);
    const steps = run.schedule ? /** @type {string[]} */ (run.schedule.steps).length : run.stepsTaken;
    this.freeBtn.hidden = done;
    this.freeBtn.disabled = this.busy;
    // An offline replay file runs nothing: it can only show the steps taken.
    this.replayBtn.hidden = !done || !run.schedule || Boolean(document.body.dataset.replay);
    const ended = done ? `The run ended after ${steps} step${steps === 1 ? '' : 's'}${run.schedule?.free ? ', then ran freely' : ''}.` : '';
    const cycle = done ? null : lockCycle(run);
    this.panel.dataset.state = cycle ? 'deadlock' : done ? 'ended' : 'stepping';
    const stuck = cycle ? `Deadlock: ${cycle.map(({ lane, lock, holder }) => `${RunModel.laneLabel(lane)} waits for ${lock}, which ${RunModel.laneLabel(holder)} holds`).join('; ')}. No step can end it: press Stop.` : '';
    this.note.textContent = this.message || stuck || ended;
    this.note.classList.toggle('bad', this.message !== '' || cycle !== null);
  }
}

/**
 * Lanes that wait for each other's locks, if any: each waits for a lock the
 * next one holds, and the last for one the first holds.
 * @param {Model} run
 * @returns {{lane: import('./model/run.js').Lane, lock: string, holder: import('./model/run.js').Lane}[]|null}
 */
export function lockCycle(run) {
  for (const start of run.lanes()) {
    /** @type {{lane: import('./model/run.js').Lane, lock: string, holder: import('./model/run.js').Lane}[]} */
    const path = [];
    let lane = start;
    for (;;) {
      const lock = run.lockWaitOf(lane.id);
      const holder = lock ? run.lockHolder(lock) : null;
      if (!lock || !holder || path.some((p) => p.lane === lane)) break;
      path.push({ lane, lock, holder });
      if (holder === start) return path;
      lane = holder;
    }
  }
  return null;
}

/**
 * What a lane is doing in a stepped run: waiting at its gate (with what it
 * will do), or why it cannot be stepped now.
 * @param {Model} run @param {import('./model/run.js').Lane} lane
 * @returns {{pending: Record<string, any>|null, kind: string, text: string}}
 */
export function laneState(run, lane) {
  const pending = run.pendingSteps.get(lane.id) ?? null;
  if (pending) return { pending, kind: 'pending', text: '' };
  if (lane.exitT !== null) return { pending: null, kind: 'done', text: 'done' };
  const lock = run.lockWaitOf(lane.id);
  if (lock) {
    const holder = run.lockHolder(lock);
    return { pending: null, kind: 'blocked', text: holder ? `waiting for ${lock}, which ${RunModel.laneLabel(holder)} holds` : `waiting for ${lock}` };
  }
  return { pending: null, kind: 'running', text: run.finished ? '' : 'running, or waiting in the kernel' };
}

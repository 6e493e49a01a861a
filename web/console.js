// console.js — the run's output as the lesson prints it: the `print` events'
// text in order, each line labelled with the process that printed it, then the
// outcome in words. Kept separate so replay can show only the lines printed
// up to the scrubber, and selection can point at the line an event printed.

import { RunModel } from './model.js';

export class ConsoleView {
  /** @param {HTMLOListElement} list @param {HTMLElement} outcome @param {HTMLElement} title */
  constructor(list, outcome, title) {
    this.list = list;
    this.outcome = outcome;
    this.title = title;
    /** @type {RunModel|null} */ this.run = null;
    this.rendered = 0;
    this.shown = 0;
    this.endShown = false;
    /** @type {number|null} */ this.highlighted = null;
    this.reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /** @param {RunModel|null} run */
  setRun(run) {
    if (run === this.run) return;
    this.run = run;
    this.list.replaceChildren();
    this.rendered = 0;
    this.shown = 0;
    this.endShown = false;
    this.outcome.textContent = '';
    this.outcome.className = 'outcome';
    this.title.textContent = run ? `Output · ${run.label}` : 'Output';
  }

  /**
   * Bring the DOM up to date with the run; with a replay cursor only lines
   * printed at or before it are visible.
   * @param {number|null} cursor
   */
  sync(cursor) {
    const run = this.run;
    if (!run) return;
    const prints = run.prints;
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    for (; this.rendered < prints.length; this.rendered++) {
      const { ev, lane } = prints[this.rendered];
      const li = document.createElement('li');
      li.dataset.seq = String(ev.seq);
      li.dataset.pid = String(ev.pid);
      li.dataset.t = String(ev.t);
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = RunModel.laneLabel(lane);
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = String(ev.text ?? '');
      li.append(who, text);
      this.list.append(li);
    }
    // show/hide only the lines whose side of the cursor changed
    let want = prints.length;
    if (cursor !== null) want = prints.filter((p) => p.ev.t <= cursor).length;
    const items = this.list.children;
    if (want !== this.shown || items.length !== this.shown) {
      for (let i = 0; i < items.length; i++) /** @type {HTMLElement} */ (items[i]).hidden = i >= want;
      this.shown = want;
    }
    const ended = run.finished && (cursor === null || cursor >= run.endT);
    if (ended !== this.endShown) {
      this.endShown = ended;
      if (ended) {
        const o = run.end?.outcome ?? 'ok';
        this.outcome.className = `outcome outcome-${o}`;
        this.outcome.textContent = run.outcomeText();
        this.outcome.dataset.outcome = o;
      } else {
        this.outcome.textContent = '';
        this.outcome.className = 'outcome';
        delete this.outcome.dataset.outcome;
      }
    }
    if (atBottom && cursor === null) this.list.scrollTop = this.list.scrollHeight;
  }

  /** Mark the line an event printed (null clears). @param {number|null} seq */
  highlight(seq) {
    if (seq === this.highlighted) return;
    this.list.querySelector('li.selected')?.classList.remove('selected');
    this.highlighted = seq;
    if (seq === null) return;
    const li = this.list.querySelector(`li[data-seq="${seq}"]`);
    if (li) {
      li.classList.add('selected');
      scrollWithin(this.list, /** @type {HTMLElement} */ (li), this.reduceMotion);
    }
  }
}

/** Scroll a box so a child is visible, without scrolling the page around it. */
export function scrollWithin(/** @type {HTMLElement} */ box, /** @type {HTMLElement} */ child, /** @type {boolean} */ instant) {
  const top = child.offsetTop - box.offsetTop;
  if (top < box.scrollTop || top + child.offsetHeight > box.scrollTop + box.clientHeight) {
    box.scrollTo({ top: Math.max(0, top - box.clientHeight / 3), behavior: instant ? 'auto' : 'smooth' });
  }
}

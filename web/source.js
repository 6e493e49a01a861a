// source.js — the Python program the demo mirrors, with the line that
// produced the current event highlighted. Demos declare which line belongs to
// which event kind (`source_lines`: "kind" or "kind:phase" → 1-based line);
// without that map the source is simply shown.

import { scrollWithin } from './console.js';

export class SourceView {
  /** @param {HTMLElement} pre  the `#source` element, holding the program as text */
  constructor(pre) {
    this.pre = pre;
    const code = pre.querySelector('code') ?? pre;
    const text = code.textContent ?? '';
    const lines = text.replace(/\n$/, '').split('\n');
    code.replaceChildren(...lines.map((l, i) => {
      const span = document.createElement('span');
      span.className = 'line';
      span.dataset.line = String(i + 1);
      span.textContent = l + '\n';
      return span;
    }));
    /** @type {HTMLElement[]} */
    this.lines = [...code.querySelectorAll('span.line')].map((e) => /** @type {HTMLElement} */ (e));
    /** @type {Record<string, number>} */ this.map = {};
    this.current = 0;
    this.reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
  }

  /** @param {Record<string, number>|undefined} map */
  setMap(map) { this.map = map ?? {}; }

  /** The line an event belongs to, or 0. @param {import('./model.js').FlEvent|null} ev */
  lineFor(ev) {
    if (!ev) return 0;
    const sub = ev.phase ?? ev.op;
    return (sub != null && this.map[`${ev.kind}:${sub}`]) || this.map[ev.kind] || 0;
  }

  /** @param {number} line  0 clears */
  highlight(line) {
    if (line === this.current) return;
    this.lines[this.current - 1]?.classList.remove('current');
    this.current = line;
    this.pre.dataset.currentLine = String(line);
    const el = this.lines[line - 1];
    if (el) {
      el.classList.add('current');
      scrollWithin(this.pre, el, this.reduceMotion);
    }
  }
}

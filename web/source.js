// source.js — the Python program of the run being looked at, with the line
// that produced the current event highlighted. Native demos declare which
// line belongs to which event kind (`source_lines`: "kind" or "kind:phase" →
// 1-based line); an event that names its own line (a CPython run's
// `exception`) is shown at that line; without either the program is simply
// shown. Lines that raised an uncaught exception stay marked. While a run is
// replayed, every live process's and thread's own current line is marked in
// its lane's colour, with a tag naming the lane (so colour is never the only
// cue), since several lanes run different lines at once. The program is
// drawn with Python highlighting; under the editor (editor.js) this same
// layer is what the student sees through the transparent textarea.

import { scrollWithin } from './console.js';
import { highlightLines } from './pyhighlight.js';

export class SourceView {
  /**
   * @param {HTMLElement} pre  the `#source` element, holding the program as text
   * @param {HTMLElement} [scroller]  the box that scrolls it (the editor's, which holds the textarea too)
   */
  constructor(pre, scroller = pre) {
    this.pre = pre;
    this.scroller = scroller;
    this.code = pre.querySelector('code') ?? pre;
    /** @type {HTMLElement[]} */ this.lines = [];
    /** @type {Record<string, number>} */ this.map = {};
    this.current = 0;
    /** @type {Map<number, string>} line → what it raised */ this.raised = new Map();
    /** @type {string} what markLanes last drew, to skip a frame that changes nothing */ this.lanesKey = '';
    /** @type {number[]} the lines markLanes marked */ this.laneLines = [];
    this.text = '';
    this.reduceMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
    this.setProgram(this.code.textContent ?? '');
  }

  /**
   * Show a program (a no-op when it is the one shown).
   * @param {string} text @param {Record<string, number>} [map]
   */
  setProgram(text, map) {
    if (map) this.map = map;
    if (text === this.text && this.lines.length) return;
    this.text = text;
    const lines = highlightLines(text.replace(/\n$/, ''));
    this.code.replaceChildren(...lines.map((tokens, i) => {
      const span = document.createElement('span');
      span.className = 'line';
      span.dataset.line = String(i + 1);
      for (const [type, t] of tokens) {
        if (!type) { span.append(t); continue; }
        const tok = document.createElement('span');
        tok.className = `py-${type}`;
        tok.textContent = t;
        span.append(tok);
      }
      // The newline stays inside (copying the code keeps its lines), last, so a note can go before it.
      span.append('\n');
      return span;
    }));
    this.lines = [...this.code.querySelectorAll('span.line')].map((e) => /** @type {HTMLElement} */ (e));
    this.current = 0;
    this.pre.dataset.currentLine = '0';
    this.raised = new Map();
    delete this.pre.dataset.raisedLines;
    this.lanesKey = '';
    this.laneLines = [];
  }

  /** @param {Record<string, number>|undefined} map */
  setMap(map) { this.map = map ?? {}; }

  /** The line an event belongs to, or 0. @param {import('./model/run.js').FlEvent|null} ev */
  lineFor(ev) {
    if (!ev) return 0;
    if (typeof ev.line === 'number' && ev.line > 0 && ev.line <= this.lines.length) return ev.line;
    // A stepped lane waiting at its gate is on the line of what it will do next.
    if (ev.kind === 'step.pending' && typeof ev.at === 'string') return this.map[ev.at] || this.map[ev.at.split(':')[0]] || 0;
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
      scrollWithin(this.scroller, el, this.reduceMotion);
    }
  }

  /**
   * Mark each lane's current line: a bar and tint in the lane's colour (a bar
   * in stripes where several lanes share the line) and a tag per lane. An
   * empty list clears them.
   * @param {{line:number, lane:string, name:string, label:string, color:string}[]} marks
   */
  markLanes(marks) {
    const key = marks.map((m) => `${m.line}:${m.lane}:${m.color}:${m.name}`).join('|');
    if (key === this.lanesKey) return;
    this.lanesKey = key;
    for (const l of this.laneLines) {
      const el = this.lines[l - 1];
      if (!el) continue;
      el.classList.remove('lane-line');
      el.style.removeProperty('--lane-tint');
      el.style.removeProperty('--lane-bar');
      el.removeAttribute('data-lanes');
      if (!this.raised.has(l)) el.removeAttribute('title');
      for (const t of el.querySelectorAll('.lane-tag')) t.remove();
    }
    /** @type {Map<number, typeof marks>} */
    const byLine = new Map();
    for (const m of marks) {
      if (!this.lines[m.line - 1]) continue;
      byLine.set(m.line, [...(byLine.get(m.line) ?? []), m]);
    }
    this.laneLines = [...byLine.keys()];
    for (const [l, ms] of byLine) {
      const el = this.lines[l - 1];
      el.classList.add('lane-line');
      // CSSOM, not a style attribute: the page's CSP allows no inline styles.
      el.style.setProperty('--lane-tint', ms[0].color);
      const n = ms.length;
      el.style.setProperty('--lane-bar', `linear-gradient(to bottom, ${ms.map((m, i) => `${m.color} ${(i / n) * 100}% ${((i + 1) / n) * 100}%`).join(', ')})`);
      el.dataset.lanes = ms.map((m) => m.lane).join(' ');
      if (!this.raised.has(l)) el.title = `current line of ${ms.map((m) => m.label).join(', ')}`;
      for (const m of ms) {
        const tag = document.createElement('span');
        tag.className = 'lane-tag';
        tag.dataset.lane = m.lane;
        tag.style.setProperty('--lane', m.color);
        tag.textContent = m.name;
        tag.title = `${m.label} is here`;
        el.insertBefore(tag, el.lastChild);
      }
    }
    if (this.laneLines.length) this.pre.dataset.laneLines = this.laneLines.join(',');
    else delete this.pre.dataset.laneLines;
  }

  /**
   * Mark the lines that raised an uncaught exception (line → "ValueError: …");
   * an empty map clears them.
   * @param {Map<number, string>} raised
   */
  markRaised(raised) {
    const key = [...raised].map(([l, t]) => `${l}:${t}`).join('|');
    if (key === [...this.raised].map(([l, t]) => `${l}:${t}`).join('|')) return;
    for (const l of this.raised.keys()) {
      const el = this.lines[l - 1];
      if (!el) continue;
      el.classList.remove('raised');
      el.removeAttribute('title');
      el.querySelector('.raised-note')?.remove();
    }
    this.raised = raised;
    for (const [l, what] of raised) {
      const el = this.lines[l - 1];
      if (!el) continue;
      el.classList.add('raised');
      el.title = `raised ${what}`;
      const note = document.createElement('span');
      note.className = 'raised-note';
      note.textContent = `← raised ${what}`;
      el.insertBefore(note, el.lastChild);
    }
    if (raised.size) {
      this.pre.dataset.raisedLines = [...raised.keys()].join(',');
      // Bring the line that raised into view (the highlight, when there is one, moves on from there).
      const first = this.lines[Math.min(...raised.keys()) - 1];
      if (first && !this.current) scrollWithin(this.scroller, first, this.reduceMotion);
    } else delete this.pre.dataset.raisedLines;
  }
}

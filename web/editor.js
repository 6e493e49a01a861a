// editor.js — the program panel as an editor: a transparent <textarea> laid
// exactly over the highlighted <pre> (source.js draws that layer), so the
// browser does the hard parts of editing — caret, selection, IME, mobile
// keyboards, native undo — and we only add what Python needs: Tab/Shift-Tab
// indent and dedent, Enter keeps the indentation. Not CodeMirror: it needs
// bare-module imports and a build step, and the page runs under CSP
// `script-src 'self'` with neither.
//
// Every change goes through `document.execCommand('insertText')`, the one
// way a script can edit a textarea and leave Ctrl-Z working.
//
// Keyboard users can always leave: Escape, then Tab moves focus on (the
// convention of accessible code editors; the hint under the editor says so).
//
// The pure edit functions at the top hold no DOM, so node can test them.

'use strict';

import { tokenize } from './pyhighlight.js';

export const INDENT = '    ';

/**
 * What Tab (or, with `dedent`, Shift-Tab) does to the lines a selection
 * touches: replace `[from, to)` with `text`, then select `[selStart, selEnd)`.
 * A caret alone with Tab inserts spaces up to the next indent stop instead.
 * @param {string} value @param {number} start @param {number} end @param {boolean} dedent
 * @returns {{from: number, to: number, text: string, selStart: number, selEnd: number}}
 */
export function indentEdit(value, start, end, dedent) {
  const from = value.lastIndexOf('\n', start - 1) + 1;
  if (!dedent && start === end) {
    const pad = ' '.repeat(INDENT.length - ((start - from) % INDENT.length));
    return { from: start, to: start, text: pad, selStart: start + pad.length, selEnd: start + pad.length };
  }
  // A selection that ends at the very start of a line does not take that line in.
  const last = end > start && value[end - 1] === '\n' ? end - 1 : end;
  let to = value.indexOf('\n', last);
  if (to < 0) to = value.length;
  const lines = value.slice(from, to).split('\n');
  /** @type {number[]} characters added (or, negative, removed) at the start of each line */
  const deltas = [];
  const text = lines.map((l) => {
    if (!dedent) {
      // Blank lines stay blank: trailing spaces are nobody's intent.
      if (l === '' && lines.length > 1) { deltas.push(0); return l; }
      deltas.push(INDENT.length);
      return INDENT + l;
    }
    const cut = l.startsWith('\t') ? 1 : /^ {0,4}/.exec(l)?.[0].length ?? 0;
    deltas.push(-cut);
    return l.slice(cut);
  }).join('\n');
  const total = deltas.reduce((a, b) => a + b, 0);
  // The caret never moves back past the start of its line.
  const selStart = Math.max(from, start + deltas[0]);
  const selEnd = start === end ? selStart : Math.max(selStart, end + total);
  return { from, to, text, selStart, selEnd };
}

/**
 * What Enter inserts: a newline and the line's indentation, one step deeper
 * after a line that opens a block (ends with `:`, comments aside).
 * @param {string} value @param {number} start
 */
export function newlineText(value, start) {
  const lineStart = value.lastIndexOf('\n', start - 1) + 1;
  const before = value.slice(lineStart, start);
  let indent = /^[ \t]*/.exec(before)?.[0] ?? '';
  const code = tokenize(before).filter(([type]) => type !== 'com').map(([, t]) => t).join('').trimEnd();
  if (code.endsWith(':')) indent += INDENT;
  return `\n${indent}`;
}

/** Keys that only modify the next one: they do not end the "Escape, then Tab" moment. */
const MODIFIERS = new Set(['Shift', 'Control', 'Alt', 'Meta', 'CapsLock']);

export class Editor {
  /**
   * @param {HTMLElement} box  the scrolling box around `#source` (the textarea goes in beside it)
   * @param {{onInput: () => void}} opts  told after every change the student makes
   */
  constructor(box, opts) {
    this.box = box;
    this.pre = /** @type {HTMLElement} */ (box.querySelector('#source'));
    this.onInput = opts.onInput;
    /** The program Reset goes back to. */
    this.lesson = '';
    /** The lesson's program as the last lesson run wrote its parameters in: not an edit either. */
    this.base = '';
    /** Escape was the last key: the next Tab leaves the editor. */
    this.tabLeaves = false;
    const ta = /** @type {HTMLTextAreaElement} */ (document.createElement('textarea'));
    ta.id = 'source-edit';
    ta.className = 'code-input';
    ta.spellcheck = false;
    ta.wrap = 'off';
    ta.rows = 1;
    for (const [k, v] of Object.entries({ autocomplete: 'off', autocorrect: 'off', autocapitalize: 'off',
      'aria-label': 'The Python program (editable)', 'aria-describedby': 'editor-hint editor-message', 'aria-multiline': 'true' })) ta.setAttribute(k, v);
    ta.hidden = true;
    this.textarea = ta;
    box.append(ta);
    ta.addEventListener('input', () => this.onInput());
    ta.addEventListener('keydown', (e) => this._key(e));
    ta.addEventListener('blur', () => this._setTabLeaves(false));
    ta.addEventListener('pointerdown', () => this._setTabLeaves(false));
    // The textarea is as large as its text, so only the box scrolls; a
    // browser that still scrolls the textarea itself would slide it off the
    // highlighted layer.
    ta.addEventListener('scroll', () => { ta.scrollTop = 0; ta.scrollLeft = 0; });
  }

  /** @param {boolean} on  edit the program, or only show it */
  setEditable(on) {
    if (on === !this.textarea.hidden) return;
    this.textarea.hidden = !on;
    this.box.classList.toggle('editing', on);
    // One way in for the keyboard and one text for screen readers: the
    // textarea when editing, else the program itself.
    this.pre.tabIndex = on ? -1 : 0;
    if (on) this.pre.setAttribute('aria-hidden', 'true'); else this.pre.removeAttribute('aria-hidden');
  }

  get editable() { return !this.textarea.hidden; }

  get value() { return this.textarea.value; }

  /** Put a program in without an undo step (the page's first program, a permalink's). @param {string} text */
  setValue(text) {
    if (this.textarea.value !== text) this.textarea.value = text;
  }

  /** Whether someone changed the program: it is neither the lesson's nor the lesson's with a run's parameters. */
  get edited() { return this.textarea.value !== this.lesson && this.textarea.value !== this.base; }

  /** Whether Reset would change anything. */
  get atLesson() { return this.textarea.value === this.lesson; }

  /** Back to the lesson's program, as one step Ctrl-Z can undo. */
  reset() {
    const ta = this.textarea;
    this.base = this.lesson;
    if (ta.value === this.lesson) return;
    ta.focus();
    this._replace(0, ta.value.length, this.lesson);
    ta.setSelectionRange(0, 0);
    this.box.scrollTop = 0;
  }

  /** @param {KeyboardEvent} e */
  _key(e) {
    if (e.isComposing || e.ctrlKey || e.metaKey || e.altKey) { if (!MODIFIERS.has(e.key)) this._setTabLeaves(false); return; }
    if (e.key === 'Escape') { this._setTabLeaves(true); return; }
    if (e.key === 'Tab' && this.tabLeaves) { this._setTabLeaves(false); return; } // the browser moves focus
    if (!MODIFIERS.has(e.key)) this._setTabLeaves(false);
    const ta = this.textarea;
    if (e.key === 'Tab') {
      e.preventDefault();
      const edit = indentEdit(ta.value, ta.selectionStart, ta.selectionEnd, e.shiftKey);
      if (edit.text !== ta.value.slice(edit.from, edit.to)) this._replace(edit.from, edit.to, edit.text);
      ta.setSelectionRange(edit.selStart, edit.selEnd);
    } else if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      this._replace(ta.selectionStart, ta.selectionEnd, newlineText(ta.value, ta.selectionStart));
    }
  }

  /** @param {boolean} on */
  _setTabLeaves(on) {
    if (this.tabLeaves === on) return;
    this.tabLeaves = on;
    this.box.classList.toggle('tab-leaves', on);
  }

  /**
   * Replace a range through the browser's editing, so it joins the undo
   * history; `setRangeText` (a browser without execCommand) would not.
   * @param {number} from @param {number} to @param {string} text
   */
  _replace(from, to, text) {
    const ta = this.textarea;
    ta.setSelectionRange(from, to);
    const done = text === '' ? document.execCommand('delete') : document.execCommand('insertText', false, text);
    if (!done) {
      ta.setRangeText(text, from, to, 'end');
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    }
  }
}

// pyhighlight.js — Python syntax highlighting for the program panel, small
// enough to read in one sitting. It only colours: it never changes a
// character, so the highlighted layer under the editor's transparent
// textarea holds exactly the textarea's text and the two stay aligned. It
// works on the whole program at once because a triple-quoted string may span
// lines, then cuts the tokens into lines for the panel's one-span-per-line
// layout. No DOM here: the tests run it under node.

'use strict';

/**
 * @typedef {'kw'|'const'|'bi'|'str'|'com'|'num'|'dec'|'def'|''} TokenType
 * @typedef {[TokenType, string]} Token
 */

const KEYWORDS = new Set(('and as assert async await break class continue def del elif else except finally for from global '
  + 'if import in is lambda nonlocal not or pass raise return try while with yield').split(' '));
const CONSTANTS = new Set(['True', 'False', 'None']);
// What a multiprocessing lesson reaches for, and the rest of the builtins a student types.
const BUILTINS = new Set(('abs all any ascii bin bool breakpoint bytearray bytes callable chr classmethod compile complex '
  + 'delattr dict dir divmod enumerate eval exec filter float format frozenset getattr globals hasattr hash help hex id '
  + 'input int isinstance issubclass iter len list locals map max memoryview min next object oct open ord pow print '
  + 'property range repr reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip '
  + '__import__ __name__ __main__ __file__ self cls '
  + 'Exception BaseException ValueError TypeError KeyError IndexError RuntimeError ZeroDivisionError OSError '
  + 'KeyboardInterrupt StopIteration AttributeError NameError ImportError AssertionError NotImplementedError TimeoutError').split(' '));

// One alternation, tried at each position in this order. Unterminated
// strings run to the end of the line (or, triple-quoted, of the program), as
// the student is usually halfway through typing them.
const TOKEN = new RegExp([
  /(#[^\n]*)/.source,                                                        // 1 comment
  /((?:[rRbBuUfF]{1,2})?(?:'''[\s\S]*?(?:'''|$)|"""[\s\S]*?(?:"""|$)))/.source, // 2 triple-quoted
  /((?:[rRbBuUfF]{1,2})?(?:'(?:[^'\\\n]|\\[\s\S])*'?|"(?:[^"\\\n]|\\[\s\S])*"?))/.source, // 3 one-line string
  /((?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?[jJ]?)(?![\p{L}\p{N}_]))/.source, // 4 number
  /([\p{L}_][\p{L}\p{N}_]*)/.source,                                        // 5 word
  /(@[\p{L}_][\p{L}\p{N}_.]*)/.source,                                      // 6 decorator (checked below: first on its line)
].join('|'), 'gu');

/**
 * The program as tokens; their texts joined give the program back exactly.
 * @param {string} text @returns {Token[]}
 */
export function tokenize(text) {
  /** @type {Token[]} */
  const out = [];
  let last = 0;
  /** @type {string} the word before, to colour the name after `def`/`class` */
  let prevWord = '';
  const plain = (/** @type {number} */ to) => { if (to > last) out.push(['', text.slice(last, to)]); };
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(text); m; m = TOKEN.exec(text)) {
    if (m[0] === '') { TOKEN.lastIndex++; continue; }
    /** @type {TokenType} */
    let type = '';
    if (m[1]) type = 'com';
    else if (m[2] || m[3]) type = 'str';
    else if (m[4]) type = /[\p{L}\p{N}_]/u.test(text[m.index - 1] ?? '') ? '' : 'num';
    else if (m[5]) {
      const w = m[5];
      if (KEYWORDS.has(w)) type = 'kw';
      else if (CONSTANTS.has(w)) type = 'const';
      else if (prevWord === 'def' || prevWord === 'class') type = 'def';
      else if (BUILTINS.has(w) && text[m.index - 1] !== '.') type = 'bi';
      prevWord = w;
    } else if (m[6]) {
      const lineStart = text.lastIndexOf('\n', m.index - 1) + 1;
      type = /^[ \t]*$/.test(text.slice(lineStart, m.index)) ? 'dec' : '';
    }
    if (!m[5]) prevWord = '';
    if (!type) continue; // left in the plain run around it
    plain(m.index);
    out.push([type, m[0]]);
    last = m.index + m[0].length;
  }
  plain(text.length);
  return out;
}

/**
 * The tokens of each line, without its newline: line i of the program is
 * `lines[i].map(t => t[1]).join('')`. A token spanning lines (a
 * triple-quoted string) is cut at each newline and keeps its type.
 * @param {string} text @returns {Token[][]}
 */
export function highlightLines(text) {
  /** @type {Token[][]} */
  const lines = [[]];
  for (const [type, s] of tokenize(text)) {
    const parts = s.split('\n');
    parts.forEach((p, i) => {
      if (i > 0) lines.push([]);
      if (p) lines[lines.length - 1].push([type, p]);
    });
  }
  return lines;
}

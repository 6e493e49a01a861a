// editor.test.js — the program editor in a real Chromium against a real
// server: what a student types is what the highlighted layer shows, Tab and
// Shift-Tab indent and dedent, Ctrl-Z undoes them, Escape then Tab leaves,
// Reset brings the lesson back, the gutter numbers the lines, and an edited
// program (sandboxed on the server) runs, prints what it now prints, and has
// its syntax error marked on its line. /play and a read-only embed too.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launch, watchErrors, fetchEvents, ARTIFACTS, TRACER_READY } from './harness.js';
import { tokenize, highlightLines } from '../../web/pyhighlight.js';
import { indentEdit, newlineText } from '../../web/editor.js';

// Started before the tests are declared: whether this server allows editing decides which of them run.
const server = await startServer(['--run-timeout', '20']);
const demos = await (await fetch(`${server.url}/api/demos`)).json();
let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); await server?.stop(); });

const demo = (/** @type {string} */ name) => demos.find((d) => d.name === name);
const editing = () => demo('process')?.cpython?.editing;
const NO_EDITING = editing()?.enabled ? false : 'editing is off on this server';
const value = (page) => page.inputValue('#source-edit');
/** The highlighted layer's text, notes aside, as the student sees it under the textarea. */
const layer = (page) => page.$eval('#source code', (el) => [...el.querySelectorAll('.line')]
  .map((l) => [...l.childNodes].filter((n) => !(n instanceof Element && n.classList.contains('raised-note'))).map((n) => n.textContent).join('')).join(''));
/** What the layer should hold for a value: one line each, the final newline not drawn twice. */
const drawn = (/** @type {string} */ v) => `${v.replace(/\n$/, '')}\n`;

async function openEditor(page, name = 'process') {
  await page.goto(`${server.url}/demos/${name}?engine=cpython`);
  await page.waitForSelector('body[data-ready=true]');
  await page.waitForSelector('#source-edit:not([hidden])');
}

test('the highlighter gives the program back exactly and knows Python\'s pieces', () => {
  const src = '@decorator\ndef f(x=0x1F):  # a comment\n    """doc\n    string"""\n    return print(\'it\\\'s\', 1.5e3, None)\n';
  assert.equal(tokenize(src).map((t) => t[1]).join(''), src);
  assert.equal(highlightLines(src).map((l) => l.map((t) => t[1]).join('')).join('\n'), src);
  const kinds = Object.fromEntries(tokenize(src).filter((t) => t[0]).map((t) => [t[1], t[0]]));
  assert.equal(kinds['@decorator'], 'dec');
  assert.equal(kinds.def, 'kw');
  assert.equal(kinds.f, 'def');
  assert.equal(kinds['0x1F'], 'num');
  assert.equal(kinds['# a comment'], 'com');
  assert.equal(kinds['"""doc\n    string"""'], 'str', 'a triple-quoted string spans its lines');
  assert.equal(kinds.print, 'bi');
  assert.equal(kinds.None, 'const');
  const lines = highlightLines(src);
  assert.deepEqual(lines[3], [['str', '    string"""']], 'the string\'s second line is still a string');
});

test('indenting and Enter, as pure edits', () => {
  const v = 'a\n  b\nc';
  assert.deepEqual(indentEdit(v, 0, v.length, false).text, '    a\n      b\n    c');
  assert.deepEqual(indentEdit(v, 0, v.length, true).text, 'a\nb\nc');
  assert.deepEqual(indentEdit('x', 1, 1, false).text, '   ', 'a caret indents to the next stop');
  assert.equal(newlineText('    if x:  # why', 16), '\n        ');
  assert.equal(newlineText('    y = 1', 9), '\n    ');
});

test('typing changes the highlighted layer, and the gutter numbers its lines', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await openEditor(page);
  const lesson = demo('process').cpython.source;
  assert.equal(await value(page), lesson, 'the editor starts with the lesson\'s program');
  assert.equal(await layer(page), drawn(lesson));
  await page.click('#source-edit');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\nwhile True:\nprint("more")');
  await page.waitForFunction(() => document.querySelector('#source code').textContent.includes('print("more")'));
  assert.equal(await value(page), `${lesson}\nwhile True:\n    print("more")`, 'Enter after a colon indents');
  assert.equal(await layer(page), drawn(await value(page)), 'the layer holds exactly the textarea\'s text');
  const last = page.locator('#source .line').last();
  assert.equal(await last.locator('.py-bi').first().textContent(), 'print', 'what was typed is highlighted');
  assert.equal(await page.locator('#source .line').filter({ hasText: 'while True:' }).locator('.py-kw').first().textContent(), 'while');
  // The gutter: line n's number is n, and the lines sit where the textarea's do.
  const gutter = await page.$$eval('#source .line', (ls) => ls.map((l) => [l.dataset.line, getComputedStyle(l, '::before').content]));
  const count = (await value(page)).split('\n').length;
  assert.equal(gutter.length, count, 'a number for every line');
  gutter.forEach(([n, content], k) => {
    assert.equal(n, String(k + 1));
    assert.ok(content === `"${k + 1}"` || content === 'attr(data-line)', `the gutter shows the line's number (${content})`);
  });
  const geometry = await page.evaluate(() => {
    const ta = document.getElementById('source-edit');
    const lines = document.querySelectorAll('#source .line');
    const cs = getComputedStyle(ta);
    return { lh: parseFloat(cs.lineHeight), taTop: ta.getBoundingClientRect().top + parseFloat(cs.paddingTop),
      firstTop: lines[0].getBoundingClientRect().top, lastTop: lines[lines.length - 1].getBoundingClientRect().top,
      lineH: lines[0].getBoundingClientRect().height, scrollTop: ta.scrollTop, scrollLeft: ta.scrollLeft,
      taLeft: ta.getBoundingClientRect().left + parseFloat(cs.paddingLeft),
      textLeft: (() => { const r = document.createRange(); r.setStart(lines[0].firstChild, 0); r.setEnd(lines[0].firstChild, 1); return r.getBoundingClientRect().left; })() };
  });
  assert.ok(Math.abs(geometry.firstTop - geometry.taTop) < 0.5, `the first line sits under the textarea's (${geometry.firstTop} vs ${geometry.taTop})`);
  assert.ok(Math.abs(geometry.lastTop - geometry.firstTop - (count - 1) * geometry.lh) < 1, 'every line is one line-height on, as in the textarea');
  assert.ok(Math.abs(geometry.textLeft - geometry.taLeft) < 0.5, `columns line up (${geometry.textLeft} vs ${geometry.taLeft})`);
  assert.equal(geometry.scrollTop + geometry.scrollLeft, 0, 'the textarea itself never scrolls: the box does');
  assert.equal(await page.isVisible('#edited-badge'), true, 'the program is marked as edited');
  assert.equal(await page.isVisible('#params-note'), true, 'the form says where the parameters went');
  assert.equal(await page.isDisabled('#param-delay_ms'), true, 'and is off');
  assert.deepEqual(errors, []);
  await page.close();
});

test('Tab indents the selected lines, Shift-Tab dedents them, Ctrl-Z undoes', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await openEditor(page);
  const lesson = await value(page);
  const lines = lesson.split('\n');
  const i = lines.findIndex((l) => l.startsWith('def calc_square'));
  // Select that line and the next two.
  const start = lines.slice(0, i).join('\n').length + 1;
  const end = start + lines.slice(i, i + 3).join('\n').length;
  await page.$eval('#source-edit', (ta, [s, e]) => { ta.focus(); ta.setSelectionRange(s, e); }, [start, end]);
  await page.keyboard.press('Tab');
  let now = (await value(page)).split('\n');
  for (let k = i; k < i + 3; k++) assert.equal(now[k], `    ${lines[k]}`, `line ${k + 1} is indented by 4`);
  assert.equal(now[i + 3], lines[i + 3], 'the line after the selection is not');
  assert.deepEqual(now.filter((_, k) => k < i || k >= i + 3), lines.filter((_, k) => k < i || k >= i + 3));
  await page.waitForFunction((t) => document.querySelector('#source code').textContent.includes(t), `    ${lines[i]}`);
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Shift+Tab');
  now = (await value(page)).split('\n');
  assert.equal(now[i], lines[i], 'a line at the margin stays there');
  assert.equal(now[i + 1], lines[i + 1].replace(/^ {4}/, ''), 'an indented line loses 4 spaces');
  // Undo: the two dedents, then the indent, one step each.
  await page.keyboard.press('Control+z');
  await page.keyboard.press('Control+z');
  assert.equal((await value(page)).split('\n')[i], `    ${lines[i]}`, 'Ctrl-Z undid the dedents');
  await page.keyboard.press('Control+z');
  assert.equal(await value(page), lesson, 'and then the Tab: the browser\'s own undo history holds every edit');
  await page.close();
});

test('Escape then Tab leaves the editor; Tab alone does not', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await openEditor(page);
  assert.match(await page.textContent('#editor-hint'), /Esc\s+then\s+Tab/, 'the way out is written under the editor');
  await page.$eval('#source-edit', (ta) => { ta.focus(); ta.setSelectionRange(0, 0); });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'source-edit', 'Tab alone indents');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  const after = await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  assert.notEqual(after, 'source-edit', 'after Escape, Tab moves focus on');
  assert.equal(await value(page), `    ${demo('process').cpython.source}`, 'and inserted nothing');
  // Escape, then Shift-Tab goes back the other way.
  await page.focus('#source-edit');
  await page.keyboard.press('Escape');
  await page.keyboard.press('Shift+Tab');
  assert.notEqual(await page.evaluate(() => document.activeElement?.id), 'source-edit');
  await page.close();
});

test('Reset restores the lesson\'s code and its parameters', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await openEditor(page);
  const lesson = demo('process').cpython.source;
  assert.equal(await page.isDisabled('#reset-source'), true, 'nothing to reset yet');
  await page.fill('#source-edit', 'print("mine")\n');
  await page.waitForFunction(() => document.querySelector('#source code').textContent === 'print("mine")\n');
  await page.click('#reset-source');
  assert.equal(await value(page), lesson);
  await page.waitForFunction((l) => document.querySelector('#source code').textContent === l, lesson);
  assert.equal(await page.isVisible('#edited-badge'), false);
  assert.equal(await page.isDisabled('#param-delay_ms'), false, 'the parameters apply again');
  assert.match(await page.textContent('#source-h'), /process\.py/);
  await page.close();
});

test('an edited program runs in the sandbox and the console shows what it now prints', { skip: NO_EDITING || (!TRACER_READY && 'no tracer'), timeout: 90000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await openEditor(page);
  const lesson = demo('process').cpython.source;
  const edited = lesson.replace('arr=[2, 3, 8, 9]', 'arr=[4, 11]').replace('DELAY_MS = 500', 'DELAY_MS = 20');
  assert.notEqual(edited, lesson);
  await page.fill('#source-edit', edited);
  const posted = page.waitForRequest((r) => r.url().endsWith('/api/runs') && r.method() === 'POST');
  await page.click('#run');
  const body = JSON.parse((await posted).postData() ?? '{}');
  assert.deepEqual(Object.keys(body).sort(), ['demo', 'engine', 'source'], 'the program is sent, not the parameters');
  assert.equal(body.source, edited);
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 60000 });
  const prints = await page.$$eval('#console li:not([data-kind=exception]) .text', (l) => l.map((e) => e.textContent));
  for (const want of ['square 16', 'square 121', 'cube 64', 'cube 1331', 'Done!']) assert.ok(prints.includes(want), `${want} in ${prints.join(' | ')}`);
  assert.ok(!prints.includes('square 4'), 'the lesson\'s numbers are gone');
  assert.match(await page.textContent('#runs li'), /edited program/);
  assert.equal(await value(page), edited, 'the editor keeps the program');
  // Its permalink holds the edited program, in the editor, to change further.
  const id = await page.getAttribute('#timeline', 'data-run-id');
  await page.goto(`${server.url}/runs/${id}`);
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 30000 });
  assert.equal(await value(page), edited, 'the permalink shows the program that ran');
  assert.equal(await page.isVisible('#edited-badge'), true);
  await page.click('#reset-source');
  assert.equal(await value(page), lesson, 'Reset goes back to the lesson\'s program');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a syntax error is marked on its line and told beside the editor', { skip: NO_EDITING || (!TRACER_READY && 'no tracer'), timeout: 60000 }, async () => {
  const page = await browser.ctx.newPage();
  await openEditor(page);
  await page.fill('#source-edit', 'print("one")\nx = (\nprint("two")\n');
  await page.click('#run');
  await page.waitForSelector('#timeline[data-state=finished]', { timeout: 40000 });
  const events = await fetchEvents(server.url, await page.getAttribute('#timeline', 'data-run-id'));
  const err = events.find((e) => e.kind === 'exception' && e.type === 'SyntaxError');
  assert.ok(err, 'the server reports a SyntaxError');
  await page.waitForSelector('#source .line.raised');
  assert.equal(await page.getAttribute('#source', 'data-raised-lines'), String(err.line));
  assert.equal(await page.getAttribute('#source .line.raised', 'data-line'), String(err.line));
  const msg = await page.textContent('#editor-message');
  assert.match(msg, /SyntaxError/);
  assert.ok(msg.includes(`line ${err.line}`), msg);
  assert.equal(msg.match(/line \d+/g)?.length, 1, `the line is named once: ${msg}`);
  assert.ok(!events.some((e) => e.kind === 'print' && e.text === 'one'), 'nothing of it ran');
  await page.locator('section.source').screenshot({ path: join(ARTIFACTS, 'editor-syntax-error.png') });
  // Fixing the line takes the mark away: it belonged to the old text.
  await page.click('#source-edit');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('x');
  await page.waitForFunction(() => !document.querySelector('#source .line.raised'));
  await page.close();
});

test('the server\'s refusal is shown beside the editor, and no run starts', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await openEditor(page);
  await page.fill('#source-edit', 'import forkline_trace\n');
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('editor-message').textContent.includes('forkline_trace'));
  assert.equal(await page.locator('#runs li').count(), 0);
  // An edit clears the old refusal.
  await page.type('#source-edit', '#');
  await page.waitForFunction(() => !document.getElementById('editor-message').textContent.includes('forkline_trace'));
  await page.close();
});

test('the native engine\'s program stays read-only', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}/demos/process?engine=native`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.isVisible('#source-edit'), false);
  assert.equal(await page.isVisible('#editor-bar'), false);
  assert.equal(await page.getAttribute('#source', 'tabindex'), '0', 'the program can still be scrolled from the keyboard');
  await page.close();
});

test('/play is the scratch page: its own program, an editor, a card in the catalog', { skip: NO_EDITING, timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);
  await page.click('a[href="/play"]');
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(new URL(page.url()).pathname, '/play');
  assert.equal((await page.textContent('h1')).trim(), 'Scratch');
  await page.waitForSelector('#source-edit:not([hidden])');
  assert.equal(await value(page), demo('scratch').cpython.source);
  assert.match(await page.textContent('#reset-source'), /starting program/);
  assert.equal(await page.isVisible('#params-note'), false, 'no lesson parameters to talk about');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an embed with editable=0 shows the program read-only; a bad value is refused', { timeout: 30000 }, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${server.url}/embed/process?engine=cpython&editable=0`);
  await page.waitForSelector('body[data-ready=true]');
  assert.equal(await page.isVisible('#source-edit'), false, 'no editor');
  assert.equal(await page.isVisible('#source .line'), true, 'the program is shown');
  if (!NO_EDITING) {
    await page.goto(`${server.url}/embed/process?engine=cpython`);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.isVisible('#source-edit'), true, 'editable by default');
  }
  const res = await fetch(`${server.url}/embed/process?editable=maybe`);
  assert.equal(res.status, 422);
  assert.match(await res.text(), /editable must be 1 or 0/);
  await page.close();
});

test('screenshots of the editor, light and dark', { skip: NO_EDITING, timeout: 30000 }, async () => {
  for (const scheme of /** @type {const} */ (['light', 'dark'])) {
    const page = await browser.ctx.newPage();
    await page.emulateMedia({ colorScheme: scheme });
    await openEditor(page);
    await page.fill('#source-edit', `${demo('process').cpython.source}\n@decorator\ndef more(n=0x10):  # why\n    """doc"""\n    return n * 2.5\n`);
    await page.focus('#source-edit');
    await page.keyboard.press('Escape');
    await page.$eval('.code', (box) => { box.scrollTop = box.scrollHeight; });
    await page.waitForTimeout(100);
    await page.locator('section.source').screenshot({ path: join(ARTIFACTS, `editor-${scheme}.png`) });
    await page.close();
  }
});

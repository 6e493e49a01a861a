// timeline/theme.js — the timeline's colours, read from the page's palette.
// style.css defines every colour once, as a custom property holding its light
// and dark values (light-dark()); a canvas cannot use var(), so this reads
// each one resolved for the current color-scheme. No colour is written in
// JS: a name style.css does not define reads as missing, and the layers fall
// back to a colour that is defined (`other` for a new span style, `muted`
// for a new arrow kind), as they did before. No hex fallback either: the
// page never draws without style.css (the replay file inlines it).

/**
 * @typedef {object} Theme
 * @property {Record<string, string>} colors  by name: `bg` is --tl-bg
 * @property {string[]} cpu      --cpu-0, --cpu-1, … : a colour per core
 * @property {string[]} thread   --thr-0, --thr-1, … : a colour per lane, for the per-core view
 * @property {Map<string, CanvasPattern>} patterns  hatching per colour, made on first use
 */

/** The --tl-* names the layers draw with. */
const NAMES = [
  'bg', 'band', 'header', 'grid', 'text', 'muted', 'accent', 'alive',
  'sleep', 'compute', 'system', 'other', 'join', 'wait', 'hold', 'zombie',
  'print', 'message', 'value', 'note', 'life', 'error',
  'arrow-spawn', 'arrow-join', 'arrow-message', 'arrow-lock',
  'R', 'S', 'D', 'Z', 'contend',
];

/**
 * The palette as `host` sees it now (call again when the color-scheme changes).
 * @param {HTMLElement} host  an element in the document, under the palette's root
 * @returns {Theme}
 */
export function readTheme(host) {
  // The computed value of an unregistered custom property is its text
  // ("light-dark(#fff, #171c23)"); a property that is a colour resolves it.
  const probe = document.createElement('span');
  probe.hidden = true;
  host.append(probe);
  const cs = getComputedStyle(host), ps = getComputedStyle(probe);
  const read = (/** @type {string} */ prop) => {
    if (!cs.getPropertyValue(prop).trim()) return '';
    probe.style.color = `var(${prop})`;
    return ps.color;
  };
  /** @type {Record<string, string>} */
  const colors = {};
  for (const k of NAMES) { const v = read(`--tl-${k}`); if (v) colors[k] = v; }
  const series = (/** @type {string} */ prefix) => {
    const out = [];
    for (let i = 0, v; (v = read(`${prefix}${i}`)); i++) out.push(v);
    return out;
  };
  const theme = { colors, cpu: series('--cpu-'), thread: series('--thr-'), patterns: new Map() };
  probe.remove();
  return theme;
}

/** A core's colour (muted where the event named no core). @param {Theme} theme @param {number} cpu */
export function cpuColor(theme, cpu) {
  return cpu < 0 || !theme.cpu.length ? theme.colors.muted : theme.cpu[cpu % theme.cpu.length];
}

/**
 * A diagonal hatch in `color` over a faint fill of it, for the spans that are
 * waiting rather than doing (wait, join, zombie). Cached per theme and colour.
 * @param {Theme} theme @param {CanvasRenderingContext2D} ctx @param {string} color
 */
export function hatch(theme, ctx, color) {
  let p = theme.patterns.get(color);
  if (!p) {
    const c = document.createElement('canvas');
    c.width = c.height = 8;
    const g = /** @type {CanvasRenderingContext2D} */ (c.getContext('2d'));
    g.fillStyle = color; g.globalAlpha = 0.28; g.fillRect(0, 0, 8, 8);
    g.globalAlpha = 1; g.strokeStyle = color; g.lineWidth = 2;
    g.beginPath(); g.moveTo(-2, 10); g.lineTo(10, -2); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.stroke();
    p = /** @type {CanvasPattern} */ (ctx.createPattern(c, 'repeat'));
    theme.patterns.set(color, p);
  }
  return p;
}

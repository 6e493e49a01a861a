// labels.js — where the timeline's text goes, so that no two labels ever
// overlap. Every label of a frame is a candidate with a priority; the fixed
// ones (the run headers, lane names, axis ticks) are reserved first, then the
// rest are placed highest priority first, left to right, each in the room the
// labels already placed leave it. A label that does not fit is shortened at a
// word boundary or, when not even its first word fits, dropped, as Perfetto
// does: "send…" says something, "se…" does not. The boxes actually drawn are
// kept for the tests (Timeline.labelBoxes()).

/** A label box in CSS pixels of the canvas, as drawn in the last frame.
 * @typedef {{x:number, y:number, w:number, h:number, text:string, kind:string}} LabelBox */

/**
 * @typedef {object} Candidate
 * @property {number} x         where the text starts
 * @property {number} y         its middle (textBaseline middle)
 * @property {string} text
 * @property {number} max       the widest it may be (a span's width, the plot's edge)
 * @property {string} font
 * @property {number} size      font size in px: the box is size + 2 high
 * @property {string} color
 * @property {string} kind      span | mark | core | lane | header | axis | notice
 * @property {number} priority  higher is placed first
 * @property {boolean} [backing]  a translucent backing, for text over hatching and arrows
 * @property {number} [minChars]  lane names may be cut inside their one word, down to this many letters
 */

const GAP = 4;       // between two labels on one line
const PAD = 2;       // a box's padding around its text
const BAND = 16;     // height of a collision bucket, px: a label spans two at most
/** @type {LabelBox[]} */
const NONE = [];
const MIN_KEEP = 6;  // a shortened label keeps at least this many letters: "The…" says nothing

export class LabelLayer {
  constructor() {
    /** @type {LabelBox[]} */ this.boxes = [];
    /** @type {(Candidate & {shown:string})[]} */ this.drawn = [];
    /** @type {Candidate[]} */ this._todo = [];
    /** @type {Map<number, LabelBox[]>} boxes by vertical band, so a check looks only at its own row */
    this._bands = new Map();
  }

  reset() {
    this.boxes = [];
    this.drawn = [];
    this._todo = [];
    this._bands.clear();
  }

  /** @param {Candidate} c */
  add(c) { this._todo.push(c); }

  /** How many candidates wait to be placed. */
  get pending() { return this._todo.length; }

  /** Forget the candidates added since `n` (a lane too dense to label). @param {number} n */
  truncate(n) { this._todo.length = n; }

  /**
   * Place every candidate added so far; returns those that found room, with
   * the text they show.
   * @param {CanvasRenderingContext2D} ctx
   */
  place(ctx) {
    const todo = this._todo;
    this._todo = [];
    todo.sort((a, b) => b.priority - a.priority || a.x - b.x);
    /** @type {(Candidate & {shown:string})[]} */
    const out = [];
    for (const c of todo) {
      const h = c.size + PAD;
      const top = c.y - h / 2;
      const x0 = c.x - PAD;
      let room = c.max;
      let blocked = false;
      for (const b of this._near(top, h)) {
        if (b.y >= top + h || b.y + b.h <= top) continue; // not on this line
        if (b.x <= x0 && b.x + b.w + GAP > x0) { blocked = true; break; } // our start is taken
        if (b.x > x0) room = Math.min(room, b.x - GAP - c.x - PAD);
      }
      if (blocked) continue;
      ctx.font = c.font;
      const shown = shorten(ctx, c.text, room, c.minChars);
      if (!shown) continue;
      const w = ctx.measureText(shown).width;
      this._reserve({ x: x0, y: top, w: w + 2 * PAD, h, text: shown, kind: c.kind });
      out.push({ ...c, shown });
    }
    this.drawn.push(...out);
    return out;
  }

  /**
   * Draw placed labels (the caller sets the clip: the plot's labels stay inside it).
   * @param {CanvasRenderingContext2D} ctx @param {(Candidate & {shown:string})[]} placed @param {string} bg
   */
  static paint(ctx, placed, bg) {
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    for (const l of placed) {
      ctx.font = l.font;
      if (l.backing) {
        ctx.globalAlpha = 0.78;
        ctx.fillStyle = bg;
        ctx.fillRect(l.x - PAD, l.y - (l.size + PAD) / 2, ctx.measureText(l.shown).width + 2 * PAD, l.size + PAD);
        ctx.globalAlpha = 1;
      }
      ctx.fillStyle = l.color;
      ctx.fillText(l.shown, l.x, l.y);
    }
  }

  /** @param {LabelBox} b */
  _reserve(b) {
    this.boxes.push(b);
    for (let k = Math.floor(b.y / BAND); k <= Math.floor((b.y + b.h) / BAND); k++) {
      let list = this._bands.get(k);
      if (!list) { list = []; this._bands.set(k, list); }
      list.push(b);
    }
  }

  /** The boxes that share a band with [top, top+h] (one may come twice: harmless for a check). @param {number} top @param {number} h */
  _near(top, h) {
    const a = this._bands.get(Math.floor(top / BAND)) ?? NONE;
    const k = Math.floor((top + h) / BAND);
    return k === Math.floor(top / BAND) ? a : a.concat(this._bands.get(k) ?? NONE);
  }
}

/**
 * The text, or as many of its leading words as fit with an ellipsis, or ''.
 * Words are cut only where `minChars` allows (lane names, one word that must
 * still say whose lane it is).
 * @param {CanvasRenderingContext2D} ctx @param {string} text @param {number} max @param {number} [minChars]
 */
export function shorten(ctx, text, max, minChars) {
  if (max <= 8 || !text) return '';
  if (ctx.measureText(text).width <= max) return text;
  // Word ends, longest first: the text up to each space.
  for (let i = text.lastIndexOf(' '); i > 0; i = text.lastIndexOf(' ', i - 1)) {
    const head = text.slice(0, i).replace(/[\s·:,=(—-]+$/, '');
    if (head.length < MIN_KEEP) break;
    // A run header's last part cut to a word or two ("· the…") says less than ending before it.
    const sep = head.lastIndexOf(' · ');
    const s = sep > 0 && head.length - sep - 3 < 2 * MIN_KEEP ? `${head.slice(0, sep)}…` : `${head}…`;
    if (ctx.measureText(s).width <= max) return s;
  }
  if (minChars === undefined) return '';
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + '…').width <= max) lo = mid; else hi = mid - 1;
  }
  return lo >= minChars ? `${text.slice(0, lo)}…` : '';
}

// timeline/input.js — the explore gestures on the timeline: wheel and pinch
// to zoom, drag to pan, hover for a tooltip, tap or click to select, and the
// keys that do all of it without a pointer. Handlers only change the
// timeline's state and ask for a frame; the page's one requestAnimationFrame
// loop draws (a burst of wheel events costs one frame, not one each).

/** @typedef {import('./timeline.js').Timeline} Timeline */

/** Pixels a press may move and still be a tap, not a drag. */
const TAP_SLOP = 3;

/** @param {Timeline} tl */
export function bindInput(tl) {
  const c = tl.canvas, host = tl.host;
  /** @type {Map<number, {x:number, y:number}>} */
  const pointers = new Map();
  /** @type {{x:number, y:number, view:{t0:number, t1:number}, moved:boolean, dist:number}|null} */
  let drag = null;
  const local = (/** @type {PointerEvent|WheelEvent|MouseEvent} */ e) => {
    const r = c.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  c.addEventListener('wheel', (e) => {
    e.preventDefault();
    const p = local(e);
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
      const d = e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
      tl.pan(d / (tl.plotX1 - tl.plotX0));
    } else {
      const k = e.ctrlKey ? 0.01 : 0.0015; // trackpad pinch arrives as ctrl+wheel with small deltas
      tl.zoom(Math.exp(e.deltaY * (e.deltaMode === 1 ? 16 : 1) * k), tl.t(Math.max(p.x, tl.plotX0)));
    }
  }, { passive: false });
  c.addEventListener('pointerdown', (e) => {
    const p = local(e);
    pointers.set(e.pointerId, p);
    c.setPointerCapture(e.pointerId);
    drag = { x: p.x, y: p.y, view: { ...tl.view }, moved: false, dist: pinchDist(pointers) };
  });
  c.addEventListener('pointermove', (e) => {
    const p = local(e);
    if (pointers.has(e.pointerId)) {
      pointers.set(e.pointerId, p);
      if (!drag) return;
      if (pointers.size >= 2) {
        const d = pinchDist(pointers);
        if (drag.dist > 0 && d > 0) {
          const mid = [...pointers.values()].reduce((a, b) => ({ x: (a.x + b.x) / 2, y: 0 }));
          tl.zoom(drag.dist / d, tl.t(mid.x));
        }
        drag.dist = d;
        drag.moved = true;
        return;
      }
      const dx = p.x - drag.x;
      if (Math.abs(dx) > TAP_SLOP || Math.abs(p.y - drag.y) > TAP_SLOP) drag.moved = true;
      if (drag.moved && Math.abs(dx) > 0) {
        const range = drag.view.t1 - drag.view.t0;
        const dt = -dx / (tl.plotX1 - tl.plotX0) * range;
        tl.setView(drag.view.t0 + dt, drag.view.t1 + dt);
      }
      tl.hover = null;
      return;
    }
    const hit = tl.hitTest(p.x, p.y);
    tl.hover = hit ? { ...hit, x: p.x, y: p.y } : null;
    c.style.cursor = hit ? 'pointer' : 'grab';
    tl.request();
  });
  const up = (/** @type {PointerEvent} */ e) => {
    const p = local(e);
    pointers.delete(e.pointerId);
    if (drag && !drag.moved && pointers.size === 0) {
      tl.select(tl.hitTest(p.x, p.y));
      host.focus({ preventScroll: true });
    }
    if (pointers.size === 0) drag = null;
  };
  c.addEventListener('pointerup', up);
  c.addEventListener('pointercancel', (e) => { pointers.delete(e.pointerId); drag = null; });
  c.addEventListener('pointerleave', () => { if (tl.hover) { tl.hover = null; tl.request(); } });
  host.addEventListener('keydown', (e) => {
    if (e.target !== host || e.altKey || e.ctrlKey || e.metaKey) return;
    const k = e.key;
    if (k === '+' || k === '=') tl.zoom(0.67);
    else if (k === '-' || k === '_') tl.zoom(1.5);
    else if (k === 'ArrowLeft') tl.pan(-0.15);
    else if (k === 'ArrowRight') tl.pan(0.15);
    else if (k === '0' || k === 'Home') tl.fit();
    else if (k === '.' || k === 'n') tl.step(1);
    else if (k === ',' || k === 'p') tl.step(-1);
    else if (k === 'Escape') tl.select(null);
    else return;
    e.preventDefault();
  });
}

/** @param {Map<number, {x:number, y:number}>} pointers */
function pinchDist(pointers) {
  if (pointers.size < 2) return 0;
  const [a, b] = [...pointers.values()];
  return Math.hypot(a.x - b.x, a.y - b.y);
}

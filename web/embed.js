// embed.js — what makes a demo page behave inside an iframe on a course site:
// the forced theme, and the height messages that let the host page size the
// frame to its content. Settings come from data-* attributes on <body> that
// the server rendered from the iframe's query.
//
// Height message (documented in the README), posted to the parent window:
//   { type: 'forkline:height', height: <CSS pixels, integer>, demo: <demo name> }
// It goes to the parent's exact origin when that origin is on the server's
// allow-list (data-parent-origins), to '*' only when the server allows any
// origin and the parent's is unknown, and otherwise not at all.

'use strict';

const body = document.body;
const theme = body.dataset.theme;
if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;

/** The parent's origin, when the browser tells us. @returns {string|null} */
function parentOrigin() {
  const ancestors = /** @type {any} */ (location).ancestorOrigins;
  if (ancestors && ancestors.length) return ancestors[0];
  try { return document.referrer ? new URL(document.referrer).origin : null; } catch { return null; }
}

/** Where the height may be posted, or null for nowhere. @returns {string|null} */
export function heightTarget() {
  if (window.parent === window) return null;
  const allowed = (body.dataset.parentOrigins ?? '').split(/\s+/).filter(Boolean);
  const parent = parentOrigin();
  if (parent && parent !== 'null' && (parent === location.origin || allowed.includes(parent) || allowed.includes('*'))) return parent;
  if (!parent && allowed.includes('*')) return '*';
  return null;
}

const target = heightTarget();
let lastHeight = -1;
function postHeight() {
  if (!target) return;
  const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
  if (height === lastHeight) return;
  lastHeight = height;
  window.parent.postMessage({ type: 'forkline:height', height, demo: body.dataset.demo ?? '' }, target);
}

if (target) {
  // The frame's own height follows its content; the viewport would just echo
  // whatever height the host gave the iframe.
  document.documentElement.classList.add('embed-autoheight');
  new ResizeObserver(postHeight).observe(document.documentElement);
  addEventListener('load', postHeight);
  postHeight();
}

// Building DOM nodes without a framework: the one helper the page's modules share.

/**
 * Tiny element builder: keeps markup in code readable.
 * `attrs.class` sets the class name, `attrs.text` the text content; other
 * keys become attributes.
 * @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} kids
 */
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') el.className = v; else if (k === 'text') el.textContent = v; else el.setAttribute(k, v);
  }
  el.append(...kids);
  return el;
}

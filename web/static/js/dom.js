// Small DOM helpers. Everything that comes from the server is put in the page as text
// (text nodes / textContent), never parsed as HTML.

/**
 * h('button', {class: 'btn', type: 'button', onClick: fn, dataset: {id: 1}}, 'Save')
 * Attributes: `class`, `text`, `dataset`, `on<Event>` handlers, boolean attributes (true adds,
 * false/null/undefined omits), properties for `value`/`checked`/`disabled`/`selected`, anything
 * else via setAttribute. Children: nodes, strings/numbers (as text), arrays, null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === 'checked') { el.checked = value; el.defaultChecked = value; } // survives form.reset()
    else if (key === 'value') { el.value = value; if ('defaultValue' in el && tag !== 'select') el.defaultValue = value; }
    else if (key === 'selected' || key === 'disabled') el[key] = value;
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, text, nested arrays; null/false/undefined skipped). */
export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Removes every child of `el`, then appends `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** Sets `hidden` on the element. */
export function show(el, visible) {
  el.hidden = !visible;
  return el;
}

/** Formats an RFC 3339 time as local "YYYY-MM-DD HH:MM:SS" (falls back to the raw text). */
export function formatTime(value) {
  if (!value) return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  const two = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

let idCounter = 0;
/** A unique element id with a readable prefix (for label/for pairs). */
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

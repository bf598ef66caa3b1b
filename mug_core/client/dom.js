/**
 * Tiny DOM helpers. Text always goes in through text nodes, never as HTML.
 * @module mug/dom
 */

/**
 * Create an element.
 *
 * `props` keys: `class` (string), `text` (string, set as textContent), `dataset` (object),
 * `on` (object of event name -> listener), `style` (object); booleans set or drop the
 * attribute; any other key is set with setAttribute (null/undefined are skipped).
 * Children may be nodes, strings (added as text), null/false (skipped) or arrays of these.
 *
 * @param {string} tag
 * @param {Object<string, *>} [props]
 * @param {...(Node|string|number|null|undefined|false|Array)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style") Object.assign(el.style, value);
    else if (key === "on") {
      for (const [name, listener] of Object.entries(value)) el.addEventListener(name, listener);
    } else if (value === true) el.setAttribute(key, "");
    else if (value === false) continue;
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/**
 * Append children (nodes, text, nested arrays; null/false skipped) to `parent`.
 * @param {Node} parent
 * @param {Array|Node|string|null|undefined|false} children
 * @returns {Node} parent
 */
export function append(parent, children) {
  const list = Array.isArray(children) ? children : [children];
  for (const child of list) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/**
 * Remove every child of `el`.
 * @param {Element} el
 */
export function clear(el) {
  el.replaceChildren();
}

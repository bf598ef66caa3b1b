/**
 * Building blocks shared by the core's page-like scenes: header, researcher HTML body,
 * continue button, error slots, and a submit handler that shows the server's errors.
 *
 * Fields that can carry an error are wrapped in an element with `data-field="<name>"`
 * containing a `.mug-error[data-for="<name>"]` slot; scene-wide errors (`errors[""]`, the
 * ack's `message`, or errors for unknown fields) go in `.mug-error[data-for=""]`.
 * @module mug/scenes/common
 */

import { h } from "../dom.js";

const GENERIC_ERROR = "Something went wrong. Please try again.";

/**
 * `#mug-header` (h1) and `#mug-subheader` for the spec's header texts (omitted when empty).
 * @param {{header?: string|null, subheader?: string|null}} spec
 * @returns {HTMLElement|null}
 */
export function pageHeader(spec) {
  const header = spec.header ? h("h1", { id: "mug-header", class: "mug-header", tabindex: "-1", text: spec.header }) : null;
  const sub = spec.subheader ? h("p", { id: "mug-subheader", class: "mug-subheader", text: spec.subheader }) : null;
  if (!header && !sub) return null;
  return h("header", { class: "mug-page-header" }, header, sub);
}

/**
 * `#mug-body`: the study author's HTML, inserted as-is (trusted content; scripts do not run).
 * @param {{body?: string|null}} spec
 * @returns {HTMLElement|null}
 */
export function pageBody(spec) {
  if (!spec.body) return null;
  const body = h("div", { id: "mug-body", class: "mug-body" });
  body.innerHTML = spec.body;
  return body;
}

/**
 * An empty, hidden error message slot for `field` (`""` for the whole scene).
 * @param {string} field
 * @returns {HTMLElement}
 */
export function errorSlot(field) {
  return h("p", {
    class: "mug-error",
    id: field ? `mug-error-${field}` : "mug-form-error",
    dataset: { for: field },
    hidden: true,
  });
}

/**
 * The continue button `#mug-continue` (a submit button the kernel disables while offline).
 * @param {string|null|undefined} text
 * @returns {HTMLButtonElement}
 */
export function continueButton(text) {
  return h("button", { type: "submit", id: "mug-continue", class: "mug-button", dataset: { mugSubmit: "" } }, text || "Continue");
}

/**
 * The page skeleton: `<article class="mug-page">` with header and body.
 * @param {object} spec
 * @param {...(Node|null)} rest more children
 * @returns {HTMLElement}
 */
export function pageShell(spec, ...rest) {
  return h("article", { class: "mug-page" }, pageHeader(spec), pageBody(spec), ...rest);
}

/**
 * The element wrapping `field`, or null.
 * @param {ParentNode} root
 * @param {string} field
 * @returns {HTMLElement|null}
 */
export function fieldElement(root, field) {
  return root.querySelector(`[data-field="${CSS.escape(field)}"]`);
}

function setSlot(slot, message) {
  slot.textContent = message || "";
  slot.hidden = !message;
}

/**
 * Show `message` for `field` (or clear it with null).
 * @param {ParentNode} root
 * @param {string} field
 * @param {string|null} message
 * @returns {boolean} whether the field has an error slot in `root`
 */
export function setFieldError(root, field, message) {
  const wrapper = field === "" ? null : fieldElement(root, field);
  const slot = (wrapper ?? root).querySelector(`.mug-error[data-for="${CSS.escape(field)}"]`);
  if (!slot) return false;
  setSlot(slot, message);
  if (wrapper) {
    wrapper.classList.toggle("has-error", Boolean(message));
    for (const input of wrapper.querySelectorAll("input, textarea, select")) {
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }
  return true;
}

/**
 * Clear every error message in `root`.
 * @param {ParentNode} root
 */
export function clearErrors(root) {
  for (const slot of root.querySelectorAll(".mug-error")) setSlot(slot, "");
  for (const wrapper of root.querySelectorAll("[data-field].has-error")) wrapper.classList.remove("has-error");
  for (const input of root.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

/**
 * Show a failed ack's errors next to their fields and focus the first one.
 * @param {ParentNode} root
 * @param {{errors?: Object<string,string>, message?: string}} ack
 */
export function showAckErrors(root, ack) {
  clearErrors(root);
  const errors = ack.errors && typeof ack.errors === "object" ? ack.errors : {};
  const general = [];
  for (const [field, message] of Object.entries(errors)) {
    if (!message) continue;
    if (field === "" || !setFieldError(root, field, String(message))) general.push(String(message));
  }
  if (ack.message) general.push(String(ack.message));
  if (general.length === 0 && Object.keys(errors).length === 0) general.push(GENERIC_ERROR);
  if (general.length) setFieldError(root, "", [...new Set(general)].join(" "));

  const first = root.querySelector("[data-field].has-error");
  if (first) {
    const input = first.querySelector("input:not([type=hidden]), textarea, select");
    first.scrollIntoView({ block: "center", behavior: "smooth" });
    (input ?? first).focus({ preventScroll: true });
  } else {
    const slot = root.querySelector('.mug-error[data-for=""]:not([hidden])');
    if (slot) {
      slot.setAttribute("tabindex", "-1");
      slot.focus();
    }
  }
}

/**
 * Submit `collect()` through `api.submit` when `form` is submitted; one submit at a time.
 * Failed acks are shown with {@link showAckErrors}; a successful ack is handled by the kernel.
 * @param {HTMLFormElement} form
 * @param {object} api the scene api
 * @param {() => object} collect builds the response
 */
export function bindSubmit(form, api, collect) {
  let inFlight = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (inFlight) return;
    inFlight = true;
    try {
      const ack = await api.submit(collect());
      if (!ack.ok && ack.code !== "stale" && form.isConnected) showAckErrors(form, ack);
    } catch (err) {
      console.error("mug: submit failed", err);
      if (form.isConnected) showAckErrors(form, { errors: {}, message: GENERIC_ERROR });
    } finally {
      inFlight = false;
    }
  });
}

/**
 * Clear a field's error as soon as its answer changes.
 * @param {HTMLElement} wrapper an element with `data-field`
 */
export function clearErrorOnChange(wrapper) {
  const clearIt = () => {
    if (wrapper.classList.contains("has-error")) setFieldError(wrapper.parentNode ?? wrapper, wrapper.dataset.field, null);
  };
  wrapper.addEventListener("input", clearIt);
  wrapper.addEventListener("change", clearIt);
}

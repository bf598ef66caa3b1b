/**
 * Text pages: "static", "start" (optional consent checkbox), "end" (optional redirect) and
 * "completion_code" (an end page showing a code to copy).
 * @module mug/scenes/static
 */

import { h } from "../dom.js";
import { registerScene } from "../kernel.js";
import { bindSubmit, clearErrorOnChange, continueButton, errorSlot, pageShell } from "./common.js";

/**
 * A page with a continue button; `extra` fields go above the button, `collect` builds the response.
 * @param {HTMLElement} container
 * @param {object} spec
 * @param {object} api
 * @param {{fields?: Node[], collect?: () => object}} [options]
 */
function renderContinuePage(container, spec, api, { fields = [], collect = () => ({}) } = {}) {
  const form = h(
    "form",
    { id: "mug-form", class: "mug-form", novalidate: true },
    ...fields,
    errorSlot(""),
    h("div", { class: "mug-actions" }, continueButton(spec.button_text)),
  );
  bindSubmit(form, api, collect);
  container.appendChild(pageShell(spec, form));
}

/**
 * The consent checkbox `#mug-consent` with its label and error slot.
 * @param {string} label
 * @returns {HTMLElement}
 */
function consentField(label) {
  const field = h(
    "div",
    { class: "mug-field mug-consent", dataset: { field: "consent" } },
    h(
      "label",
      { class: "mug-check", for: "mug-consent" },
      h("input", { type: "checkbox", id: "mug-consent", name: "consent", "aria-describedby": "mug-error-consent" }),
      h("span", { class: "mug-check-label", text: label }),
    ),
    errorSlot("consent"),
  );
  clearErrorOnChange(field);
  return field;
}

/**
 * An http(s) URL to redirect to, or null if `url` is missing or of another scheme.
 * @param {string|null|undefined} url
 * @returns {string|null}
 */
function safeRedirectUrl(url) {
  if (!url) return null;
  try {
    const parsed = new URL(url, location.href);
    if (parsed.protocol === "http:" || parsed.protocol === "https:") return parsed.href;
  } catch {
    // fall through
  }
  console.warn("mug: ignoring redirect to", url);
  return null;
}

/**
 * "You will be redirected in N s" (`#mug-redirect`, count in `#mug-redirect-countdown`) with a
 * link to go now (`#mug-redirect-link`); redirects with location.assign when the time is up.
 * @param {string} url
 * @param {number} delayS
 * @returns {{element: HTMLElement, stop: () => void}}
 */
function redirectNotice(url, delayS) {
  const delayMs = Number.isFinite(delayS) && delayS > 0 ? delayS * 1000 : 0;
  const count = h("span", { id: "mug-redirect-countdown", class: "mug-countdown" });
  const text = h("span", { class: "mug-redirect-text" }, "You will be redirected in ", count, " s.");
  const link = h("a", { id: "mug-redirect-link", class: "mug-redirect-link", href: url }, "Continue now");
  const element = h("p", { id: "mug-redirect", class: "mug-redirect", role: "status" }, text, " ", link);
  const deadline = Date.now() + delayMs;
  let timer = null;
  let gone = false;
  const tick = () => {
    const left = deadline - Date.now();
    if (left > 0) {
      count.textContent = String(Math.ceil(left / 1000));
      return;
    }
    clearInterval(timer);
    if (gone || stopped) return;
    gone = true;
    text.textContent = "Redirecting…";
    location.assign(url);
  };
  count.textContent = String(Math.ceil(delayMs / 1000));
  // Start after the page is in the document, so a zero delay still shows the page first.
  let stopped = false;
  queueMicrotask(() => {
    if (stopped) return;
    tick();
    if (!gone) timer = setInterval(tick, 250);
  });
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { element, stop };
}

/**
 * Copy `text`; falls back to selecting `el` (and execCommand) where the Clipboard API is missing.
 * @param {string} text
 * @param {HTMLElement} el
 * @returns {Promise<boolean>} whether the text was copied
 */
async function copyText(text, el) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall back below
  }
  const selection = window.getSelection();
  selection.removeAllRanges();
  const range = document.createRange();
  range.selectNodeContents(el);
  selection.addRange(range);
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

/**
 * The completion code box: `#mug-completion-code`, `#mug-copy-code`, `#mug-copy-status`.
 * @param {string} code
 * @returns {HTMLElement}
 */
function codeBox(code) {
  const codeEl = h("code", { id: "mug-completion-code", class: "mug-code", "aria-labelledby": "mug-code-label", text: code });
  const status = h("p", { id: "mug-copy-status", class: "mug-copy-status", role: "status" });
  const button = h("button", { type: "button", id: "mug-copy-code", class: "mug-button mug-button-secondary" }, "Copy");
  button.addEventListener("click", async () => {
    const copied = await copyText(code, codeEl);
    status.textContent = copied ? "Copied." : "Press Ctrl+C (⌘C on a Mac) to copy the selected code.";
  });
  return h(
    "div",
    { class: "mug-code-box" },
    h("p", { id: "mug-code-label", class: "mug-code-label", text: "Your completion code" }),
    h("div", { class: "mug-code-row" }, codeEl, button),
    status,
  );
}

/**
 * An end page: no button, optional code box, optional redirect.
 * @returns {() => void} cleanup stopping the countdown
 */
function renderEndPage(container, spec, { code = null } = {}) {
  const url = safeRedirectUrl(spec.redirect_url);
  const redirect = url ? redirectNotice(url, Number(spec.redirect_delay_s ?? 0)) : null;
  const hasCode = code !== null && code !== undefined && String(code) !== "";
  container.appendChild(pageShell(spec, hasCode ? codeBox(String(code)) : null, redirect ? redirect.element : null));
  return () => redirect && redirect.stop();
}

registerScene("static", {
  render(container, payload, api) {
    renderContinuePage(container, payload.spec ?? {}, api);
  },
});

registerScene("start", {
  render(container, payload, api) {
    const spec = payload.spec ?? {};
    if (!spec.consent) {
      renderContinuePage(container, spec, api);
      return;
    }
    const field = consentField(String(spec.consent));
    const box = field.querySelector("#mug-consent");
    renderContinuePage(container, spec, api, { fields: [field], collect: () => ({ consent: box.checked }) });
  },
});

registerScene("end", {
  render(container, payload) {
    return renderEndPage(container, payload.spec ?? {});
  },
});

registerScene("completion_code", {
  render(container, payload) {
    const spec = payload.spec ?? {};
    return renderEndPage(container, spec, { code: spec.code });
  },
});

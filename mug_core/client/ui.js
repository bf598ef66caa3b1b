/**
 * The page chrome around scenes: connection badge, progress bar, notices, page indicator and
 * error panels. Every function finds (or creates) its element by id, so it also works on a
 * page that lacks the standard template.
 * @module mug/ui
 */

import { h } from "./dom.js";

const BADGE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  closed: "",
};
const BADGE_FADE_MS = 2000;
const NOTICE_MS = 8000;

let connection = "connecting";
let fadeTimer = null;
const connectionListeners = new Set();

/**
 * The element with `id`, created (by `make`) and appended to `<body>` if missing.
 * @param {string} id
 * @param {() => HTMLElement} make
 * @returns {HTMLElement}
 */
function ensure(id, make) {
  let el = document.getElementById(id);
  if (!el) {
    el = make();
    el.id = id;
    document.body.appendChild(el);
  }
  return el;
}

function badgeEl() {
  return ensure("mug-connection", () => h("div", { class: "mug-connection", role: "status" }));
}

/**
 * Show the connection state in the corner badge and tell listeners.
 *
 * States: "connecting", "connected" (fades after a moment), "reconnecting", "offline",
 * "closed" (badge hidden). Sets `data-state` on `#mug-connection` and `data-connection` on
 * `<html>`.
 * @param {string} state
 */
export function setConnectionState(state) {
  const previous = connection;
  connection = state;
  const badge = badgeEl();
  clearTimeout(fadeTimer);
  badge.dataset.state = state;
  badge.textContent = state in BADGE_TEXT ? BADGE_TEXT[state] : String(state);
  badge.hidden = state === "closed";
  badge.classList.remove("is-faded");
  if (state === "connected") {
    fadeTimer = setTimeout(() => badge.classList.add("is-faded"), BADGE_FADE_MS);
  }
  document.documentElement.dataset.connection = state;
  if (previous !== state) {
    for (const listener of connectionListeners) {
      try {
        listener(state, previous);
      } catch (err) {
        console.error("mug: connection listener failed", err);
      }
    }
  }
}

/**
 * The current connection state (see {@link setConnectionState}).
 * @returns {string}
 */
export function connectionState() {
  return connection;
}

/**
 * Call `listener(state, previous)` whenever the connection state changes.
 * @param {(state: string, previous: string) => void} listener
 * @returns {() => void} a function that removes the listener
 */
export function onConnectionState(listener) {
  connectionListeners.add(listener);
  return () => connectionListeners.delete(listener);
}

function progressEl() {
  const el = ensure("mug-progress", () =>
    h(
      "div",
      { class: "mug-progress", hidden: true },
      h("div", { id: "mug-progress-label", class: "mug-progress-label" }),
      h(
        "div",
        { class: "mug-progress-track", role: "progressbar", "aria-labelledby": "mug-progress-label" },
        h("div", { id: "mug-progress-bar", class: "mug-progress-bar" }),
      ),
    ),
  );
  return {
    root: el,
    label: el.querySelector("#mug-progress-label"),
    track: el.querySelector(".mug-progress-track"),
    bar: el.querySelector("#mug-progress-bar"),
  };
}

/**
 * Show the progress bar (`#mug-progress`) with a label.
 * @param {string} label text shown above the bar
 * @param {number|null} [fraction] 0..1, or null/undefined for an indeterminate animation
 */
export function showProgress(label, fraction = null) {
  const { root, label: labelEl, track, bar } = progressEl();
  labelEl.textContent = label == null ? "" : String(label);
  const known = typeof fraction === "number" && Number.isFinite(fraction);
  root.classList.toggle("is-indeterminate", !known);
  if (known) {
    const pct = Math.round(Math.min(1, Math.max(0, fraction)) * 100);
    bar.style.width = `${pct}%`;
    track.setAttribute("aria-valuemin", "0");
    track.setAttribute("aria-valuemax", "100");
    track.setAttribute("aria-valuenow", String(pct));
    root.dataset.fraction = String(Math.min(1, Math.max(0, fraction)));
  } else {
    bar.style.width = "";
    track.removeAttribute("aria-valuenow");
    delete root.dataset.fraction;
  }
  root.hidden = false;
}

/** Hide the progress bar. */
export function hideProgress() {
  const el = document.getElementById("mug-progress");
  if (el) el.hidden = true;
}

/**
 * Show a non-blocking notice (auto-dismissed after a few seconds, or by its close button).
 * @param {string} message
 * @param {{kind?: "info"|"error", timeoutMs?: number}} [options]
 * @returns {HTMLElement} the notice element (`.mug-notice`)
 */
export function showNotice(message, { kind = "info", timeoutMs = NOTICE_MS } = {}) {
  const box = ensure("mug-notices", () => h("div", { class: "mug-notices", "aria-live": "polite" }));
  const close = h("button", { type: "button", class: "mug-notice-close", "aria-label": "Dismiss" }, "×");
  const notice = h(
    "div",
    { class: `mug-notice mug-notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "mug-notice-text", text: message }),
    close,
  );
  const remove = () => notice.remove();
  close.addEventListener("click", remove);
  box.appendChild(notice);
  if (timeoutMs > 0) setTimeout(remove, timeoutMs);
  return notice;
}

/**
 * Show "Page N of M" in `#mug-page-indicator`, or hide it.
 * @param {number|null|undefined} index zero-based
 * @param {number|null|undefined} count
 */
export function setPageIndicator(index, count) {
  const el = document.getElementById("mug-page-indicator");
  if (!el) return;
  const show = Number.isInteger(count) && count > 0 && Number.isInteger(index) && index >= 0;
  el.textContent = show ? `Page ${Math.min(index + 1, count)} of ${count}` : "";
  el.hidden = !show;
}

/**
 * Build an error panel (`#mug-error-panel`, `role="alert"`).
 * @param {{title?: string, message: string, code?: string, retry?: boolean}} options
 *   `retry` adds a "Try again" button (`#mug-retry`) that reloads the page.
 * @returns {HTMLElement}
 */
export function errorPanel({ title = "Something went wrong", message, code, retry = false }) {
  const panel = h(
    "section",
    { id: "mug-error-panel", class: "mug-panel mug-panel-error", role: "alert", dataset: code ? { code } : {} },
    h("h1", { class: "mug-panel-title", text: title }),
    h("p", { class: "mug-panel-message", text: message }),
  );
  if (retry) {
    const button = h("button", { type: "button", id: "mug-retry", class: "mug-button mug-button-secondary" }, "Try again");
    button.addEventListener("click", () => location.reload());
    panel.appendChild(h("div", { class: "mug-actions" }, button));
  }
  return panel;
}

/**
 * Shows one scene at a time in the page's scene container: finds the renderer for the
 * payload's scene type, gives it a fresh element, runs the previous scene's cleanup, and keeps
 * the submit buttons' enabled state in line with the connection.
 * @module mug/scene_host
 */

import { h } from "./dom.js";
import { sceneRenderer } from "./kernel.js";
import { errorPanel, setPageIndicator } from "./ui.js";

/**
 * The error shown for a scene type no plugin registered.
 * @param {string} type
 * @returns {string}
 */
export function missingSceneMessage(type) {
  return `This page type (${type}) is not available; the study's server is missing a plugin.`;
}

export class SceneHost {
  /**
   * @param {HTMLElement} mount the `#mug-scene` element
   * @param {{makeApi: (payload: object) => object, isOnline: () => boolean}} options
   */
  constructor(mount, { makeApi, isOnline }) {
    this.mount = mount;
    this.makeApi = makeApi;
    this.isOnline = isOnline;
    /** @type {string|null} */
    this.currentKey = null;
    this.root = null;
    this.cleanup = null;
    this.generation = 0;
    this.busy = false;
  }

  /** Run the current scene's cleanup and remove it. */
  teardown() {
    this.generation += 1;
    const cleanup = this.cleanup;
    this.cleanup = null;
    if (typeof cleanup === "function") {
      try {
        cleanup();
      } catch (err) {
        console.error("mug: scene cleanup failed", err);
      }
    }
    this.busy = false;
    this.currentKey = null;
    this.root = null;
    this.mount.replaceChildren();
  }

  /**
   * A fresh scene root, mounted in place of whatever was shown.
   * @param {object|null} payload
   * @returns {HTMLElement}
   */
  replace(payload) {
    this.teardown();
    const data = payload
      ? { sceneKey: payload.scene_key, sceneId: String(payload.scene_id ?? ""), sceneType: String(payload.scene_type ?? "") }
      : {};
    for (const name of ["sceneKey", "sceneId", "sceneType"]) {
      if (name in data) this.mount.dataset[name] = data[name];
      else delete this.mount.dataset[name];
    }
    const root = h("div", { class: "mug-scene-root", tabindex: "-1", dataset: data });
    this.mount.appendChild(root);
    this.root = root;
    this.currentKey = payload ? payload.scene_key : null;
    window.scrollTo(0, 0);
    return root;
  }

  /**
   * Render `payload` unless it is the scene already shown.
   * @param {object} payload a ScenePayload
   * @returns {boolean} true if something new was rendered
   */
  show(payload) {
    if (!payload || typeof payload !== "object" || typeof payload.scene_key !== "string") {
      this.showPanel(
        errorPanel({ title: "This page cannot be shown", message: "The server sent a page this browser cannot read.", code: "bad_scene" }),
      );
      return true;
    }
    if (payload.scene_key === this.currentKey) return false;

    const root = this.replace(payload);
    const generation = this.generation;
    setPageIndicator(payload.index, payload.count);
    const renderer = sceneRenderer(payload.scene_type);
    if (!renderer) {
      root.appendChild(
        errorPanel({ title: "This page cannot be shown", message: missingSceneMessage(payload.scene_type), code: "unknown_scene_type" }),
      );
      this.announce(payload);
      return true;
    }
    let result;
    try {
      result = renderer.render(root, payload, this.makeApi(payload));
    } catch (err) {
      this.failed(root, payload, err);
      return true;
    }
    if (result && typeof result.then === "function") {
      result.then(
        (cleanup) => this.adopt(generation, cleanup),
        (err) => {
          if (generation === this.generation) this.failed(root, payload, err);
        },
      );
    } else {
      this.adopt(generation, result);
    }
    this.refreshButtons();
    this.focus(root);
    this.announce(payload);
    return true;
  }

  /**
   * Keep `cleanup` for the scene of `generation`, or run it now if that scene is gone.
   * @param {number} generation
   * @param {*} cleanup
   */
  adopt(generation, cleanup) {
    if (typeof cleanup !== "function") {
      if (generation === this.generation) this.refreshButtons();
      return;
    }
    if (generation === this.generation) {
      this.cleanup = cleanup;
      this.refreshButtons();
    } else {
      try {
        cleanup();
      } catch (err) {
        console.error("mug: scene cleanup failed", err);
      }
    }
  }

  failed(root, payload, err) {
    console.error(`mug: rendering scene ${payload.scene_key} (${payload.scene_type}) failed`, err);
    root.replaceChildren(
      errorPanel({
        title: "This page could not be shown",
        message: `Please reload the page. (${err && err.message ? err.message : String(err)})`,
        code: "render_failed",
        retry: true,
      }),
    );
  }

  /**
   * Replace the scene with a panel (error, end of study...). Clears the current scene key, so
   * any scene the server sends next is rendered.
   * @param {HTMLElement} panel
   */
  showPanel(panel) {
    const root = this.replace(null);
    setPageIndicator(null, null);
    root.appendChild(panel);
    this.focus(root);
  }

  focus(root) {
    const target = root.querySelector("#mug-header, .mug-panel-title") ?? root;
    if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  announce(payload) {
    document.dispatchEvent(new CustomEvent("mug:scene", { detail: payload }));
  }

  /** @param {boolean} busy whether a submit for the current scene is in flight */
  setBusy(busy) {
    this.busy = busy;
    this.refreshButtons();
  }

  /** Enable `[data-mug-submit]` buttons only when connected and no submit is in flight. */
  refreshButtons() {
    if (!this.root) return;
    const disabled = !this.isOnline() || this.busy;
    for (const button of this.root.querySelectorAll("[data-mug-submit]")) {
      button.disabled = disabled;
      if (this.busy) button.setAttribute("aria-busy", "true");
      else button.removeAttribute("aria-busy");
    }
    this.root.classList.toggle("is-busy", this.busy);
  }
}

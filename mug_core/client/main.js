/**
 * Page entry point: reads the boot JSON, loads the scene modules, joins the study over
 * socket.io and shows the scenes the server sends.
 * @module mug/main
 */

import "./kernel.js";
import { Session } from "./connection.js";
import { h } from "./dom.js";
import { SceneHost } from "./scene_host.js";
import { tabId } from "./tab.js";
import { errorPanel, hideProgress, setConnectionState, showNotice, showProgress } from "./ui.js";

/** The core's own scene modules, loaded before the study's plugin modules. */
const BUILTIN_MODULES = ["./scenes/static.js", "./scenes/survey.js"];

const SECOND_TAB_MESSAGE = "This study is already open in another tab or window. Please continue there.";
const STALE_ACK = Object.freeze({ ok: false, code: "stale", errors: {}, message: "This page is no longer current." });
const SLOW_LOAD_MS = 400;

/** A module that could not be imported. */
class ModuleLoadError extends Error {
  constructor(url, cause) {
    super(`Could not load ${url}: ${cause && cause.message ? cause.message : String(cause)}`);
    this.url = url;
    this.cause = cause;
  }
}

/**
 * The boot JSON from `<script id="mug-boot" type="application/json">`.
 * @returns {{participant_id: string, modules: string[], socket_path: string}}
 */
function readBoot() {
  const el = document.getElementById("mug-boot");
  if (!el) throw new Error("the page has no #mug-boot element");
  const boot = JSON.parse(el.textContent);
  if (!boot || typeof boot !== "object") throw new Error("the boot data is not an object");
  if (typeof boot.participant_id !== "string" || !boot.participant_id) {
    throw new Error("the boot data has no participant_id");
  }
  return boot;
}

/**
 * Import the built-in scene modules and then `urls`, in order, each once.
 * Relative URLs are resolved against the page's address.
 * @param {string[]} urls
 * @throws {ModuleLoadError} naming the first module that failed
 */
async function loadModules(urls) {
  const seen = new Set();
  const list = [
    ...BUILTIN_MODULES.map((path) => ({ shown: path, href: new URL(path, import.meta.url).href })),
    ...urls.map((url) => ({ shown: String(url), href: new URL(String(url), document.baseURI).href })),
  ];
  for (const { shown, href } of list) {
    if (seen.has(href)) continue;
    seen.add(href);
    try {
      await import(href);
    } catch (err) {
      throw new ModuleLoadError(shown, err);
    }
  }
}

/**
 * Make an ack safe to read: always an object with `ok` and `errors`.
 * @param {*} ack
 * @returns {{ok: boolean, errors: Object<string,string>, message?: string, scene?: object|null}}
 */
function normalizeAck(ack) {
  if (!ack || typeof ack !== "object") {
    return { ok: false, errors: {}, message: "The server sent an unexpected reply. Please try again." };
  }
  const errors = ack.errors && typeof ack.errors === "object" ? ack.errors : {};
  return { ...ack, ok: ack.ok === true, errors };
}

function donePanel() {
  return h(
    "section",
    { id: "mug-done", class: "mug-panel" },
    h("h1", { class: "mug-panel-title", text: "Thank you" }),
    h("p", { class: "mug-panel-message", text: "There is nothing more to do here. You can close this page." }),
  );
}

function mountPoint() {
  let mount = document.getElementById("mug-scene");
  if (!mount) {
    mount = h("main", { id: "mug-scene", class: "mug-scene" });
    document.body.appendChild(mount);
  }
  return mount;
}

async function start() {
  const mount = mountPoint();
  let session = null;
  const host = new SceneHost(mount, {
    makeApi: (payload) => sceneApi(payload),
    isOnline: () => Boolean(session && session.ready),
  });
  const fail = (options) => {
    setConnectionState("closed");
    host.showPanel(errorPanel(options));
  };

  let boot;
  try {
    boot = readBoot();
  } catch (err) {
    fail({ title: "This page is incomplete", message: `The study's settings could not be read (${err.message}).`, code: "bad_boot" });
    return;
  }

  const modules = Array.isArray(boot.modules) ? boot.modules : [];
  let slowTimer = setTimeout(() => {
    slowTimer = null;
    showProgress("Loading the study…", null);
  }, SLOW_LOAD_MS);
  let tab;
  try {
    [, tab] = await Promise.all([loadModules(modules), tabId()]);
  } catch (err) {
    console.error("mug:", err);
    const message = err instanceof ModuleLoadError ? err.message : `Loading failed: ${err.message}`;
    fail({ title: "Part of this study could not be loaded", message, code: "module_load_failed", retry: true });
    return;
  } finally {
    if (slowTimer) clearTimeout(slowTimer);
    else hideProgress();
  }

  if (typeof window.io !== "function") {
    const src = document.getElementById("mug-socketio")?.getAttribute("src") ?? "the socket.io client";
    fail({ title: "This study could not connect", message: `Could not load ${src}.`, code: "no_socketio", retry: true });
    return;
  }

  const socket = window.io({ path: boot.socket_path || "/socket.io" });
  const inflight = new Map();

  /** Render a scene sent by the server and drop requests made for the scene it replaces. */
  const showScene = (scene) => {
    if (scene != null) host.show(scene);
    else if (!mount.querySelector("#mug-done")) host.showPanel(donePanel());
    session.cancel((tags) => tags.sceneKey !== undefined && tags.sceneKey !== host.currentKey, STALE_ACK);
  };

  const submit = (sceneKey, response) => {
    if (sceneKey !== host.currentKey) return Promise.resolve(STALE_ACK);
    if (inflight.has(sceneKey)) return inflight.get(sceneKey);
    const promise = (async () => {
      host.setBusy(true);
      try {
        const ack = normalizeAck(
          await session.request("advance", { scene_key: sceneKey, response: response ?? {} }, { sceneKey }),
        );
        if (ack.ok && sceneKey === host.currentKey) showScene(ack.scene ?? null);
        return ack;
      } finally {
        inflight.delete(sceneKey);
        if (sceneKey === host.currentKey) host.setBusy(false);
      }
    })();
    inflight.set(sceneKey, promise);
    return promise;
  };

  /**
   * Send a scene-specific event (e.g. a game's step records); resolves with the server's ack.
   * Queued while offline and re-sent after a reconnect, like submit; the server drops
   * duplicates the scene can recognise (sequence numbers).
   */
  const sceneEvent = (sceneKey, name, data) =>
    session
      .request("scene_event", { scene_key: sceneKey, name, payload: data ?? {} }, { sceneKey })
      .then(normalizeAck);

  function sceneApi(payload) {
    return {
      participantId: boot.participant_id,
      sceneKey: payload.scene_key,
      payload,
      spec: payload.spec ?? {},
      submit: (response) => submit(payload.scene_key, response),
      sceneEvent: (name, data) => sceneEvent(payload.scene_key, name, data),
      maxPayloadBytes: boot.max_payload_bytes || 65536,
      socket,
      showProgress,
      hideProgress,
      showNotice,
    };
  }

  session = new Session(socket, {
    joinPayload: () => ({
      participant_id: boot.participant_id,
      tab_id: tab,
      query: Object.fromEntries(new URLSearchParams(location.search)),
      user_agent: navigator.userAgent,
    }),
    onJoined: (ack) => showScene(ack.scene ?? null),
    onJoinFailed: (ack) => {
      const secondTab = ack.code === "second_tab";
      host.showPanel(
        errorPanel({
          title: secondTab ? "This study is open elsewhere" : "This study cannot continue here",
          message: secondTab ? SECOND_TAB_MESSAGE : ack.message || "The server did not let this page join the study.",
          code: ack.code || "join_failed",
          retry: true,
        }),
      );
    },
    onState: (state) => {
      setConnectionState(state);
      host.refreshButtons();
    },
  });

  socket.on("scene", (payload) => {
    if (!session.closed) showScene(payload);
  });
  socket.on("error", (data) => {
    const message = data && typeof data === "object" ? data.message : data;
    if (message) showNotice(String(message), { kind: "error" });
  });

  if (window.mug) window.mug.session = { socket, participantId: boot.participant_id, tabId: tab };
}

start().catch((err) => {
  console.error("mug: start failed", err);
  setConnectionState("closed");
  mountPoint().replaceChildren(
    errorPanel({ title: "Something went wrong", message: String(err && err.message ? err.message : err), retry: true }),
  );
});

/**
 * The `browser` runtime: a game scene's env runs in this page, in Pyodide inside a module Web
 * Worker (worker.js), and keeps stepping at the scene's fps while the tab is in the background.
 *
 * The page side of game scenes (`mug_core`'s scenes/gym.js: layout, canvas, countdown, uploads)
 * calls `runtime("browser").start(container, spec, host)`; see {@link start}. This module adds
 * the keyboard: mapped keys are tracked while held (arrows do not scroll the page) and turned
 * into the human agent's action, and only changes are sent to the worker.
 *
 * Preloading: Pyodide takes about 3 s of CPU to start, so begin early with
 * `runtime("browser").preload()` (idempotent). This module does so by itself at import when the
 * page's boot JSON lists `"browser"` in `runtimes` (the runtimes of the study's game scenes);
 * otherwise the first game scene starts it.
 *
 * Where Pyodide comes from: `?pyodide=<folder URL>` on this module's own URL (the plugin adds it
 * when the server runs with MUG_PYODIDE_URL), else `/vendor/pyodide/` on this server.
 * @module mug-pyodide/runtime
 */

import "/static/mug/scenes/gym.js";
import { hideProgress, registerRuntime } from "/static/mug/kernel.js";

const MODULE_URL = new URL(import.meta.url);
const LOCAL_PYODIDE = "/vendor/pyodide/";

/** Policy type -> URL of a module exporting `createPolicy(spec, agent, {pyodide})`. */
const workerPolicies = new Map();

/**
 * Let a plugin compute a policy type in JavaScript inside the worker (e.g. "onnx"). The module
 * at `moduleUrl` is imported in the worker and must export
 * `createPolicy(policySpec, agentKey, {pyodide}) -> {act(observation) -> action|Promise, reset?(episode)}`;
 * `observation` is the agent's observation as JSON data.
 * @param {string} type the policy spec's `type`
 * @param {string} moduleUrl absolute or page-relative URL of the module
 */
export function registerWorkerPolicy(type, moduleUrl) {
  workerPolicies.set(type, new URL(moduleUrl, document.baseURI).href);
}

/**
 * The folder Pyodide is loaded from (ends with "/").
 * @param {object} [spec] a scene spec; its `pyodide_url`, if any, wins
 * @returns {string}
 */
export function pyodideBaseUrl(spec) {
  const raw = (spec && spec.pyodide_url) || MODULE_URL.searchParams.get("pyodide") || LOCAL_PYODIDE;
  const url = new URL(raw, location.origin).href;
  return url.endsWith("/") ? url : `${url}/`;
}

/** The one worker of this page, shared by every game scene. */
const shared = {
  worker: null,
  ready: null,
  nextId: 1,
  pending: new Map(),
  progress: { label: "Loading the game…", fraction: 0 },
  listener: null,
};

function onWorkerMessage(event) {
  const message = event.data;
  if (message.type === "reply") {
    const entry = shared.pending.get(message.id);
    if (!entry) return;
    shared.pending.delete(message.id);
    if (message.ok) entry.resolve(message.result);
    else entry.reject(Object.assign(new Error(message.message), { traceback: message.traceback }));
    return;
  }
  if (message.type === "progress") shared.progress = { label: message.label, fraction: message.fraction };
  if (shared.listener) shared.listener(message);
}

function request(message) {
  const id = shared.nextId++;
  return new Promise((resolve, reject) => {
    shared.pending.set(id, { resolve, reject });
    shared.worker.postMessage({ ...message, id });
  });
}

/**
 * The page's worker, for runtimes built on it (mug-p2p): `request(message)` answers through
 * the worker's `reply`, `post(message)` just sends, and `listen(fn)` receives every other
 * message (`progress`, `failed`, an extension's own) until the returned function is called.
 * Call {@link preload} first.
 */
export const worker = {
  request: (message) => request(message),
  post: (message) => shared.worker.postMessage(message),
  listen(fn) {
    shared.listener = fn;
    fn({ type: "progress", ...shared.progress });
    return () => {
      if (shared.listener === fn) shared.listener = null;
    };
  },
};

/**
 * Start the worker and load Pyodide, the env-side mug_core package and runner.py. Idempotent;
 * resolves when Python is ready, rejects (once, for every caller) if loading failed.
 * @param {object} [spec] a scene spec (only its `pyodide_url` is used)
 * @returns {Promise<void>}
 */
export function preload(spec) {
  if (shared.ready) return shared.ready;
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "mug-pyodide" });
  shared.worker = worker;
  worker.onmessage = onWorkerMessage;
  worker.onerror = (event) => {
    const error = new Error(`the game's worker failed: ${event.message || "it could not start"}`);
    for (const entry of shared.pending.values()) entry.reject(error);
    shared.pending.clear();
    if (shared.listener) shared.listener({ type: "failed", message: error.message, traceback: "" });
  };
  shared.ready = request({
    type: "init",
    indexURL: pyodideBaseUrl(spec),
    zipURL: new URL("/python/mug_core.zip", location.origin).href,
    runnerURL: new URL("./runner.py", import.meta.url).href,
    packageIndex: MODULE_URL.searchParams.get("index") || null,
  });
  shared.ready.catch(() => {});
  return shared.ready;
}

/**
 * Normalise a key name so Shift does not change letters ("A" and "a" are one key).
 * @param {string} key a `KeyboardEvent.key`
 * @returns {string}
 */
export const normKey = (key) => (typeof key === "string" && key.length === 1 ? key.toLowerCase() : key);

/**
 * Turns held keys into actions with the scene's `action_mapping` (longest matching combination
 * wins; among equally long ones, the one with the most recently pressed key). Keys go in and
 * out of `held` (a Map of normalised key -> press order) through `press(key)`/`release(key)`.
 */
export class KeyMap {
  /** @param {Array<[string[], *]>} mapping */
  constructor(mapping) {
    this.combos = (mapping ?? []).map(([keys, action]) => ({ keys: keys.map(normKey), action }));
    this.mapped = new Set(this.combos.flatMap((c) => c.keys));
    /** key -> press order */
    this.held = new Map();
    this.counter = 0;
  }

  has(key) {
    return this.mapped.has(key);
  }

  /** @param {string} key a normalised key that went down */
  press(key) {
    this.held.set(key, ++this.counter);
  }

  /** @param {string} key @returns {boolean} whether it was held */
  release(key) {
    return this.held.delete(key);
  }

  /**
   * The action for the held keys, or null when no combination matches.
   * @param {string} [mustInclude] only combinations containing this key
   */
  action(mustInclude) {
    let best = null;
    let bestScore = [-1, -1];
    for (const combo of this.combos) {
      if (mustInclude && !combo.keys.includes(mustInclude)) continue;
      if (!combo.keys.every((k) => this.held.has(k))) continue;
      const score = [combo.keys.length, Math.max(...combo.keys.map((k) => this.held.get(k)))];
      if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
        best = combo;
        bestScore = score;
      }
    }
    return best ? best.action : null;
  }
}

/**
 * Listen to the keyboard for `agent`: record key events through `host.input` and pass each
 * action change to `send(action, mode)` (mode "held", or "press" in single-keystroke games);
 * by default the worker gets it.
 * @returns {() => void} removes the listeners
 */
export function listenToKeys(
  spec,
  agent,
  host,
  send = (action, mode) => shared.worker.postMessage({ type: "input", agent, action, mode }),
) {
  const keys = new KeyMap(spec.action_mapping);
  const single = spec.input_mode === "single_keystroke";
  let sent = null;
  const update = () => {
    const action = keys.action();
    if (action !== sent) {
      sent = action;
      send(action, "held");
    }
  };
  const typing = (event) =>
    event.target instanceof HTMLElement && event.target.closest("input, textarea, select, [contenteditable]");
  const down = (event) => {
    const key = normKey(event.key);
    if (!keys.has(key) || typing(event)) return;
    event.preventDefault();
    if (event.repeat || keys.held.has(key)) return;
    keys.press(key);
    host.input({ type: "keydown", key: event.key, agent });
    if (single) {
      const action = keys.action(key);
      if (action !== null) send(action, "press");
    } else update();
  };
  const up = (event) => {
    const key = normKey(event.key);
    if (!keys.has(key)) return;
    event.preventDefault();
    if (!keys.release(key)) return;
    host.input({ type: "keyup", key: event.key, agent });
    if (!single) update();
  };
  const release = () => {
    // keyup never arrives for keys held while the window loses focus.
    for (const key of keys.held.keys()) host.input({ type: "keyup", key, agent });
    keys.held.clear();
    if (!single) update();
  };
  window.addEventListener("keydown", down);
  window.addEventListener("keyup", up);
  window.addEventListener("blur", release);
  return () => {
    window.removeEventListener("keydown", down);
    window.removeEventListener("keyup", up);
    window.removeEventListener("blur", release);
  };
}

/**
 * The human agent this page plays: the group's agent in a multi-player game, else the only
 * `human` policy; null when every agent is an AI.
 * @param {object} spec
 * @returns {string|null}
 */
export function humanAgent(spec) {
  if (spec.group && spec.group.agent !== undefined && spec.group.agent !== null) return String(spec.group.agent);
  const humans = Object.entries(spec.policies ?? {}).filter(([, p]) => p && p.type === "human");
  if (humans.length > 1) {
    throw new Error(
      `this game has ${humans.length} human players (${humans.map(([a]) => a).join(", ")}); the browser ` +
        "runtime plays one participant per page",
    );
  }
  return humans.length ? humans[0][0] : null;
}

/**
 * @typedef {object} GameHost what the page side gives a runtime (see scenes/gym.js)
 * @property {(label: string, fraction: number|null) => void} progress loading progress
 * @property {(packet: object) => void} frame a render packet, in order
 * @property {(record: object, meta: object) => void} step a step record
 *   `{step, t, actions, rewards, terminated, truncated, infos, observations?}` and
 *   `{done, returns, callMs, parseMs, timing: [envMs, renderMs], bytes, packetBytes?}`
 *   (`packetBytes` only when `globalThis.mugProfile` is true)
 * @property {(event: {type: string, key?: string, agent?: string}) => void} input a key event
 */

/**
 * @typedef {object} Game a started runtime
 * @property {string|null} agent the human agent's key
 * @property {(episode: number) => Promise<void>} reset new episode; its first frame is drawn
 * @property {() => Promise<{steps: number, returns: Object<string, number>}>} run step at fps
 *   until the episode ends; rejects (error with `traceback`) if the env or a policy fails
 * @property {() => void} stop stop stepping and listening; frees the env
 */

/**
 * Start a game scene: load (or reuse) Pyodide, build the env from `spec`, listen to the keys.
 * @param {HTMLElement} container the game area (unused: the page side draws)
 * @param {object} spec the scene spec (docs/game-protocol.md)
 * @param {GameHost} host
 * @returns {Promise<Game>}
 */
export async function start(container, spec, host) {
  const agent = humanAgent(spec);
  let current = null; // {resolve, reject, steps} of the episode being played
  let stopped = false;
  const listener = (message) => {
    if (stopped) return;
    if (message.type === "progress") host.progress(message.label, message.fraction);
    else if (message.type === "step") onStep(message);
    else if (message.type === "failed" && current) {
      current.reject(Object.assign(new Error(message.message), { traceback: message.traceback }));
      current = null;
    }
  };
  const onStep = ({ json, t, callMs }) => {
    const began = performance.now();
    const out = JSON.parse(json);
    const parseMs = performance.now() - began;
    if (out.packet) host.frame(out.packet);
    const record = {
      step: out.step,
      t,
      actions: out.actions,
      rewards: out.rewards,
      terminated: out.terminated,
      truncated: out.truncated,
      infos: out.infos,
    };
    if ("observations" in out) record.observations = out.observations;
    const meta = { done: out.done, returns: out.returns, callMs, parseMs, timing: out.timing, bytes: json.length };
    if (globalThis.mugProfile && out.packet) meta.packetBytes = JSON.stringify(out.packet).length;
    host.step(record, meta);
    if (out.done && current) {
      current.resolve({ steps: out.step + 1, returns: out.returns });
      current = null;
    }
  };
  shared.listener = listener;
  host.progress(shared.progress.label, shared.progress.fraction);
  await preload(spec);
  const providers = Object.fromEntries(workerPolicies);
  await request({ type: "setup", spec, providers });
  hideProgress();
  const unlisten = agent === null ? () => {} : listenToKeys(spec, agent, host);
  return {
    agent,
    async reset(episode) {
      const first = JSON.parse(await request({ type: "reset", episode }));
      if (first.packet) host.frame(first.packet);
    },
    run() {
      return new Promise((resolve, reject) => {
        current = { resolve, reject };
        shared.worker.postMessage({ type: "play", fps: spec.fps || 30 });
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      unlisten();
      shared.worker.postMessage({ type: "stop" });
      if (shared.listener === listener) shared.listener = null;
    },
  };
}

registerRuntime("browser", { preload, start, registerWorkerPolicy });

/** Preload at import when the boot JSON says the study's game scenes use this runtime. */
function preloadIfListed() {
  try {
    const boot = JSON.parse(document.getElementById("mug-boot")?.textContent || "{}");
    const runtimes = Array.isArray(boot.runtimes) ? boot.runtimes : [];
    if (runtimes.includes("browser")) preload();
  } catch (err) {
    console.warn("mug-pyodide: could not read the boot data", err);
  }
}

preloadIfListed();

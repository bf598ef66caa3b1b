/**
 * The browser kernel's registry: plugin modules register scene renderers, runtimes, renderers
 * and transports here by name. Import it as `/static/mug/kernel.js` (the same URL the page uses,
 * so every module shares one registry), or use `window.mug` from classic scripts.
 *
 * A scene renderer is `{ render(container, payload, api) }`:
 *   - `container`: a fresh element for this scene (add the `mug-wide` class for full width);
 *   - `payload`: the ScenePayload `{scene_key, scene_id, scene_type, index, count, spec}`;
 *   - `api`: `{ participantId, sceneKey, payload, spec, submit(response) -> Promise<ack>,
 *     socket, showProgress, hideProgress, showNotice }`.
 * `render` may return a cleanup function, or a promise of one; it is called when the scene
 * is replaced. Buttons marked `data-mug-submit` are disabled by the kernel while the
 * connection is down or a submit is in flight.
 * @module mug/kernel
 */

import {
  connectionState,
  hideProgress,
  onConnectionState,
  setConnectionState,
  showNotice,
  showProgress,
} from "./ui.js";

export { connectionState, hideProgress, onConnectionState, setConnectionState, showNotice, showProgress };

/** @type {Map<string, Map<string, *>>} */
const registries = new Map([
  ["scene", new Map()],
  ["runtime", new Map()],
  ["renderer", new Map()],
  ["transport", new Map()],
]);

/**
 * Add `impl` under `name` in the registry `kind`, refusing duplicates.
 * @param {string} kind
 * @param {string} name
 * @param {*} impl
 */
function register(kind, name, impl) {
  if (typeof name !== "string" || name.trim() === "") {
    throw new Error(`mug: a ${kind} needs a non-empty name, got ${JSON.stringify(name)}`);
  }
  if (impl === null || (typeof impl !== "object" && typeof impl !== "function")) {
    throw new Error(`mug: ${kind} "${name}" must be an object or function`);
  }
  const registry = registries.get(kind);
  if (registry.has(name)) {
    throw new Error(`mug: ${kind} "${name}" is already registered`);
  }
  registry.set(name, impl);
}

/**
 * Register the renderer for a scene type.
 * @param {string} type the server's `scene_type`, e.g. "survey"
 * @param {{render: (container: HTMLElement, payload: object, api: object) =>
 *   (void|(() => void)|Promise<void|(() => void)>)}} renderer
 * @throws {Error} if `type` is already registered or `renderer.render` is not a function
 */
export function registerScene(type, renderer) {
  if (!renderer || typeof renderer.render !== "function") {
    throw new Error(`mug: scene "${type}" must be an object with a render(container, payload, api) method`);
  }
  register("scene", type, renderer);
}

/**
 * Register a runtime (e.g. a Python-in-the-browser environment runner) by name.
 * @param {string} name
 * @param {object|Function} impl
 * @throws {Error} if `name` is already registered
 */
export function registerRuntime(name, impl) {
  register("runtime", name, impl);
}

/**
 * Register a renderer (e.g. a canvas drawer for game frames) by name.
 * @param {string} name
 * @param {object|Function} impl
 * @throws {Error} if `name` is already registered
 */
export function registerRenderer(name, impl) {
  register("renderer", name, impl);
}

/**
 * Register a transport (e.g. a peer-to-peer channel) by name.
 * @param {string} name
 * @param {object|Function} impl
 * @throws {Error} if `name` is already registered
 */
export function registerTransport(name, impl) {
  register("transport", name, impl);
}

/**
 * The renderer registered for scene type `type`, or undefined.
 * @param {string} type
 * @returns {object|undefined}
 */
export function sceneRenderer(type) {
  return registries.get("scene").get(type);
}

/**
 * The runtime registered as `name`, or undefined.
 * @param {string} name
 * @returns {object|Function|undefined}
 */
export function runtime(name) {
  return registries.get("runtime").get(name);
}

/**
 * The renderer registered as `name`, or undefined.
 * @param {string} name
 * @returns {object|Function|undefined}
 */
export function renderer(name) {
  return registries.get("renderer").get(name);
}

/**
 * The transport registered as `name`, or undefined.
 * @param {string} name
 * @returns {object|Function|undefined}
 */
export function transport(name) {
  return registries.get("transport").get(name);
}

/**
 * The names registered so far, by kind (for diagnostics and tests).
 * @returns {{scene: string[], runtime: string[], renderer: string[], transport: string[]}}
 */
export function registered() {
  const out = {};
  for (const [kind, registry] of registries) out[kind] = [...registry.keys()].sort();
  return out;
}

const api = {
  registerScene,
  registerRuntime,
  registerRenderer,
  registerTransport,
  sceneRenderer,
  runtime,
  renderer,
  transport,
  registered,
  showProgress,
  hideProgress,
  showNotice,
  setConnectionState,
  connectionState,
  onConnectionState,
};

if (typeof window !== "undefined") {
  window.mug = Object.assign(window.mug ?? {}, api);
}

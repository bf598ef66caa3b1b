/**
 * The browser runtime's Web Worker (a *module* worker: Pyodide refuses classic ones).
 *
 * It owns Pyodide and the game scene's `Runner` (runner.py) and steps the env on its own timer,
 * so a game keeps its pace while the tab is in the background (main-thread timers are throttled
 * there; a worker's are not). Each step is one call into Python returning a JSON string, posted
 * to the page as is.
 *
 * Messages from the page:
 *   {type: "init", indexURL, zipURL, runnerURL}        load Pyodide, mug_core and runner.py
 *   {type: "setup", id, spec, human, providers}        write python_files, install packages,
 *                                                      build the Runner (the env)
 *   {type: "reset", id, episode}                       reset; answers with the first frame
 *   {type: "play", fps}                                step at fps until the episode ends
 *   {type: "input", agent, action, mode}               mode "held": the action while keys are
 *                                                      held (null: none); "press": act once
 *   {type: "stop"}                                     stop stepping and drop the Runner
 *   {type: "extend", id, url}                          import the module at `url` once and
 *                                                      call its `extendWorker(api)`: it may
 *                                                      handle more message types (mug-p2p)
 * Messages to the page:
 *   {type: "progress", label, fraction}
 *   {type: "ready"}                                    after init
 *   {type: "reply", id, ok, result?, message?, traceback?}
 *   {type: "step", json, t, callMs}                    one step (runner.step's JSON); `t` is
 *                                                      timeOrigin + now when the step began
 *   {type: "failed", message, traceback}               the env or a policy raised while playing
 * @module mug-pyodide/worker
 */

const SCENE_DIR = "/home/pyodide/mug_scene";
const MAX_LAG_PERIODS = 3;
const MAX_PRESSES = 8;

/** @type {any} the Pyodide API once loaded */
let pyodide = null;
/** @type {Promise<void>|null} */
let initializing = null;
let runner = null;
let stepFn = null;
let sceneCount = 0;
/** The folder Pyodide was loaded from */
let pyodideURL = "";
/** micropip's package index for packages_to_install (null: PyPI). */
let packageIndexURL = null;
let loop = null;
/** agent key -> action while keys are held, or null */
const held = new Map();
/** agent key -> the last non-null held action, kept for one step so a quick tap still acts */
const taps = new Map();
/** agent key -> actions pressed once (single_keystroke), oldest first */
const presses = new Map();
/** agent key -> {act(observation), reset?(episode)} for policies computed in JavaScript */
let jsPolicies = new Map();
/** message type -> handler, added by extension modules (`{type: "extend"}`) */
const extensionHandlers = new Map();
/** module URL -> Promise of its extendWorker() */
const extensions = new Map();

const post = (message) => self.postMessage(message);
const progress = (label, fraction) => post({ type: "progress", label, fraction });
const wallTime = () => performance.timeOrigin + performance.now();

/**
 * The last line of a Python traceback (the exception), and the whole text.
 * @param {*} err
 * @returns {{message: string, traceback: string}}
 */
function describe(err) {
  const text = String(err && err.message ? err.message : err);
  const lines = text.split("\n").map((line) => line.trim()).filter(Boolean);
  return { message: lines.length ? lines[lines.length - 1] : "unknown error", traceback: text };
}

async function fetchBytes(url, what) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not download ${what} (${url}: HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

/**
 * Load Pyodide from `indexURL`, unpack the env-side mug_core package and import runner.py.
 * @param {{indexURL: string, zipURL: string, runnerURL: string}} options
 */
async function init({ indexURL, zipURL, runnerURL, packageIndex }) {
  pyodideURL = indexURL;
  packageIndexURL = packageIndex || null;
  progress("Loading Python…", 0.05);
  const zip = fetchBytes(zipURL, "the mug_core package");
  const runnerSource = fetch(runnerURL).then((r) => {
    if (!r.ok) throw new Error(`could not download ${runnerURL} (HTTP ${r.status})`);
    return r.text();
  });
  zip.catch(() => {});
  runnerSource.catch(() => {});
  let module;
  try {
    module = await import(`${indexURL}pyodide.mjs`);
  } catch (err) {
    throw new Error(`could not load Pyodide from ${indexURL}pyodide.mjs: ${err.message}`);
  }
  progress("Loading Python…", 0.15);
  pyodide = await module.loadPyodide({
    indexURL,
    stdout: (line) => console.log("[python]", line),
    stderr: (line) => console.warn("[python]", line),
  });
  progress("Loading the game's Python code…", 0.6);
  const site = pyodide.runPython("import site; site.getsitepackages()[0]");
  pyodide.unpackArchive(await zip, "zip", { extractDir: site });
  pyodide.FS.mkdirTree(SCENE_DIR);
  pyodide.FS.writeFile(`${SCENE_DIR}/mug_runner.py`, await runnerSource);
  pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(SCENE_DIR)})\nimport mug_runner`);
  progress("Loading the game's Python code…", 0.7);
}

/**
 * Install `packages` with micropip (only called when the list is not empty).
 * @param {string[]} packages
 */
async function installPackages(packages) {
  progress(`Installing ${packages.join(", ")}…`, 0.75);
  const noMicropip = () =>
    new Error(
      `cannot install ${packages.join(", ")}: micropip is not available from ${pyodideURL} ` +
        "(the local Pyodide copy holds only the core; serve Pyodide from its CDN with MUG_PYODIDE_URL, " +
        "or drop packages_to_install)",
    );
  let failed = null;
  try {
    await pyodide.loadPackage("micropip", { errorCallback: (msg) => (failed = msg) });
  } catch (err) {
    failed = err.message;
  }
  if (failed) throw noMicropip();
  try {
    pyodide.runPython("import micropip");
  } catch {
    throw noMicropip();
  }
  const micropip = pyodide.pyimport("micropip");
  try {
    if (packageIndexURL) await micropip.install(packages, { index_urls: [packageIndexURL] });
    else await micropip.install(packages);
  } catch (err) {
    throw new Error(`cannot install ${packages.join(", ")}: ${describe(err).message}`);
  } finally {
    micropip.destroy();
  }
}

/** Modules for policy types Python does not run, when no plugin registered one. */
const BUILTIN_POLICY_MODULES = { onnx: "/static/onnx/onnx_policy.js" };

/**
 * One JavaScript policy: a module's `createPolicy(spec, agent, {pyodide, actionCount})`, or
 * mug-onnx's `loadOnnxPolicy(spec, {actionCount, defaultAction})`.
 */
async function jsPolicy(policySpec, agent, url, defaultAction) {
  let module;
  try {
    module = await import(new URL(url, self.location.origin).href);
  } catch (err) {
    const hint = policySpec.type === "onnx" ? " (install mug-onnx: pip install 'mug-core[onnx]')" : "";
    throw new Error(`agent ${agent}: cannot load the "${policySpec.type}" policy from ${url}${hint}: ${err.message}`);
  }
  const count = runner.action_count(agent);
  const actionCount = count === undefined || count === null ? undefined : Number(count);
  if (typeof module.createPolicy === "function") return module.createPolicy(policySpec, agent, { pyodide, actionCount });
  if (typeof module.loadOnnxPolicy === "function") return module.loadOnnxPolicy(policySpec, { actionCount, defaultAction });
  throw new Error(`agent ${agent}: ${url} exports no createPolicy()`);
}

/**
 * Build the JavaScript policies (types Python does not run, e.g. "onnx"), one per agent.
 * @param {object} spec the scene spec
 * @param {Object<string, string>} providers policy type -> module URL (from registerWorkerPolicy)
 * @param {string[]} external agent keys Python leaves to JavaScript
 */
async function buildJsPolicies(spec, providers, external) {
  jsPolicies = new Map();
  for (const agent of external) {
    const policySpec = spec.policies[agent];
    const url = providers[policySpec.type] ?? BUILTIN_POLICY_MODULES[policySpec.type];
    if (!url) throw new Error(`agent ${agent}: the browser runtime cannot run "${policySpec.type}" policies`);
    jsPolicies.set(agent, await jsPolicy(policySpec, agent, url, spec.default_action ?? 0));
  }
}

/**
 * Build the scene's Runner: python files, packages, env creation, policies.
 * @param {object} spec the scene spec (docs/game-protocol.md)
 * @param {Object<string, string>} providers
 * @returns {Promise<{keys: string[], humans: string[], external: string[]}>}
 */
async function setup(spec, providers) {
  drop();
  sceneCount += 1;
  progress("Preparing the game…", 0.72);
  const install = pyodide.globals.get("mug_runner").install_python_files;
  const files = pyodide.toPy(spec.python_files ?? {});
  try {
    install(files, `${SCENE_DIR}/scene${sceneCount}`);
  } finally {
    files.destroy();
    install.destroy();
  }
  if (Array.isArray(spec.packages) && spec.packages.length) await installPackages(spec.packages);
  progress("Starting the game…", 0.85);
  const kwargs = {
    env_code: spec.env_code,
    env_filename: spec.env_filename || "env.py",
    policies: spec.policies ?? {},
    agent_ids: spec.agent_ids ?? null,
    default_action: spec.default_action ?? 0,
    action_population_method: spec.action_population_method || "default_action",
    max_steps: spec.max_steps ?? null,
    record_observations: spec.record_observations !== false,
    seed: spec.seed ?? 0,
  };
  pyodide.globals.set("_mug_kwargs_json", JSON.stringify(kwargs));
  runner = pyodide.runPython(
    "import json as _json\n_mug_runner = mug_runner.Runner(**_json.loads(_mug_kwargs_json))\n_mug_runner",
  );
  stepFn = runner.step;
  const toJs = (name) => {
    const proxy = runner[name];
    try {
      return proxy.toJs();
    } finally {
      proxy.destroy();
    }
  };
  const result = { keys: toJs("keys"), humans: toJs("humans"), external: toJs("external") };
  await buildJsPolicies(spec, providers ?? {}, result.external);
  held.clear();
  taps.clear();
  presses.clear();
  progress("Starting the game…", 1);
  return result;
}

/** @param {number} episode */
function reset(episode) {
  stop();
  // `held` follows the keyboard (keys held across episodes stay held); one-off input is dropped.
  taps.clear();
  presses.clear();
  for (const policy of jsPolicies.values()) policy.reset?.(episode);
  return runner.reset(episode);
}

/** Actions for the humans and JavaScript policies of this step, as JSON. */
async function inputActions() {
  const actions = {};
  for (const [agent, action] of held) actions[agent] = action ?? taps.get(agent) ?? null;
  taps.clear();
  for (const [agent, queue] of presses) {
    if (queue.length) actions[agent] = queue.shift();
  }
  if (jsPolicies.size) {
    const observations = JSON.parse(runner.observations());
    for (const [agent, policy] of jsPolicies) {
      actions[agent] = await policy.act(observations[agent]);
    }
  }
  return JSON.stringify(actions);
}

/**
 * Step at `fps` on a drift-free schedule (targets at start + k / fps), until the episode ends.
 * Falling more than a few periods behind (a long pause) restarts the schedule instead of
 * catching up in a burst.
 * @param {number} fps
 */
function play(fps) {
  stop();
  const period = 1000 / Math.max(1, fps);
  const state = { timer: null, stopped: false };
  loop = state;
  let target = performance.now();
  const tick = async () => {
    if (state.stopped) return;
    const t = wallTime();
    const began = performance.now();
    let json;
    try {
      const actions = jsPolicies.size || presses.size || held.size ? await inputActions() : null;
      if (state.stopped) return;
      json = stepFn(actions);
    } catch (err) {
      state.stopped = true;
      post({ type: "failed", ...describe(err) });
      return;
    }
    const callMs = performance.now() - began;
    post({ type: "step", json, t, callMs });
    if (json.startsWith('{"done":true')) {
      state.stopped = true;
      return;
    }
    target += period;
    const now = performance.now();
    if (now - target > MAX_LAG_PERIODS * period) target = now;
    state.timer = setTimeout(tick, Math.max(0, target - now));
  };
  tick();
}

function stop() {
  if (loop) {
    loop.stopped = true;
    clearTimeout(loop.timer);
    loop = null;
  }
}

/** Stop stepping and free the scene's Runner (its env is closed). */
function drop() {
  stop();
  if (!runner) return;
  try {
    runner.close();
  } catch (err) {
    console.warn("mug-pyodide: env.close() failed", err);
  }
  stepFn.destroy();
  runner.destroy();
  runner = null;
  stepFn = null;
  for (const policy of jsPolicies.values()) policy.dispose?.()?.catch?.(() => {});
  jsPolicies = new Map();
}

/** @param {{agent: string, action: *, mode: string}} message */
function input({ agent, action, mode }) {
  if (mode === "press") {
    const queue = presses.get(agent) ?? [];
    if (queue.length < MAX_PRESSES) queue.push(action);
    presses.set(agent, queue);
  } else {
    held.set(agent, action ?? null);
    if (action !== null && action !== undefined) taps.set(agent, action);
  }
}

/**
 * Load an extension module into this worker: it gets `{pyodide, runner, post, answer, describe,
 * handle(type, handler)}` (`runner()` returns the current scene's Runner proxy, or null).
 * @param {string} url
 */
function extend(url) {
  const href = new URL(url, self.location.origin).href;
  if (!extensions.has(href)) {
    const api = {
      pyodide: () => pyodide,
      runner: () => runner,
      post,
      answer,
      describe,
      handle: (type, handler) => extensionHandlers.set(type, handler),
    };
    extensions.set(href, import(href).then((module) => module.extendWorker(api)));
  }
  return extensions.get(href);
}

/** Run `work` and answer request `id` with its result or its error. */
async function answer(id, work) {
  try {
    post({ type: "reply", id, ok: true, result: await work() });
  } catch (err) {
    post({ type: "reply", id, ok: false, ...describe(err) });
  }
}

self.onmessage = async (event) => {
  const message = event.data;
  switch (message.type) {
    case "init":
      initializing ??= init(message);
      answer(message.id, () => initializing);
      break;
    case "setup":
      answer(message.id, async () => {
        await initializing;
        return setup(message.spec, message.providers);
      });
      break;
    case "reset":
      answer(message.id, async () => reset(message.episode));
      break;
    case "play":
      play(message.fps);
      break;
    case "input":
      input(message);
      break;
    case "stop":
      drop();
      break;
    case "extend":
      answer(message.id, async () => {
        await initializing;
        await extend(message.url);
      });
      break;
    default:
      if (extensionHandlers.has(message.type)) extensionHandlers.get(message.type)(message);
      else console.warn("mug-pyodide worker: unknown message", message);
  }
};

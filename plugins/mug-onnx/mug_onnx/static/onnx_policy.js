/**
 * ONNX policies in the page: the browser twin of mug_onnx.policy (Python).
 *
 * Served at /static/onnx/onnx_policy.js by the mug-onnx plugin; onnxruntime-web is loaded
 * lazily from /vendor/onnxruntime-web/ on the first loadOnnxPolicy() call, so importing this
 * module costs nothing on pages without ONNX policies. Registers nothing in the kernel; the
 * API is the exports below, also on globalThis.mug.onnx for classic scripts.
 *
 *   const policy = await loadOnnxPolicy(spec, {actionCount: 6, defaultAction: 0});
 *   policy.reset(episode);                      // at each episode start
 *   const action = await policy.act(observation); // once per env step
 *
 * Flattening, the Mulberry32 generator, exp64, selection, cadence and seeding follow
 * docs/onnx.md exactly as the Python side does, so the same observations, seed and episode
 * give the same actions (bit for bit, given the same logits).
 */

/** Where the vendored onnxruntime-web files are served. */
export const ORT_BASE = "/vendor/onnxruntime-web/";

const UINT32 = 4294967296;
const EPISODE_STRIDE = 0x9e3779b9;

let ortPromise = null;

/**
 * Load onnxruntime-web (once per page) and configure its WASM backend: files from `base`,
 * one thread unless the page is cross-origin isolated (then up to 4), no proxy worker.
 * @param {string} [base] URL folder holding ort.wasm.min.mjs and ort-wasm-simd-threaded.*
 * @returns {Promise<object>} the `ort` namespace
 */
export function loadOrt(base = ORT_BASE) {
  if (!ortPromise) {
    ortPromise = import(`${base}ort.wasm.min.mjs`).then((ort) => {
      ort.env.wasm.wasmPaths = base;
      const isolated = globalThis.crossOriginIsolated === true;
      const cores = globalThis.navigator?.hardwareConcurrency || 1;
      ort.env.wasm.numThreads = isolated ? Math.max(1, Math.min(4, cores)) : 1;
      ort.env.wasm.proxy = false;
      return ort;
    });
    ortPromise.catch(() => {
      ortPromise = null;
    });
  }
  return ortPromise;
}

// -- flattening ---------------------------------------------------------------------------

function compareCodePoints(a, b) {
  const x = Array.from(a);
  const y = Array.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i += 1) {
    const d = x[i].codePointAt(0) - y[i].codePointAt(0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function collect(value, out) {
  if (typeof value === "number") {
    out.push(value);
  } else if (typeof value === "boolean") {
    out.push(value ? 1 : 0);
  } else if (typeof value === "bigint") {
    out.push(Number(value));
  } else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    for (const item of value) out.push(typeof item === "bigint" ? Number(item) : item);
  } else if (Array.isArray(value)) {
    for (const item of value) collect(item, out);
  } else if (value instanceof Map) {
    const keys = Array.from(value.keys());
    const named = keys.map((k) => [String(k), k]).sort((p, q) => compareCodePoints(p[0], q[0]));
    for (const [, key] of named) collect(value.get(key), out);
  } else if (value !== null && typeof value === "object" && typeof value.toJs === "function") {
    collect(value.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false }), out);
  } else if (value !== null && typeof value === "object") {
    for (const key of Object.keys(value).sort(compareCodePoints)) collect(value[key], out);
  } else {
    throw new TypeError(
      `cannot flatten ${value === null ? "null" : typeof value} into an observation: use ` +
        "numbers, arrays, lists, tuples or dicts of them",
    );
  }
}

/**
 * Flatten an observation to float32 by the rule of docs/onnx.md: numbers and booleans are one
 * value; arrays and typed arrays row-major; objects and Maps by keys sorted by code point;
 * Pyodide proxies through toJs(). Values go through a JS number (float64) to float32.
 * @param {*} observation
 * @returns {Float32Array}
 */
export function flattenObservation(observation) {
  if (observation instanceof Float32Array) return observation.slice();
  const out = [];
  collect(observation, out);
  return Float32Array.from(out);
}

// -- generator and selection ---------------------------------------------------------------

/**
 * The Mulberry32 generator on a uint32 state (seed mod 2**32); same outputs as the Python
 * Mulberry32.
 * @param {number} seed
 * @returns {{nextUint32: function(): number, random: function(): number, state: number}}
 */
export function mulberry32(seed) {
  const rng = {
    state: seed >>> 0,
    nextUint32() {
      const a = (rng.state + 0x6d2b79f5) >>> 0;
      rng.state = a;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
      return (t ^ (t >>> 14)) >>> 0;
    },
    random() {
      return rng.nextUint32() / UINT32;
    },
  };
  return rng;
}

/**
 * The generator seed of an episode: (seed + episode * 0x9E3779B9) mod 2**32.
 * @param {number} seed
 * @param {number} episode
 * @returns {number}
 */
export function episodeSeed(seed, episode) {
  return ((seed >>> 0) + Math.imul(episode, EPISODE_STRIDE)) >>> 0;
}

const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387e0;
const EXP_COEFFS = [];
for (let n = 13, f = 6227020800; n >= 1; f /= n, n -= 1) EXP_COEFFS.push(1 / f);
const POW2_VIEW = new DataView(new ArrayBuffer(8));

function pow2(k) {
  POW2_VIEW.setUint32(0, (k + 1023) * 1048576);
  POW2_VIEW.setUint32(4, 0);
  return POW2_VIEW.getFloat64(0);
}

/**
 * exp(x) for x <= 0 from + - * / only (Cody-Waite reduction, degree-13 Taylor, times 2**k),
 * bit-identical to the Python exp64; 0 below -700.
 * @param {number} x
 * @returns {number}
 */
export function exp64(x) {
  if (!(x >= -700)) return 0;
  const k = Math.floor(x * INV_LN2 + 0.5);
  const r = x - k * LN2_HI - k * LN2_LO;
  let p = 0;
  for (const c of EXP_COEFFS) p = (p + c) * r;
  return (p + 1) * pow2(k);
}

/**
 * Choose an action from logits: "argmax" (first largest) or "sample" (the first i whose running
 * sum of exp64(z_i - max z), z = logits / temperature, exceeds u times the total).
 * @param {ArrayLike<number>} logits
 * @param {"argmax"|"sample"} selection
 * @param {number} temperature
 * @param {number|null} u a uniform draw in [0, 1) (sampling only)
 * @returns {number}
 */
export function selectAction(logits, selection, temperature, u) {
  const values = Array.from(logits, Number);
  if (!values.length || values.some(Number.isNaN)) {
    throw new Error(`the model returned logits that cannot be used: ${values}`);
  }
  if (selection === "argmax") {
    let best = 0;
    for (let i = 1; i < values.length; i += 1) if (values[i] > values[best]) best = i;
    return best;
  }
  if (selection !== "sample") throw new Error(`unknown selection ${selection}`);
  if (typeof u !== "number") throw new Error("sampling needs a uniform draw u in [0, 1)");
  const z = values.map((v) => v / temperature);
  const m = Math.max(...z);
  if (!Number.isFinite(m)) {
    throw new Error(`cannot sample from logits ${values} at temperature ${temperature}`);
  }
  const weights = z.map((v) => exp64(v - m));
  let total = 0;
  for (const w of weights) total += w;
  const threshold = u * total;
  let running = 0;
  for (let i = 0; i < weights.length; i += 1) {
    running += weights[i];
    if (running > threshold) return i;
  }
  for (let i = weights.length - 1; i >= 0; i -= 1) if (weights[i] > 0) return i;
  return 0;
}

/**
 * The shape to feed `count` values to an input declared as `declared`: a dynamic first
 * dimension of a rank-2+ input is 1, one other dynamic dimension takes the rest, no declared
 * shape gives [1, count]. Same rule as the Python feed_shape.
 * @param {ReadonlyArray<number|string>|undefined} declared
 * @param {number} count
 * @returns {number[]}
 */
export function feedShape(declared, count) {
  const dims = Array.from(declared || []);
  if (!dims.length) return [1, count];
  const shape = dims.map((d) => (typeof d === "number" && d > 0 ? d : null));
  if (shape.length >= 2 && shape[0] === null) shape[0] = 1;
  const unknown = [];
  let known = 1;
  shape.forEach((d, i) => (d === null ? unknown.push(i) : (known *= d)));
  if (unknown.length > 1) {
    throw new Error(`input shape [${dims}] has more than one dynamic dimension besides batch`);
  }
  if (unknown.length) {
    if (known === 0 || count % known) {
      throw new Error(`${count} observation values do not fit input shape [${dims}]`);
    }
    shape[unknown[0]] = count / known;
  } else if (known !== count) {
    throw new Error(`${count} observation values do not fit input shape [${dims}]`);
  }
  return shape;
}

// -- tensors ---------------------------------------------------------------------------------

const TYPED = {
  float32: (v) => Float32Array.from(v),
  float64: (v) => Float64Array.from(v),
  int64: (v) => BigInt64Array.from(v, (x) => BigInt(Math.trunc(x))),
  uint64: (v) => BigUint64Array.from(v, (x) => BigInt(Math.trunc(x))),
  int32: (v) => Int32Array.from(v, Math.trunc),
  uint32: (v) => Uint32Array.from(v, Math.trunc),
  int16: (v) => Int16Array.from(v, Math.trunc),
  uint16: (v) => Uint16Array.from(v, Math.trunc),
  int8: (v) => Int8Array.from(v, Math.trunc),
  uint8: (v) => Uint8Array.from(v, Math.trunc),
  bool: (v) => Uint8Array.from(v, (x) => (x ? 1 : 0)),
};

function nestedShape(value) {
  const shape = [];
  let level = value;
  while (Array.isArray(level) || (ArrayBuffer.isView(level) && !(level instanceof DataView))) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function makeTensor(ort, type, values, dims) {
  const build = TYPED[type];
  if (!build) throw new Error(`MUG cannot feed inputs of type ${type}`);
  return new ort.Tensor(type, build(values), dims);
}

// -- the policy ------------------------------------------------------------------------------

const modelBytes = new Map();

function fetchModel(url) {
  if (!modelBytes.has(url)) {
    const promise = fetch(url).then(async (response) => {
      if (!response.ok) throw new Error(`cannot fetch the ONNX model ${url}: ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    });
    promise.catch(() => modelBytes.delete(url));
    modelBytes.set(url, promise);
  }
  return modelBytes.get(url);
}

/**
 * Load an ONNX policy from a GymScene policy spec ({type: "onnx", url, obs_input, logit_output,
 * state_inputs, state_outputs, state_shape, fixed_inputs, selection, temperature, act_every,
 * between, seed}).
 *
 * The returned policy: `reset(episode?)` zeroes the recurrent state, restarts the cadence and
 * reseeds the generator for `episode` (default: one more than the previous reset, starting at
 * 0); `act(observation)` resolves to the action of this step (call it once per env step and
 * await it before the next call); `logits(observation)` resolves to the model's logits for an
 * observation with the current state and changes nothing; `dispose()` frees the session.
 *
 * @param {object} spec the policy spec from the scene payload (`spec.policies[agent]`)
 * @param {{actionCount: number, defaultAction?: number, ortBase?: string}} options
 *   actionCount: the agent's Discrete action count (the logits must have this many values);
 *   defaultAction: played between inferences when spec.between is "default";
 *   ortBase: where onnxruntime-web is served (default /vendor/onnxruntime-web/)
 * @returns {Promise<{reset: function(number=): void, act: function(*): Promise<number>,
 *   logits: function(*): Promise<Float32Array>, dispose: function(): Promise<void>,
 *   session: object, spec: object}>}
 */
export async function loadOnnxPolicy(spec, { actionCount, defaultAction = 0, ortBase } = {}) {
  if (!spec || spec.type !== "onnx") throw new Error("loadOnnxPolicy needs a spec of type onnx");
  if (!Number.isInteger(actionCount) || actionCount < 1) {
    throw new Error("loadOnnxPolicy: give actionCount, the agent's number of actions");
  }
  const ort = await loadOrt(ortBase);
  const bytes = await fetchModel(spec.url);
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const meta = new Map((session.inputMetadata || []).map((m) => [m.name, m]));
  const typeOf = (name) => meta.get(name)?.type || "float32";
  const obsInput = spec.obs_input || "obs";
  const logitOutput = spec.logit_output || "logits";
  const stateInputs = spec.state_inputs || [];
  const stateOutputs = spec.state_outputs || [];
  const stateShape = spec.state_shape || [];
  const selection = spec.selection || "sample";
  const temperature = spec.temperature ?? 1;
  const actEvery = spec.act_every || 1;
  const between = spec.between || "repeat";
  const seed = spec.seed ?? 0;
  for (const name of [obsInput, ...stateInputs, ...Object.keys(spec.fixed_inputs || {})]) {
    if (!session.inputNames.includes(name)) {
      throw new Error(`the ONNX model has no input ${name}; its inputs are ${session.inputNames}`);
    }
  }
  const fixed = {};
  for (const [name, value] of Object.entries(spec.fixed_inputs || {})) {
    const values = [];
    collect(value, values);
    fixed[name] = makeTensor(ort, typeOf(name), values, nestedShape(value));
  }
  const fetches = [logitOutput, ...stateOutputs];
  const stateSize = stateShape.reduce((a, b) => a * b, 1);
  const obsShapes = new Map();
  let state = {};
  let rng = null;
  let step = 0;
  let lastAction = defaultAction;
  let nextEpisode = 0;
  let chain = Promise.resolve();

  function begin(episode) {
    rng = mulberry32(episodeSeed(seed, episode));
    step = 0;
    lastAction = defaultAction;
    state = {};
    for (const name of stateInputs) {
      state[name] = makeTensor(ort, typeOf(name), new Array(stateSize).fill(0), stateShape);
    }
  }

  async function run(observation) {
    const flat = flattenObservation(observation);
    let shape = obsShapes.get(flat.length);
    if (!shape) {
      shape = feedShape(meta.get(obsInput)?.shape, flat.length);
      obsShapes.set(flat.length, shape);
    }
    const feeds = { ...fixed, ...state, [obsInput]: new ort.Tensor("float32", flat, shape) };
    const results = await session.run(feeds, fetches);
    const logits = results[logitOutput].data;
    if (logits.length !== actionCount) {
      throw new Error(
        `${logitOutput} has ${logits.length} values, but the action space has ${actionCount}`,
      );
    }
    return { logits, results };
  }

  async function actNow(observation) {
    let action;
    if (step % actEvery === 0) {
      const { logits, results } = await run(observation);
      const u = selection === "sample" ? rng.random() : null;
      lastAction = selectAction(logits, selection, temperature, u);
      stateInputs.forEach((name, i) => {
        state[name] = results[stateOutputs[i]];
      });
      action = lastAction;
    } else {
      action = between === "repeat" ? lastAction : defaultAction;
    }
    step += 1;
    return action;
  }

  begin(0);
  return {
    spec,
    session,
    reset(episode) {
      const index = episode === undefined || episode === null ? nextEpisode : episode;
      begin(index);
      nextEpisode = index + 1;
    },
    act(observation) {
      const result = chain.then(() => actNow(observation));
      chain = result.catch(() => {});
      return result;
    },
    async logits(observation) {
      const { logits } = await run(observation);
      return Float32Array.from(logits);
    },
    async dispose() {
      await session.release();
    },
  };
}

const api = {
  loadOnnxPolicy,
  loadOrt,
  flattenObservation,
  mulberry32,
  episodeSeed,
  exp64,
  selectAction,
  feedShape,
  ORT_BASE,
};
globalThis.mug = globalThis.mug || {};
globalThis.mug.onnx = api;
export default api;

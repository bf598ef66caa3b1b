/**
 * The peer-to-peer game loop, inside mug-pyodide's worker (loaded with `{type: "extend"}`).
 *
 * It writes the rollback engine (`/static/p2p-engine/*.py`, as `mug_p2p.rollback`) and
 * `p2p_runner.py` into Pyodide, wraps the scene's Runner (built by the worker's usual `setup`)
 * in a `P2PGame`, and ticks it on the worker's own timer at the scene's fps, so a background
 * tab keeps simulating (a worker's timers are not throttled like the page's, and it never
 * waits for an animation frame). A tick that comes late runs at once, several in a row if
 * needed (the game catches up instead of slowing down).
 *
 * Messages from the page:
 *   {type: "p2p_create", id, options}     build the P2PGame (options: P2PGame's arguments)
 *   {type: "p2p_reset", id, episode}      new episode and session; answers with the first frame
 *   {type: "p2p_play", fps, linger}       tick until the episode's end is confirmed, then
 *                                         `linger` more ticks (late peers get our inputs)
 *   {type: "p2p_net", from, text}         a message from a peer (kept for the next tick)
 *   {type: "p2p_input", action, mode}     "held": the action while keys are held (null: none);
 *                                         "press": act once (single_keystroke)
 *   {type: "p2p_disconnect", peer}        stop waiting for `peer`
 *   {type: "p2p_stop"}                    stop ticking and free the game
 * Messages to the page:
 *   {type: "p2p_tick", json, t}           one tick's result (P2PGame.tick's JSON)
 *   {type: "p2p_over"}                    the episode is over and the linger is done
 *   {type: "failed", message, traceback}  the env or the session raised
 * @module mug-p2p/worker
 */

const DIR = "/home/pyodide/mug_p2p_runtime";
/** The engine's modules (mug_p2p.runtime.ENGINE_FILES; a test keeps the two in step). */
export const ENGINE_FILES = [
  "__init__.py",
  "checksum.py",
  "desync.py",
  "events.py",
  "game.py",
  "inputs.py",
  "messages.py",
  "peers.py",
  "requests.py",
  "session.py",
  "sync_test.py",
  "timeline.py",
];
/** At most this many ticks run back to back to catch up; further behind, the schedule restarts. */
const MAX_CATCH_UP = 4;
const MAX_BEHIND_MS = 5000;
const MAX_PRESSES = 8;

let api = null;
let game = null;
let tickFn = null;
let loop = null;
let inbox = [];
let held = null;
let tap = null;
const presses = [];

const wallTime = () => performance.timeOrigin + performance.now();

async function fetchText(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not download ${url} (HTTP ${response.status})`);
  return response.text();
}

/** Write the engine and p2p_runner.py into Pyodide and import them. */
async function install(pyodide) {
  const engineBase = new URL("/static/p2p-engine/", self.location.origin).href;
  const [runner, ...engine] = await Promise.all([
    fetchText(new URL("./p2p_runner.py", import.meta.url).href),
    ...ENGINE_FILES.map((name) => fetchText(engineBase + name)),
  ]);
  pyodide.FS.mkdirTree(`${DIR}/mug_p2p/rollback`);
  pyodide.FS.writeFile(`${DIR}/mug_p2p/__init__.py`, "");
  ENGINE_FILES.forEach((name, i) => pyodide.FS.writeFile(`${DIR}/mug_p2p/rollback/${name}`, engine[i]));
  pyodide.FS.writeFile(`${DIR}/p2p_runner.py`, runner);
  pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(DIR)})\nimport p2p_runner`);
}

function create(options) {
  drop();
  const runner = api.runner();
  if (!runner) throw new Error("the scene's env is not set up");
  const factory = api.pyodide().globals.get("p2p_runner").create;
  try {
    game = factory(runner, JSON.stringify(options));
  } finally {
    factory.destroy();
  }
  tickFn = game.tick;
}

function reset(episode) {
  stop();
  inbox = [];
  tap = null;
  presses.length = 0;
  return game.reset(episode);
}

/** One tick; returns whether the episode's end is confirmed. */
function tickOnce() {
  const messages = inbox.length ? JSON.stringify(inbox.splice(0)) : null;
  let action = presses.length ? presses.shift() : held ?? tap;
  tap = null;
  if (action === undefined) action = null;
  const t = wallTime();
  const json = tickFn(JSON.stringify(action), messages);
  api.post({ type: "p2p_tick", json, t });
  return json.startsWith('{"ended":true');
}

/**
 * Tick at `fps` on a drift-free schedule (tick k is due at start + k / fps).
 * @param {number} fps
 * @param {number} linger ticks to keep exchanging messages after the end
 */
function play(fps, linger) {
  stop();
  const period = 1000 / Math.max(1, fps);
  const state = { stopped: false, timer: null, start: performance.now(), ticks: 0, linger };
  loop = state;
  const run = () => {
    if (state.stopped) return;
    const now = performance.now();
    let due = Math.floor((now - state.start) / period) + 1 - state.ticks;
    if (due * period > MAX_BEHIND_MS) {
      // Suspended for long (a frozen tab): restart the schedule rather than burst.
      state.start = now - state.ticks * period;
      due = 1;
    }
    for (let i = 0; i < Math.min(due, MAX_CATCH_UP) && !state.stopped; i++) {
      let ended;
      try {
        ended = tickOnce();
      } catch (err) {
        state.stopped = true;
        api.post({ type: "failed", ...api.describe(err) });
        return;
      }
      state.ticks += 1;
      if (ended && state.linger-- <= 0) {
        state.stopped = true;
        api.post({ type: "p2p_over" });
        return;
      }
    }
    const next = state.start + state.ticks * period;
    state.timer = setTimeout(run, Math.max(0, next - performance.now()));
  };
  run();
}

function stop() {
  if (loop) {
    loop.stopped = true;
    clearTimeout(loop.timer);
    loop = null;
  }
}

function drop() {
  stop();
  if (tickFn) tickFn.destroy();
  if (game) game.destroy();
  game = null;
  tickFn = null;
}

function input({ action, mode }) {
  if (mode === "press") {
    if (presses.length < MAX_PRESSES) presses.push(action);
    return;
  }
  held = action ?? null;
  if (held !== null) tap = held; // a tap shorter than a frame still acts once
}

/**
 * Called by mug-pyodide's worker with its extension API.
 * @param {object} workerApi `{pyodide(), runner(), post, answer, describe, handle}`
 */
export async function extendWorker(workerApi) {
  api = workerApi;
  await install(api.pyodide());
  api.handle("p2p_create", (m) => api.answer(m.id, async () => create(m.options)));
  api.handle("p2p_reset", (m) => api.answer(m.id, async () => reset(m.episode)));
  api.handle("p2p_play", (m) => play(m.fps, m.linger ?? 0));
  api.handle("p2p_net", (m) => inbox.push([m.from, m.text]));
  api.handle("p2p_input", input);
  api.handle("p2p_disconnect", (m) => game && game.disconnect(m.peer));
  api.handle("p2p_stop", drop);
}

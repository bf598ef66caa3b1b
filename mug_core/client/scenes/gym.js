/**
 * Game scenes ("gym"): the page side shared by every runtime (docs/game-protocol.md).
 *
 * Lays out the researcher's header and body, the game (`#mug-game`: canvas, `#mug-hud`,
 * `#mug-countdown` overlay) and `#mug-in-game-body`; starts the runtime named by `spec.runtime`;
 * plays the episodes from `spec.episodes_done` with a countdown before each; records every step
 * and the input, focus and visibility events, uploads them in `steps` chunks (each under
 * `spec.chunk_bytes`, kept and re-sent until acknowledged, strictly in order), sends
 * `episode_end` once an episode's chunks are acknowledged, and finally submits
 * `{episodes_done}`. A failing env shows `#mug-game-error` and sends the `error` event.
 *
 * A runtime is `{preload?(spec), start(container, spec, host) -> Promise<Game>}` where `host` is
 * `{progress(label, fraction), frame(packet), step(record, meta), input(event)}` and `Game` is
 * `{agent, reset(episode) -> Promise, run() -> Promise<{steps, returns}>, stop()}` (see
 * mug-pyodide's runtime.js for the reference implementation).
 *
 * Test hooks: `#mug-game` carries `data-episode`, `data-step` (last step recorded),
 * `data-state` (loading, countdown, playing, uploading, done, error) and `data-viewer` (the
 * agent whose `viewer` marks the canvas paints, once known); `#mug-game.mugStats()`
 * returns timing samples (ms): `callMs` (the runtime's step call), `envMs`/`renderMs` (inside
 * it), `parseMs`, `applyMs` (packet into the renderer), `drawMs` (a paint), `frameMs` (the
 * work behind one painted frame: call + parse + apply + paint), `latencyMs` (step start to
 * painted), `intervalMs` (between step starts), `bytes`/`packetBytes` (JSON sizes).
 * @module mug/scenes/gym
 */

import { h } from "../dom.js";
import { registerScene, runtime } from "../kernel.js";
import { createCanvasRenderer } from "../renderers/canvas.js";
import { pageBody, pageHeader } from "./common.js";

const RUNTIME_EXTRAS = { browser: "pyodide", server: "server-runtime" };
const FLUSH_MS = 1000;
const RETRY_MS = [500, 1000, 2000, 5000, 10000];
const STOP_CODES = new Set(["stale", "stale_scene", "closed", "second_tab"]);
const DROP_CODES = new Set(["bad_request", "unknown_event"]);
const STATS_CAP = 20000;
const STAT_SERIES = [
  ...["callMs", "envMs", "renderMs", "parseMs", "applyMs", "drawMs", "frameMs"],
  ...["latencyMs", "intervalMs", "bytes", "packetBytes"],
];
const encoder = new TextEncoder();

const STYLE = `
.mug-game-page { max-width: 1100px; margin: 0 auto; }
.mug-game { position: relative; margin: 1rem auto; }
.mug-countdown.mug-game-loading { font-size: 1.25rem; color: var(--mug-text, #1d2330); text-shadow: none; background: rgba(255,255,255,.5); }
.mug-game-stage { position: relative; width: 100%; }
.mug-hud { font: 600 1rem/1.4 var(--mug-font, sans-serif); margin-bottom: 0.4rem; min-height: 1.4em; }
.mug-countdown { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  flex-direction: column; font: 700 4rem/1 var(--mug-font, sans-serif); color: #fff;
  text-shadow: 0 2px 8px rgba(0,0,0,.6); background: rgba(0,0,0,.25); pointer-events: none; }
.mug-countdown[hidden] { display: none; }
.mug-countdown-label { font-size: 1.25rem; font-weight: 600; margin-bottom: .5rem; }
.mug-game-error { border: 1px solid var(--mug-error, #b3261e); background: var(--mug-error-bg, #fdf0ef);
  color: var(--mug-error, #b3261e); border-radius: var(--mug-radius, 8px); padding: 1rem; margin: 1rem 0; }
.mug-game-error pre { white-space: pre-wrap; font: .875rem var(--mug-mono, monospace); margin: .5rem 0; }
`;


/**
 * Point an env's relative image and atlas paths (``register_image("ball", "ball.png")``) at the
 * scene's assets folder on the study server.
 * @param {{assets: Array<{path: string, json_path?: string}>}} packet
 * @param {string} base e.g. "/study-files/game/"
 */
function resolveAssets(packet, base) {
  const relative = (path) => typeof path === "string" && !/^([a-z][a-z0-9+.-]*:|\/)/i.test(path);
  for (const asset of packet.assets) {
    if (relative(asset.path)) asset.path = base + asset.path;
    if (relative(asset.json_path)) asset.json_path = base + asset.json_path;
  }
}

function injectStyle() {
  if (document.getElementById("mug-gym-style")) return;
  document.head.appendChild(h("style", { id: "mug-gym-style" }, STYLE));
}

/** Normalise a key name so Shift does not change letters ("A" and "a" are one key). */
const normKey = (key) => (typeof key === "string" && key.length === 1 ? key.toLowerCase() : key);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const wallTime = () => performance.timeOrigin + performance.now();

/** UTF-8 size of a JSON text (ASCII texts are measured without encoding). */
function byteLength(text) {
  // eslint-disable-next-line no-control-regex
  return /[^\x00-\x7f]/.test(text) ? encoder.encode(text).length : text.length;
}

/**
 * Uploads one scene's steps and events in order, in chunks under `limit` bytes, keeping each
 * chunk until the server acknowledges it.
 */
class Uploader {
  /**
   * @param {object} api the scene api (`sceneEvent`, `participantId`, `sceneKey`)
   * @param {object} spec the scene spec (`chunk_bytes`; `acked`, if the server sends it)
   * @param {(message: string) => void} onLost called when the server refused data for good
   */
  constructor(api, spec, onLost) {
    this.api = api;
    this.acked = spec.acked && typeof spec.acked === "object" ? spec.acked : {};
    this.storageKey = `mug-gym-seq:${api.participantId}:${api.sceneKey}:`;
    const limit = spec.chunk_bytes;
    this.limit = Math.max(1024, limit || 32768);
    this.onLost = onLost;
    this.episode = null;
    this.seq = 0;
    this.steps = [];
    this.events = [];
    this.bytes = 0;
    this.queue = [];
    this.sending = false;
    this.stopped = false;
    this.waiters = [];
    this.timer = setInterval(() => this.cut(), FLUSH_MS);
    // A page being closed or reloaded keeps what it collected since the last cut.
    this.onPageHide = () => this.cut();
    window.addEventListener("pagehide", this.onPageHide);
    // Chunks not acknowledged before the page was closed or reloaded go first.
    this.pendingKey = `mug-gym-pending:${api.participantId}:${api.sceneKey}`;
    this.queue = this.load();
    for (const chunk of this.queue) this.remember(chunk.episode, chunk.seq);
    if (this.queue.length) this.pump();
  }

  /** Unacknowledged chunks kept in the browser's storage by an earlier page of this scene. */
  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.pendingKey) ?? "[]");
      return Array.isArray(saved) ? saved.filter((c) => c && Number.isInteger(c.seq)) : [];
    } catch {
      return [];
    }
  }

  /** Keep the unacknowledged chunks in the browser's storage until the server has them. */
  persist() {
    try {
      if (this.queue.length) localStorage.setItem(this.pendingKey, JSON.stringify(this.queue));
      else localStorage.removeItem(this.pendingKey);
    } catch {
      // storage full or disabled: the chunks stay in memory and are re-sent while the page lives
    }
  }

  /**
   * Start collecting for `episode` (events seen before are sent with it). Chunk numbers
   * continue after any this tab already sent for the episode (a reload replays an episode from
   * its start, and the server ignores chunks whose seq it has seen).
   */
  begin(episode) {
    this.episode = episode;
    let sent = -1;
    try {
      sent = Number(localStorage.getItem(this.storageKey + episode) ?? -1);
    } catch {
      // no storage: start from the server's count
    }
    const queued = this.queue.filter((c) => c.episode === episode).map((c) => c.seq);
    this.seq = Math.max(0, sent + 1, Number(this.acked[String(episode)] ?? -1) + 1, ...queued.map((s) => s + 1));
  }

  /** Add `item` to the `steps` or `events` list, cutting a chunk first if it would not fit. */
  add(kind, item) {
    const size = byteLength(JSON.stringify(item)) + 1;
    if (this.bytes + size + 200 > this.limit && (this.steps.length || this.events.length)) this.cut();
    this[kind].push(item); // after the cut: the list may be a new one
    this.bytes += size;
  }

  step(record) {
    this.add("steps", record);
  }

  event(event) {
    this.add("events", { t: wallTime(), ...event });
  }

  /** Queue what was collected as one chunk and send it when its turn comes. */
  cut() {
    if (this.episode === null || (!this.steps.length && !this.events.length)) return;
    this.queue.push({ episode: this.episode, seq: this.seq, steps: this.steps, events: this.events });
    this.persist();
    this.remember(this.episode, this.seq);
    this.seq += 1;
    this.steps = [];
    this.events = [];
    this.bytes = 0;
    this.pump();
  }

  remember(episode, seq) {
    try {
      const key = this.storageKey + episode;
      const known = Number(localStorage.getItem(key) ?? -1);
      localStorage.setItem(key, String(Math.max(known, seq)));
    } catch {
      // storage full or disabled: only a reload mid-episode is affected
    }
  }

  async pump() {
    if (this.sending) return;
    this.sending = true;
    let attempt = 0;
    while (this.queue.length && !this.stopped) {
      const chunk = this.queue[0];
      const ack = await this.api.sceneEvent("steps", chunk);
      if (ack.ok) {
        this.queue.shift();
        this.persist();
        attempt = 0;
      } else if (STOP_CODES.has(ack.code)) {
        this.stopped = true;
        if (ack.code === "stale_scene" || ack.code === "stale") {
          this.queue = []; // the scene is over on the server: nothing left to deliver here
          this.persist();
        }
      } else if (ack.code === "too_large" && chunk.steps.length + chunk.events.length > 1) {
        this.split(chunk);
      } else if (DROP_CODES.has(ack.code) || ack.code === "too_large") {
        console.error("mug: the server refused game data", ack);
        this.queue.shift();
        this.persist();
        this.onLost(ack.message || ack.code);
      } else {
        await sleep(RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
      }
    }
    this.sending = false;
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  /** Halve a refused chunk; the chunks after it in this episode move up one seq. */
  split(chunk) {
    const half = (list) => [list.slice(0, Math.ceil(list.length / 2)), list.slice(Math.ceil(list.length / 2))];
    const [s1, s2] = half(chunk.steps);
    const [e1, e2] = half(chunk.events);
    for (const later of this.queue) if (later.episode === chunk.episode && later.seq > chunk.seq) later.seq += 1;
    if (chunk.episode === this.episode) {
      this.seq += 1;
      this.remember(this.episode, this.seq - 1);
    }
    this.queue.splice(0, 1, { ...chunk, steps: s1, events: e1 }, { ...chunk, seq: chunk.seq + 1, steps: s2, events: e2 });
    this.persist();
  }

  /** Resolves when everything collected so far is acknowledged (or the upload stopped). */
  async drain() {
    this.cut();
    while ((this.queue.length || this.sending) && !this.stopped) {
      await new Promise((resolve) => {
        this.waiters.push(resolve);
        this.pump();
      });
    }
  }

  /**
   * After the episode's last chunk is acknowledged, send `episode_end` (retried until it is).
   * @returns {Promise<number|null>} the server's episodes_done, or null if the scene is over
   */
  async endEpisode(episode, summary) {
    await this.drain();
    this.episode = null; // events until the next episode begins go with that episode
    for (let attempt = 0; !this.stopped; attempt++) {
      const ack = await this.api.sceneEvent("episode_end", { episode, steps: summary.steps, returns: summary.returns });
      if (ack.ok) return typeof ack.episodes_done === "number" ? ack.episodes_done : episode + 1;
      if (STOP_CODES.has(ack.code)) break;
      await sleep(RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]);
    }
    return null;
  }

  stop() {
    clearInterval(this.timer);
    window.removeEventListener("pagehide", this.onPageHide);
    this.stopped = true;
  }
}

/** The game page's elements. */
function layout(container, spec) {
  container.classList.add("mug-wide");
  const stage = h("div", { class: "mug-game-stage" });
  const countdown = h(
    "div",
    { id: "mug-countdown", class: "mug-countdown", hidden: true, "aria-live": "assertive" },
    h("span", { class: "mug-countdown-label" }),
    h("span", { class: "mug-countdown-number" }),
  );
  const loading = h(
    "div",
    { id: "mug-game-loading", class: "mug-countdown mug-game-loading" },
    h("span", { class: "mug-countdown-label", text: "Loading the game…" }),
  );
  stage.append(countdown, loading);
  const hud = h("div", { id: "mug-hud", class: "mug-hud", "aria-live": "off", hidden: !spec.hud });
  const dataset = { state: "loading", episode: String(spec.episodes_done ?? 0), step: "-1" };
  const game = h("div", { id: "mug-game", class: "mug-game", dataset }, hud, stage);
  // The whole game (HUD, canvas, a line of text) fits in the window: width follows the height.
  const ratio = (spec.width || 4) / (spec.height || 3);
  game.style.maxWidth = `max(320px, calc((100vh - 9rem) * ${ratio.toFixed(4)}))`;
  const inGame = h("div", { id: "mug-in-game-body", class: "mug-body", hidden: true });
  if (spec.in_game_body) inGame.innerHTML = spec.in_game_body;
  const error = h("section", { id: "mug-game-error", class: "mug-game-error", role: "alert", hidden: true });
  const body = pageBody(spec);
  const page = h("article", { class: "mug-page mug-game-page" }, pageHeader(spec), body, error, game, inGame);
  container.appendChild(page);
  return { page, body, game, stage, hud, countdown, loading, inGame, error };
}

/**
 * Count down `seconds` on the overlay (`label` above the number).
 * @returns {Promise<void>}
 */
async function countdown(ui, seconds, label) {
  if (!(seconds > 0)) return;
  const [labelEl, numberEl] = ui.countdown.children;
  labelEl.textContent = label;
  ui.countdown.hidden = false;
  const end = performance.now() + seconds * 1000;
  for (let left = seconds; left > 0; left = Math.ceil((end - performance.now()) / 1000)) {
    numberEl.textContent = String(left);
    await sleep(Math.max(0, end - (left - 1) * 1000 - performance.now()));
  }
  ui.countdown.hidden = true;
}

/** `{episode}`, `{num_episodes}`, `{step}`, `{max_steps}`, `{score}` filled in. */
function hudText(template, values) {
  return template.replace(/\{(\w+)\}/g, (match, name) => (name in values ? String(values[name]) : match));
}

const formatScore = (score) => (Number.isInteger(score) ? String(score) : score.toFixed(2));

/** Samples for benchmarks and diagnostics (`#mug-game.mugStats()`). */
function newStats() {
  const series = {};
  for (const name of STAT_SERIES) series[name] = [];
  return { series, firstFrameAt: null, steps: 0, draws: 0 };
}

function sample(stats, name, value) {
  const list = stats.series[name];
  if (list.length < STATS_CAP && Number.isFinite(value)) list.push(value);
}

/** The error panel: the exception's last line, the traceback folded, and a way on. */
function showError(ui, api, err, state) {
  const message = String(err && err.message ? err.message : err);
  state.errored = true;
  ui.game.dataset.state = "error";
  ui.countdown.hidden = true;
  ui.loading.hidden = true;
  api.hideProgress?.();
  const trace = err && err.traceback ? h("details", {}, h("summary", {}, "Details"), h("pre", { text: err.traceback })) : null;
  const button = h(
    "button",
    { type: "button", id: "mug-game-continue", class: "mug-button", dataset: { mugSubmit: "" } },
    "Continue",
  );
  const status = h("p", { class: "mug-game-error-status", role: "status" });
  button.addEventListener("click", async () => {
    // The server accepts an unfinished game once it has the error report.
    await state.reporting;
    const ack = await api.submit({ episodes_done: state.episodesDone, error: message });
    if (!ack.ok && ack.code !== "stale") status.textContent = ack.errors?.[""] || ack.message || "Please try again.";
  });
  ui.error.replaceChildren(
    err && err.reported ? null : h("p", { class: "mug-game-error-title", text: "The game stopped because of an error:" }),
    h("p", { class: "mug-game-error-message", text: message }),
    trace,
    h("div", { class: "mug-actions" }, button),
    status,
  );
  ui.error.hidden = false;
}

/**
 * The canvas, its draw loop (one paint per animation frame) and the HUD.
 * @returns {{renderer: object, live: object, apply: (packet: object) => void,
 *   setViewer: (agent: string|number|null) => void}}
 */
function gameView(ui, spec, state) {
  const stats = state.stats;
  const renderer = createCanvasRenderer(ui.stage, { width: spec.width, height: spec.height, background: spec.background });
  state.cleanups.push(() => renderer.destroy());
  const live = { episode: state.episodesDone, step: -1, score: 0, lastT: null, pendingT: null, work: 0, hudDirty: true };
  const updateHud = () => {
    if (!spec.hud) return;
    ui.hud.textContent = hudText(spec.hud, {
      episode: live.episode + 1,
      num_episodes: spec.num_episodes ?? 1,
      step: live.step + 1,
      max_steps: spec.max_steps ?? "∞",
      score: formatScore(live.score),
    });
  };
  let frameRequest = 0;
  const drawLoop = (now) => {
    frameRequest = requestAnimationFrame(drawLoop);
    if (live.hudDirty) {
      live.hudDirty = false;
      updateHud();
    }
    const began = performance.now();
    const drawn = renderer.draw(now);
    const ended = performance.now();
    if (!drawn) return;
    stats.draws += 1;
    sample(stats, "drawMs", ended - began);
    if (live.pendingT !== null) {
      sample(stats, "latencyMs", performance.timeOrigin + ended - live.pendingT);
      sample(stats, "frameMs", live.work + ended - began);
      live.pendingT = null;
      live.work = 0;
      if (stats.firstFrameAt === null) stats.firstFrameAt = ended;
    }
  };
  frameRequest = requestAnimationFrame(drawLoop);
  state.cleanups.push(() => cancelAnimationFrame(frameRequest));
  const apply = (packet) => {
    const began = performance.now();
    if (spec.assets_base && packet.assets && packet.assets.length) resolveAssets(packet, spec.assets_base);
    renderer.apply(packet);
    const ms = performance.now() - began;
    sample(stats, "applyMs", ms);
    live.work += ms;
  };
  const setViewer = (agent) => {
    renderer.setViewer(agent);
    if (agent !== null && agent !== undefined) ui.game.dataset.viewer = String(agent);
  };
  return { renderer, live, apply, updateHud, setViewer };
}

/** Show the game for `episode` (before its countdown). */
function enterEpisode(ui, spec, view, episode) {
  Object.assign(view.live, { episode, step: -1, score: 0, lastT: null, hudDirty: true });
  ui.game.dataset.episode = String(episode);
  ui.game.dataset.step = "-1";
  ui.loading.hidden = true;
  if (spec.in_game_body && ui.body) ui.body.hidden = true;
  ui.inGame.hidden = !spec.in_game_body;
}

const roundLabel = (spec, episode) =>
  (spec.num_episodes ?? 1) > 1 ? `Round ${episode + 1} of ${spec.num_episodes}` : "Get ready";

/** Record the window's focus and the page's visibility changes with `record(event)`. */
function watchAttention(state, record) {
  const watch = (target, type, make) => {
    const listener = () => record(make());
    target.addEventListener(type, listener);
    state.cleanups.push(() => target.removeEventListener(type, listener));
  };
  watch(window, "focus", () => ({ type: "focus" }));
  watch(window, "blur", () => ({ type: "blur" }));
  watch(document, "visibilitychange", () => ({ type: document.hidden ? "hidden" : "visible" }));
}

/** A runtime that steps in this page and leaves recording to it (e.g. `browser`). */
async function playInPage(ui, spec, api, state, impl) {
  const numEpisodes = spec.num_episodes ?? 1;
  const stats = state.stats;
  const view = gameView(ui, spec, state);
  const { live } = view;
  const refused = (message) => api.showNotice?.(`Some game data was refused: ${message}`, { kind: "error" });
  const uploader = new Uploader(api, spec, refused);
  state.uploader = uploader;
  state.cleanups.push(() => uploader.stop());
  const host = {
    progress: (label, fraction) => api.showProgress?.(label, fraction),
    frame: view.apply,
    step(record, meta) {
      uploader.step(record);
      stats.steps += 1;
      live.step = record.step;
      const agent = state.game && state.game.agent;
      if (agent !== null && agent !== undefined && meta.returns) live.score = Number(meta.returns[agent]) || 0;
      if (live.lastT !== null) sample(stats, "intervalMs", record.t - live.lastT);
      live.lastT = record.t;
      live.pendingT = record.t;
      live.hudDirty = true;
      ui.game.dataset.step = String(record.step);
      sample(stats, "callMs", meta.callMs);
      sample(stats, "parseMs", meta.parseMs);
      sample(stats, "bytes", meta.bytes);
      sample(stats, "packetBytes", meta.packetBytes);
      live.work += (meta.callMs || 0) + (meta.parseMs || 0);
      if (Array.isArray(meta.timing)) {
        sample(stats, "envMs", meta.timing[0]);
        sample(stats, "renderMs", meta.timing[1]);
      }
    },
    input: (event) => uploader.event(event),
  };
  watchAttention(state, (event) => uploader.event(event));
  if (state.episodesDone < numEpisodes) {
    state.game = await impl.start(ui.stage, spec, host);
    if (state.stopped) return state.game.stop(); // the scene was replaced while loading
    view.setViewer(state.game.agent);
    state.cleanups.push(() => state.game.stop());
    for (let episode = state.episodesDone; episode < numEpisodes && !state.stopped; episode++) {
      uploader.begin(episode);
      await state.game.reset(episode);
      enterEpisode(ui, spec, view, episode);
      ui.game.dataset.state = "countdown";
      await countdown(ui, spec.countdown_s ?? 0, roundLabel(spec, episode));
      if (state.stopped) return;
      ui.game.dataset.state = "playing";
      const summary = await state.game.run();
      ui.game.dataset.state = "uploading";
      const done = await uploader.endEpisode(episode, summary);
      if (done === null) return;
      state.episodesDone = Math.max(state.episodesDone, done);
    }
    state.game.stop();
  }
  await finish(ui, api, state, { episodes_done: state.episodesDone });
}

/**
 * A runtime that steps elsewhere and records there (`recordsInPage: false`, e.g. `server`):
 * `impl.start(spec, api, {onFrame, onStatus, onOver, onError, onAgent}) -> {key(key, down),
 * stop()}`; `onAgent(agent)` names this page's player's agent (whose marks it draws).
 * Frames are `{step, episode, packet}`; statuses `{countdown, episode}`; key changes go out.
 */
async function playRemote(ui, spec, api, state, impl) {
  const view = gameView(ui, spec, state);
  let episode = -1;
  const show = (index) => {
    if (typeof index === "number" && index !== episode) {
      episode = index;
      enterEpisode(ui, spec, view, index);
    }
  };
  const over = new Promise((resolve, reject) => {
    state.remote = {
      onFrame(frame) {
        show(frame.episode);
        if (frame.packet) view.apply(frame.packet);
        ui.countdown.hidden = true;
        ui.game.dataset.state = "playing";
        if (typeof frame.step === "number") {
          view.live.step = frame.step;
          ui.game.dataset.step = String(frame.step);
        }
        if (typeof frame.score === "number") view.live.score = frame.score;
        view.live.pendingT = typeof frame.t === "number" ? frame.t : null;
        view.live.hudDirty = true;
      },
      onStatus(status) {
        show(status.episode);
        if (status.countdown > 0) {
          ui.game.dataset.state = "countdown";
          ui.countdown.children[0].textContent = roundLabel(spec, episode);
          ui.countdown.children[1].textContent = String(status.countdown);
          ui.countdown.hidden = false;
        }
      },
      onOver: resolve,
      onError: (message) => reject(new Error(message)),
      onAgent: (agent) => view.setViewer(agent),
    };
  });
  state.game = await impl.start(spec, api, state.remote);
  if (state.stopped) return state.game.stop();
  state.cleanups.push(() => state.game.stop());
  const mapped = new Set((spec.action_mapping ?? []).flatMap(([keys]) => keys.map(normKey)));
  const held = new Set();
  const onKey = (down) => (event) => {
    const key = normKey(event.key);
    if (!mapped.has(key)) return;
    event.preventDefault();
    if (event.repeat || held.has(key) === down) return;
    if (down) held.add(key);
    else held.delete(key);
    state.game.key(event.key, down);
  };
  const release = () => {
    for (const key of held) state.game.key(key, false);
    held.clear();
  };
  const listeners = [["keydown", onKey(true)], ["keyup", onKey(false)], ["blur", release]];
  for (const [type, listener] of listeners) window.addEventListener(type, listener);
  state.cleanups.push(() => listeners.forEach(([type, listener]) => window.removeEventListener(type, listener)));
  const info = await over;
  state.game.stop();
  if (info && info.message) {
    const error = new Error(info.message);
    error.reported = true; // the server ended the game and knows why
    throw error;
  }
  await finish(ui, api, state, {});
}

/** Submit the scene once the game is over. */
async function finish(ui, api, state, response) {
  ui.game.dataset.state = "done";
  const ack = await api.submit(response);
  if (!ack.ok && ack.code !== "stale" && !state.stopped) {
    throw new Error(ack.errors?.[""] || ack.message || "The server did not accept the end of the game.");
  }
}

const PING_COUNT = 5;
const PING_TIMEOUT_MS = 5000;
const RTT_REPEAT_MS = 10000;

/** One acknowledged socket message, or null after `timeoutMs`. */
function ask(socket, event, data, timeoutMs = PING_TIMEOUT_MS) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), timeoutMs);
    socket.emit(event, data, (ack) => {
      clearTimeout(timer);
      resolve(ack ?? null);
    });
  });
}

/**
 * The page's round trip to the server in ms: the median of a few `waitroom_ping`s, sent one
 * after another; null if none was answered.
 */
async function measureRtt(socket, count = PING_COUNT) {
  const samples = [];
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    if ((await ask(socket, "waitroom_ping", {})) === null) continue;
    samples.push(performance.now() - sent);
  }
  if (!samples.length) return null;
  samples.sort((a, b) => a - b);
  const mid = Math.floor(samples.length / 2);
  return samples.length % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

/** What a waiting-room timeout shows: the study's message and, if any, the completion code. */
function showTimeout(status, outcome) {
  status.textContent = outcome.message || "No other players arrived in time.";
  if (outcome.completion_code) {
    status.after(
      h(
        "p",
        { class: "mug-waitroom-code" },
        "Your completion code: ",
        h("code", { id: "mug-waitroom-code", class: "mug-code", text: String(outcome.completion_code) }),
      ),
    );
  }
}

/**
 * The waiting room: ask to be grouped, show how many wait and for how long, measure and report
 * the round trip to the server (`waitroom_rtt`, again every 10 s while waiting) for matchmakers
 * that group by latency, and resolve with the group, or with null when the study's timeout
 * moved the participant on (its message, completion code and redirect are shown here).
 */
function waitForGroup(ui, spec, api, state) {
  const socket = api.socket;
  const status = h("p", { id: "mug-waiting", class: "mug-waiting", "aria-live": "polite" });
  ui.stage.prepend(status);
  const show = (waiting, elapsed) => {
    const minutes = Math.floor(elapsed / 60);
    const seconds = String(Math.floor(elapsed % 60)).padStart(2, "0");
    status.textContent =
      `Waiting for other players: ${waiting} of ${spec.group_size} here (${minutes}:${seconds}).`;
  };
  return new Promise((resolve, reject) => {
    let waiting = true;
    let rttTimer = null;
    const mine = (message) => message && message.scene_key === api.sceneKey;
    const onWaiting = (m) => mine(m) && show(m.waiting, m.elapsed_s);
    const onGroup = (m) => {
      if (!mine(m)) return;
      done();
      resolve(m);
    };
    const onTimeout = (m) => {
      if (!mine(m)) return;
      done({ keepStatus: true });
      showTimeout(status, m);
      if (m.redirect_url && /^https?:/i.test(m.redirect_url)) {
        setTimeout(() => location.assign(m.redirect_url), 3000);
      }
      resolve(null);
    };
    const reportRtt = async () => {
      const rtt = await measureRtt(socket);
      if (!waiting) return;
      if (rtt !== null) socket.emit("waitroom_rtt", { scene_key: api.sceneKey, rtt_ms: rtt });
      rttTimer = setTimeout(reportRtt, RTT_REPEAT_MS);
    };
    const done = ({ keepStatus = false } = {}) => {
      waiting = false;
      clearTimeout(rttTimer);
      socket.off("waiting", onWaiting);
      socket.off("group", onGroup);
      socket.off("waitroom_timeout", onTimeout);
      if (!keepStatus) status.remove();
    };
    state.cleanups.push(() => done({ keepStatus: true }));
    socket.on("waiting", onWaiting);
    socket.on("group", onGroup);
    socket.on("waitroom_timeout", onTimeout);
    if (spec.waitroom?.timed_out) {
      onTimeout({ scene_key: api.sceneKey, ...spec.waitroom.timed_out });
      return;
    }
    show(1, 0);
    api.sceneEvent("wait", {}).then((ack) => {
      if (!ack.ok) {
        done();
        reject(new Error(ack.message || "The waiting room is not available."));
        return;
      }
      if (ack.group) {
        onGroup({ scene_key: api.sceneKey, ...ack.group });
        return;
      }
      if (ack.waiting && waiting) show(ack.waiting, Date.now() / 1000 - (ack.since ?? Date.now() / 1000));
      if (waiting) reportRtt();
    });
  });
}

/** Play the scene with the runtime it names. */
async function play(ui, payload, api, state) {
  const spec = payload.spec;
  state.episodesDone = spec.episodes_done ?? 0;
  const impl = runtime(spec.runtime);
  if (!impl || typeof impl.start !== "function") {
    const extra = RUNTIME_EXTRAS[spec.runtime];
    const hint = extra ? ` (pip install 'mug-core[${extra}]')` : "";
    throw new Error(`This study needs the ${spec.runtime} runtime${hint}, which this server does not provide.`);
  }
  if ((spec.group_size ?? 1) > 1 && !spec.group) {
    const group = await waitForGroup(ui, spec, api, state);
    if (!group) return; // timed out: the page shows what the study said
    spec.group = group;
  }
  if (impl.recordsInPage === false) await playRemote(ui, spec, api, state, impl);
  else await playInPage(ui, spec, api, state, impl);
}

registerScene("gym", {
  render(container, payload, api) {
    injectStyle();
    const spec = payload.spec ?? {};
    const ui = layout(container, spec);
    const state = { stopped: false, errored: false, episodesDone: 0, game: null, uploader: null, reporting: null };
    Object.assign(state, { cleanups: [], stats: newStats() });
    ui.game.mugStats = () => ({ ...state.stats, now: performance.now() });
    play(ui, { ...payload, spec }, api, state).catch(async (err) => {
      if (state.stopped) return;
      console.error("mug: the game failed", err);
      if (state.game) state.game.stop();
      state.reporting = (async () => {
        if (state.uploader) await state.uploader.drain(); // the steps before the error first
        if (typeof api.sceneEvent === "function" && !err.reported) {
          await api.sceneEvent("error", { message: String(err.message ?? err), traceback: err.traceback ?? "" });
        }
      })();
      showError(ui, api, err, state);
    });
    return () => {
      state.stopped = true;
      for (const cleanup of state.cleanups.splice(0).reverse()) {
        try {
          cleanup();
        } catch (err) {
          console.error("mug: game cleanup failed", err);
        }
      }
    };
  },
});

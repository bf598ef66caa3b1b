/**
 * The `p2p` runtime: a game scene played peer to peer. Every participant of the group runs the
 * env in their own page (mug-pyodide's worker and Runner); only inputs travel between the pages
 * (`p2p_transport.js`: WebRTC DataChannels, or the server relay); a rollback session in the
 * worker (`p2p_worker.js`, `p2p_runner.py`) predicts the others' inputs, rolls back and
 * re-simulates when they arrive.
 *
 * The page side of game scenes (mug_core's scenes/gym.js) calls `start(container, spec, host)`
 * as for the `browser` runtime; `spec.multiplayer` holds the options of `.multiplayer()` and
 * `.reconnection()`, `spec.group` the group from the waiting room.
 *
 * What the page records (through `host`, the same uploader as the browser runtime):
 * - a step record for each *confirmed* frame only, identical on every peer (`t` is game time);
 * - events: `p2p_metrics` (every few seconds and at each episode's end), `p2p_connection`,
 *   `p2p_desync`, `p2p_stall`, `p2p_disconnect` (see docs/data.md).
 *
 * When a peer is lost the game pauses with a notice (`#mug-p2p-pause`); it resumes if the peer
 * returns within `rejoin_timeout_s`, else `after_timeout` applies: `"ai"` hands its agent to the
 * replacement policy on every remaining peer, `"end"` ends the game with `end_message`.
 *
 * Tests may set `globalThis.mugP2PNetem` (`{delayMs, jitterMs, loss}`, read live) before the
 * game starts: the transport then delays and drops incoming game messages.
 * @module mug-p2p/runtime
 */

import "/static/mug/scenes/gym.js";
import { hideProgress, registerRuntime } from "/static/mug/kernel.js";
import { humanAgent, listenToKeys, preload, worker } from "/static/pyodide/runtime.js";

const TRANSPORT_URL = new URL("./p2p_transport.js", import.meta.url).href;
const WORKER_MODULE_URL = new URL("./p2p_worker.js", import.meta.url).href;
const METRICS_EVERY_MS = 5000;
const LINGER_S = 1.5;
const CONNECT_TIMEOUT_MS = 30000;
/** A peer whose inputs stop for this much longer than rejoin_timeout_s is taken as gone. */
const SILENT_GRACE_S = 2;

const STYLE = `
.mug-p2p-pause { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  flex-direction: column; gap: .5rem; font: 600 1.25rem/1.4 var(--mug-font, sans-serif); color: #fff;
  text-shadow: 0 2px 6px rgba(0,0,0,.6); background: rgba(0,0,0,.45); z-index: 2; text-align: center; padding: 1rem; }
.mug-p2p-pause[hidden] { display: none; }
.mug-p2p-pause small { font-size: .95rem; font-weight: 400; }
`;

function injectStyle() {
  if (document.getElementById("mug-p2p-style")) return;
  const style = document.createElement("style");
  style.id = "mug-p2p-style";
  style.textContent = STYLE;
  document.head.appendChild(style);
}

async function loadTransport() {
  try {
    return await import(TRANSPORT_URL);
  } catch (err) {
    throw new Error(`the peer-to-peer transport could not be loaded (${TRANSPORT_URL}): ${err.message}`);
  }
}

/**
 * The spec every page of the group shares: the study's seed, or one taken from the game id,
 * with each policy's seed derived from it as the server does (seed + the agent's index).
 */
function groupSpec(spec, options, gameId) {
  const seed = Number.isInteger(options.seed) ? options.seed : parseInt(String(gameId).slice(0, 7), 16) || 0;
  const policies = {};
  (spec.agent_ids ?? Object.keys(spec.policies ?? {})).forEach((agent, i) => {
    const policy = spec.policies[String(agent)];
    policies[String(agent)] = policy && "seed" in policy ? { ...policy, seed: seed + i } : policy;
  });
  return { ...spec, seed, policies };
}

/** The 95th percentile of `values` (0 when empty). */
function p95(values) {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))];
}

/** The pause overlay over the game. */
function pauseOverlay(container) {
  const box = document.createElement("div");
  box.id = "mug-p2p-pause";
  box.className = "mug-p2p-pause";
  box.hidden = true;
  box.setAttribute("role", "status");
  const title = document.createElement("span");
  const detail = document.createElement("small");
  box.append(title, detail);
  container.appendChild(box);
  return {
    show(text, more = "") {
      title.textContent = text;
      detail.textContent = more;
      box.hidden = false;
    },
    hide() {
      box.hidden = true;
    },
    remove: () => box.remove(),
  };
}

/**
 * Tracks each peer's connection, pauses the game while one is missing, and applies the study's
 * choice when one does not come back.
 */
class PeerWatch {
  constructor({ options, peerIds, transport, overlay, record, onGone }) {
    this.options = options;
    this.transport = transport;
    this.overlay = overlay;
    this.record = record;
    this.onGone = onGone;
    this.lost = new Map(); // peer -> timer
    this.gone = new Set();
    this.stalledSince = null;
    this.peerIds = peerIds;
    /** Set while no episode is being played: links may change, the game does not pause. */
    this.over = false;
  }

  /** A transport report `{state, via}` about `peer`. */
  onPeer(peer, info) {
    if (this.gone.has(peer)) return;
    const via = info.via ?? this.transport.via?.(peer) ?? null;
    if (info.state === "open") this.record("p2p_connection", { peer, state: "open", via });
    else if (this.over) {
      // Between rounds, or after the last: noted, but nothing to pause, take over or end.
      this.record("p2p_disconnect", { peer, state: info.state, via });
    } else if (info.state === "lost") {
      this.record("p2p_disconnect", { peer, state: "lost", via });
      if (!this.lost.has(peer)) {
        const timer = setTimeout(() => this.giveUp(peer, "timeout"), this.options.rejoin_timeout_s * 1000);
        this.lost.set(peer, timer);
      }
      this.refresh();
    } else if (info.state === "back") {
      this.record("p2p_disconnect", { peer, state: "back", via });
      clearTimeout(this.lost.get(peer));
      this.lost.delete(peer);
      this.refresh();
    } else if (info.state === "left") {
      this.record("p2p_disconnect", { peer, state: "left", via });
      this.giveUp(peer, "left");
    } else if (info.via) {
      this.record("p2p_connection", { peer, state: info.state, via });
    }
  }

  /** The session stalled (true) or advanced (false) this tick. */
  onTick(stalled) {
    const now = performance.now();
    if (!stalled) {
      this.stalledSince = null;
      this.refresh();
      return;
    }
    this.stalledSince ??= now;
    const waited = (now - this.stalledSince) / 1000;
    // A peer can vanish without the transport noticing (a frozen tab): its inputs stop.
    if (waited > this.options.rejoin_timeout_s + SILENT_GRACE_S) {
      for (const peer of this.peerIds) if (!this.gone.has(peer)) this.giveUp(peer, "silent");
      this.stalledSince = null;
    }
    this.refresh();
  }

  giveUp(peer, reason) {
    if (this.gone.has(peer) || this.over) return;
    clearTimeout(this.lost.get(peer));
    this.lost.delete(peer);
    this.gone.add(peer);
    this.record("p2p_disconnect", { peer, state: "gone", reason, outcome: this.options.after_timeout });
    this.onGone(peer);
    this.refresh();
  }

  refresh() {
    if (this.over) {
      this.overlay.hide();
      return;
    }
    const waited = this.stalledSince === null ? 0 : (performance.now() - this.stalledSince) / 1000;
    if (this.lost.size) {
      this.overlay.show(
        "Your partner's connection was lost.",
        `Waiting up to ${Math.round(this.options.rejoin_timeout_s)} s for them to come back…`,
      );
    } else if (waited >= (this.options.stall_notice_s ?? 0.5)) {
      this.overlay.show("Waiting for the other player…");
    } else this.overlay.hide();
  }

  stop() {
    for (const timer of this.lost.values()) clearTimeout(timer);
    this.lost.clear();
  }
}

/**
 * Start a peer-to-peer game scene: load (or reuse) Pyodide and the env, connect to the group's
 * other pages, listen to the keys.
 * @param {HTMLElement} container the game area (the pause notice goes here)
 * @param {object} spec the scene spec (`multiplayer`, `group`)
 * @param {object} host the page side's host (see mug-pyodide's runtime.js)
 */
export async function start(container, spec, host) {
  const options = spec.multiplayer;
  const group = spec.group;
  const session = window.mug?.session;
  if (!options || !group || !group.members) throw new Error("this game has no group to play with");
  if (!session || !session.participantId) throw new Error("the page's session is not ready");
  injectStyle();
  const selfId = session.participantId;
  const peerIds = Object.keys(group.members).filter((pid) => pid !== selfId);
  const agent = humanAgent(spec);
  let current = null; // {resolve, reject} of the episode being played
  let stopped = false;
  let lastTick = null;
  let episodeOver = false; // this episode's end is confirmed: departures no longer matter
  const frameMs = [];
  const record = (type, data) => host.input({ type, data });

  const fail = (error) => {
    if (current) current.reject(error);
    current = null;
  };
  const unlisten = worker.listen((message) => {
    if (stopped) return;
    if (message.type === "progress") host.progress(message.label, message.fraction);
    else if (message.type === "p2p_tick") onTick(message);
    else if (message.type === "p2p_over") {
      if (current) current.resolve({ steps: lastTick?.steps ?? 0, returns: lastTick?.returns ?? {} });
      current = null;
    } else if (message.type === "failed") fail(Object.assign(new Error(message.message), { traceback: message.traceback }));
  });

  await preload(spec);
  spec = groupSpec(spec, options, group.game_id);
  await worker.request({ type: "setup", spec, providers: {} });
  await worker.request({ type: "extend", url: WORKER_MODULE_URL });
  await worker.request({
    type: "p2p_create",
    options: {
      members: group.members,
      local_peer: selfId,
      game_id: group.game_id,
      fps: spec.fps || 30,
      input_delay: options.input_delay,
      max_prediction: options.max_prediction,
      checksum_interval: options.checksum_interval,
      replacement: options.after_timeout === "ai" ? options.replacement : null,
    },
  });
  host.progress("Connecting to the other players…", null);
  const { openTransport } = await loadTransport();
  const connectStarted = performance.now();
  const transport = await openTransport({
    socket: session.socket,
    gameId: group.game_id,
    selfId,
    peerIds,
    iceServers: options.ice_servers ?? [],
    iceTransportPolicy: options.relay_only ? "relay" : "all",
    webrtc: options.transport !== "relay",
    timeoutMs: CONNECT_TIMEOUT_MS,
    netem: globalThis.mugP2PNetem ?? null,
  });
  hideProgress();
  for (const peer of peerIds) {
    record("p2p_connection", {
      peer,
      state: "open",
      via: transport.via(peer),
      connect_ms: Math.round(performance.now() - connectStarted),
    });
  }
  transport.onMessage((from, text) => worker.post({ type: "p2p_net", from, text }));
  const overlay = pauseOverlay(container);
  const watch = new PeerWatch({
    options,
    peerIds,
    transport,
    overlay,
    record,
    onGone(peer) {
      if (episodeOver) return; // the game is over for everyone; nothing to take over or end
      if (options.after_timeout === "end") {
        worker.post({ type: "p2p_stop" });
        fail(new Error(options.end_message || "Your partner left, so this game has ended."));
      } else worker.post({ type: "p2p_disconnect", peer });
    },
  });
  transport.onPeer((peer, info) => watch.onPeer(peer, info));

  let metricsAt = performance.now();
  const metrics = (stats, final = false) => {
    const peers = {};
    for (const peer of peerIds) {
      const rtt = transport.rttMs(peer);
      peers[peer] = { rtt_ms: rtt === null || rtt === undefined ? null : Math.round(rtt * 10) / 10, via: transport.via(peer) };
    }
    record("p2p_metrics", {
      ...stats,
      peers,
      frame_ms_p95: Math.round(p95(frameMs) * 100) / 100,
      final,
    });
    frameMs.length = 0;
    metricsAt = performance.now();
  };

  const onTick = ({ json }) => {
    const out = JSON.parse(json);
    for (const [peer, text] of out.out) transport.sendTo(peer, text);
    if (out.packet) host.frame(out.packet);
    frameMs.push(out.ms);
    for (const [step, meta] of out.records) {
      host.step(step, { ...meta, callMs: out.ms, parseMs: 0, bytes: json.length });
      lastTick = { steps: step.step + 1, returns: meta.returns };
    }
    for (const event of out.events) {
      if (event.type === "desync") record("p2p_desync", event);
      else if (event.type === "stalled" || event.type === "resumed") record("p2p_stall", event);
      else if (event.type === "dropped_by_peer") watch.giveUp(event.peer, "dropped_us");
    }
    if (out.ended && !episodeOver) {
      episodeOver = true;
      watch.over = true;
      watch.stop();
      overlay.hide();
      if (out.stats) metrics(out.stats, true);
    } else if (!episodeOver) {
      watch.onTick(out.stalled);
      if (out.stats && performance.now() - metricsAt >= METRICS_EVERY_MS) metrics(out.stats);
    }
  };

  const send = (action, mode) => worker.post({ type: "p2p_input", action, mode });
  const unkeys = agent === null ? () => {} : listenToKeys(spec, agent, host, send);
  return {
    agent,
    async reset(episode) {
      const first = JSON.parse(await worker.request({ type: "p2p_reset", episode }));
      lastTick = null;
      episodeOver = false;
      watch.over = false;
      watch.stalledSince = null;
      if (first.packet) host.frame(first.packet);
    },
    run() {
      return new Promise((resolve, reject) => {
        current = { resolve, reject };
        worker.post({ type: "p2p_play", fps: spec.fps || 30, linger: Math.round(LINGER_S * (spec.fps || 30)) });
      });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      unkeys();
      watch.stop();
      overlay.remove();
      worker.post({ type: "p2p_stop" });
      worker.post({ type: "stop" });
      unlisten();
      try {
        transport.close();
      } catch (err) {
        console.warn("mug-p2p: closing the transport failed", err);
      }
    },
  };
}

registerRuntime("p2p", { preload, start });

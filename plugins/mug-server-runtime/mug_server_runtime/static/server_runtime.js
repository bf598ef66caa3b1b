/**
 * The page side of the `server` runtime: sends key changes, decodes the frame stream and hands
 * each frame's Surface packet to the caller. The env steps on the study server. Once a sampled
 * frame is drawn (the first of each stream, then one per second of game time) the page says so
 * with `game_frame_ack`, from which the server records frame delivery times.
 * @module mug/server_runtime
 */

import { registerRuntime } from "/static/mug/kernel.js";

/**
 * Turns one stream's compact deltas back into Surface packets (see docs/game-protocol.md).
 */
class DeltaDecoder {
  constructor() {
    /** @type {Map<string, object>} */
    this.objects = new Map();
    this.width = 0;
    this.height = 0;
  }

  /** @param {object} delta @returns {object} a Surface packet */
  packet(delta) {
    const objects = this.objects;
    const clear = Array.isArray(delta.c);
    if (clear) {
      objects.clear();
      [this.width, this.height] = delta.c;
    }
    for (const id of delta.r ?? []) objects.delete(id);
    const out = [];
    for (const obj of delta.n ?? []) {
      objects.set(obj.id, obj);
      out.push(obj);
    }
    for (const [id, changed] of delta.u ?? []) {
      const obj = { ...objects.get(id) };
      for (const [field, value] of Object.entries(changed)) {
        if (field === "dp") {
          obj.points = obj.points.map((a, i) => (Math.round(a * 100) + value[i]) / 100);
        } else {
          obj[field] = value;
        }
      }
      objects.set(id, obj);
      out.push(obj);
    }
    return {
      version: 1,
      seq: delta.q,
      clear,
      width: this.width,
      height: this.height,
      assets: delta.a ?? [],
      objects: out,
      removed: delta.r ?? [],
      order: delta.z ?? null,
    };
  }
}

/**
 * Decodes one frame stream: raw-deflate bytes, sync-flushed per frame, newline-terminated JSON
 * lines `{step, episode, t, delta}`; hands on `{step, episode, t, packet}` and when the message
 * that carried the frame arrived (`{t: Date.now(), at: performance.now()}`; each message holds
 * one frame).
 */
class FrameDecoder {
  /** @param {(frame: object, arrival: {t: number, at: number}) => void} onFrame */
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.deltas = new DeltaDecoder();
    this.stream = new DecompressionStream("deflate-raw");
    this.writer = this.stream.writable.getWriter();
    this.text = "";
    /** @type {{t: number, at: number}[]} arrivals of the messages not decoded yet, oldest first */
    this.arrivals = [];
    this.closed = false;
    this.pump();
  }

  async pump() {
    const reader = this.stream.readable.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      let chunk;
      try {
        chunk = await reader.read();
      } catch (err) {
        // A stream is never finished by the server (each frame is only flushed), so closing it
        // reports truncated input: expected after close(), an error otherwise.
        if (!this.closed) console.error("mug: frame stream failed", err);
        return;
      }
      const { value, done } = chunk;
      if (done) return;
      this.text += value;
      let newline;
      while ((newline = this.text.indexOf("\n")) >= 0) {
        const line = this.text.slice(0, newline);
        this.text = this.text.slice(newline + 1);
        if (!line) continue;
        const frame = JSON.parse(line);
        if (frame.delta) {
          frame.packet = this.deltas.packet(frame.delta);
          delete frame.delta;
        }
        const arrival = this.arrivals.shift() ?? { t: Date.now(), at: performance.now() };
        this.onFrame(frame, arrival);
      }
    }
  }

  /** @param {string|ArrayBuffer|Uint8Array} data the next chunk (base64 text, or bytes) */
  push(data) {
    this.arrivals.push({ t: Date.now(), at: performance.now() });
    let bytes;
    if (typeof data === "string") {
      const text = atob(data);
      bytes = new Uint8Array(text.length);
      for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    } else {
      bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    }
    this.writer.write(bytes);
  }

  close() {
    this.closed = true;
    this.writer.close().catch(() => {});
  }
}

/**
 * Acknowledges a sample of one stream's frames once they are drawn: its first frame with a step,
 * then each step that is a multiple of `fps` (one a second). The game draws in its animation
 * frame callback, registered before this one, so this callback runs once the frame is drawn.
 * @param {object} socket the study's socket
 * @param {number} stream the stream's number
 * @param {number} fps the game's steps per second
 * @param {() => boolean} stopped whether the game has stopped (no more acknowledgements)
 * @returns {(frame: object, arrival: {t: number, at: number}) => void} call after each frame
 */
function frameAcks(socket, stream, fps, stopped) {
  let first = true;
  return (frame, arrival) => {
    const { step, episode } = frame;
    if (typeof step !== "number" || typeof episode !== "number") return;
    if (!first && step % fps !== 0) return;
    first = false;
    requestAnimationFrame(() => {
      if (stopped()) return;
      const drawMs = Math.max(0, performance.now() - arrival.at);
      socket.emit("game_frame_ack", { stream, step, episode, t: arrival.t, draw_ms: drawMs });
    });
  };
}

/**
 * Start a server game for a scene.
 * @param {object} spec the GymScene spec
 * @param {object} api the scene API (socket, sceneKey)
 * @param {{onFrame: (frame: object) => void, onStatus: (status: object) => void,
 *          onOver: (info: object) => void, onError: (message: string) => void,
 *          onAgent?: (agent: string) => void}} hooks (`onAgent`: this player's agent, once the
 *          server attached the page to its game)
 * @returns {Promise<{key(key: string, down: boolean): void, stop(): void}>}
 */
async function start(spec, api, hooks) {
  const socket = api.socket;
  const fps = Math.max(1, Math.round(spec.fps || 30));
  let decoder = null;
  let stream = -1;
  let stopped = false;
  const onFrame = (message) => {
    if (message.stream !== stream) {
      if (decoder) decoder.close();
      stream = message.stream;
      const acks = frameAcks(socket, stream, fps, () => stopped);
      decoder = new FrameDecoder((frame, arrival) => {
        hooks.onFrame(frame);
        acks(frame, arrival);
      });
    }
    decoder.push(message.data);
  };
  const onStatus = (status) => {
    if (status.scene_key === api.sceneKey) hooks.onStatus(status);
  };
  const onOver = (info) => {
    if (info.scene_key === api.sceneKey) hooks.onOver(info);
  };
  const join = () =>
    socket.emit("game_join", { scene_key: api.sceneKey }, (ack) => {
      if (!ack || !ack.ok) hooks.onError((ack && ack.message) || "The game could not start.");
      else if (ack.over) hooks.onOver({ message: null });
      else if (ack.agent !== undefined && ack.agent !== null && hooks.onAgent) hooks.onAgent(ack.agent);
    });
  socket.on("game_frame", onFrame);
  socket.on("game_status", onStatus);
  socket.on("game_over", onOver);
  socket.io.on("reconnect", join);
  join();
  return {
    key(key, down) {
      socket.emit("game_input", { key, down, t: performance.timeOrigin + performance.now() });
    },
    stop() {
      stopped = true;
      socket.off("game_frame", onFrame);
      socket.off("game_status", onStatus);
      socket.off("game_over", onOver);
      socket.io.off("reconnect", join);
      if (decoder) decoder.close();
    },
  };
}

registerRuntime("server", { start, recordsInPage: false });

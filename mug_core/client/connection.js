/**
 * The participant's connection to the server over socket.io.
 *
 * Joins on every (re)connect; requests made while the connection is down (or before the join
 * is acknowledged) wait for it, and are sent again if no ack comes within the timeout or the
 * connection drops first. The first ack to arrive settles a request.
 * @module mug/connection
 */

const DEFAULT_TIMEOUT_MS = 15000;
const MANUAL_RECONNECT_MS = [1000, 2000, 5000, 10000];

/**
 * @typedef {object} SessionHandlers
 * @property {() => object} joinPayload the `join` event's data, built at each (re)connect
 * @property {(ack: object) => void} onJoined called with a successful join ack `{ok: true, scene}`
 * @property {(ack: object) => void} onJoinFailed called with a failed join ack; the session closes
 * @property {(state: string) => void} onState "connecting" | "connected" | "reconnecting" | "closed"
 */

export class Session {
  /**
   * @param {object} socket a socket.io client socket (from `io(...)`)
   * @param {SessionHandlers} handlers
   * @param {{timeoutMs?: number}} [options]
   */
  constructor(socket, handlers, { timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
    this.socket = socket;
    this.handlers = handlers;
    this.timeoutMs = timeoutMs;
    /** True once joined on the current connection. */
    this.ready = false;
    this.closed = false;
    this.everJoined = false;
    this.generation = 0;
    this.pending = new Set();
    this.manualAttempts = 0;
    this.manualTimer = null;
    this.joinTimer = null;

    socket.on("connect", () => this.join());
    socket.on("disconnect", (reason) => this.lost(reason));
    socket.on("connect_error", (err) => this.connectError(err));
    this.setState("connecting");
  }

  setState(state) {
    this.state = state;
    this.handlers.onState(state);
  }

  /** Send `join` on the current connection; sent again while connected until acknowledged. */
  join() {
    if (this.closed) return;
    clearTimeout(this.manualTimer);
    clearTimeout(this.joinTimer);
    this.manualAttempts = 0;
    this.ready = false;
    const socketId = this.socket.id;
    const current = () => !this.closed && !this.ready && this.socket.connected && this.socket.id === socketId;
    const onAck = (ack) => {
      if (!current()) return;
      clearTimeout(this.joinTimer);
      this.joined(ack);
    };
    const attempt = () => {
      if (!current()) return;
      this.socket.emit("join", this.handlers.joinPayload(), onAck);
      this.joinTimer = setTimeout(attempt, this.timeoutMs);
    };
    attempt();
  }

  joined(ack) {
    if (!ack || typeof ack !== "object" || ack.ok !== true) {
      const failure =
        ack && typeof ack === "object"
          ? ack
          : { ok: false, code: "bad_reply", message: "The server sent an unexpected reply." };
      this.close();
      this.handlers.onJoinFailed(failure);
      return;
    }
    this.ready = true;
    this.everJoined = true;
    this.generation += 1;
    this.setState("connected");
    this.handlers.onJoined(ack);
    this.flush();
  }

  lost(reason) {
    this.ready = false;
    clearTimeout(this.joinTimer);
    if (this.closed || reason === "io client disconnect") return;
    this.setState(this.everJoined ? "reconnecting" : "connecting");
    // socket.io does not reconnect by itself after a server-side disconnect.
    if (reason === "io server disconnect") this.reconnectLater();
  }

  connectError(err) {
    if (this.closed) return;
    console.warn("mug: connection failed:", err && err.message);
    this.setState(this.everJoined ? "reconnecting" : "connecting");
    // `active` is false when the server refused the connection (no automatic retry).
    if (this.socket.active === false) this.reconnectLater();
  }

  reconnectLater() {
    clearTimeout(this.manualTimer);
    const delay = MANUAL_RECONNECT_MS[Math.min(this.manualAttempts, MANUAL_RECONNECT_MS.length - 1)];
    this.manualAttempts += 1;
    this.manualTimer = setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  /**
   * Emit `event` with `data` and resolve with the server's ack. Waits for the connection
   * (and join) if needed and resends after `timeoutMs` without an ack; never rejects.
   * @param {string} event
   * @param {*} data
   * @param {object} [tags] stored on the request, for {@link Session#cancel}
   * @returns {Promise<*>} the ack
   */
  request(event, data, tags = {}) {
    if (this.closed) {
      return Promise.resolve({ ok: false, code: "closed", message: "The connection to the study has closed." });
    }
    return new Promise((resolve) => {
      const entry = { event, data, tags, resolve, sentOn: null, timer: null };
      this.pending.add(entry);
      if (this.ready) this.send(entry);
    });
  }

  send(entry) {
    entry.sentOn = this.generation;
    clearTimeout(entry.timer);
    this.socket.emit(entry.event, entry.data, (ack) => this.settle(entry, ack));
    entry.timer = setTimeout(() => {
      if (!this.pending.has(entry)) return;
      entry.sentOn = null;
      if (this.ready) this.send(entry);
    }, this.timeoutMs);
  }

  settle(entry, ack) {
    if (!this.pending.delete(entry)) return;
    clearTimeout(entry.timer);
    entry.resolve(ack);
  }

  /** Send every request not yet sent on the current connection. */
  flush() {
    for (const entry of [...this.pending]) {
      if (this.ready && entry.sentOn !== this.generation) this.send(entry);
    }
  }

  /**
   * Settle pending requests for which `match(tags)` is true with `ack`, without waiting.
   * @param {(tags: object) => boolean} match
   * @param {*} ack
   */
  cancel(match, ack) {
    for (const entry of [...this.pending]) {
      if (match(entry.tags)) this.settle(entry, ack);
    }
  }

  /** Stop for good: settle pending requests as closed and disconnect. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    clearTimeout(this.manualTimer);
    clearTimeout(this.joinTimer);
    this.cancel(() => true, { ok: false, code: "closed", message: "The connection to the study has closed." });
    this.setState("closed");
    this.socket.disconnect();
  }
}

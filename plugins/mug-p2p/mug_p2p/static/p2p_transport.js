/**
 * The peer transport of peer-to-peer games: links from this page to every other member of its
 * group, over WebRTC DataChannels (unordered, no retransmission) when they connect, else through
 * the study server (`p2p_relay`). Messages are text; loss and duplicates are the caller's to
 * absorb (the rollback engine repeats its last few inputs in every message).
 *
 * Signalling goes through the server's `p2p_signal` event, which only forwards between members
 * of one group. For each pair of pages the one with the smaller participant id makes the offer.
 * A link falls back to the server relay when WebRTC is off (`webrtc: false`, or no
 * `RTCPeerConnection` in the browser), when the peer connection fails, when its DataChannel does
 * not open within `rtcTimeoutMs`, or when an open DataChannel closes or goes silent. Every
 * change is reported to the server (`p2p_connection`), which records it.
 *
 * Wire format (the same over a DataChannel and over the relay): one text frame per message,
 * its first character saying what it is: `m` a caller's message, `p` a ping and `q` its pong
 * (round-trip times), `h` a hello (`{s: session, rtc, r}`: this page's transport is listening),
 * `b` goodbye (the transport was closed).
 *
 * ```js
 * const transport = await openTransport({ socket, gameId, selfId, peerIds });
 * transport.onMessage((from, text) => ...);
 * transport.onPeer((peer, { state, via }) => ...); // open | lost | back | left
 * transport.send(text);
 * ```
 * @module mug-p2p/transport
 */

const LABEL = "mug-p2p";
const HELLO_EVERY_MS = 1000;
const MAX_BUFFERED_BYTES = 256 * 1024;
const RTT_SMOOTHING = 0.2;
const MAX_EARLY = 1000;

/**
 * Open links to every other member of the group.
 *
 * Resolves with a {@link Transport} once every peer is reachable (over WebRTC, or over the
 * server relay as a fallback), or rejects after `timeoutMs`.
 *
 * @param {object} options
 * @param {object} options.socket the page's socket.io socket (joined to the study)
 * @param {string} options.gameId the group's game id (from the `group` message)
 * @param {string} options.selfId this participant's id
 * @param {string[]} options.peerIds the other members' participant ids
 * @param {RTCIceServer[]} [options.iceServers] STUN/TURN servers (`{urls, username?, credential?}`)
 * @param {"all"|"relay"} [options.iceTransportPolicy] `"relay"`: only TURN relays
 * @param {boolean} [options.webrtc] false: every link goes through the server relay
 * @param {number} [options.timeoutMs] give up opening after this long
 * @param {number} [options.rtcTimeoutMs] fall back to the relay when a DataChannel has not
 *   opened after this long (default: a third of `timeoutMs`, at most 8 s)
 * @param {number} [options.pingEveryMs] round-trip probes per link
 * @param {number} [options.lostAfterMs] a peer not heard from for this long is `lost`
 * @param {number} [options.silentAfterMs] an open DataChannel not heard from for this long,
 *   while the relay still hears the peer, is abandoned for the relay
 * @param {{delayMs?: number, jitterMs?: number, loss?: number}} [options.netem] test-only:
 *   delay, jitter and drop incoming messages and round-trip probes to simulate a worse
 *   network (the object is read at each frame, so changing it takes effect at once)
 * @returns {Promise<Transport>}
 */
export async function openTransport({
  socket,
  gameId,
  selfId,
  peerIds,
  iceServers = [],
  iceTransportPolicy = "all",
  webrtc = true,
  timeoutMs = 15000,
  rtcTimeoutMs = Math.min(8000, Math.max(1000, timeoutMs / 3)),
  pingEveryMs = 500,
  lostAfterMs = 4000,
  silentAfterMs = 2000,
  netem = null,
} = {}) {
  if (!socket || typeof socket.emit !== "function") throw new Error("openTransport needs the page's socket");
  if (typeof gameId !== "string" || !gameId) throw new Error("openTransport needs the group's gameId");
  if (!Array.isArray(peerIds) || peerIds.includes(selfId)) {
    throw new Error("openTransport: peerIds must list the other members (not selfId)");
  }
  const transport = new Transport({
    socket,
    gameId,
    selfId,
    peerIds,
    rtcConfig: { iceServers, iceTransportPolicy },
    webrtc,
    rtcTimeoutMs,
    pingEveryMs,
    lostAfterMs,
    silentAfterMs,
    netem,
  });
  try {
    await transport.opened(timeoutMs);
  } catch (err) {
    transport.close({ quiet: true });
    throw err;
  }
  return transport;
}

/** One link to one peer. */
class Link {
  constructor(id) {
    this.id = id;
    /** "connecting" until first open, then "open" | "lost" | "left". */
    this.state = "connecting";
    this.via = "relay";
    this.session = null; // the peer's transport instance (changes when its page reloads)
    this.peerRtc = false;
    this.pc = null;
    this.dc = null;
    this.pendingCandidates = [];
    this.rtcTimer = null;
    this.negotiating = false; // a (re)opening is under way; "open"/"back" follows it
    this.returning = false; // the next opening is reported as "back"
    this.pendingFallback = false; // moved to the relay; "fallback" once the peer is heard there
    this.reason = null;
    this.lastHeard = 0;
    this.lastHeardDc = 0;
    this.lastHeardRelay = 0;
    this.rtt = null;
    this.pingSeq = 0;
  }
}

/** Links to the other members of one group. Build with {@link openTransport}. */
export class Transport {
  constructor(config) {
    this.config = config;
    this.socket = config.socket;
    this.gameId = config.gameId;
    this.selfId = config.selfId;
    this.session = Math.random().toString(36).slice(2, 12);
    this.rtcAvailable = typeof globalThis.RTCPeerConnection === "function";
    this.useRtc = Boolean(config.webrtc) && this.rtcAvailable;
    this.links = new Map(config.peerIds.map((id) => [id, new Link(id)]));
    this.messageHandlers = [];
    this.peerHandlers = [];
    this.early = []; // messages that arrived before the first onMessage handler
    this.closed = false;
    this.isOpen = false;
    this.waiters = [];
    this.handlers = {
      p2p_signal: (m) => this.gameId === m?.game_id && this.onSignal(m.from, m.data),
      p2p_relay: (m) => this.gameId === m?.game_id && this.onFrame(m.from, m.data, "relay"),
      p2p_peer: (m) => this.gameId === m?.game_id && this.onServerPeer(m.peer, m.state),
      connect: () => setTimeout(() => this.hello(null, false), 500), // after the page re-joined
    };
    for (const [event, fn] of Object.entries(this.handlers)) this.socket.on(event, fn);
    this.timer = setInterval(() => this.tick(), Math.min(config.pingEveryMs, HELLO_EVERY_MS));
    this.lastHello = 0;
    this.hello(null, false);
    this.checkOpen();
  }

  // -- public API ----------------------------------------------------------------------------

  /** Send `text` to every peer (unordered, unreliable). */
  send(text) {
    const viaRelay = [];
    for (const link of this.links.values()) {
      if (link.state === "left") continue;
      if (!this.sendDc(link, "m" + text)) viaRelay.push(link.id);
    }
    if (viaRelay.length === 0) return;
    const everyone = viaRelay.length === this.links.size;
    if (everyone) this.relay(null, "m" + text);
    else for (const id of viaRelay) this.relay(id, "m" + text);
  }

  /** Send `text` to one peer (unordered, unreliable). */
  sendTo(peerId, text) {
    const link = this.links.get(peerId);
    if (!link || link.state === "left") return;
    if (!this.sendDc(link, "m" + text)) this.relay(peerId, "m" + text);
  }

  /** Call `fn(fromId, text)` for every message from a peer. */
  onMessage(fn) {
    this.messageHandlers.push(fn);
    const early = this.early;
    this.early = [];
    for (const [from, text] of early) fn(from, text);
  }

  /** Call `fn(peerId, {state, via, reason})` when a link changes after opening. */
  onPeer(fn) {
    this.peerHandlers.push(fn);
  }

  /** How messages to `peerId` travel now: `"webrtc"` or `"relay"`. */
  via(peerId) {
    return this.links.get(peerId)?.via ?? "relay";
  }

  /** The smoothed round trip to `peerId` in milliseconds, or null before the first pong. */
  rttMs(peerId) {
    return this.links.get(peerId)?.rtt ?? null;
  }

  /** Every link: `{peerId: {state, via, reason, rttMs}}` (for diagnostics). */
  describe() {
    const out = {};
    for (const link of this.links.values()) {
      out[link.id] = { state: link.state, via: link.via, reason: link.reason, rttMs: link.rtt };
    }
    return out;
  }

  /** Close every link; the peers see `left`. */
  close({ quiet = false } = {}) {
    if (this.closed) return;
    if (!quiet) {
      for (const link of this.links.values()) this.sendDc(link, "b");
      this.relay(null, "b");
    }
    this.closed = true;
    clearInterval(this.timer);
    for (const [event, fn] of Object.entries(this.handlers)) this.socket.off(event, fn);
    for (const link of this.links.values()) this.dropRtc(link);
    for (const waiter of this.waiters) waiter.reject(new Error("the transport was closed"));
    this.waiters = [];
  }

  // -- opening -------------------------------------------------------------------------------

  opened(timeoutMs) {
    if (this.isOpen) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiters.push(waiter);
      const timer = setTimeout(() => {
        const missing = [...this.links.values()].filter((l) => l.state !== "open").map((l) => l.id);
        reject(new Error(`could not reach ${missing.join(", ")} within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      waiter.reject = (err) => {
        clearTimeout(timer);
        reject(err);
      };
    });
  }

  /**
   * The link is reachable: by `via`, with `reason` saying why it is the relay. `change` is what
   * the record says happened (default: `open` the first time, `back` after a loss).
   */
  linkOpen(link, via, reason = null, change = null) {
    if (this.closed || link.state === "left") return;
    clearTimeout(link.rtcTimer);
    const first = link.state === "connecting";
    const back = link.returning;
    const same = link.state === "open" && link.via === via && !link.negotiating && change === null;
    link.via = via;
    link.reason = via === "relay" ? reason : null;
    link.negotiating = false;
    link.returning = false;
    link.pendingFallback = false;
    link.state = "open";
    link.lastHeard = performance.now();
    if (same) return;
    this.report(link, change ?? (back ? "back" : "open"), link.reason);
    if (!first) this.emitPeer(link, back ? "back" : "open");
    this.checkOpen();
  }

  checkOpen() {
    if (this.isOpen || ![...this.links.values()].every((l) => l.state === "open")) return;
    this.isOpen = true;
    for (const waiter of this.waiters) waiter.resolve();
    this.waiters = [];
  }

  /** Decide how to reach `link` once its transport is known to listen. */
  connect(link) {
    link.negotiating = true;
    if (!this.useRtc || !link.peerRtc) {
      const reason = !this.config.webrtc
        ? "webrtc is off"
        : !this.rtcAvailable
          ? "this browser has no WebRTC"
          : "the peer uses the relay";
      this.linkOpen(link, "relay", reason);
      return;
    }
    clearTimeout(link.rtcTimer);
    const limit = this.config.rtcTimeoutMs;
    link.rtcTimer = setTimeout(() => this.fallBack(link, `no data channel after ${limit} ms`), limit);
    if (this.selfId < link.id) this.offer(link);
  }

  /** Give up WebRTC for `link`: close it and use the relay. */
  fallBack(link, reason) {
    if (this.closed || link.state === "left") return;
    this.dropRtc(link);
    if ((link.state === "open" || link.state === "lost") && !link.negotiating) {
      // It was working: hear the peer over the relay before calling it open again.
      link.via = "relay";
      link.reason = reason;
      link.pendingFallback = true;
      this.ping(link, "relay");
      return;
    }
    this.linkOpen(link, "relay", reason);
  }

  // -- WebRTC --------------------------------------------------------------------------------

  peerConnection(link) {
    if (link.pc) return link.pc;
    const pc = new RTCPeerConnection(this.config.rtcConfig);
    link.pc = pc;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate) this.signal(link, { kind: "candidate", candidate: candidate.toJSON() });
    };
    pc.onconnectionstatechange = () => {
      if (link.pc !== pc) return;
      if (pc.connectionState === "failed") this.fallBack(link, "the peer connection failed");
    };
    pc.ondatachannel = ({ channel }) => this.adoptChannel(link, channel);
    return pc;
  }

  adoptChannel(link, dc) {
    link.dc = dc;
    dc.onopen = () => {
      if (link.dc !== dc) return;
      link.lastHeardDc = performance.now();
      this.linkOpen(link, "webrtc");
    };
    dc.onmessage = ({ data }) => {
      if (link.dc !== dc) return;
      link.lastHeardDc = performance.now();
      this.onFrame(link.id, data, "webrtc");
    };
    dc.onclose = () => {
      if (link.dc === dc) this.fallBack(link, "the data channel closed");
    };
  }

  async offer(link) {
    try {
      const pc = this.peerConnection(link);
      this.adoptChannel(link, pc.createDataChannel(LABEL, { ordered: false, maxRetransmits: 0 }));
      await pc.setLocalDescription(await pc.createOffer());
      if (link.pc === pc) this.signal(link, { kind: "offer", sdp: pc.localDescription.sdp });
    } catch (err) {
      this.fallBack(link, `could not make an offer: ${err.message}`);
    }
  }

  async onSignal(from, data) {
    const link = this.links.get(from);
    if (!link || this.closed || !data || typeof data !== "object" || typeof data.s !== "string") return;
    if (data.s !== link.session) this.meet(link, data.s, true);
    if (!this.useRtc || link.via === "relay" && !link.negotiating) return;
    try {
      if (data.kind === "offer") {
        const pc = this.peerConnection(link);
        await pc.setRemoteDescription({ type: "offer", sdp: data.sdp });
        await this.flushCandidates(link, pc);
        await pc.setLocalDescription(await pc.createAnswer());
        if (link.pc === pc) this.signal(link, { kind: "answer", sdp: pc.localDescription.sdp });
      } else if (data.kind === "answer" && link.pc) {
        await link.pc.setRemoteDescription({ type: "answer", sdp: data.sdp });
        await this.flushCandidates(link, link.pc);
      } else if (data.kind === "candidate") {
        if (link.pc?.remoteDescription) await link.pc.addIceCandidate(data.candidate);
        else link.pendingCandidates.push(data.candidate);
      }
    } catch (err) {
      this.fallBack(link, `WebRTC negotiation failed: ${err.message}`);
    }
  }

  async flushCandidates(link, pc) {
    const pending = link.pendingCandidates;
    link.pendingCandidates = [];
    for (const candidate of pending) await pc.addIceCandidate(candidate);
  }

  dropRtc(link) {
    clearTimeout(link.rtcTimer);
    const { pc, dc } = link;
    link.pc = null;
    link.dc = null;
    link.pendingCandidates = [];
    try {
      dc?.close();
      pc?.close();
    } catch {
      // already closed
    }
  }

  sendDc(link, frame) {
    const dc = link.dc;
    if (link.via !== "webrtc" || !dc || dc.readyState !== "open") return false;
    if (dc.bufferedAmount > MAX_BUFFERED_BYTES) return true; // unreliable: drop when backed up
    try {
      dc.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  // -- the server ----------------------------------------------------------------------------

  signal(link, data) {
    if (this.closed) return;
    this.socket.emit("p2p_signal", { game_id: this.gameId, to: link.id, data: { ...data, s: this.session } }, (ack) => {
      if (ack && ack.ok === false) console.warn(`mug-p2p: signal to ${link.id} refused: ${ack.message}`);
    });
  }

  relay(to, frame) {
    if (this.closed) return;
    const message = to === null ? { game_id: this.gameId, data: frame } : { game_id: this.gameId, to, data: frame };
    // Volatile: dropped rather than queued while the socket reconnects (messages are unreliable).
    (this.socket.volatile ?? this.socket).emit("p2p_relay", message);
  }

  report(link, state, reason) {
    const report = { game_id: this.gameId, peer: link.id, state, via: link.via };
    if (reason) report.reason = String(reason).slice(0, 300);
    if (link.rtt !== null) report.rtt_ms = Math.round(link.rtt * 10) / 10;
    this.socket.emit("p2p_connection", report, (ack) => {
      if (ack && ack.ok === false) console.warn(`mug-p2p: connection report refused: ${ack.message}`);
    });
  }

  hello(to, reply) {
    this.lastHello = performance.now();
    this.relay(to, "h" + JSON.stringify({ s: this.session, rtc: this.useRtc, r: reply }));
  }

  onServerPeer(peer, state) {
    const link = this.links.get(peer);
    if (!link || state !== "lost" || link.state !== "open") return;
    // The peer's server connection dropped; a DataChannel that still hears it is trusted.
    const dcAlive = link.via === "webrtc" && performance.now() - link.lastHeardDc < this.config.lostAfterMs / 2;
    if (!dcAlive) this.lose(link, "its connection to the server closed");
  }

  // -- frames --------------------------------------------------------------------------------

  onFrame(from, frame, path) {
    if (typeof frame !== "string" || frame.length === 0) return;
    const netem = this.config.netem;
    if (netem && "mpq".includes(frame[0])) {
      // Test-only network emulation: messages and round-trip probes alike (read live).
      if (netem.loss && Math.random() < netem.loss) return;
      const delay = (netem.delayMs ?? 0) + (netem.jitterMs ?? 0) * Math.random();
      if (delay > 0) {
        setTimeout(() => this.handleFrame(from, frame, path), delay);
        return;
      }
    }
    this.handleFrame(from, frame, path);
  }

  handleFrame(from, frame, path) {
    const link = this.links.get(from);
    if (!link || this.closed) return;
    const now = performance.now();
    const kind = frame[0];
    const body = frame.slice(1);
    if (kind === "h") return this.onHello(link, body);
    if (link.state === "left" || link.session === null) return;
    link.lastHeard = now;
    if (path === "relay") link.lastHeardRelay = now;
    if (link.state === "lost" && !link.negotiating) {
      link.returning = true;
      this.linkOpen(link, link.via, link.reason);
    } else if (link.pendingFallback && path === "relay") {
      this.linkOpen(link, "relay", link.reason, "fallback");
    }
    if (kind === "m") this.deliverNow(from, body);
    else if (kind === "p") {
      if (path === "webrtc") this.sendDc(link, "q" + body);
      else this.relay(from, "q" + body);
    } else if (kind === "q") this.onPong(link, body);
    else if (kind === "b") this.leave(link);
  }

  onHello(link, body) {
    let hello;
    try {
      hello = JSON.parse(body);
    } catch {
      return;
    }
    if (!hello || typeof hello.s !== "string") return;
    if (!hello.r) this.hello(link.id, true);
    this.meet(link, hello.s, Boolean(hello.rtc));
  }

  /** The peer's transport `session` listens: open (or reopen) the link to it. */
  meet(link, session, rtc) {
    if (link.session === session) return;
    const known = link.session !== null;
    link.session = session;
    link.peerRtc = rtc;
    link.lastHeard = performance.now();
    if (known || link.state === "left" || link.state === "lost") {
      // The peer's page reloaded: start over, and report it as back once reachable.
      this.dropRtc(link);
      if (link.state !== "connecting") {
        if (link.state === "open") this.lose(link, "its page reloaded");
        link.state = "lost";
        link.returning = true;
      }
      link.via = "relay";
    }
    this.connect(link);
  }

  deliverNow(from, text) {
    if (this.messageHandlers.length === 0) {
      if (this.early.length < MAX_EARLY) this.early.push([from, text]);
      return;
    }
    for (const fn of this.messageHandlers) {
      try {
        fn(from, text);
      } catch (err) {
        console.error("mug-p2p: a message handler failed", err);
      }
    }
  }

  emitPeer(link, state) {
    const info = { state, via: link.via, reason: link.reason };
    for (const fn of this.peerHandlers) {
      try {
        fn(link.id, info);
      } catch (err) {
        console.error("mug-p2p: a peer handler failed", err);
      }
    }
  }

  lose(link, reason) {
    if (link.state !== "open") return;
    link.state = "lost";
    this.report(link, "lost", reason);
    this.emitPeer(link, "lost");
  }

  leave(link) {
    if (link.state === "left") return;
    this.dropRtc(link);
    link.state = "left";
    link.session = null;
    this.report(link, "left", null);
    this.emitPeer(link, "left");
  }

  // -- timers --------------------------------------------------------------------------------

  ping(link, path) {
    const frame = "p" + JSON.stringify({ n: ++link.pingSeq, t: performance.now(), s: this.session });
    if (path === "webrtc") this.sendDc(link, frame);
    else this.relay(link.id, frame);
  }

  onPong(link, body) {
    let pong;
    try {
      pong = JSON.parse(body);
    } catch {
      return;
    }
    if (!pong || pong.s !== this.session || typeof pong.t !== "number") return;
    const sample = performance.now() - pong.t;
    if (!(sample >= 0)) return;
    link.rtt = link.rtt === null ? sample : link.rtt + RTT_SMOOTHING * (sample - link.rtt);
  }

  tick() {
    if (this.closed) return;
    const now = performance.now();
    const { lostAfterMs, silentAfterMs } = this.config;
    let unmet = false;
    for (const link of this.links.values()) {
      if (link.state === "left") continue;
      if (link.session === null || link.state === "lost") unmet = true;
      if (link.state !== "open") continue;
      const dcOpen = link.via === "webrtc" && link.dc?.readyState === "open";
      this.ping(link, dcOpen ? "webrtc" : "relay");
      if (dcOpen && now - link.lastHeardDc > silentAfterMs) {
        // Probe the relay too; a pong there while the channel stays silent means it degraded.
        this.ping(link, "relay");
        if (link.lastHeardRelay > link.lastHeardDc + silentAfterMs / 2) {
          this.fallBack(link, `the data channel was silent for ${Math.round(now - link.lastHeardDc)} ms`);
        }
      }
      if (now - link.lastHeard > lostAfterMs) this.lose(link, `not heard for ${Math.round(now - link.lastHeard)} ms`);
    }
    if (unmet && now - this.lastHello >= HELLO_EVERY_MS) this.hello(null, false);
  }
}

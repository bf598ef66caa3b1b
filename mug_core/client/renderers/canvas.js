/**
 * The built-in canvas 2D renderer for `Surface` packets (see docs/surface.md).
 *
 * `createCanvasRenderer(container, options)` adds a `<canvas>` to `container`; feed it every
 * packet of one Surface with `apply(packet)` and call `draw(now)` once per animation frame.
 * The module registers itself in the kernel as the renderer "canvas" (`{create}`).
 *
 * Scaling: the canvas keeps the game's aspect ratio, fills the container's content width but is
 * never taller than the window (letterbox), and its backing store is CSS size x
 * devicePixelRatio, so drawing stays crisp on HiDPI screens. Drawing uses game pixels.
 * @module mug/renderers/canvas
 */

import { registerRenderer } from "../kernel.js";
import { findFrame, loadAsset, settled } from "./canvas_assets.js";

/** The packet layout this renderer understands (`version` field). */
export const PACKET_VERSION = 1;

const DEG = Math.PI / 180;
const TAU = Math.PI * 2;
const HALF_PI = Math.PI / 2;
/** Text line height for multi-line text, as a multiple of the font size. */
const LINE_HEIGHT = 1.2;

/**
 * @typedef {object} RendererOptions
 * @property {number} width game width in pixels (the Surface width; packets may change it)
 * @property {number} height game height in pixels
 * @property {string|null} [background] CSS colour painted under every frame; null: transparent
 * @property {(lastSeq: number|null, seq: number) => void} [onGap] called when a packet does not
 *   follow the last one: ask the producer for `surface.snapshot()`; deltas are ignored until a
 *   packet with `clear` arrives
 * @property {string|number|null} [viewer] the agent of this page's player: objects drawn with a
 *   `viewer` are painted only when it is this one (none are before it is known)
 */

/**
 * @typedef {object} CanvasRenderer
 * @property {HTMLCanvasElement} canvas the element drawn on
 * @property {(packet: object) => boolean} apply apply one packet; false if it was ignored
 *   because of a `seq` gap (waiting for a `clear` packet); throws on an unknown `version`
 * @property {(now?: number, force?: boolean) => boolean} draw paint the scene at time `now`
 *   (ms, default `performance.now()`), advancing tweens; skips the paint (returns false) when
 *   nothing changed since the last one unless `force`
 * @property {() => Promise<void>} whenAssetsLoaded settles once every asset requested so far
 *   has loaded or failed
 * @property {(gameX: number, gameY: number) => {x: number, y: number}} toCanvasPixels backing
 *   store pixel of a game point
 * @property {(agent: string|number|null) => void} setViewer the agent of this page's player
 *   (see `viewer` in {@link RendererOptions})
 * @property {() => object} stats timings and counters (see {@link createCanvasRenderer})
 * @property {() => void} destroy remove the canvas and stop observing resizes
 */

/**
 * Create a canvas renderer inside `container`.
 *
 * `stats()` returns `{lastDrawMs, maxDrawMs, draws, lastApplyMs, packets, gaps, seq, viewer, objects,
 * tweens, assetsPending, assetsFailed, cssWidth, cssHeight, pixelWidth, pixelHeight}`.
 * @param {HTMLElement} container element the canvas is appended to; give it a definite width
 * @param {RendererOptions} options
 * @returns {CanvasRenderer}
 */
export function createCanvasRenderer(container, { width, height, background = null, onGap, viewer = null } = {}) {
  if (!(width > 0 && height > 0)) {
    throw new Error(`canvas renderer: width and height must be positive, got ${width}x${height}`);
  }
  const canvas = document.createElement("canvas");
  canvas.className = "mug-canvas";
  canvas.style.display = "block";
  canvas.style.margin = "0 auto";
  container.appendChild(canvas);
  const st = newState(container, canvas, width, height, background, onGap);
  setViewer(st, viewer);
  fit(st);
  watchSize(st);
  canvas.addEventListener("contextrestored", st.invalidate);
  return {
    canvas,
    apply: (packet) => applyPacket(st, packet),
    draw: (now = performance.now(), force = false) => drawScene(st, now, force),
    whenAssetsLoaded: () => settled(st),
    toCanvasPixels: (x, y) => ({ x: x * st.sx, y: y * st.sy }),
    setViewer: (agent) => setViewer(st, agent),
    stats: () => stats(st),
    destroy: () => destroy(st),
  };
}

/**
 * The renderer's whole state (see createCanvasRenderer for the arguments).
 * @param {HTMLElement} container
 * @param {HTMLCanvasElement} canvas
 * @param {number} width
 * @param {number} height
 * @param {string|null} background
 * @param {Function|undefined} onGap
 * @returns {object}
 */
function newState(container, canvas, width, height, background, onGap) {
  const st = {
    container,
    canvas,
    ctx: canvas.getContext("2d"),
    width,
    height,
    background,
    onGap: typeof onGap === "function" ? onGap : null,
    sx: 1,
    sy: 1,
    cssWidth: 0,
    cssHeight: 0,
    dpr: 0,
    records: new Map(), // id -> Record
    orderIds: [], // paint order, ids
    paint: [], // paint order, records
    tweens: new Set(), // records being tweened
    assets: new Map(), // name -> LoadedAsset
    loading: new Set(), // promises of assets still loading
    seq: null,
    awaitingClear: false,
    viewer: null, // agent id (string) of this page's player
    dirty: true,
    destroyed: false,
    font: null, // ctx.font last set during this paint
    cleanups: [],
    counters: {
      lastDrawMs: 0,
      maxDrawMs: 0,
      draws: 0,
      lastApplyMs: 0,
      packets: 0,
      gaps: 0,
      assetsFailed: 0,
    },
  };
  st.invalidate = () => {
    st.dirty = true;
  };
  return st;
}

// -- sizing ---------------------------------------------------------------------------------

/**
 * Size the canvas: game aspect ratio, container width, at most the window height; backing
 * store at device pixels; context scaled to game pixels. No-op when nothing changed.
 * @param {object} st
 */
function fit(st) {
  if (st.destroyed) return;
  const { canvas, container, width, height } = st;
  const style = getComputedStyle(container);
  let available = container.clientWidth - parseFloat(style.paddingLeft || "0")
    - parseFloat(style.paddingRight || "0");
  if (!(available > 0)) available = width;
  const maxHeight = window.innerHeight > 0 ? window.innerHeight : Infinity;
  const aspect = width / height;
  const cssWidth = Math.max(1, Math.floor(Math.min(available, maxHeight * aspect)));
  const cssHeight = Math.max(1, Math.round(cssWidth / aspect));
  const dpr = window.devicePixelRatio || 1;
  const pixelWidth = Math.max(1, Math.round(cssWidth * dpr));
  const pixelHeight = Math.max(1, Math.round(cssHeight * dpr));
  if (cssWidth !== st.cssWidth || cssHeight !== st.cssHeight) {
    canvas.style.width = `${cssWidth}px`;
    canvas.style.height = `${cssHeight}px`;
    st.cssWidth = cssWidth;
    st.cssHeight = cssHeight;
  }
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth; // resets the context state
    canvas.height = pixelHeight;
  }
  st.dpr = dpr;
  st.sx = pixelWidth / width;
  st.sy = pixelHeight / height;
  resetContext(st);
  st.dirty = true;
}

/**
 * Game-pixel transform and the fixed line style.
 * @param {object} st
 */
function resetContext(st) {
  const { ctx } = st;
  ctx.setTransform(st.sx, 0, 0, st.sy, 0, 0);
  ctx.lineJoin = "round";
  ctx.lineCap = "butt";
  ctx.imageSmoothingEnabled = true;
}

/**
 * Re-fit on container resizes, window resizes (height) and devicePixelRatio changes.
 * @param {object} st
 */
function watchSize(st) {
  const refit = () => fit(st);
  if (typeof ResizeObserver === "function") {
    const observer = new ResizeObserver(refit);
    observer.observe(st.container);
    st.cleanups.push(() => observer.disconnect());
  }
  window.addEventListener("resize", refit);
  st.cleanups.push(() => window.removeEventListener("resize", refit));
  watchPixelRatio(st, refit);
}

/**
 * Call `refit` whenever devicePixelRatio changes (browser zoom, moving to another screen).
 * @param {object} st
 * @param {() => void} refit
 */
function watchPixelRatio(st, refit) {
  if (typeof window.matchMedia !== "function") return;
  let query = null;
  const onChange = () => {
    query?.removeEventListener("change", onChange);
    if (st.destroyed) return;
    refit();
    query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
    query.addEventListener("change", onChange);
  };
  query = window.matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`);
  query.addEventListener("change", onChange);
  st.cleanups.push(() => query?.removeEventListener("change", onChange));
}

// -- packets --------------------------------------------------------------------------------

/**
 * Apply one packet (docs/surface.md, "Applying a packet").
 * @param {object} st
 * @param {object} packet
 * @returns {boolean} false when ignored because of a seq gap
 */
function applyPacket(st, packet) {
  if (st.destroyed) return false;
  if (!packet || packet.version !== PACKET_VERSION) {
    throw new Error(
      `canvas renderer: packet version ${packet?.version} is not ${PACKET_VERSION}`,
    );
  }
  const started = performance.now();
  if (packet.clear) {
    clearScene(st);
  } else if (st.awaitingClear || st.seq === null || packet.seq !== st.seq + 1) {
    noteGap(st, packet.seq);
    return false;
  }
  st.seq = packet.seq;
  if (packet.width !== st.width || packet.height !== st.height) {
    st.width = packet.width;
    st.height = packet.height;
    fit(st);
  }
  for (const asset of packet.assets) loadAsset(st, asset);
  let membership = removeObjects(st, packet.removed);
  for (const obj of packet.objects) membership = storeObject(st, obj) || membership;
  if (packet.order !== null && packet.order !== undefined) {
    st.orderIds = packet.order.slice();
    membership = true;
  }
  if (membership) rebuildPaintList(st);
  st.dirty = true;
  st.counters.packets += 1;
  st.counters.lastApplyMs = performance.now() - started;
  return true;
}

/**
 * Record a seq gap; tell the host once per gap.
 * @param {object} st
 * @param {number} seq
 */
function noteGap(st, seq) {
  if (st.awaitingClear) return;
  st.awaitingClear = true;
  st.counters.gaps += 1;
  if (st.onGap) st.onGap(st.seq, seq);
}

/**
 * Drop every object (assets stay loaded).
 * @param {object} st
 */
function clearScene(st) {
  st.records.clear();
  st.tweens.clear();
  st.orderIds = [];
  st.paint = [];
  st.awaitingClear = false;
}

/**
 * Delete the ids in `removed`.
 * @param {object} st
 * @param {string[]} removed
 * @returns {boolean} whether any object was deleted
 */
function removeObjects(st, removed) {
  let any = false;
  for (const id of removed) {
    const rec = st.records.get(id);
    if (rec === undefined) continue;
    st.records.delete(id);
    st.tweens.delete(rec);
    any = true;
  }
  return any;
}

/**
 * Store `obj` under its id, replacing the previous object (tweening from it when asked).
 * @param {object} st
 * @param {object} obj
 * @returns {boolean} whether the id is new
 */
function storeObject(st, obj) {
  const rec = st.records.get(obj.id);
  if (rec === undefined) {
    const created = newRecord(obj);
    st.records.set(obj.id, created);
    return true;
  }
  const tween = obj.tween > 0 ? obj.tween : 0;
  const tweenXY = tween > 0 && isNum(rec.x) && isNum(rec.y) && isNum(obj.x) && isNum(obj.y);
  const tweenPts = tween > 0 && rec.pts !== null && Array.isArray(obj.points)
    && rec.pts.length === obj.points.length;
  if (tweenXY || tweenPts) {
    startTween(rec, obj, tweenXY, tweenPts, tween);
    st.tweens.add(rec);
  } else {
    st.tweens.delete(rec);
    rec.tweenXY = rec.tweenPts = false;
  }
  setObject(rec, obj);
  if (!tweenXY) {
    rec.x = obj.x;
    rec.y = obj.y;
  }
  if (!tweenPts) rec.pts = Array.isArray(obj.points) ? obj.points : null;
  return false;
}

/**
 * A fresh record: the packet object plus what is on screen (x, y, points) and tween state.
 * @param {object} obj
 * @returns {object}
 */
function newRecord(obj) {
  const rec = {
    obj: null,
    paintFn: paintNothing,
    font: "",
    lines: null,
    x: obj.x,
    y: obj.y,
    pts: Array.isArray(obj.points) ? obj.points : null,
    viewer: null, // the agent whose page alone paints it, if any
    fromX: 0,
    fromY: 0,
    fromPts: null, // Float64Array
    buf: null, // Float64Array holding the tweened points
    t0: -1,
    duration: 0,
    tweenXY: false,
    tweenPts: false,
  };
  setObject(rec, obj);
  return rec;
}

/**
 * Point `rec` at `obj` and precompute what painting it needs.
 * @param {object} rec
 * @param {object} obj
 */
function setObject(rec, obj) {
  rec.obj = obj;
  rec.viewer = obj.viewer === undefined || obj.viewer === null ? null : String(obj.viewer);
  rec.paintFn = PAINTERS[obj.type] ?? paintNothing;
  if (obj.type === "text") {
    rec.font = `${obj.size}px ${obj.font}`;
    const text = String(obj.text);
    rec.lines = text.includes("\n") ? text.split("\n") : null;
  }
}

/**
 * Begin a tween of `rec` from what is on screen now to `obj`; it starts at the next draw.
 * @param {object} rec
 * @param {object} obj
 * @param {boolean} tweenXY
 * @param {boolean} tweenPts
 * @param {number} duration ms
 */
function startTween(rec, obj, tweenXY, tweenPts, duration) {
  rec.tweenXY = tweenXY;
  rec.tweenPts = tweenPts;
  rec.t0 = -1;
  rec.duration = duration;
  if (tweenXY) {
    rec.fromX = rec.x;
    rec.fromY = rec.y;
  }
  if (tweenPts) {
    const n = obj.points.length;
    if (rec.fromPts === null || rec.fromPts.length !== n) {
      rec.fromPts = new Float64Array(n);
    }
    const current = rec.pts;
    for (let i = 0; i < n; i += 1) rec.fromPts[i] = current[i];
    if (rec.buf === null || rec.buf.length !== n) rec.buf = new Float64Array(n);
    rec.buf.set(rec.fromPts);
    rec.pts = rec.buf;
  }
}

/**
 * Set whose marks this page paints (see `viewer` in RendererOptions).
 * @param {object} st
 * @param {string|number|null|undefined} agent
 */
function setViewer(st, agent) {
  const viewer = agent === undefined || agent === null ? null : String(agent);
  if (viewer !== st.viewer) {
    st.viewer = viewer;
    st.dirty = true;
  }
}

/**
 * Paint order as records, from `st.orderIds`.
 * @param {object} st
 */
function rebuildPaintList(st) {
  const paint = [];
  for (const id of st.orderIds) {
    const rec = st.records.get(id);
    if (rec !== undefined) paint.push(rec);
  }
  st.paint = paint;
}

// -- drawing --------------------------------------------------------------------------------

/**
 * Paint the scene if anything changed (or a tween runs, or `force`).
 * @param {object} st
 * @param {number} now ms
 * @param {boolean} force
 * @returns {boolean} whether it painted
 */
function drawScene(st, now, force) {
  if (st.destroyed) return false;
  const animating = st.tweens.size > 0;
  if (!st.dirty && !animating && !force) return false;
  const started = performance.now();
  if (animating) advanceTweens(st, now);
  const { ctx, paint } = st;
  ctx.clearRect(0, 0, st.width, st.height);
  if (st.background) {
    ctx.fillStyle = st.background;
    ctx.fillRect(0, 0, st.width, st.height);
  }
  st.font = null;
  const viewer = st.viewer;
  for (let i = 0; i < paint.length; i += 1) {
    const rec = paint[i];
    if (rec.viewer !== null && rec.viewer !== viewer) continue; // another player's mark
    rec.paintFn(ctx, rec, st);
  }
  st.dirty = false;
  const ms = performance.now() - started;
  const c = st.counters;
  c.lastDrawMs = ms;
  if (ms > c.maxDrawMs) c.maxDrawMs = ms;
  c.draws += 1;
  return true;
}

/**
 * Move every tweening record to its position at `now`; finished tweens land on the target.
 * @param {object} st
 * @param {number} now
 */
function advanceTweens(st, now) {
  for (const rec of st.tweens) {
    if (rec.t0 < 0) rec.t0 = now;
    const k = (now - rec.t0) / rec.duration;
    const obj = rec.obj;
    if (k >= 1) {
      rec.x = obj.x;
      rec.y = obj.y;
      if (rec.tweenPts) rec.pts = obj.points;
      rec.tweenXY = rec.tweenPts = false;
      st.tweens.delete(rec);
      continue;
    }
    const t = k > 0 ? k : 0;
    if (rec.tweenXY) {
      rec.x = rec.fromX + (obj.x - rec.fromX) * t;
      rec.y = rec.fromY + (obj.y - rec.fromY) * t;
    }
    if (rec.tweenPts) {
      const from = rec.fromPts;
      const to = obj.points;
      const buf = rec.buf;
      for (let i = 0; i < buf.length; i += 1) buf[i] = from[i] + (to[i] - from[i]) * t;
    }
  }
}

/**
 * Fill (when `color` is set) and outline (when `stroke_color` is set and `stroke_width` > 0)
 * the current path.
 * @param {CanvasRenderingContext2D} ctx
 * @param {object} o
 */
function fillAndStroke(ctx, o) {
  if (o.color !== null && o.color !== undefined) {
    ctx.fillStyle = o.color;
    ctx.fill();
  }
  if (o.stroke_color !== null && o.stroke_color !== undefined && o.stroke_width > 0) {
    ctx.strokeStyle = o.stroke_color;
    ctx.lineWidth = o.stroke_width;
    ctx.stroke();
  }
}

function paintNothing() {}

/** @param {CanvasRenderingContext2D} ctx */
function paintRect(ctx, rec) {
  const o = rec.obj;
  ctx.beginPath();
  const radius = Math.min(o.border_radius || 0, o.w / 2, o.h / 2);
  if (radius > 0) roundRectPath(ctx, rec.x, rec.y, o.w, o.h, radius);
  else ctx.rect(rec.x, rec.y, o.w, o.h);
  fillAndStroke(ctx, o);
}

/**
 * A rounded rectangle path (`ctx.roundRect` where the browser has it).
 * @param {CanvasRenderingContext2D} ctx
 */
function roundRectPath(ctx, x, y, w, h, r) {
  if (typeof ctx.roundRect === "function") {
    ctx.roundRect(x, y, w, h, r);
    return;
  }
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/** @param {CanvasRenderingContext2D} ctx */
function paintCircle(ctx, rec) {
  ctx.beginPath();
  ctx.arc(rec.x, rec.y, rec.obj.radius, 0, TAU);
  fillAndStroke(ctx, rec.obj);
}

/** @param {CanvasRenderingContext2D} ctx */
function paintEllipse(ctx, rec) {
  const o = rec.obj;
  ctx.beginPath();
  ctx.ellipse(rec.x, rec.y, o.rx, o.ry, 0, 0, TAU);
  fillAndStroke(ctx, o);
}

/** @param {CanvasRenderingContext2D} ctx */
function paintArc(ctx, rec) {
  const o = rec.obj;
  ctx.beginPath();
  if (o.fill) {
    ctx.moveTo(rec.x, rec.y);
    ctx.arc(rec.x, rec.y, o.radius, o.start_angle, o.end_angle);
    ctx.closePath();
    ctx.fillStyle = o.color;
    ctx.fill();
    return;
  }
  ctx.arc(rec.x, rec.y, o.radius, o.start_angle, o.end_angle);
  ctx.strokeStyle = o.color;
  ctx.lineWidth = o.width;
  ctx.stroke();
}

/**
 * Add the polyline through the flat `pts` to the current path.
 * @param {CanvasRenderingContext2D} ctx
 * @param {ArrayLike<number>} pts
 */
function tracePoints(ctx, pts) {
  ctx.moveTo(pts[0], pts[1]);
  for (let i = 2; i + 1 < pts.length; i += 2) ctx.lineTo(pts[i], pts[i + 1]);
}

/** @param {CanvasRenderingContext2D} ctx */
function paintLine(ctx, rec) {
  const o = rec.obj;
  ctx.beginPath();
  tracePoints(ctx, rec.pts);
  ctx.strokeStyle = o.color;
  ctx.lineWidth = o.width;
  ctx.stroke();
}

/** @param {CanvasRenderingContext2D} ctx */
function paintPolygon(ctx, rec) {
  ctx.beginPath();
  tracePoints(ctx, rec.pts);
  ctx.closePath();
  fillAndStroke(ctx, rec.obj);
}

/** @param {CanvasRenderingContext2D} ctx */
function paintText(ctx, rec, st) {
  const o = rec.obj;
  if (st.font !== rec.font) {
    ctx.font = rec.font;
    st.font = rec.font;
  }
  ctx.textAlign = o.align;
  ctx.textBaseline = o.baseline;
  ctx.fillStyle = o.color;
  if (rec.lines === null) {
    ctx.fillText(o.text, rec.x, rec.y);
    return;
  }
  const step = o.size * LINE_HEIGHT;
  const { lines } = rec;
  let y = rec.y - blockShift(o.baseline) * step * (lines.length - 1);
  for (let i = 0; i < lines.length; i += 1, y += step) ctx.fillText(lines[i], rec.x, y);
}

/**
 * How much of a multi-line block sits above `y`, in (lines - 1) units, for a baseline.
 * @param {string} baseline
 * @returns {number}
 */
function blockShift(baseline) {
  if (baseline === "top" || baseline === "hanging") return 0;
  if (baseline === "middle") return 0.5;
  return 1;
}

/**
 * Draw an image or atlas frame stretched into its box, rotated `angle` degrees clockwise about
 * the box centre. Skipped until its asset has loaded.
 * @param {CanvasRenderingContext2D} ctx
 */
function paintImage(ctx, rec, st) {
  const o = rec.obj;
  const loaded = st.assets.get(o.image_name);
  if (loaded === undefined || !loaded.ready) return;
  const hasFrame = loaded.type === "atlas" && o.frame !== null && o.frame !== undefined;
  const frame = hasFrame ? findFrame(loaded, o.frame) : undefined;
  if (hasFrame && frame === undefined) return;
  const texture = loaded.textures[frame === undefined ? 0 : frame.texture];
  if (texture === undefined || !texture.ok) return;
  const { w, h } = o;
  ctx.translate(rec.x + w / 2, rec.y + h / 2);
  if (o.angle) ctx.rotate(o.angle * DEG);
  if (frame === undefined) ctx.drawImage(texture.image, -w / 2, -h / 2, w, h);
  else drawFrame(ctx, texture.image, frame, w, h);
  ctx.setTransform(st.sx, 0, 0, st.sy, 0, 0);
}

/**
 * Draw `frame` into the `w` x `h` box centred on the origin (trim offsets and rotated
 * storage undone).
 * @param {CanvasRenderingContext2D} ctx
 * @param {HTMLImageElement} image
 * @param {object} frame
 */
function drawFrame(ctx, image, frame, w, h) {
  const dx = -w / 2 + frame.fx * w;
  const dy = -h / 2 + frame.fy * h;
  const dw = frame.fw * w;
  const dh = frame.fh * h;
  if (!frame.rotated) {
    ctx.drawImage(image, frame.x, frame.y, frame.w, frame.h, dx, dy, dw, dh);
    return;
  }
  // Stored turned 90 degrees clockwise: an h x w region; turn it back counter-clockwise.
  ctx.translate(dx + dw / 2, dy + dh / 2);
  ctx.rotate(-HALF_PI);
  ctx.drawImage(image, frame.x, frame.y, frame.h, frame.w, -dh / 2, -dw / 2, dh, dw);
}

const PAINTERS = {
  rect: paintRect,
  circle: paintCircle,
  ellipse: paintEllipse,
  arc: paintArc,
  line: paintLine,
  polygon: paintPolygon,
  text: paintText,
  image: paintImage,
};

// -- the rest -------------------------------------------------------------------------------

/**
 * @param {*} value
 * @returns {boolean} whether `value` is a finite number
 */
function isNum(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/**
 * A copy of the counters plus sizes.
 * @param {object} st
 * @returns {object}
 */
function stats(st) {
  return {
    ...st.counters,
    seq: st.seq,
    viewer: st.viewer,
    objects: st.records.size,
    tweens: st.tweens.size,
    assetsPending: st.loading.size,
    cssWidth: st.cssWidth,
    cssHeight: st.cssHeight,
    pixelWidth: st.canvas.width,
    pixelHeight: st.canvas.height,
  };
}

/**
 * Stop observing, drop the scene and remove the canvas.
 * @param {object} st
 */
function destroy(st) {
  if (st.destroyed) return;
  st.destroyed = true;
  for (const cleanup of st.cleanups) cleanup();
  st.canvas.removeEventListener("contextrestored", st.invalidate);
  clearScene(st);
  st.assets.clear();
  st.canvas.remove();
}

registerRenderer("canvas", { create: createCanvasRenderer });

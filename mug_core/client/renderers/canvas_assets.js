/**
 * Images and sprite atlases for the canvas renderer: loading (with the hash, array and Phaser
 * multi-atlas layouts, trimmed and rotated frames) and finding a frame by name or index.
 * @module mug/renderers/canvas_assets
 */

/**
 * Start loading `asset` unless an asset of that name is known already.
 * @param {object} st
 * @param {{name: string, type: string, path: string, json_path?: string}} asset
 */
export function loadAsset(st, asset) {
  if (st.assets.has(asset.name)) return;
  const loaded = {
    type: asset.type,
    textures: [loadImage(st, asset.path)],
    frames: new Map(), // name -> Frame
    frameList: [], // Frame[] in file order
    textureByImage: new Map(), // multi-atlas texture image -> index into textures
    ready: asset.type !== "atlas",
  };
  st.assets.set(asset.name, loaded);
  if (asset.type === "atlas") {
    track(st, loadAtlasFrames(st, loaded, asset));
  }
}

/**
 * An image texture `{image, ok}` that starts loading `url` (used as given).
 * @param {object} st
 * @param {string} url
 * @returns {{image: HTMLImageElement, ok: boolean}}
 */
function loadImage(st, url) {
  const image = new Image();
  const texture = { image, ok: false };
  image.src = url;
  const done = image.decode().then(
    () => {
      texture.ok = true;
      st.dirty = true;
    },
    () => {
      if (image.complete && image.naturalWidth > 0) {
        texture.ok = true; // decode() can reject for images that still load fine
        st.dirty = true;
        return;
      }
      st.counters.assetsFailed += 1;
      console.warn(`canvas renderer: could not load image ${url}`);
    },
  );
  track(st, done);
  return texture;
}

/**
 * Resolves once nothing is loading (including textures that atlas JSON asked for meanwhile).
 * @param {object} st
 * @returns {Promise<void>}
 */
export async function settled(st) {
  while (st.loading.size > 0) await Promise.allSettled([...st.loading]);
}

/**
 * Keep `promise` in the loading set until it settles.
 * @param {object} st
 * @param {Promise<void>} promise
 */
function track(st, promise) {
  st.loading.add(promise);
  promise.finally(() => st.loading.delete(promise));
}

/**
 * Fetch an atlas's JSON and fill in its frames (and extra textures of multi-atlases).
 * @param {object} st
 * @param {object} loaded
 * @param {{path: string, json_path: string}} asset
 * @returns {Promise<void>}
 */
async function loadAtlasFrames(st, loaded, asset) {
  try {
    const response = await fetch(asset.json_path);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const data = await response.json();
    const base = new URL(asset.json_path, document.baseURI);
    for (const { texture, position, frames } of atlasSections(data)) {
      const index = textureIndex(st, loaded, asset, texture, position, base);
      for (const entry of frames) addFrame(loaded, entry.name, entry.data, index);
    }
    loaded.ready = true;
    st.dirty = true;
  } catch (error) {
    st.counters.assetsFailed += 1;
    console.warn(`canvas renderer: could not load atlas ${asset.json_path}: ${error}`);
  }
}

/**
 * The frame lists of a TexturePacker-like document: hash (`{frames: {name: {...}}}`), array
 * (`{frames: [{filename, ...}]}`) and Phaser multi-atlas (`{textures: [{image, frames}]}`).
 * @param {object} data
 * @returns {{texture: object|null, position: number, frames: {name: string, data: object}[]}[]}
 */
function atlasSections(data) {
  const sections = [];
  if (data && data.frames) {
    sections.push({ texture: null, position: 0, frames: frameEntries(data.frames) });
  }
  if (data && Array.isArray(data.textures)) {
    data.textures.forEach((texture, position) => {
      if (texture && texture.frames) {
        sections.push({ texture, position, frames: frameEntries(texture.frames) });
      }
    });
  }
  return sections;
}

/**
 * `[{name, data}]` of a hash or array `frames` value, in file order.
 * @param {object|object[]} frames
 * @returns {{name: string, data: object}[]}
 */
function frameEntries(frames) {
  if (Array.isArray(frames)) {
    return frames
      .filter((f) => f && typeof f === "object" && "filename" in f)
      .map((f) => ({ name: String(f.filename), data: f }));
  }
  if (frames && typeof frames === "object") {
    return Object.entries(frames).map(([name, data]) => ({ name, data }));
  }
  return [];
}

/**
 * Which texture a multi-atlas section draws from: the asset's own image for the first texture
 * (or one named like it), otherwise its `image` resolved against the JSON's URL.
 * @param {object} st
 * @param {object} loaded
 * @param {{path: string}} asset
 * @param {object|null} texture the multi-atlas texture entry; null for hash/array layouts
 * @param {number} position index of the texture entry in the document
 * @param {URL} base the JSON's URL
 * @returns {number} index into `loaded.textures`
 */
function textureIndex(st, loaded, asset, texture, position, base) {
  const image = texture === null ? "" : String(texture.image ?? "");
  if (image === "" || position === 0 || asset.path === image || asset.path.endsWith(`/${image}`)) {
    return 0;
  }
  const known = loaded.textureByImage.get(image);
  if (known !== undefined) return known;
  const index = loaded.textures.length;
  loaded.textures.push(loadImage(st, new URL(image, base).href));
  loaded.textureByImage.set(image, index);
  return index;
}

/**
 * Add one frame. Its source rectangle, whether TexturePacker stored it rotated 90 degrees
 * clockwise, and where a trimmed frame sits inside its original size (as fractions).
 * @param {object} loaded
 * @param {string} name
 * @param {object} data
 * @param {number} texture
 */
function addFrame(loaded, name, data, texture) {
  const rect = data.frame ?? data;
  const w = Number(rect.w ?? rect.width);
  const h = Number(rect.h ?? rect.height);
  if (!(w > 0 && h > 0)) return;
  const frame = {
    texture,
    x: Number(rect.x) || 0,
    y: Number(rect.y) || 0,
    w,
    h,
    rotated: data.rotated === true,
    fx: 0,
    fy: 0,
    fw: 1,
    fh: 1,
  };
  const source = data.sourceSize;
  const sprite = data.spriteSourceSize;
  if (data.trimmed !== false && source && sprite && source.w > 0 && source.h > 0) {
    frame.fx = sprite.x / source.w;
    frame.fy = sprite.y / source.h;
    frame.fw = w / source.w;
    frame.fh = h / source.h;
  }
  if (!loaded.frames.has(name)) loaded.frames.set(name, frame);
  loaded.frameList.push(frame);
}

/**
 * The frame `key` of an atlas: by name, or an int as a name if one exists, else as an index.
 * @param {object} loaded
 * @param {string|number} key
 * @returns {object|undefined}
 */
export function findFrame(loaded, key) {
  const byName = loaded.frames.get(String(key));
  if (byName !== undefined || typeof key !== "number") return byName;
  return loaded.frameList[key];
}

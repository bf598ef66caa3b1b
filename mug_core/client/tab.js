/**
 * A per-tab id: kept in sessionStorage so a reload keeps it, while a new tab gets a new one.
 *
 * Browsers copy sessionStorage into a *duplicated* tab, so a stored id is first checked with
 * the other open tabs of this site (BroadcastChannel); if one of them still uses it, this tab
 * takes a new id.
 * @module mug/tab
 */

const STORAGE_KEY = "mug_tab_id";
const CHANNEL = "mug_tab_ids";
const PROBE_MS = 150;

/**
 * A random UUID; falls back to getRandomValues where randomUUID is missing (plain http).
 * @returns {string}
 */
export function newUuid() {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") {
    return crypto.randomUUID();
  }
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function readStored() {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

function store(id) {
  try {
    sessionStorage.setItem(STORAGE_KEY, id);
  } catch {
    // Storage disabled: the id lasts as long as this page.
  }
}

/**
 * Whether another open tab answers that it uses `id`.
 * @param {string} id
 * @returns {Promise<boolean>}
 */
function usedElsewhere(id) {
  if (typeof BroadcastChannel === "undefined") return Promise.resolve(false);
  return new Promise((resolve) => {
    const channel = new BroadcastChannel(CHANNEL);
    const nonce = newUuid();
    const done = (answer) => {
      clearTimeout(timer);
      channel.close();
      resolve(answer);
    };
    channel.onmessage = (event) => {
      const msg = event.data;
      if (msg && msg.type === "taken" && msg.id === id && msg.nonce === nonce) done(true);
    };
    const timer = setTimeout(() => done(false), PROBE_MS);
    channel.postMessage({ type: "probe", id, nonce });
  });
}

/** Answer other tabs' probes for `id` for as long as this page lives. */
function answerProbes(id) {
  if (typeof BroadcastChannel === "undefined") return;
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (event) => {
    const msg = event.data;
    if (msg && msg.type === "probe" && msg.id === id) {
      channel.postMessage({ type: "taken", id, nonce: msg.nonce });
    }
  };
}

/**
 * This tab's id (sessionStorage key "mug_tab_id"), created if needed.
 * @returns {Promise<string>}
 */
export async function tabId() {
  let id = readStored();
  if (id && (await usedElsewhere(id))) id = null;
  if (!id) {
    id = newUuid();
    store(id);
  }
  answerProbes(id);
  return id;
}

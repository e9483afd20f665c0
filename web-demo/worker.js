// The Mesh engine runs here, off the UI thread. Signals (favourites), their hashes and the
// device's secret key stay inside this worker and this origin's IndexedDB; only signed
// requests with the taste vector and public card (on opt-in) are sent to the coordinator.
import init, { MeshSession, DeviceIdentity } from "./pkg/mesh_client.js";

const DB_NAME = "mesh-device";
const STORE = "device";
const SECRET_KEY = "device-secret";
const SIGNALS_KEY = "signals";
const HALF_LIFE_DAYS = 730;

let session = null;
let identity = null;
let lastTimestamp = 0;

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 2);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(STORE)) request.result.createObjectStore(STORE);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function dbOp(mode, op) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = op(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
  });
}

async function loadIdentity() {
  const secret = await dbOp("readonly", (s) => s.get(SECRET_KEY));
  if (secret) return DeviceIdentity.fromSecret(new Uint8Array(secret));
  const fresh = DeviceIdentity.generate();
  await dbOp("readwrite", (s) => s.put(fresh.secretKey(), SECRET_KEY));
  return fresh;
}

async function saveSignals() {
  await dbOp("readwrite", (s) => s.put(session.signalsBytes(), SIGNALS_KEY));
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function apiFetch(method, path, bodyText, signed) {
  const bytes = bodyText === null ? new Uint8Array() : new TextEncoder().encode(bodyText);
  const headers = {};
  if (bodyText !== null) headers["content-type"] = "application/json";
  if (signed) {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    headers["authorization"] = identity.authorization(method, path, lastTimestamp, bytes);
  }
  const response = await fetch(path, { method, headers, body: bodyText === null ? undefined : bytes });
  const text = await response.text();
  const body = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

async function register() {
  await apiFetch("POST", "/v1/identities", "{}", true);
}

function state(extra = {}) {
  return { summary: session.summary() ?? null, signals: session.signals(), ...extra };
}

const operations = {
  async init() {
    await init();
    // The HTTP cache keeps the model; `no-cache` revalidates it with its ETag (304).
    const response = await fetch("/v1/model", { cache: "no-cache" });
    if (!response.ok) throw new Error(`GET /v1/model answered ${response.status}`);
    session = new MeshSession(new Uint8Array(await response.arrayBuffer()));
    session.setWeightPolicy(Date.now(), HALF_LIFE_DAYS);
    const stored = await dbOp("readonly", (s) => s.get(SIGNALS_KEY));
    if (stored) {
      try {
        session.loadSignals(new Uint8Array(stored));
      } catch (error) {
        console.warn(`stored signals could not be read and were dropped: ${error.message}`);
        await dbOp("readwrite", (s) => s.delete(SIGNALS_KEY));
      }
    }
    identity = await loadIdentity();
    await register();
    return state({ userId: identity.userId, modelVersion: session.modelVersion });
  },

  async analyse({ text }) {
    const view = session.analyse(text);
    await saveSignals();
    return state({ report: { rows: null, skipped: view.skipped } });
  },

  async importFile({ bytes, format }) {
    session.setWeightPolicy(Date.now(), HALF_LIFE_DAYS);
    const report = session.importFile(new Uint8Array(bytes), format || undefined);
    await saveSignals();
    return state({ report });
  },

  async prune({ id }) {
    session.prune(id);
    await saveSignals();
    return state();
  },

  async pruneSource({ source }) {
    const removed = session.pruneSource(source);
    await saveSignals();
    return state({ removed });
  },

  async setGrade({ id, grade }) {
    session.setGrade(id, grade);
    await saveSignals();
    return state();
  },

  async publish({ displayName, showFavourites }) {
    const body = session.profileUploadJson(displayName, showFavourites);
    const path = `/v1/profiles/${identity.userId}`;
    try {
      await apiFetch("PUT", path, body, true);
    } catch (error) {
      if (error.code !== "not_registered") throw error;
      await register();
      await apiFetch("PUT", path, body, true);
    }
    return { userId: identity.userId, bytesSent: new TextEncoder().encode(body).length };
  },

  async matches({ k }) {
    const body = session.candidatesRequestJson(k, identity.userId);
    const response = await apiFetch("POST", "/v1/discovery/candidates", body, false);
    return response.candidates.map((candidate) => ({
      candidate,
      explanation: session.explain(candidate),
    }));
  },

  async optOut() {
    const userId = identity.userId;
    try {
      await apiFetch("DELETE", `/v1/profiles/${userId}`, null, true);
    } catch (error) {
      if (error.code !== "not_registered") throw error;
    }
    session.clear();
    await dbOp("readwrite", (s) => s.delete(SIGNALS_KEY));
    await dbOp("readwrite", (s) => s.delete(SECRET_KEY));
    identity = await loadIdentity();
    await register();
    return state({ deletedUserId: userId, userId: identity.userId });
  },
};

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    const handler = operations[op];
    if (!handler) throw new Error(`unknown operation ${op}`);
    const result = await handler(args || {});
    self.postMessage({ id, ok: true, result });
  } catch (error) {
    self.postMessage({ id, ok: false, error: String(error && error.message ? error.message : error) });
  }
};

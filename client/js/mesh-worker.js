// The Mesh engine runs here, off the UI thread (start it through `Mesh` in mesh.js). Signals
// (favourites), their hashes and the device's secret key stay inside this worker and this
// origin's IndexedDB; only signed requests with the taste vector and public card (on opt-in),
// masked model updates and blinded PSI points are sent to the coordinator, whose origin is
// this worker's unless `init({ coordinator })` names another.
import init, { MeshSession, DeviceIdentity, RoundClient, roundCharge } from "./mesh_client.js";

const DB_NAME = "mesh-device";
const STORE = "device";
const EMBEDDINGS = "embeddings";
const SECRET_KEY = "device-secret";
const SIGNALS_KEY = "signals";
const DISABLED_TRAITS_KEY = "disabled-traits";
const INTENTS_KEY = "intents";
const ACTIVITY_KEY = "activity";
/// zCDP ρ this device has spent on federated rounds ({ rho }), charged against its floors' budget.
const ROUND_PRIVACY_KEY = "round-privacy";
const PSI_POLL_MS = 250;
const PSI_WAIT_MS = 60_000;
const HALF_LIFE_DAYS = 730;

let session = null;
/// Base URL of the coordinator ("" = this worker's origin).
let coordinator = "";
let identity = null;
let lastTimestamp = 0;
// The encoder module (tract + tokenizer, ~2.5 MB gzipped, plus the 23 MB model) is loaded
// only when a favourite lacks a cached content embedding.
let encoder = null;

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 3);
    request.onupgradeneeded = () => {
      const names = request.result.objectStoreNames;
      if (!names.contains(STORE)) request.result.createObjectStore(STORE);
      if (!names.contains(EMBEDDINGS)) request.result.createObjectStore(EMBEDDINGS);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function dbOp(mode, op, store = STORE) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = op(tx.objectStore(store));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
  });
}

/// Cached embeddings of `keys` (undefined where missing), in one transaction.
async function cachedEmbeddings(keys) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(EMBEDDINGS, "readonly");
    const store = tx.objectStore(EMBEDDINGS);
    const requests = keys.map((key) => store.get(key));
    tx.oncomplete = () => resolve(requests.map((r) => r.result));
    tx.onerror = () => reject(tx.error);
  });
}

async function cacheEmbeddings(keys, values) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(EMBEDDINGS, "readwrite");
    const store = tx.objectStore(EMBEDDINGS);
    keys.forEach((key, i) => store.put(values.slice(i * 384, (i + 1) * 384), key));
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}

async function loadEncoder() {
  if (encoder) return { encoder, loadMs: 0 };
  const start = performance.now();
  const module = await import("./mesh_encoder.js");
  await module.default();
  const [model, tokenizer] = await Promise.all(
    ["encoder/model.onnx", "encoder/tokenizer.json"].map(async (path) => {
      const response = await fetch(new URL(`./${path}`, import.meta.url));
      if (!response.ok) throw new Error(`${path} answered ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    }),
  );
  encoder = new module.SentenceEncoder(model, tokenizer);
  return { encoder, loadMs: performance.now() - start };
}

/// Gives the session a content embedding for every favourite: from the cache, or embedded
/// now (loading the encoder only then) and cached.
async function refreshContentEmbeddings() {
  const requests = session.contentRequests();
  const cached = await cachedEmbeddings(requests.map((r) => r.key));
  const hitKeys = [];
  const hitValues = [];
  const missing = [];
  requests.forEach((request, i) => {
    if (cached[i]) {
      hitKeys.push(request.key);
      hitValues.push(...new Float32Array(cached[i]));
    } else {
      missing.push(request);
    }
  });
  if (hitKeys.length) session.setContentEmbeddings(hitKeys, new Float32Array(hitValues));
  let encoderLoadMs = null;
  let embedMs = 0;
  if (missing.length) {
    const loaded = await loadEncoder();
    encoderLoadMs = loaded.loadMs;
    const start = performance.now();
    const values = loaded.encoder.embedMany(missing.map((r) => r.text));
    embedMs = performance.now() - start;
    const keys = missing.map((r) => r.key);
    session.setContentEmbeddings(keys, values);
    await cacheEmbeddings(keys, values);
  }
  return { cached: hitKeys.length, embedded: missing.length, encoderLoadMs, embedMs };
}

async function saveDisabledTraits(traits) {
  const disabled = traits.traits.filter((t) => !t.enabled).map((t) => t.id);
  await dbOp("readwrite", (s) => s.put(disabled, DISABLED_TRAITS_KEY));
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

/// Operations on the activity log and the opt-out wipe run one after another: a save that
/// started before an opt-out finishes before the wipe, and none interleaves with it.
let deviceStoreQueue = Promise.resolve();
function oneAtATime(operation) {
  const run = deviceStoreQueue.then(operation);
  deviceStoreQueue = run.catch(() => {});
  return run;
}

async function saveActivity() {
  await dbOp("readwrite", (s) => s.put(session.activityBytes(), ACTIVITY_KEY));
  return session.activity();
}

/// Mean of `count` rows of 384 values.
function meanRow(values, count) {
  const mean = new Float32Array(384);
  for (let i = 0; i < count; i++) for (let j = 0; j < 384; j++) mean[j] += values[i * 384 + j] / count;
  return mean;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.error;
  }
}

async function apiFetch(method, path, bodyText, signed) {
  try {
    return await apiFetchOnce(method, path, bodyText, signed);
  } catch (error) {
    // Discovery, rooms and rounds answer registered identities only: register, then retry once.
    if (!signed || error.code !== "not_registered" || path === "/v1/identities") throw error;
    await register();
    return apiFetchOnce(method, path, bodyText, signed);
  }
}

async function apiFetchOnce(method, path, bodyText, signed) {
  const bytes = bodyText === null ? new Uint8Array() : new TextEncoder().encode(bodyText);
  const headers = {};
  if (bodyText !== null) headers["content-type"] = "application/json";
  if (signed) {
    lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
    headers["authorization"] = identity.authorization(method, path, lastTimestamp, bytes);
  }
  const response = await fetch(`${coordinator}${path}`, { method, headers, body: bodyText === null ? undefined : bytes });
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

const ROUND_PHASES = ["advertise_keys", "share_keys", "masked_input", "consistency_check", "unmasking", "done"];

/// One federated round, start to end: train locally, then the secure-aggregation protocol
/// (RoundClient, in this module) over /v1/rounds. Returns what left the device and the outcome.
async function federatedRound({ floors = null } = {}, progress = () => {}) {
  const traffic = { up: 0, down: 0 };
  // Every round message and read is signed by the device identity (the coordinator seats
  // registered identities only, and answers a seat's reads and messages only to its holder);
  // GET /v1/rounds/current is public.
  const request = async (method, path, body, type = "application/json") => {
    const bytes = body === undefined ? new Uint8Array()
      : typeof body === "string" ? new TextEncoder().encode(body) : body;
    traffic.up += bytes.byteLength;
    const headers = body === undefined ? {} : { "content-type": type };
    if (path !== "/v1/rounds/current") {
      lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
      headers["authorization"] = identity.authorization(method, path, lastTimestamp, bytes);
    }
    const response = await fetch(`${coordinator}${path}`, { method, cache: "no-store", headers, body: body === undefined ? undefined : bytes });
    const text = await response.text();
    traffic.down += text.length;
    if (!response.ok) {
      let message = text;
      try { message = JSON.parse(text).message; } catch (_) { /* not JSON */ }
      throw new Error(`${method} ${path}: ${message}`);
    }
    return text;
  };
  const currentStatus = async () => JSON.parse(await request("GET", "/v1/rounds/current"));
  let status = await currentStatus();
  await register();
  if (status.outcome) throw new Error(`round ${status.round} is over; wait for the next one`);
  if (status.model_version !== session.modelVersion) {
    throw new Error(`the round trains model v${status.model_version}, this device has v${session.modelVersion}: reload`);
  }
  const { round, model_version: version, settings } = status;
  // The device's own floors: a round below one, or past this device's privacy budget, is
  // refused here, before anything is trained or sent (the error names the floor).
  const spent = (await dbOp("readonly", (store) => store.get(ROUND_PRIVACY_KEY))) ?? { rho: 0 };
  const charge = JSON.parse(roundCharge(JSON.stringify(settings), spent.rho, floors ? JSON.stringify(floors) : null));
  progress({ step: 1, of: 6, phase: "training on this device" });
  const training = session.trainLocally(1, Date.now() % 1e9);
  const update = session.pendingUpdate(settings.dimension);
  const versioned = (json) => JSON.stringify({ ...JSON.parse(json), model_version: version });
  const { client } = JSON.parse(await request("POST", `/v1/rounds/${round}/join`, JSON.stringify({ model_version: version })));
  const rc = new RoundClient(round, version, client, settings.threshold,
    settings.neighbours ?? null, settings.share_threshold ?? null);
  progress({ step: 2, of: 6, phase: "advertising keys" });
  await request("POST", `/v1/rounds/${round}/keys`, versioned(rc.keysJson()));
  const waitFor = async (phase, path) => {
    for (;;) {
      status = await currentStatus();
      if (status.round !== round) throw new Error(`round ${round} is over`);
      if (ROUND_PHASES.indexOf(status.phase) >= ROUND_PHASES.indexOf(phase)) return request("GET", path);
      if (status.outcome) throw new Error(`round ${round} ended: ${status.reason || status.outcome}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  };
  const roster = await waitFor("share_keys", `/v1/rounds/${round}/roster`);
  progress({ step: 3, of: 6, phase: "sharing encrypted key shares" });
  await request("POST", `/v1/rounds/${round}/shares`, versioned(rc.sharesJson(roster)));
  const mailbox = await waitFor("masked_input", `/v1/rounds/${round}/mailbox/${client}`);
  progress({ step: 4, of: 6, phase: "sending the masked update" });
  const masked = rc.maskedInput(mailbox, update, settings.clip, settings.expected_clients, settings.noise_multiplier ?? 0);
  await request("POST", `/v1/rounds/${round}/input?client=${client}&model_version=${version}`,
    new Uint8Array(masked.buffer, masked.byteOffset, masked.byteLength), "application/octet-stream");
  const survivors = await waitFor("consistency_check", `/v1/rounds/${round}/survivors`);
  progress({ step: 5, of: 6, phase: "signing the survivors" });
  await request("POST", `/v1/rounds/${round}/signature`, versioned(rc.signatureJson(survivors)));
  const signatures = await waitFor("unmasking", `/v1/rounds/${round}/signatures`);
  progress({ step: 6, of: 6, phase: "unmasking" });
  const unmask = versioned(rc.unmaskJson(signatures));
  status = await currentStatus();
  if (!status.outcome) {
    // Charged before anything that unmasks leaves, whether or not the round then applies.
    await dbOp("readwrite", (store) => store.put({ rho: spent.rho + charge.rho }, ROUND_PRIVACY_KEY));
    await request("POST", `/v1/rounds/${round}/unmask`, unmask);
  }
  while (!status.outcome) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    status = await currentStatus();
  }
  return {
    round, client, modelVersion: version, outcome: status.outcome, reason: status.reason ?? null,
    newModelVersion: status.new_model_version ?? null, bytesUp: traffic.up, bytesDown: traffic.down,
    clipped: rc.clipped, normBeforeClip: rc.normBeforeClip, clip: settings.clip,
    deviceEpsilon: charge.epsilon, deviceEpsilonTotal: charge.epsilon_total,
    noiseMultiplier: settings.noise_multiplier ?? 0, epsilon: status.epsilon ?? null, epsilonTotal: status.epsilon_total ?? null,
    lossBefore: training.loss_before, lossAfter: training.loss_after,
  };
}

const operations = {
  federatedRound,

  async init({ coordinator: base } = {}) {
    coordinator = (base || "").replace(/\/$/, "");
    await init();
    // The HTTP cache keeps the model; `no-cache` revalidates it with its ETag (304).
    const response = await fetch(`${coordinator}/v1/model`, { cache: "no-cache" });
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
    const activity = await dbOp("readonly", (s) => s.get(ACTIVITY_KEY));
    if (activity) {
      try {
        session.loadActivity(new Uint8Array(activity));
      } catch (error) {
        console.warn(`the stored activity log could not be read and was dropped: ${error.message}`);
        await dbOp("readwrite", (s) => s.delete(ACTIVITY_KEY));
      }
    }
    const disabled = (await dbOp("readonly", (s) => s.get(DISABLED_TRAITS_KEY))) || [];
    for (const id of disabled) session.setTraitEnabled(id, false);
    identity = await loadIdentity();
    await register();
    const intents = ((await dbOp("readonly", (s) => s.get(INTENTS_KEY))) || []).filter((f) => f.until > Date.now());
    return state({ userId: identity.userId, modelVersion: session.modelVersion, intents, activity: session.activity() });
  },

  async traits() {
    const stats = await refreshContentEmbeddings();
    // The embeddings may move the taste vector (a model's content tower places favourites it
    // has no row for), so the summary comes back too.
    return { traits: session.traits(), stats, summary: session.summary() };
  },

  async setTraitEnabled({ id, enabled }) {
    session.setTraitEnabled(id, enabled);
    const traits = session.traits();
    await saveDisabledTraits(traits);
    return { traits, stats: null };
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
    // Signed, so that the coordinator applies this person's blocks, snoozes, intents and
    // swipes; the body holds only the taste vector.
    const body = session.candidatesRequestJson(k, identity.userId);
    const response = await apiFetch("POST", "/v1/discovery/candidates", body, true);
    return response.candidates.map((candidate) => ({
      candidate,
      explanation: session.explain(candidate),
    }));
  },

  /// Zero-party intent flags: `flags` is [{ topic, ttl_hours }]; an empty list clears them.
  async setIntents({ flags }) {
    await apiFetch("PUT", "/v1/intents", JSON.stringify({ flags }), true);
    const now = Date.now();
    const stored = flags.map((f) => ({ topic: f.topic, until: now + f.ttl_hours * 3_600_000 }));
    await dbOp("readwrite", (s) => s.put(stored, INTENTS_KEY));
    return stored;
  },

  async intents() {
    const stored = (await dbOp("readonly", (s) => s.get(INTENTS_KEY))) || [];
    return stored.filter((f) => f.until > Date.now());
  },

  /// Micro-interactions from the page, `[{ kind, durationMs, atMs, offsetMinutes }]`: kept on
  /// this device, summarised into usual online hours, a time zone and engagement features.
  recordInteractions({ events }) {
    return oneAtATime(async () => {
      // The log describes the person whose favourites are on this device: a device with none
      // (new, or just opted out) records nothing, so no interaction of someone who left, or
      // of the page settling after the wipe, reaches a fresh log whatever the timing.
      if (session.signals().length === 0) return session.activity();
      for (const e of events) session.recordInteraction(e.kind, e.durationMs || 0, e.atMs, e.offsetMinutes);
      return saveActivity();
    });
  },

  async activity() {
    return session.activity();
  },

  /// Scores the tone of the person's own `posts` with the encoder, on this device; the texts
  /// and their embeddings are not kept.
  async scoreTone({ posts }) {
    const texts = posts.map((p) => p.trim()).filter(Boolean);
    if (!texts.length) throw new Error("posts: paste at least one post to score its tone");
    const { encoder: loaded } = await loadEncoder();
    const prototypes = session.tonePrototypes();
    const means = new Float32Array(384 * prototypes.length);
    prototypes.forEach((sentences, i) => means.set(meanRow(loaded.embedMany(sentences), sentences.length), i * 384));
    session.setTone(meanRow(loaded.embedMany(texts), texts.length), means, texts.length);
    return saveActivity();
  },

  /// Grades a behavioural summary (`activity_windows` or `tone`); only public is published.
  async setSummaryGrade({ kind, grade }) {
    session.setSummaryGrade(kind, grade);
    return saveActivity();
  },

  async pruneSummary({ kind }) {
    session.pruneSummary(kind);
    return saveActivity();
  },

  /// Swipe-to-tune: right is "more like this", left "less like this".
  async feedback({ target, moreLikeThis }) {
    await apiFetch("POST", "/v1/feedback", JSON.stringify({ target, more_like_this: moreLikeThis }), true);
    return { target, moreLikeThis };
  },

  async snooze({ category }) {
    await apiFetch("POST", "/v1/snoozes", JSON.stringify({ category }), true);
    return { category };
  },

  async block({ target }) {
    await apiFetch("POST", "/v1/blocks", JSON.stringify({ target }), true);
    return { target };
  },

  /// Marks this person present in `room` (for 60 s) and lists who else is there, nearest to
  /// this person's taste first.
  async room({ room, k }) {
    const path = `/v1/rooms/${encodeURIComponent(room)}`;
    await apiFetch("POST", `${path}/presence`, "{}", true);
    const request = JSON.parse(session.candidatesRequestJson(k, identity.userId));
    const body = JSON.stringify({ model_version: request.model_version, topic_vector: request.taste_vector, k });
    const response = await apiFetch("POST", `${path}/candidates`, body, true);
    return response.candidates.map((candidate) => ({ candidate, explanation: session.explain(candidate) }));
  },

  /// Mutual favourites with `peer` by a private set intersection relayed by the coordinator:
  /// both people run this at about the same time; each learns only the favourites (graded
  /// public or limited) they share. Returns the titles and the bytes sent and received.
  async mutualFavourites({ peer }) {
    const run = session.mutualFavourites();
    const base = `/v1/psi/${encodeURIComponent(peer)}`;
    const traffic = { sent: 0, received: 0 };
    const put = async (round, body) => {
      traffic.sent += new TextEncoder().encode(body).length;
      await apiFetch("PUT", `${base}/${round}`, body, true);
    };
    const waitFor = async (round) => {
      const deadline = Date.now() + PSI_WAIT_MS;
      for (;;) {
        try {
          const message = await apiFetch("GET", `${base}/${round}`, null, true);
          const text = JSON.stringify(message);
          traffic.received += new TextEncoder().encode(text).length;
          return text;
        } catch (error) {
          if (error.status !== 404 || Date.now() > deadline) {
            throw error.status === 404 ? new Error("the other person did not take part within a minute") : error;
          }
        }
        await new Promise((resolve) => setTimeout(resolve, PSI_POLL_MS));
      }
    };
    const blinded = run.blindedJson();
    await put("blinded", blinded);
    const peerBlinded = await waitFor("blinded");
    await put("answer", run.answerJson(peerBlinded));
    const peerAnswer = await waitFor("answer");
    const titles = run.finish(peerBlinded, peerAnswer);
    run.free();
    return { peer, titles, offered: JSON.parse(blinded).points.length, ...traffic };
  },

  optOut() {
    return oneAtATime(optOutNow);
  },
};

/// Opt-out: the coordinator deletes the profile, then this device forgets every signal and
/// makes a new key. Runs under `oneAtATime`, so no interaction of the person leaving is saved
/// after the wipe.
async function optOutNow() {
  const userId = identity.userId;
  try {
    await apiFetch("DELETE", `/v1/profiles/${userId}`, null, true);
  } catch (error) {
    if (error.code !== "not_registered") throw error;
  }
  session.clear();
  await dbOp("readwrite", (s) => s.delete(SIGNALS_KEY));
  await dbOp("readwrite", (s) => s.delete(DISABLED_TRAITS_KEY));
  await dbOp("readwrite", (s) => s.delete(INTENTS_KEY));
  await dbOp("readwrite", (s) => s.delete(ACTIVITY_KEY));
  await dbOp("readwrite", (s) => s.clear(), EMBEDDINGS);
  await dbOp("readwrite", (s) => s.delete(SECRET_KEY));
  identity = await loadIdentity();
  await register();
  return state({ deletedUserId: userId, userId: identity.userId, activity: session.activity() });
}

self.onmessage = async (event) => {
  const { id, op, args } = event.data;
  try {
    const handler = operations[op];
    if (!handler) throw new Error(`unknown operation ${op}`);
    const result = await handler(args || {}, (progress) => self.postMessage({ id, progress }));
    self.postMessage({ id, ok: true, result });
  } catch (error) {
    self.postMessage({ id, ok: false, error: String(error && error.message ? error.message : error) });
  }
};

// The main-thread API of the Mesh engine: every call is forwarded to a module Worker
// (mesh-worker.js) so that importing, encoding, training and secure aggregation never block
// the UI. Types: mesh.d.ts.

export class MeshError extends Error {}

export class Mesh {
  #worker;
  #nextId = 1;
  #pending = new Map();

  /// Starts the worker (`workerUrl` defaults to the mesh-worker.js beside this file).
  constructor(workerUrl = new URL("./mesh-worker.js", import.meta.url)) {
    this.#worker = new Worker(workerUrl, { type: "module" });
    this.#worker.onmessage = ({ data }) => {
      const entry = this.#pending.get(data.id);
      if (!entry) return;
      if (data.progress) {
        entry.onProgress?.(data.progress);
        return;
      }
      this.#pending.delete(data.id);
      data.ok ? entry.resolve(data.result) : entry.reject(new MeshError(data.error));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      const error = new MeshError(`the engine worker failed: ${event.message || "could not load"}`);
      for (const entry of this.#pending.values()) entry.reject(error);
      this.#pending.clear();
    };
  }

  #call(op, args = {}, transfer = [], onProgress = undefined) {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  init(options = {}) { return this.#call("init", options); }
  analyse(text) { return this.#call("analyse", { text }); }
  /// `bytes` (an ArrayBuffer) is transferred to the worker.
  importFile(bytes, format = "") { return this.#call("importFile", { bytes, format }, [bytes]); }
  traits() { return this.#call("traits"); }
  setTraitEnabled(id, enabled) { return this.#call("setTraitEnabled", { id, enabled }); }
  prune(id) { return this.#call("prune", { id }); }
  pruneSource(source) { return this.#call("pruneSource", { source }); }
  setGrade(id, grade) { return this.#call("setGrade", { id, grade }); }
  publish(displayName, showFavourites) { return this.#call("publish", { displayName, showFavourites }); }
  matches(k = 10) { return this.#call("matches", { k }); }
  setIntents(flags) { return this.#call("setIntents", { flags }); }
  intents() { return this.#call("intents"); }
  feedback(target, moreLikeThis) { return this.#call("feedback", { target, moreLikeThis }); }
  snooze(category) { return this.#call("snooze", { category }); }
  block(target) { return this.#call("block", { target }); }
  room(room, k = 10) { return this.#call("room", { room, k }); }
  mutualFavourites(peer) { return this.#call("mutualFavourites", { peer }); }
  recordInteractions(events) { return this.#call("recordInteractions", { events }); }
  activity() { return this.#call("activity"); }
  scoreTone(posts) { return this.#call("scoreTone", { posts }); }
  setSummaryGrade(kind, grade) { return this.#call("setSummaryGrade", { kind, grade }); }
  pruneSummary(kind) { return this.#call("pruneSummary", { kind }); }
  /// `onProgress({ step, of, phase })` is called as the round advances.
  federatedRound(onProgress, options = {}) { return this.#call("federatedRound", { floors: options.floors ?? null }, [], onProgress); }
  optOut() { return this.#call("optOut"); }

  /// Stops the worker; pending calls never settle.
  terminate() { this.#worker.terminate(); }
}

/* tslint:disable */
/* eslint-disable */

/**
 * The device key pair (see `DeviceIdentity`).
 */
export class DeviceIdentity {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The `Authorization` header for a request with exactly these body bytes.
     */
    authorization(method: string, path: string, timestamp_ms: number, body: Uint8Array | number[]): string;
    /**
     * The identity for a secret key stored on this device.
     */
    static fromSecret(secret: Uint8Array | number[]): DeviceIdentity;
    /**
     * A fresh key pair from `crypto.getRandomValues`.
     */
    static generate(): DeviceIdentity;
    /**
     * The 32 secret-key bytes, to keep in this device's storage only.
     */
    secretKey(): Uint8Array;
    /**
     * The user id this key owns.
     */
    readonly userId: string;
}

/**
 * The on-device engine for one user (see `DeviceSession`).
 */
export class MeshSession {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * The behavioural log in stored form, for this device's IndexedDB only.
     */
    activityBytes(): Uint8Array;
    /**
     * The behavioural summaries for the audit screen: `{interactions, active_days, activity,
     * activity_grade, mean_dwell_s, scroll_pauses_per_day, replays_per_day, room_minutes,
     * posts_scored, tone, tone_grade}`.
     */
    activity(): any;
    /**
     * Replaces the typed-list signals with a typed list; returns `{model_version, favourites,
     * skipped, traits, vector_preview, vector_fingerprint}`.
     */
    analyse(text: string): any;
    /**
     * The JSON body of `POST /v1/discovery/candidates`.
     */
    candidatesRequestJson(k: number, exclude_user_id?: string | null): string;
    /**
     * Opt-out on the device: forgets every signal, the vector and the traits.
     */
    clear(): void;
    /**
     * The favourites' texts to embed, `[{key, text}]`: embed those the cache lacks (with the
     * encoder module) and hand them to `setContentEmbeddings`.
     */
    contentRequests(): any;
    /**
     * "Why this match?" for one candidate object from the candidates response.
     */
    explain(candidate: any): any;
    /**
     * Imports an export file's bytes; `format` is a format name (e.g. `goodreads_library`)
     * or `undefined` to detect it. Returns `{format, source, rows, imported_rows,
     * duplicates_merged, skipped: [{line, reason}], favourites, summary}`.
     */
    importFile(bytes: Uint8Array | number[], format?: string | null): any;
    /**
     * Restores a stored behavioural log.
     */
    loadActivity(bytes: Uint8Array | number[]): void;
    /**
     * Restores stored signals; returns the summary (or `undefined` when there are none).
     */
    loadSignals(bytes: Uint8Array | number[]): any;
    /**
     * Starts revealing mutual favourites to one matched person (see `MutualFavourites`).
     */
    mutualFavourites(): MutualFavourites;
    /**
     * Decodes the model bytes from `GET /v1/model`.
     */
    constructor(model_bytes: Uint8Array | number[]);
    /**
     * The pending local-training update as the first `dimension` weights of the model's
     * table (what a round of that dimension aggregates). Throws before `trainLocally`.
     */
    pendingUpdate(dimension: number): Float32Array;
    /**
     * The JSON body of `PUT /v1/profiles/{id}`: what leaves the device on opt-in.
     */
    profileUploadJson(display_name: string, show_favourites: number): string;
    /**
     * Removes every signal of a source (e.g. `spotify`); returns how many.
     */
    pruneSource(source: string): number;
    /**
     * Forgets a summary (`activity_windows` or `tone`) and what it was computed from.
     */
    pruneSummary(kind: string): void;
    /**
     * Removes one signal by id; returns whether it existed.
     */
    prune(id: string): boolean;
    /**
     * Records a micro-interaction: `kind` is `dwell`, `scroll_pause`, `replay` or `room`;
     * `duration_ms` counts for dwell and room time; `utc_offset_minutes` is east-positive
     * (`-new Date().getTimezoneOffset()`). Kept on this device.
     */
    recordInteraction(kind: string, duration_ms: number, at_ms: number, utc_offset_minutes: number): void;
    /**
     * Stores content embeddings: `keys` from `contentRequests`, `values` their 384-value
     * unit embeddings concatenated. Returns how many are stored in all.
     */
    setContentEmbeddings(keys: string[], values: Float32Array | number[]): number;
    /**
     * Sets a signal's grade: `public`, `limited` or `private`.
     */
    setGrade(id: string, grade: string): boolean;
    /**
     * Replaces the active intents: `weights.length` intents, each the 384-value unit
     * embedding of its text (from the encoder module, concatenated in `values`) and its
     * weight. They move the taste vector through the model's content tower until replaced;
     * clear them (empty arrays) when their time is up. Returns how many are active.
     */
    setIntents(values: Float32Array | number[], weights: Float32Array | number[]): number;
    /**
     * Grades a summary (`activity_windows` or `tone`): only `public` publishes it.
     */
    setSummaryGrade(kind: string, grade: string): void;
    /**
     * Scores the tone of `posts` posts from their mean embedding and the three prototype
     * means (concatenated, in tone order).
     */
    setTone(posts_mean: Float32Array | number[], prototype_means: Float32Array | number[], posts: number): void;
    /**
     * Turns a trait off (never published) or back on.
     */
    setTraitEnabled(id: string, enabled: boolean): void;
    /**
     * Sets "now" (Unix ms) and the recency half-life (days) for later imports.
     */
    setWeightPolicy(now_ms: number, half_life_days: number): void;
    /**
     * The signals in stored form, for this device's IndexedDB only.
     */
    signalsBytes(): Uint8Array;
    /**
     * The audit list: `[{id, source, grade, kind, title, creator, weight}]`.
     */
    signals(): any;
    /**
     * The current summary, or `undefined` without signals.
     */
    summary(): any;
    /**
     * The tone prototype sentences, one array per tone (supportive, humorous, analytical),
     * for the encoder to embed.
     */
    tonePrototypes(): any;
    /**
     * Trains the served model locally on the favourites for `epochs` passes (seeded by
     * `seed`, a random number from the caller) and keeps the clipped update for the next
     * federated round. Returns `{model_version, favourites, loss_before, loss_after,
     * rows_updated, update_norm, norm_before_clip, clipped}`.
     */
    trainLocally(epochs: number, seed: number): any;
    /**
     * The traits JSON (`shared/schema/traits.schema.json`): `{encoder, favourites_embedded,
     * favourites_total, traits: [{id, label, score, favourites, favourite_count, enabled,
     * explanation}], summary}`.
     */
    traits(): any;
    /**
     * The model version in use.
     */
    readonly modelVersion: number;
}

/**
 * One private set intersection with one peer; its secret never leaves this object.
 */
export class MutualFavourites {
    private constructor();
    free(): void;
    [Symbol.dispose](): void;
    /**
     * Round two, as the JSON body of `PUT /v1/psi/{peer}/answer`, from the peer's round one.
     */
    answerJson(peer_blinded_json: string): string;
    /**
     * Round one, as the JSON body of `PUT /v1/psi/{peer}/blinded`.
     */
    blindedJson(): string;
    /**
     * The titles of this device's favourites that the peer also has.
     */
    finish(peer_blinded_json: string, peer_answer_json: string): string[];
}

/**
 * This device's part in one federated round with secure aggregation (see `DeviceRound`).
 * Every method takes and returns the JSON of `/v1/rounds`; the Worker relays it.
 */
export class RoundClient {
    free(): void;
    [Symbol.dispose](): void;
    /**
     * `RoundKeysMessage` JSON for `POST …/keys`.
     */
    keysJson(): string;
    /**
     * The masked input (`POST …/input` as little-endian bytes) of `update`, clipped to the
     * round's L2 bound `clip`, quantised for `expectedClients` and noised on this device
     * (`noiseMultiplier`, 0 for none), from the mailbox's JSON.
     */
    maskedInput(mailbox_json: string, update: Float32Array | number[], clip: number, expected_clients: number, noise_multiplier: number): Uint32Array;
    /**
     * Joins `round` of `modelVersion` as `client` (from `POST /v1/rounds/{round}/join`) with
     * the round's `threshold` and, for SecAgg+, its `neighbours` and `shareThreshold` (both
     * `null` on the complete graph). Its round keys are signed with a key of this round only;
     * the Worker signs the requests that carry them with the device identity.
     */
    constructor(round: number, model_version: number, client: number, threshold: number, neighbours?: number | null, share_threshold?: number | null);
    /**
     * `RoundSharesMessage` JSON for `POST …/shares`, from the roster's JSON.
     */
    sharesJson(roster_json: string): string;
    /**
     * `RoundSignatureMessage` JSON for `POST …/signature`, from the survivors' JSON.
     */
    signatureJson(survivors_json: string): string;
    /**
     * `RoundUnmaskMessage` JSON for `POST …/unmask`, from the signatures' JSON; throws (and
     * reveals nothing) unless enough survivors signed the same set.
     */
    unmaskJson(signatures_json: string): string;
    /**
     * Whether the L2 clip bound the update.
     */
    readonly clipped: boolean;
    /**
     * The update's L2 norm before clipping (NaN before `maskedInput`).
     */
    readonly normBeforeClip: number;
}

/**
 * Parses, canonicalises and hashes an export without keeping anything; returns how many
 * favourites were hashed (for benchmarks).
 */
export function importAndHash(bytes: Uint8Array | number[]): number;

/**
 * What taking part in a round with `settingsJson` (from `GET /v1/rounds/current`) costs this
 * device after `rhoSpent` of earlier rounds, under `floorsJson` (`PrivacyFloors` JSON, `null`
 * for the defaults): `RoundCharge` JSON (`rho`, `epsilon`, `epsilon_total`). Throws, naming the
 * floor, for a round below one or past the budget.
 */
export function roundCharge(settings_json: string, rho_spent: number, floors_json?: string | null): string;

export type InitInput = RequestInfo | URL | Response | BufferSource | WebAssembly.Module;

export interface InitOutput {
    readonly memory: WebAssembly.Memory;
    readonly __wbg_deviceidentity_free: (a: number, b: number) => void;
    readonly __wbg_meshsession_free: (a: number, b: number) => void;
    readonly __wbg_mutualfavourites_free: (a: number, b: number) => void;
    readonly __wbg_roundclient_free: (a: number, b: number) => void;
    readonly deviceidentity_authorization: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => [number, number, number, number];
    readonly deviceidentity_fromSecret: (a: number, b: number) => [number, number, number];
    readonly deviceidentity_generate: () => [number, number, number];
    readonly deviceidentity_secretKey: (a: number) => [number, number];
    readonly deviceidentity_userId: (a: number) => [number, number];
    readonly importAndHash: (a: number, b: number) => [number, number, number];
    readonly meshsession_activity: (a: number) => [number, number, number];
    readonly meshsession_activityBytes: (a: number) => [number, number];
    readonly meshsession_analyse: (a: number, b: number, c: number) => [number, number, number];
    readonly meshsession_candidatesRequestJson: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly meshsession_clear: (a: number) => void;
    readonly meshsession_contentRequests: (a: number) => [number, number, number];
    readonly meshsession_explain: (a: number, b: any) => [number, number, number];
    readonly meshsession_importFile: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly meshsession_loadActivity: (a: number, b: number, c: number) => [number, number];
    readonly meshsession_loadSignals: (a: number, b: number, c: number) => [number, number, number];
    readonly meshsession_modelVersion: (a: number) => number;
    readonly meshsession_mutualFavourites: (a: number) => [number, number, number];
    readonly meshsession_new: (a: number, b: number) => [number, number, number];
    readonly meshsession_pendingUpdate: (a: number, b: number) => [number, number, number, number];
    readonly meshsession_profileUploadJson: (a: number, b: number, c: number, d: number) => [number, number, number, number];
    readonly meshsession_prune: (a: number, b: number, c: number) => [number, number, number];
    readonly meshsession_pruneSource: (a: number, b: number, c: number) => [number, number, number];
    readonly meshsession_pruneSummary: (a: number, b: number, c: number) => [number, number];
    readonly meshsession_recordInteraction: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number];
    readonly meshsession_setContentEmbeddings: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly meshsession_setGrade: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly meshsession_setIntents: (a: number, b: number, c: number, d: number, e: number) => [number, number, number];
    readonly meshsession_setSummaryGrade: (a: number, b: number, c: number, d: number, e: number) => [number, number];
    readonly meshsession_setTone: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number];
    readonly meshsession_setTraitEnabled: (a: number, b: number, c: number, d: number) => void;
    readonly meshsession_setWeightPolicy: (a: number, b: number, c: number) => [number, number];
    readonly meshsession_signals: (a: number) => [number, number, number];
    readonly meshsession_signalsBytes: (a: number) => [number, number];
    readonly meshsession_summary: (a: number) => [number, number, number];
    readonly meshsession_tonePrototypes: (a: number) => [number, number, number];
    readonly meshsession_trainLocally: (a: number, b: number, c: number) => [number, number, number];
    readonly meshsession_traits: (a: number) => [number, number, number];
    readonly mutualfavourites_answerJson: (a: number, b: number, c: number) => [number, number, number, number];
    readonly mutualfavourites_blindedJson: (a: number) => [number, number, number, number];
    readonly mutualfavourites_finish: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly roundCharge: (a: number, b: number, c: number, d: number, e: number) => [number, number, number, number];
    readonly roundclient_clipped: (a: number) => number;
    readonly roundclient_keysJson: (a: number) => [number, number, number, number];
    readonly roundclient_maskedInput: (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number) => [number, number, number, number];
    readonly roundclient_new: (a: number, b: number, c: number, d: number, e: number, f: number) => [number, number, number];
    readonly roundclient_normBeforeClip: (a: number) => number;
    readonly roundclient_sharesJson: (a: number, b: number, c: number) => [number, number, number, number];
    readonly roundclient_signatureJson: (a: number, b: number, c: number) => [number, number, number, number];
    readonly roundclient_unmaskJson: (a: number, b: number, c: number) => [number, number, number, number];
    readonly __wbindgen_malloc: (a: number, b: number) => number;
    readonly __wbindgen_realloc: (a: number, b: number, c: number, d: number) => number;
    readonly __wbindgen_free: (a: number, b: number, c: number) => void;
    readonly __wbindgen_exn_store: (a: number) => void;
    readonly __externref_table_alloc: () => number;
    readonly __wbindgen_externrefs: WebAssembly.Table;
    readonly __externref_table_dealloc: (a: number) => void;
    readonly __externref_drop_slice: (a: number, b: number) => void;
    readonly __wbindgen_start: () => void;
}

export type SyncInitInput = BufferSource | WebAssembly.Module;

/**
 * Instantiates the given `module`, which can either be bytes or
 * a precompiled `WebAssembly.Module`.
 *
 * @param {{ module: SyncInitInput }} module - Passing `SyncInitInput` directly is deprecated.
 *
 * @returns {InitOutput}
 */
export function initSync(module: { module: SyncInitInput } | SyncInitInput): InitOutput;

/**
 * If `module_or_path` is {RequestInfo} or {URL}, makes a request and
 * for everything else, calls `WebAssembly.instantiate` directly.
 *
 * @param {{ module_or_path: InitInput | Promise<InitInput> }} module_or_path - Passing `InitInput` directly is deprecated.
 *
 * @returns {Promise<InitOutput>}
 */
export default function __wbg_init (module_or_path?: { module_or_path: InitInput | Promise<InitInput> } | InitInput | Promise<InitInput>): Promise<InitOutput>;

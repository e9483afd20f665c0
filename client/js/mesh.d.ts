// Types of the main-thread API in mesh.js. Field names follow the wire and view types of the
// Rust crates (snake_case); the JSON Schemas in shared/schema/ describe the wire ones.

export type PrivacyGrade = "public" | "limited" | "private";
export type SignalSource =
  | "typed_list" | "letterboxd" | "goodreads" | "spotify" | "listenbrainz" | "lastfm" | "github" | "movielens";
export type IntentTopic = "collaborators" | "project_feedback" | "friends" | "mentoring";

export interface CardTrait { label: string; strength: number }
export interface SkippedRow { line: number; reason: string }
export interface FavouriteView { title: string; in_catalogue: boolean }

/** The on-device taste summary (nothing of it has left the device). */
export interface Summary {
  model_version: number;
  favourites: FavouriteView[];
  skipped: SkippedRow[];
  traits: CardTrait[];
  /** The first 16 of the 256 numbers of the taste vector. */
  vector_preview: number[];
  vector_fingerprint: string;
  hashes_fingerprint: string;
}

/** One signal in the audit screen. */
export interface SignalView {
  id: string;
  source: SignalSource;
  grade: PrivacyGrade;
  kind: "film" | "book" | "artist" | "album" | "track" | "repository" | "any";
  title: string;
  creator: string | null;
  weight: number;
}

export interface ImportReport {
  format: string;
  source: SignalSource;
  rows: number;
  imported_rows: number;
  duplicates_merged: number;
  skipped: SkippedRow[];
  favourites: number;
  summary: Summary | null;
}

/** What the device holds: the summary (null before any favourite) and the signals. */
export interface DeviceState {
  summary: Summary | null;
  signals: SignalView[];
}

export interface InferredTrait {
  id: string;
  label: string;
  score: number;
  favourites: string[];
  favourite_count: number;
  enabled: boolean;
  explanation: string;
}

export interface TraitsResult {
  traits: {
    encoder: string;
    favourites_embedded: number;
    favourites_total: number;
    traits: InferredTrait[];
    summary: string;
  };
  /** Embedding work done for this call; null when only a toggle changed. */
  stats: { cached: number; embedded: number; encoderLoadMs: number | null; embedMs: number } | null;
  summary?: Summary | null;
}

export interface PublicCard { display_name: string; traits: CardTrait[]; public_favourites: string[] }
export interface Candidate { user_id: string; score: number; card: PublicCard }
export type ReasonKind =
  | { type: "shared_favourite"; title: string }
  | { type: "shared_trait"; label: string }
  | { type: "similar_taste"; percent: number };
/** "Why this match?": one or two chips, computed on the device from the public card. */
export interface Explanation { schema_version: number; chips: { kind: ReasonKind; text: string }[] }
export interface Match { candidate: Candidate; explanation: Explanation }

export type InteractionKind = "dwell" | "scroll_pause" | "replay" | "room";
export interface Interaction { kind: InteractionKind; durationMs?: number; atMs: number; offsetMinutes: number }
export type SummaryKind = "activity_windows" | "tone";
/** Behavioural and conversational summaries (computed and kept on the device). */
export interface ActivityView {
  interactions: number;
  active_days: number;
  /** As it would be published: a 24-bit UTC hour mask in 2-hour blocks and the time zone. */
  activity: { active_hours_utc: number; utc_offset_hours: number } | null;
  activity_grade: PrivacyGrade;
  mean_dwell_s: number;
  scroll_pauses_per_day: number;
  replays_per_day: number;
  room_minutes: number;
  posts_scored: number;
  /** Tenths of supportive, humorous, analytical. */
  tone: { tenths: [number, number, number] } | null;
  tone_grade: PrivacyGrade;
}

export interface ActiveIntent { topic: IntentTopic; until: number }

export interface MutualFavouritesResult {
  peer: string;
  /** This device's favourites (public or limited) that the peer also has. */
  titles: string[];
  /** How many of this device's favourites took part, blinded. */
  offered: number;
  sent: number;
  received: number;
}

export interface RoundResult {
  round: number;
  client: number;
  modelVersion: number;
  outcome: string;
  reason: string | null;
  newModelVersion: number | null;
  /** Bytes that left the device in this round (keys, encrypted shares, masked update, signature, unmask shares). */
  bytesUp: number;
  bytesDown: number;
  clipped: boolean;
  normBeforeClip: number;
  clip: number;
  noiseMultiplier: number;
  epsilon: number | null;
  epsilonTotal: number | null;
  /** ε (at the floors' δ) this round costs this device, counted as if only `threshold` devices survive. */
  deviceEpsilon: number;
  /** ε of every round this device took part in, this one included. */
  deviceEpsilonTotal: number;
  lossBefore: number;
  lossAfter: number;
}

/** What this device requires of a round (every field optional; defaults in brackets). */
export interface PrivacyFloors {
  /** Fewest devices a round may be planned for [20]. */
  min_cohort?: number;
  /** Smallest on-device noise multiplier [1]. */
  min_noise_multiplier?: number;
  /** Largest δ [1e-5]. */
  max_delta?: number;
  /** Lifetime ε this device may spend on rounds [16]. */
  epsilon_budget?: number;
}

export class MeshError extends Error {}

/** The engine in a module Worker; every method resolves with the worker's answer or rejects with a MeshError. */
export class Mesh {
  constructor(workerUrl?: URL | string);
  /** Loads the wasm module and the served model, restores this device's state from IndexedDB, registers the device key. */
  init(options?: { coordinator?: string }): Promise<DeviceState & { userId: string; modelVersion: number; intents: ActiveIntent[]; activity: ActivityView }>;
  /** Replaces the typed list with `text` (one favourite per line). */
  analyse(text: string): Promise<DeviceState & { report: { rows: null; skipped: SkippedRow[] } }>;
  /** Reads an export file (transferred); `format` "" detects it. */
  importFile(bytes: ArrayBuffer, format?: string): Promise<DeviceState & { report: ImportReport }>;
  traits(): Promise<TraitsResult>;
  setTraitEnabled(id: string, enabled: boolean): Promise<TraitsResult>;
  prune(id: string): Promise<DeviceState>;
  pruneSource(source: SignalSource): Promise<DeviceState & { removed: number }>;
  setGrade(id: string, grade: PrivacyGrade): Promise<DeviceState>;
  /** Opt-in: sends the taste vector and the public card. */
  publish(displayName: string, showFavourites: number): Promise<{ userId: string; bytesSent: number }>;
  matches(k?: number): Promise<Match[]>;
  /** Replaces the intent flags (an empty list clears them). */
  setIntents(flags: { topic: IntentTopic; ttl_hours: number }[]): Promise<ActiveIntent[]>;
  intents(): Promise<ActiveIntent[]>;
  /** Swipe-to-tune: true is "more like this", false "less like this". */
  feedback(target: string, moreLikeThis: boolean): Promise<{ target: string; moreLikeThis: boolean }>;
  /** No suggestions of this category for 30 days. */
  snooze(category: string): Promise<{ category: string }>;
  block(target: string): Promise<{ target: string }>;
  /** Marks this person present in `room` for 60 s and lists the others there. */
  room(room: string, k?: number): Promise<Match[]>;
  /** Private set intersection with `peer` (who must run it too, within a minute). */
  mutualFavourites(peer: string): Promise<MutualFavouritesResult>;
  /** Micro-interactions, summarised on the device; nothing is sent. Ignored while the device holds no favourites (before the first import, and after an opt-out). */
  recordInteractions(events: Interaction[]): Promise<ActivityView>;
  activity(): Promise<ActivityView>;
  /** Scores the tone of the person's own posts with the encoder on the device. */
  scoreTone(posts: string[]): Promise<ActivityView>;
  /** Only a summary graded public goes on the public card. */
  setSummaryGrade(kind: SummaryKind, grade: PrivacyGrade): Promise<ActivityView>;
  pruneSummary(kind: SummaryKind): Promise<ActivityView>;
  /** Trains on this device and takes part in the coordinator's current round. */
  /** Trains on this device and takes part in the current round, if it meets this device's privacy floors (refused with the floor named otherwise). */
  federatedRound(onProgress?: (progress: { step: number; of: number; phase: string }) => void, options?: { floors?: PrivacyFloors }): Promise<RoundResult>;
  /** Deletes the profile and events at the coordinator and everything on this device; makes a new device key. */
  optOut(): Promise<DeviceState & { deletedUserId: string; userId: string }>;
  terminate(): void;
}

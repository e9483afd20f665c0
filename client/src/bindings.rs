//! The whole JavaScript surface of the client. Everything here is a thin adapter over
//! [`DeviceSession`] and [`DeviceIdentity`]: bytes or `JsValue` in, `Result<_, JsError>` out.
// These items are reached from JavaScript through wasm-bindgen, not from Rust.
#![allow(unreachable_pub)]

use mesh_shared::{DiscoveryCandidate, ExportFormat, SignalSource, UserId, WeightPolicy};
use wasm_bindgen::prelude::*;

use crate::{DeviceIdentity, DeviceRound, DeviceSession, Error};

/// The on-device engine for one user (see `DeviceSession`).
#[wasm_bindgen(js_name = MeshSession)]
#[derive(Debug)]
pub struct JsMeshSession(DeviceSession);

#[wasm_bindgen(js_class = MeshSession)]
impl JsMeshSession {
    /// Decodes the model bytes from `GET /v1/model`.
    #[wasm_bindgen(constructor)]
    pub fn new(model_bytes: &[u8]) -> Result<JsMeshSession, JsError> {
        Ok(Self(DeviceSession::new(model_bytes).map_err(js_error)?))
    }

    /// The model version in use.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> u32 {
        self.0.model_version()
    }

    /// Replaces the typed-list signals with a typed list; returns `{model_version, favourites,
    /// skipped, traits, vector_preview, vector_fingerprint}`.
    pub fn analyse(&mut self, text: &str) -> Result<JsValue, JsError> {
        let view = self.0.analyse(text).map_err(js_error)?;
        to_js(&view)
    }

    /// Trains the served model locally on the favourites for `epochs` passes (seeded by
    /// `seed`, a random number from the caller) and keeps the clipped update for the next
    /// federated round. Returns `{model_version, favourites, loss_before, loss_after,
    /// rows_updated, update_norm, norm_before_clip, clipped}`.
    #[wasm_bindgen(js_name = trainLocally)]
    pub fn train_locally(&mut self, epochs: u32, seed: f64) -> Result<JsValue, JsError> {
        if !(seed.is_finite() && seed >= 0.0) {
            return Err(JsError::new("seed must be a finite number ≥ 0"));
        }
        let options = mesh_models::LocalTrainingOptions {
            epochs,
            seed: seed as u64,
            ..mesh_models::LocalTrainingOptions::default()
        };
        let view = self.0.train_locally(&options).map_err(js_error)?;
        to_js(&view)
    }

    /// The favourites' texts to embed, `[{key, text}]`: embed those the cache lacks (with the
    /// encoder module) and hand them to `setContentEmbeddings`.
    #[wasm_bindgen(js_name = contentRequests)]
    pub fn content_requests(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.content_requests())
    }

    /// Stores content embeddings: `keys` from `contentRequests`, `values` their 384-value
    /// unit embeddings concatenated. Returns how many are stored in all.
    #[wasm_bindgen(js_name = setContentEmbeddings)]
    pub fn set_content_embeddings(
        &mut self,
        keys: Vec<String>,
        values: &[f32],
    ) -> Result<u32, JsError> {
        let stored = self
            .0
            .set_content_embeddings(&keys, values)
            .map_err(js_error)?;
        Ok(u32::try_from(stored).unwrap_or(u32::MAX))
    }

    /// Replaces the active intents: `weights.length` intents, each the 384-value unit
    /// embedding of its text (from the encoder module, concatenated in `values`) and its
    /// weight. They move the taste vector through the model's content tower until replaced;
    /// clear them (empty arrays) when their time is up. Returns how many are active.
    #[wasm_bindgen(js_name = setIntents)]
    pub fn set_intents(&mut self, values: &[f32], weights: &[f32]) -> Result<u32, JsError> {
        let active = self.0.set_intents(values, weights).map_err(js_error)?;
        Ok(u32::try_from(active).unwrap_or(u32::MAX))
    }

    /// The pending local-training update as the first `dimension` weights of the model's
    /// table (what a round of that dimension aggregates). Throws before `trainLocally`.
    #[wasm_bindgen(js_name = pendingUpdate)]
    pub fn pending_update(&self, dimension: u32) -> Result<Vec<f32>, JsError> {
        self.0
            .pending_update_dense(dimension as usize)
            .map_err(js_error)
    }

    /// The traits JSON (`shared/schema/traits.schema.json`): `{encoder, favourites_embedded,
    /// favourites_total, traits: [{id, label, score, favourites, favourite_count, enabled,
    /// explanation}], summary}`.
    pub fn traits(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.traits_report())
    }

    /// Turns a trait off (never published) or back on.
    #[wasm_bindgen(js_name = setTraitEnabled)]
    pub fn set_trait_enabled(&mut self, id: &str, enabled: bool) {
        self.0.set_trait_enabled(id, enabled);
    }

    /// Sets "now" (Unix ms) and the recency half-life (days) for later imports.
    #[wasm_bindgen(js_name = setWeightPolicy)]
    pub fn set_weight_policy(&mut self, now_ms: f64, half_life_days: f32) -> Result<(), JsError> {
        if !(now_ms.is_finite()
            && now_ms >= 0.0
            && half_life_days.is_finite()
            && half_life_days > 0.0)
        {
            return Err(JsError::new("now_ms must be ≥ 0 and half_life_days > 0"));
        }
        self.0.set_weight_policy(WeightPolicy {
            now_ms: Some(now_ms as u64),
            half_life_days,
        });
        Ok(())
    }

    /// Imports an export file's bytes; `format` is a format name (e.g. `goodreads_library`)
    /// or `undefined` to detect it. Returns `{format, source, rows, imported_rows,
    /// duplicates_merged, skipped: [{line, reason}], favourites, summary}`.
    #[wasm_bindgen(js_name = importFile)]
    pub fn import_file(
        &mut self,
        bytes: &[u8],
        format: Option<String>,
    ) -> Result<JsValue, JsError> {
        let format = format
            .map(|name| {
                serde_json::from_value::<ExportFormat>(serde_json::Value::String(name.clone()))
                    .map_err(|_| JsError::new(&format!("unknown export format {name:?}")))
            })
            .transpose()?;
        let view = self.0.import(bytes, format).map_err(js_error)?;
        to_js(&view)
    }

    /// The audit list: `[{id, source, grade, kind, title, creator, weight}]`.
    pub fn signals(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.signals())
    }

    /// Removes one signal by id; returns whether it existed.
    pub fn prune(&mut self, id: &str) -> Result<bool, JsError> {
        self.0.prune(id).map_err(js_error)
    }

    /// Removes every signal of a source (e.g. `spotify`); returns how many.
    #[wasm_bindgen(js_name = pruneSource)]
    pub fn prune_source(&mut self, source: &str) -> Result<u32, JsError> {
        let source: SignalSource =
            serde_json::from_value(serde_json::Value::String(source.to_owned()))
                .map_err(|_| JsError::new(&format!("unknown signal source {source:?}")))?;
        Ok(self.0.prune_source(source).map_err(js_error)? as u32)
    }

    /// Sets a signal's grade: `public`, `limited` or `private`.
    #[wasm_bindgen(js_name = setGrade)]
    pub fn set_grade(&mut self, id: &str, grade: &str) -> Result<bool, JsError> {
        self.0
            .set_grade(
                id,
                named(grade, "privacy grade", "public, limited or private")?,
            )
            .map_err(js_error)
    }

    /// Records a micro-interaction: `kind` is `dwell`, `scroll_pause`, `replay` or `room`;
    /// `duration_ms` counts for dwell and room time; `utc_offset_minutes` is east-positive
    /// (`-new Date().getTimezoneOffset()`). Kept on this device.
    #[wasm_bindgen(js_name = recordInteraction)]
    pub fn record_interaction(
        &mut self,
        kind: &str,
        duration_ms: f64,
        at_ms: f64,
        utc_offset_minutes: i32,
    ) -> Result<(), JsError> {
        let kind = named(kind, "interaction", "dwell, scroll_pause, replay or room")?;
        self.0
            .activity_mut()
            .record(kind, duration_ms, at_ms, utc_offset_minutes)
            .map_err(js_error)
    }

    /// The behavioural summaries for the audit screen: `{interactions, active_days, activity,
    /// activity_grade, mean_dwell_s, scroll_pauses_per_day, replays_per_day, room_minutes,
    /// posts_scored, tone, tone_grade}`.
    pub fn activity(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.activity().view())
    }

    /// Grades a summary (`activity_windows` or `tone`): only `public` publishes it.
    #[wasm_bindgen(js_name = setSummaryGrade)]
    pub fn set_summary_grade(&mut self, kind: &str, grade: &str) -> Result<(), JsError> {
        let kind = named(kind, "summary", "activity_windows or tone")?;
        let grade = named(grade, "privacy grade", "public, limited or private")?;
        self.0.activity_mut().set_grade(kind, grade);
        Ok(())
    }

    /// Forgets a summary (`activity_windows` or `tone`) and what it was computed from.
    #[wasm_bindgen(js_name = pruneSummary)]
    pub fn prune_summary(&mut self, kind: &str) -> Result<(), JsError> {
        let kind = named(kind, "summary", "activity_windows or tone")?;
        self.0.activity_mut().prune(kind);
        Ok(())
    }

    /// The tone prototype sentences, one array per tone (supportive, humorous, analytical),
    /// for the encoder to embed.
    #[wasm_bindgen(js_name = tonePrototypes)]
    pub fn tone_prototypes(&self) -> Result<JsValue, JsError> {
        to_js(&crate::TONE_PROTOTYPES)
    }

    /// Scores the tone of `posts` posts from their mean embedding and the three prototype
    /// means (concatenated, in tone order).
    #[wasm_bindgen(js_name = setTone)]
    pub fn set_tone(
        &mut self,
        posts_mean: &[f32],
        prototype_means: &[f32],
        posts: u32,
    ) -> Result<(), JsError> {
        let dim = posts_mean.len().max(1);
        let prototypes: Vec<Vec<f32>> = prototype_means.chunks(dim).map(<[f32]>::to_vec).collect();
        self.0
            .activity_mut()
            .set_tone(posts_mean, &prototypes, posts)
            .map_err(js_error)
    }

    /// The behavioural log in stored form, for this device's IndexedDB only.
    #[wasm_bindgen(js_name = activityBytes)]
    pub fn activity_bytes(&self) -> Vec<u8> {
        self.0.activity().to_bytes()
    }

    /// Restores a stored behavioural log.
    #[wasm_bindgen(js_name = loadActivity)]
    pub fn load_activity(&mut self, bytes: &[u8]) -> Result<(), JsError> {
        *self.0.activity_mut() = crate::ActivityLog::from_bytes(bytes).map_err(js_error)?;
        Ok(())
    }

    /// Opt-out on the device: forgets every signal, the vector and the traits.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The signals in stored form, for this device's IndexedDB only.
    #[wasm_bindgen(js_name = signalsBytes)]
    pub fn signals_bytes(&self) -> Vec<u8> {
        self.0.signals_bytes()
    }

    /// Restores stored signals; returns the summary (or `undefined` when there are none).
    #[wasm_bindgen(js_name = loadSignals)]
    pub fn load_signals(&mut self, bytes: &[u8]) -> Result<JsValue, JsError> {
        let summary = self.0.load_signals(bytes).map_err(js_error)?;
        to_js(&summary)
    }

    /// The current summary, or `undefined` without signals.
    pub fn summary(&self) -> Result<JsValue, JsError> {
        to_js(&self.0.summary())
    }

    /// The JSON body of `PUT /v1/profiles/{id}`: what leaves the device on opt-in.
    #[wasm_bindgen(js_name = profileUploadJson)]
    pub fn profile_upload_json(
        &self,
        display_name: &str,
        show_favourites: u32,
    ) -> Result<String, JsError> {
        let upload = self
            .0
            .profile_upload(display_name, show_favourites as usize)
            .map_err(js_error)?;
        to_json(&upload)
    }

    /// The JSON body of `POST /v1/discovery/candidates`.
    #[wasm_bindgen(js_name = candidatesRequestJson)]
    pub fn candidates_request_json(
        &self,
        k: u32,
        exclude_user_id: Option<String>,
    ) -> Result<String, JsError> {
        let exclude = exclude_user_id
            .map(UserId::try_from)
            .transpose()
            .map_err(|e| js_error(e.into()))?;
        let request = self.0.candidates_request(k, exclude).map_err(js_error)?;
        to_json(&request)
    }

    /// "Why this match?" for one candidate object from the candidates response.
    pub fn explain(&self, candidate: JsValue) -> Result<JsValue, JsError> {
        let candidate: DiscoveryCandidate =
            serde_wasm_bindgen::from_value(candidate).map_err(|e| {
                js_error(Error::Json {
                    what: "candidate",
                    reason: e.to_string(),
                })
            })?;
        let explanation = self.0.explain(&candidate).map_err(js_error)?;
        to_js(&explanation)
    }

    /// Starts revealing mutual favourites to one matched person (see `MutualFavourites`).
    #[wasm_bindgen(js_name = mutualFavourites)]
    pub fn mutual_favourites(&self) -> Result<JsMutualFavourites, JsError> {
        Ok(JsMutualFavourites(
            self.0.mutual_favourites().map_err(js_error)?,
        ))
    }
}

/// One private set intersection with one peer; its secret never leaves this object.
#[wasm_bindgen(js_name = MutualFavourites)]
#[derive(Debug)]
pub struct JsMutualFavourites(crate::MutualFavourites);

#[wasm_bindgen(js_class = MutualFavourites)]
impl JsMutualFavourites {
    /// Round one, as the JSON body of `PUT /v1/psi/{peer}/blinded`.
    #[wasm_bindgen(js_name = blindedJson)]
    pub fn blinded_json(&self) -> Result<String, JsError> {
        to_json(&self.0.blinded())
    }

    /// Round two, as the JSON body of `PUT /v1/psi/{peer}/answer`, from the peer's round one.
    #[wasm_bindgen(js_name = answerJson)]
    pub fn answer_json(&self, peer_blinded_json: &str) -> Result<String, JsError> {
        let answer = self
            .0
            .answer(&psi_message(
                peer_blinded_json,
                "peer's blinded favourites",
            )?)
            .map_err(js_error)?;
        to_json(&answer)
    }

    /// The titles of this device's favourites that the peer also has.
    pub fn finish(
        &self,
        peer_blinded_json: &str,
        peer_answer_json: &str,
    ) -> Result<Vec<String>, JsError> {
        self.0
            .finish(
                &psi_message(peer_blinded_json, "peer's blinded favourites")?,
                &psi_message(peer_answer_json, "peer's answer")?,
            )
            .map_err(js_error)
    }
}

/// A snake_case name of a serde enum, or an error listing the expected names.
fn named<T: serde::de::DeserializeOwned>(
    name: &str,
    what: &str,
    expected: &str,
) -> Result<T, JsError> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| JsError::new(&format!("unknown {what} {name:?}: expected {expected}")))
}

fn psi_message(json: &str, what: &'static str) -> Result<mesh_shared::PsiMessage, JsError> {
    serde_json::from_str(json).map_err(|e| {
        js_error(Error::Json {
            what,
            reason: e.to_string(),
        })
    })
}

/// Parses, canonicalises and hashes an export without keeping anything; returns how many
/// favourites were hashed (for benchmarks).
#[wasm_bindgen(js_name = importAndHash)]
pub fn import_and_hash(bytes: &[u8]) -> Result<u32, JsError> {
    Ok(crate::import_and_hash(bytes).map_err(js_error)? as u32)
}

/// The device key pair (see `DeviceIdentity`).
#[wasm_bindgen(js_name = DeviceIdentity)]
#[derive(Debug)]
pub struct JsDeviceIdentity(DeviceIdentity);

#[wasm_bindgen(js_class = DeviceIdentity)]
impl JsDeviceIdentity {
    /// A fresh key pair from `crypto.getRandomValues`.
    pub fn generate() -> Result<JsDeviceIdentity, JsError> {
        Ok(Self(DeviceIdentity::generate().map_err(js_error)?))
    }

    /// The identity for a secret key stored on this device.
    #[wasm_bindgen(js_name = fromSecret)]
    pub fn from_secret(secret: &[u8]) -> Result<JsDeviceIdentity, JsError> {
        Ok(Self(DeviceIdentity::from_secret(secret).map_err(js_error)?))
    }

    /// The 32 secret-key bytes, to keep in this device's storage only.
    #[wasm_bindgen(js_name = secretKey)]
    pub fn secret_key(&self) -> Vec<u8> {
        self.0.secret_key().to_vec()
    }

    /// The user id this key owns.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.0.user_id().to_string()
    }

    /// The `Authorization` header for a request with exactly these body bytes.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        timestamp_ms: f64,
        body: &[u8],
    ) -> Result<String, JsError> {
        if !(timestamp_ms.is_finite() && timestamp_ms >= 0.0) {
            return Err(JsError::new(
                "timestamp_ms must be a non-negative number of milliseconds",
            ));
        }
        Ok(self
            .0
            .authorization(method, path, timestamp_ms as u64, body))
    }
}

/// This device's part in one federated round with secure aggregation (see `DeviceRound`).
/// Every method takes and returns the JSON of `/v1/rounds`; the Worker relays it.
#[wasm_bindgen(js_name = RoundClient)]
#[derive(Debug)]
pub struct JsRoundClient(DeviceRound);

#[wasm_bindgen(js_class = RoundClient)]
impl JsRoundClient {
    /// Joins `round` of `modelVersion` as `client` (from `POST /v1/rounds/{round}/join`) with
    /// the round's `threshold` and, for SecAgg+, its `neighbours` and `shareThreshold` (both
    /// `null` on the complete graph). Its round keys are signed with a key of this round only;
    /// the Worker signs the requests that carry them with the device identity.
    #[wasm_bindgen(constructor)]
    pub fn new(
        round: f64,
        model_version: u32,
        client: u32,
        threshold: u32,
        neighbours: Option<u32>,
        share_threshold: Option<u32>,
    ) -> Result<JsRoundClient, JsError> {
        if !(round.is_finite() && round >= 1.0 && round.fract() == 0.0) {
            return Err(JsError::new("round must be a whole number >= 1"));
        }
        let sparse = match (neighbours, share_threshold) {
            (Some(k), Some(t)) => Some((k as usize, t as usize)),
            (None, _) => None,
            (Some(_), None) => return Err(JsError::new("neighbours needs a shareThreshold")),
        };
        let device = DeviceRound::new(
            round as u64,
            model_version,
            client,
            threshold as usize,
            sparse,
        )
        .map_err(js_error)?;
        Ok(Self(device))
    }

    /// `RoundKeysMessage` JSON for `POST …/keys`.
    #[wasm_bindgen(js_name = keysJson)]
    pub fn keys_json(&self) -> Result<String, JsError> {
        self.0.keys_json().map_err(js_error)
    }

    /// `RoundSharesMessage` JSON for `POST …/shares`, from the roster's JSON.
    #[wasm_bindgen(js_name = sharesJson)]
    pub fn shares_json(&mut self, roster_json: &str) -> Result<String, JsError> {
        self.0.shares_json(roster_json).map_err(js_error)
    }

    /// The masked input (`POST …/input` as little-endian bytes) of `update`, clipped to the
    /// round's L2 bound `clip`, quantised for `expectedClients` and noised on this device
    /// (`noiseMultiplier`, 0 for none), from the mailbox's JSON.
    #[wasm_bindgen(js_name = maskedInput)]
    pub fn masked_input(
        &mut self,
        mailbox_json: &str,
        update: &[f32],
        clip: f32,
        expected_clients: u32,
        noise_multiplier: f64,
    ) -> Result<Vec<u32>, JsError> {
        self.0
            .masked_input(
                mailbox_json,
                update,
                clip,
                expected_clients,
                noise_multiplier,
            )
            .map_err(js_error)
    }

    /// Whether the L2 clip bound the update.
    #[wasm_bindgen(getter)]
    pub fn clipped(&self) -> bool {
        self.0.clipped()
    }

    /// The update's L2 norm before clipping (NaN before `maskedInput`).
    #[wasm_bindgen(getter, js_name = normBeforeClip)]
    pub fn norm_before_clip(&self) -> f32 {
        self.0.norm_before_clip().unwrap_or(f32::NAN)
    }

    /// `RoundSignatureMessage` JSON for `POST …/signature`, from the survivors' JSON.
    #[wasm_bindgen(js_name = signatureJson)]
    pub fn signature_json(&mut self, survivors_json: &str) -> Result<String, JsError> {
        self.0.signature_json(survivors_json).map_err(js_error)
    }

    /// `RoundUnmaskMessage` JSON for `POST …/unmask`, from the signatures' JSON; throws (and
    /// reveals nothing) unless enough survivors signed the same set.
    #[wasm_bindgen(js_name = unmaskJson)]
    pub fn unmask_json(&mut self, signatures_json: &str) -> Result<String, JsError> {
        self.0.unmask_json(signatures_json).map_err(js_error)
    }
}

/// What taking part in a round with `settingsJson` (from `GET /v1/rounds/current`) costs this
/// device after `rhoSpent` of earlier rounds, under `floorsJson` (`PrivacyFloors` JSON, `null`
/// for the defaults): `RoundCharge` JSON (`rho`, `epsilon`, `epsilon_total`). Throws, naming the
/// floor, for a round below one or past the budget.
#[wasm_bindgen(js_name = roundCharge)]
pub fn round_charge(
    settings_json: &str,
    rho_spent: f64,
    floors_json: Option<String>,
) -> Result<String, JsError> {
    crate::round_charge(settings_json, rho_spent, floors_json.as_deref()).map_err(js_error)
}

fn js_error(error: Error) -> JsError {
    JsError::new(&error.to_string())
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(value).map_err(|e| {
        js_error(Error::Json {
            what: "result",
            reason: e.to_string(),
        })
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| {
        js_error(Error::Json {
            what: "request body",
            reason: e.to_string(),
        })
    })
}

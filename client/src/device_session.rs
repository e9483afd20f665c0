use std::collections::{BTreeSet, HashMap};

use mesh_models::{
    CONTENT_DIM, Catalogue, ENCODER_NAME, EmbeddedFavourite, FavouriteProfile, LocalTrainer,
    LocalTrainingOptions, LocalUpdate, TraitLexicon, infer_content_traits, profile_from_signals,
    resolved_signal_key, signal_content_text,
};
use mesh_shared::{
    CandidatesRequest, CardTrait, DiscoveryCandidate, Explanation, ExplanationInput, ExportFormat,
    FavouriteHasher, ImportReport, Intent, ItemHash, ItemKey, ItemKind, ModelWeights,
    PROFILE_SCHEMA_VERSION, PrivacyGrade, ProfileUpload, PublicCard, Signal, SignalSet,
    SignalSource, SkippedRow, TASTE_DIM, TraitsReport, UserId, WeightPolicy, WeightedItem,
    check_content_embedding, explain, import_export, parse_favourite_line,
};
use serde::Serialize;

use crate::{ActivityLog, Error, MutualFavourites, Result};

/// Taste-vector components shown in the summary.
const PREVIEW_DIMS: usize = 16;
/// Most favourites a public card lists.
const MAX_PUBLIC_FAVOURITES: usize = 10;

/// The on-device engine for one user: the served model, the shipped catalogue, the user's
/// signals and the profile computed from them. Signals, their hashes and the profile stay in
/// here; only [`DeviceSession::profile_upload`] builds something meant to leave the device.
#[derive(Debug)]
pub struct DeviceSession {
    trainer: LocalTrainer,
    pending_update: Option<LocalUpdate>,
    catalogue: &'static Catalogue,
    signals: SignalSet,
    profile: Option<FavouriteProfile>,
    weight_policy: WeightPolicy,
    /// Content embeddings by [`ContentRequest::key`].
    content_embeddings: HashMap<String, Vec<f32>>,
    /// Active intents: `(embedding of the intent's text, weight)`.
    intents: Vec<(Vec<f32>, f32)>,
    /// Trait ids (or catalogue trait labels) the user turned off.
    disabled_traits: BTreeSet<String>,
    /// Behavioural and conversational signals and their grades.
    activity: ActivityLog,
}

/// A favourite's text that needs a content embedding, under the key its embedding is cached
/// by (a hash of the encoder's name and the text, so a changed text gets a new embedding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContentRequest {
    /// Cache key.
    pub key: String,
    /// The text to embed.
    pub text: String,
}

/// What the page shows of the current profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisView {
    /// Model version the vector belongs to.
    pub model_version: u32,
    /// The distinct favourites behind the vector.
    pub favourites: Vec<FavouriteView>,
    /// Lines of the last typed list or file that were not used, with reasons.
    pub skipped: Vec<SkippedRow>,
    /// Inferred traits, strongest first (from public and limited signals only).
    pub traits: Vec<CardTrait>,
    /// The first components of the taste vector.
    pub vector_preview: Vec<f32>,
    /// BLAKE3 fingerprint of the vector's exact bits.
    pub vector_fingerprint: String,
    /// BLAKE3 fingerprint of the favourites' keyed item hashes, in order: equal fingerprints
    /// mean the same canonical keys hashed to the same bytes.
    pub hashes_fingerprint: String,
}

/// One favourite behind the vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FavouriteView {
    /// Display title.
    pub title: String,
    /// Whether the catalogue knows it.
    pub in_catalogue: bool,
}

/// What an import did: the report's counts and skipped rows, and the new summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportView {
    /// The format read.
    pub format: ExportFormat,
    /// The source the signals were filed under.
    pub source: SignalSource,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows imported (including merged duplicates).
    pub imported_rows: usize,
    /// Rows merged into an earlier favourite.
    pub duplicates_merged: usize,
    /// Rows skipped, with line numbers and reasons.
    pub skipped: Vec<SkippedRow>,
    /// Distinct favourites the file gave.
    pub favourites: usize,
    /// The profile after the import.
    pub summary: Option<AnalysisView>,
}

/// What a local training run did; the update itself stays in the session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingView {
    /// The model version the update is against.
    pub model_version: u32,
    /// Public and limited favourites trained on.
    pub favourites: usize,
    /// Local objective before training (fixed evaluation draw).
    pub loss_before: f32,
    /// Local objective after training.
    pub loss_after: f32,
    /// Table rows the update changes (own favourites and sampled negatives).
    pub rows_updated: usize,
    /// L2 norm of the update as kept (after clipping).
    pub update_norm: f32,
    /// L2 norm before clipping.
    pub norm_before_clip: f32,
    /// Whether clipping scaled the update down.
    pub clipped: bool,
}

/// One signal for the audit screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalView {
    /// Id to prune or re-grade it with.
    pub id: String,
    /// Where it came from.
    pub source: SignalSource,
    /// Its privacy grade.
    pub grade: PrivacyGrade,
    /// Film, book, artist, …
    pub kind: ItemKind,
    /// Title as imported.
    pub title: String,
    /// Creator, if known.
    pub creator: Option<String>,
    /// Its weight.
    pub weight: f32,
}

impl DeviceSession {
    /// A session over model bytes as served by `GET /v1/model`, with no signals.
    ///
    /// # Errors
    /// [`Error::Shared`] when the bytes do not decode to a valid model.
    pub fn new(model_bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            trainer: LocalTrainer::new(ModelWeights::decode(model_bytes)?),
            pending_update: None,
            content_embeddings: HashMap::new(),
            intents: Vec::new(),
            disabled_traits: BTreeSet::new(),
            catalogue: Catalogue::embedded(),
            signals: SignalSet::default(),
            profile: None,
            weight_policy: WeightPolicy::default(),
            activity: ActivityLog::default(),
        })
    }

    /// The model version in use.
    pub fn model_version(&self) -> u32 {
        self.trainer.model().version()
    }

    /// Sets "now" (Unix ms, from the caller's clock) and the recency half-life used by later
    /// imports.
    pub fn set_weight_policy(&mut self, policy: WeightPolicy) {
        self.weight_policy = policy;
    }

    /// Replaces the typed-list signals with a typed list (one favourite per line) and returns
    /// the new summary.
    ///
    /// # Errors
    /// [`mesh_shared::Error::EmptyFavourites`] when the list holds no favourite and no other
    /// signal exists.
    pub fn analyse(&mut self, text: &str) -> Result<AnalysisView> {
        let report = import_export(
            text.as_bytes(),
            Some(ExportFormat::PlainList),
            &self.weight_policy,
        )?;
        if report.favourites.is_empty()
            && self
                .signals
                .signals()
                .iter()
                .all(|s| s.source == SignalSource::TypedList)
        {
            return Err(mesh_shared::Error::EmptyFavourites.into());
        }
        let skipped = report.skipped.clone();
        self.signals.apply_import(SignalSource::TypedList, &report);
        self.refresh()?;
        let mut view = self.summary().ok_or(Error::NotAnalysed)?;
        view.skipped = skipped;
        Ok(view)
    }

    /// Imports an export file (format detected, or checked against `format`), replacing the
    /// earlier signals of the same source. A file with no usable row changes nothing.
    ///
    /// # Errors
    /// A file of another format than `format`, or one that cannot be read as a whole.
    pub fn import(&mut self, bytes: &[u8], format: Option<ExportFormat>) -> Result<ImportView> {
        let report: ImportReport = import_export(bytes, format, &self.weight_policy)?;
        let source = report.format.source();
        if !report.favourites.is_empty() {
            self.signals.apply_import(source, &report);
            self.refresh()?;
        }
        Ok(ImportView {
            format: report.format,
            source,
            rows: report.rows,
            imported_rows: report.imported_rows,
            duplicates_merged: report.duplicates_merged,
            favourites: report.favourites.len(),
            skipped: report.skipped,
            summary: self.summary(),
        })
    }

    /// The audit list: every signal with its source, grade and weight.
    pub fn signals(&self) -> Vec<SignalView> {
        self.signals
            .signals()
            .iter()
            .map(|s| SignalView {
                id: s.id.clone(),
                source: s.source,
                grade: s.grade,
                kind: s.key.kind(),
                title: s.title.clone(),
                creator: s.creator.clone(),
                weight: s.weight,
            })
            .collect()
    }

    /// Removes one signal; returns whether it existed.
    ///
    /// # Errors
    /// Only if recomputing the profile fails.
    pub fn prune(&mut self, id: &str) -> Result<bool> {
        let removed = self.signals.prune(id);
        self.refresh()?;
        Ok(removed)
    }

    /// Removes every signal of a source; returns how many.
    ///
    /// # Errors
    /// Only if recomputing the profile fails.
    pub fn prune_source(&mut self, source: SignalSource) -> Result<usize> {
        let removed = self.signals.prune_source(source);
        self.refresh()?;
        Ok(removed)
    }

    /// Changes a signal's privacy grade; returns whether it existed.
    ///
    /// # Errors
    /// Only if recomputing the profile fails.
    pub fn set_grade(&mut self, id: &str, grade: PrivacyGrade) -> Result<bool> {
        let changed = self.signals.set_grade(id, grade);
        self.refresh()?;
        Ok(changed)
    }

    /// Opt-out on the device: forgets every signal, the vector and the traits.
    pub fn clear(&mut self) {
        self.signals.clear();
        self.profile = None;
        self.activity = ActivityLog::default();
    }

    /// The behavioural log (micro-interactions, activity times, tone), kept on this device;
    /// only its summaries graded public go on the public card.
    pub fn activity(&self) -> &ActivityLog {
        &self.activity
    }

    /// The behavioural log, to record into, grade or prune.
    pub fn activity_mut(&mut self) -> &mut ActivityLog {
        &mut self.activity
    }

    /// The signals in their stored form, for this device's storage only.
    pub fn signals_bytes(&self) -> Vec<u8> {
        self.signals.to_bytes()
    }

    /// Restores stored signals and recomputes the profile.
    ///
    /// # Errors
    /// Bytes that are not a stored signal set.
    pub fn load_signals(&mut self, bytes: &[u8]) -> Result<Option<AnalysisView>> {
        self.signals = SignalSet::from_bytes(bytes)?;
        self.refresh()?;
        Ok(self.summary())
    }

    /// The current profile's summary, `None` without signals.
    pub fn summary(&self) -> Option<AnalysisView> {
        let profile = self.profile.as_ref()?;
        Some(AnalysisView {
            model_version: self.trainer.model().version(),
            favourites: profile
                .items
                .iter()
                .map(|i| FavouriteView {
                    title: i.title.clone(),
                    in_catalogue: i.in_catalogue,
                })
                .collect(),
            skipped: Vec::new(),
            traits: profile.traits.clone(),
            vector_preview: profile
                .taste_vector
                .as_slice()
                .iter()
                .take(PREVIEW_DIMS)
                .copied()
                .collect(),
            vector_fingerprint: profile.taste_vector.fingerprint(),
            hashes_fingerprint: {
                let mut hasher = blake3::Hasher::new();
                for item in &profile.items {
                    hasher.update(&item.hash.0);
                }
                hasher.finalize().to_hex().to_string()
            },
        })
    }

    /// The profile to publish: the taste vector, the traits and up to `show_favourites`
    /// (at most 10) titles of signals graded public. This is what leaves the device on opt-in.
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] without signals; an invalid display name.
    pub fn profile_upload(
        &self,
        display_name: &str,
        show_favourites: usize,
    ) -> Result<ProfileUpload> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let public_titles = self
            .public_signals()
            .map(display_title)
            .take(show_favourites.min(MAX_PUBLIC_FAVOURITES))
            .collect();
        let (published_activity, published_tone) = self.activity.published();
        let upload = ProfileUpload {
            schema_version: PROFILE_SCHEMA_VERSION,
            model_version: self.trainer.model().version(),
            taste_vector: profile.taste_vector.clone(),
            card: PublicCard {
                activity: published_activity,
                tone: published_tone,
                display_name: display_name.trim().to_owned(),
                traits: self.published_traits(profile),
                public_favourites: public_titles,
            },
        };
        upload.validate()?;
        Ok(upload)
    }

    /// A discovery query for the `k` nearest people, leaving out `exclude` (normally oneself).
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] without signals; `k` outside 1..=100.
    pub fn candidates_request(&self, k: u32, exclude: Option<UserId>) -> Result<CandidatesRequest> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let request = CandidatesRequest {
            model_version: self.trainer.model().version(),
            taste_vector: profile.taste_vector.clone(),
            k,
            exclude,
        };
        request.validate()?;
        Ok(request)
    }

    /// "Why this match?" for a candidate, computed here from the candidate's public card and
    /// this device's own public and limited signals (never from private ones).
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] without signals.
    pub fn explain(&self, candidate: &DiscoveryCandidate) -> Result<Explanation> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let hasher = self.trainer.model().hasher();
        let shareable: Vec<ItemKey> = self
            .shareable_signals()
            .map(|s| resolved_signal_key(self.catalogue, s))
            .collect();
        let my_items: Vec<ItemHash> = shareable.iter().map(|k| hasher.hash(k)).collect();
        let their_public_items: Vec<(ItemHash, String)> = candidate
            .card
            .public_favourites
            .iter()
            .filter_map(|title| Some((hasher.hash(&self.resolved_key(title)?), title.clone())))
            .collect();
        Ok(explain(ExplanationInput {
            my_traits: &profile.traits,
            my_items: &my_items,
            their_traits: &candidate.card.traits,
            their_public_items: &their_public_items,
            taste_cosine: candidate.score,
        }))
    }

    /// Trains the served model on this user's public and limited favourites (see
    /// `mesh_models::LocalTrainer`) and keeps the clipped update for the next federated round.
    /// The favourites never leave the device; the update leaves it only through secure
    /// aggregation, and private signals take no part in it.
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] without favourites; [`Error::Models`] with fewer than two
    /// distinct favourites or options out of range.
    pub fn train_locally(&mut self, options: &LocalTrainingOptions) -> Result<TrainingView> {
        if self.profile.is_none() {
            return Err(Error::NotAnalysed);
        }
        let hasher = self.trainer.model().hasher();
        let items: Vec<WeightedItem> = self
            .shareable_signals()
            .map(|s| WeightedItem {
                hash: hasher.hash(&resolved_signal_key(self.catalogue, s)),
                weight: s.weight,
                content: None,
            })
            .collect();
        let update = self.trainer.train(&items, options)?;
        let view = TrainingView {
            model_version: self.trainer.model().version(),
            favourites: items.len(),
            loss_before: update.loss_before,
            loss_after: update.loss_after,
            rows_updated: update.delta.rows.len(),
            update_norm: update.delta.norm(),
            norm_before_clip: update.norm_before_clip,
            clipped: update.clipped,
        };
        self.pending_update = Some(update);
        Ok(view)
    }

    /// Starts revealing mutual favourites to one matched person: a private set intersection
    /// over the favourites graded public or limited (private ones never take part).
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] without favourites; see [`MutualFavourites::new`].
    pub fn mutual_favourites(&self) -> Result<MutualFavourites> {
        if self.signals.signals().is_empty() {
            return Err(Error::NotAnalysed);
        }
        let hasher = self.trainer.model().hasher();
        MutualFavourites::new(
            self.shareable_signals()
                .map(|s| {
                    let title = match &s.creator {
                        Some(creator) => format!("{} — {creator}", s.title),
                        None => s.title.clone(),
                    };
                    (hasher.hash(&resolved_signal_key(self.catalogue, s)), title)
                })
                .collect(),
        )
    }

    /// The texts of the favourites, with their cache keys: the Worker embeds those its cache
    /// lacks (loading the encoder module only then) and hands the embeddings to
    /// [`DeviceSession::set_content_embeddings`]. Texts and embeddings never leave the device;
    /// a private favourite's embedding only places the taste vector, never a trait.
    pub fn content_requests(&self) -> Vec<ContentRequest> {
        let mut seen = BTreeSet::new();
        self.signals
            .signals()
            .iter()
            .map(|s| {
                let text = signal_content_text(self.catalogue, s);
                ContentRequest {
                    key: content_key(&text),
                    text,
                }
            })
            .filter(|r| seen.insert(r.key.clone()))
            .collect()
    }

    /// Stores content embeddings (`keys.len()` × 384 values, in key order, unit vectors).
    /// Returns how many are stored in all.
    ///
    /// # Errors
    /// [`Error::ContentEmbedding`] when the sizes disagree or a vector is not finite and of
    /// unit length; nothing is stored then.
    pub fn set_content_embeddings(&mut self, keys: &[String], values: &[f32]) -> Result<usize> {
        if values.len() != keys.len() * CONTENT_DIM {
            return Err(Error::ContentEmbedding(format!(
                "{} values for {} keys, expected {} ({CONTENT_DIM} each)",
                values.len(),
                keys.len(),
                keys.len() * CONTENT_DIM
            )));
        }
        for (index, (key, vector)) in keys
            .iter()
            .zip(values.chunks_exact(CONTENT_DIM))
            .enumerate()
        {
            let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || (norm - 1.0).abs() > 1e-3 {
                return Err(Error::ContentEmbedding(format!(
                    "embedding {index} (key {key}) has norm {norm}, expected 1"
                )));
            }
        }
        for (key, vector) in keys.iter().zip(values.chunks_exact(CONTENT_DIM)) {
            self.content_embeddings.insert(key.clone(), vector.to_vec());
        }
        self.recompute_profile()?;
        Ok(self.content_embeddings.len())
    }

    /// Replaces the active intents ("looking for collaborators", …): `weights.len()` intents,
    /// each the unit embedding of its text (384 values, concatenated in `values`) and its
    /// weight. They move the taste vector through the model's content tower while they are
    /// set; the caller clears them when they expire. They never leave the device except as
    /// part of the taste vector.
    ///
    /// # Errors
    /// [`Error::ContentEmbedding`] when the sizes disagree, a vector is not a unit vector or a
    /// weight is not a finite number > 0; the previous intents stay then.
    pub fn set_intents(&mut self, values: &[f32], weights: &[f32]) -> Result<usize> {
        if values.len() != weights.len() * CONTENT_DIM {
            return Err(Error::ContentEmbedding(format!(
                "{} values for {} intents, expected {}",
                values.len(),
                weights.len(),
                weights.len() * CONTENT_DIM
            )));
        }
        for (index, (content, weight)) in values.chunks_exact(CONTENT_DIM).zip(weights).enumerate()
        {
            check_content_embedding(&format!("intent {index}"), content)
                .map_err(|e| Error::ContentEmbedding(e.to_string()))?;
            if !(weight.is_finite() && *weight > 0.0) {
                return Err(Error::ContentEmbedding(format!(
                    "intent {index}: weight {weight} is not a finite number > 0"
                )));
            }
        }
        self.intents = values
            .chunks_exact(CONTENT_DIM)
            .map(<[f32]>::to_vec)
            .zip(weights.iter().copied())
            .collect();
        self.recompute_profile()?;
        Ok(self.intents.len())
    }

    /// The traits inferred from the content embeddings of the public and limited favourites
    /// (see `mesh_models::infer_content_traits`), with the ones turned off marked.
    pub fn traits_report(&self) -> TraitsReport {
        let favourites: Vec<(String, f32, String)> = self
            .shareable_signals()
            .map(|s| {
                (
                    display_title(s),
                    s.weight,
                    content_key(&signal_content_text(self.catalogue, s)),
                )
            })
            .collect();
        let embedded: Vec<EmbeddedFavourite<'_>> = favourites
            .iter()
            .filter_map(|(title, weight, key)| {
                Some(EmbeddedFavourite {
                    title,
                    weight: *weight,
                    embedding: self.content_embeddings.get(key)?,
                })
            })
            .collect();
        infer_content_traits(
            TraitLexicon::embedded(),
            &embedded,
            favourites.len(),
            &self.disabled_traits,
        )
    }

    /// Turns a trait (a lexicon id, or a catalogue trait's label) off or back on. A trait
    /// turned off is never published.
    pub fn set_trait_enabled(&mut self, id: &str, enabled: bool) {
        if enabled {
            self.disabled_traits.remove(id);
        } else {
            self.disabled_traits.insert(id.to_owned());
        }
    }

    /// The traits the public card carries: the enabled content traits when any favourite has
    /// a content embedding, else the enabled catalogue-genre traits.
    fn published_traits(&self, profile: &FavouriteProfile) -> Vec<CardTrait> {
        let report = self.traits_report();
        if report.favourites_embedded > 0 {
            return report
                .traits
                .iter()
                .filter(|t| t.enabled)
                .map(|t| CardTrait {
                    label: t.label.clone(),
                    strength: (t.score * 20.0).round() / 20.0,
                })
                .collect();
        }
        profile
            .traits
            .iter()
            .filter(|t| !self.disabled_traits.contains(&t.label))
            .cloned()
            .collect()
    }

    /// The pending update as the first `dimension` weights of the model's table (row-major,
    /// zero where training did not touch a row): what a federated round of that dimension
    /// aggregates. It leaves the device only quantised and masked ([`crate::DeviceRound`]).
    ///
    /// # Errors
    /// [`Error::NoPendingUpdate`] before [`DeviceSession::train_locally`] (or after the
    /// signals changed).
    pub fn pending_update_dense(&self, dimension: usize) -> Result<Vec<f32>> {
        let update = self.pending_update.as_ref().ok_or(Error::NoPendingUpdate)?;
        let mut dense = vec![0.0f32; dimension];
        for (bucket, row) in &update.delta.rows {
            let start = *bucket as usize * TASTE_DIM;
            if let Some(target) = dense.get_mut(start..) {
                target.iter_mut().zip(row).for_each(|(d, x)| *d = *x);
            }
        }
        Ok(dense)
    }

    /// The update of the last [`DeviceSession::train_locally`], until the signals change.
    pub fn pending_update(&self) -> Option<&LocalUpdate> {
        self.pending_update.as_ref()
    }

    fn signals_changed_update_is_stale(&mut self) {
        self.pending_update = None;
    }

    fn refresh(&mut self) -> Result<()> {
        self.signals_changed_update_is_stale();
        self.recompute_profile()
    }

    /// The profile of the current signals under the served model, with the content embeddings
    /// known so far.
    fn recompute_profile(&mut self) -> Result<()> {
        let profile = if self.signals.is_empty() {
            None
        } else {
            let (catalogue, embeddings) = (self.catalogue, &self.content_embeddings);
            let intents: Vec<Intent<'_>> = self
                .intents
                .iter()
                .map(|(content, weight)| Intent {
                    content,
                    weight: *weight,
                })
                .collect();
            Some(profile_from_signals(
                catalogue,
                self.trainer.model(),
                self.signals.signals(),
                |s| {
                    embeddings
                        .get(&content_key(&signal_content_text(catalogue, s)))
                        .map(Vec::as_slice)
                },
                &intents,
            )?)
        };
        self.profile = profile;
        Ok(())
    }

    /// Signals graded public or limited: the ones traits, explanations and training may use.
    fn shareable_signals(&self) -> impl Iterator<Item = &Signal> {
        self.signals
            .signals()
            .iter()
            .filter(|s| s.grade != PrivacyGrade::Private)
    }

    fn public_signals(&self) -> impl Iterator<Item = &Signal> {
        self.signals
            .signals()
            .iter()
            .filter(|s| s.grade == PrivacyGrade::Public)
    }

    /// The key a title line resolves to, as the catalogue or the typed form gives it.
    fn resolved_key(&self, line: &str) -> Option<ItemKey> {
        let entry = parse_favourite_line(1, line).ok().flatten()?;
        Some(self.catalogue.key_of(&entry))
    }
}

/// Parses, canonicalises and hashes an export (format detected) under a fixed benchmark salt
/// without keeping anything; returns how many favourites were hashed. This is the work the
/// import benchmarks time, natively and in browsers.
///
/// # Errors
/// As [`import_export`].
pub fn import_and_hash(bytes: &[u8]) -> Result<usize> {
    let report = import_export(bytes, None, &WeightPolicy::default())?;
    let hasher = FavouriteHasher::new(&[0x42; 32]);
    let hashes: Vec<ItemHash> = report
        .favourites
        .iter()
        .map(|f| hasher.hash(&f.key))
        .collect();
    Ok(hashes.len())
}

/// A signal as a typed line (`kind: Title (year) — creator`), the form public cards carry.
fn display_title(signal: &Signal) -> String {
    let mut line = String::new();
    if signal.key.kind() != ItemKind::Any {
        line.push_str(signal.key.kind().tag());
        line.push_str(": ");
    }
    line.push_str(&signal.title);
    if let Some(year) = signal
        .year
        .filter(|_| matches!(signal.key.kind(), ItemKind::Film | ItemKind::Any))
    {
        line.push_str(&format!(" ({year})"));
    }
    if let Some(creator) = &signal.creator {
        line.push_str(" — ");
        line.push_str(creator);
    }
    line
}

/// The cache key of a content embedding: BLAKE3 of the encoder's name and the text.
fn content_key(text: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(ENCODER_NAME.as_bytes());
    hasher.update(b"\n");
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_models::initial_model;
    use mesh_shared::ReasonKind;

    fn session() -> DeviceSession {
        DeviceSession::new(&initial_model(Catalogue::embedded(), 1).encode()).unwrap()
    }

    #[test]
    fn content_embeddings_place_favourites_the_model_has_no_row_for() {
        use mesh_shared::testing::{content_tower_model, synthetic_content_embeddings, typed_list};
        let mut session = DeviceSession::new(&content_tower_model(64, 3).encode()).unwrap();
        let list = typed_list(30, 3);
        let before = session.analyse(&list).unwrap().vector_fingerprint;
        // Every favourite is embedded, private ones too (the embedding stays on the device).
        let first = session.signals()[0].id.clone();
        session.set_grade(&first, PrivacyGrade::Private).unwrap();
        let requests = session.content_requests();
        assert_eq!(requests.len(), 30);
        let keys: Vec<String> = requests.into_iter().map(|r| r.key).collect();
        let values = synthetic_content_embeddings(&keys);
        session.set_content_embeddings(&keys, &values).unwrap();
        let after = session.summary().unwrap().vector_fingerprint;
        assert_ne!(before, after);
        // The same favourites analysed again keep their cached embeddings.
        assert_eq!(session.analyse(&list).unwrap().vector_fingerprint, after);
        // An active intent moves the vector; clearing it moves it back.
        let intent = synthetic_content_embeddings(&["0badc0de".to_owned()]);
        session.set_intents(&intent, &[2.0]).unwrap();
        let with_intent = session.summary().unwrap().vector_fingerprint;
        assert_ne!(with_intent, after);
        assert!(session.set_intents(&intent[..10], &[2.0]).is_err());
        assert!(session.set_intents(&intent, &[f32::NAN]).is_err());
        assert_eq!(session.summary().unwrap().vector_fingerprint, with_intent);
        session.set_intents(&[], &[]).unwrap();
        assert_eq!(session.summary().unwrap().vector_fingerprint, after);
        // Without a content tower, embeddings change nothing.
        let mut plain =
            DeviceSession::new(&initial_model(Catalogue::embedded(), 1).encode()).unwrap();
        let plain_before = plain.analyse(&list).unwrap().vector_fingerprint;
        let keys: Vec<String> = plain
            .content_requests()
            .into_iter()
            .map(|r| r.key)
            .collect();
        let values = synthetic_content_embeddings(&keys);
        plain.set_content_embeddings(&keys, &values).unwrap();
        assert_eq!(plain.summary().unwrap().vector_fingerprint, plain_before);
    }

    #[test]
    fn local_training_lowers_the_loss_and_keeps_the_update_until_signals_change() {
        let mut session = session();
        let options = LocalTrainingOptions {
            epochs: 2,
            seed: 5,
            ..LocalTrainingOptions::default()
        };
        assert!(matches!(
            session.train_locally(&options),
            Err(Error::NotAnalysed)
        ));
        let list: String = Catalogue::embedded()
            .items()
            .iter()
            .take(40)
            .map(|i| format!("{}\n", i.display_title()))
            .collect();
        session.analyse(&list).unwrap();
        let view = session.train_locally(&options).unwrap();
        assert!(view.loss_after < view.loss_before, "{view:?}");
        assert_eq!(view.favourites, 40);
        // The round's view of the update: the touched rows, in place, nothing else.
        let dense = session.pending_update_dense(4096 * 256).unwrap();
        let update = session.pending_update().unwrap();
        let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - update.delta.norm()).abs() < 1e-4, "{norm}");
        let (bucket, row) = &update.delta.rows[0];
        assert_eq!(&dense[*bucket as usize * 256..][..256], row.as_slice());
        assert_eq!(session.pending_update_dense(10).unwrap().len(), 10);
        assert!(view.update_norm <= options.clip_norm + 1e-5);
        assert!(session.pending_update().is_some());
        // Private signals take no part: with all but one private, nothing can be held out.
        let ids: Vec<String> = session
            .signals()
            .iter()
            .skip(1)
            .map(|s| s.id.clone())
            .collect();
        for id in &ids {
            session.set_grade(id, PrivacyGrade::Private).unwrap();
        }
        assert!(
            session.pending_update().is_none(),
            "a change drops the stale update"
        );
        let err = session.train_locally(&options).unwrap_err();
        assert!(
            err.to_string()
                .contains("at least 2 distinct favourites, got 1"),
            "{err}"
        );
    }

    #[test]
    fn operations_need_signals_first() {
        let session = session();
        assert!(matches!(
            session.profile_upload("Ada", 0),
            Err(Error::NotAnalysed)
        ));
        assert!(matches!(
            session.candidates_request(5, None),
            Err(Error::NotAnalysed)
        ));
    }

    #[test]
    fn explains_from_the_public_card_with_local_favourites() {
        let mut session = session();
        session
            .analyse("Blade Runner (1982)\nThe Matrix (1999)\nAlien (1979)")
            .unwrap();
        let candidate = DiscoveryCandidate {
            user_id: UserId::try_from("demo-1".to_owned()).unwrap(),
            score: 0.7,
            card: PublicCard {
                activity: None,
                tone: None,
                display_name: "Bo".into(),
                traits: vec![CardTrait {
                    label: "sci-fi films".into(),
                    strength: 0.5,
                }],
                public_favourites: vec!["Matrix, The (1999)".into(), "Heat (1995)".into()],
            },
        };
        let explanation = session.explain(&candidate).unwrap();
        assert_eq!(
            explanation.chips[0].kind,
            ReasonKind::SharedFavourite {
                title: "Matrix, The (1999)".into()
            }
        );
        assert_eq!(
            explanation.chips[1].kind,
            ReasonKind::SharedTrait {
                label: "sci-fi films".into()
            }
        );
    }

    #[test]
    fn only_public_signals_reach_the_card_and_pruning_changes_the_vector() {
        let mut session = session();
        let before = session
            .analyse("Blade Runner (1982)\nbook: Dune — Frank Herbert")
            .unwrap();
        assert!(
            session
                .profile_upload("Ada", 5)
                .unwrap()
                .card
                .public_favourites
                .is_empty(),
            "typed lists are limited"
        );
        let blade_runner = session
            .signals()
            .into_iter()
            .find(|s| s.title == "Blade Runner")
            .unwrap();
        session
            .set_grade(&blade_runner.id, PrivacyGrade::Public)
            .unwrap();
        assert_eq!(
            session
                .profile_upload("Ada", 5)
                .unwrap()
                .card
                .public_favourites,
            ["Blade Runner (1982)"]
        );
        assert!(session.prune(&blade_runner.id).unwrap());
        let after = session.summary().unwrap();
        assert_ne!(before.vector_fingerprint, after.vector_fingerprint);
        session.clear();
        assert!(session.summary().is_none());
    }

    #[test]
    fn signals_survive_a_save_and_load() {
        let mut session = session();
        let before = session.analyse("Radiohead\nDaft Punk").unwrap();
        let bytes = session.signals_bytes();
        let mut restored = self::session();
        let after = restored.load_signals(&bytes).unwrap().unwrap();
        assert_eq!(before.vector_fingerprint, after.vector_fingerprint);
        assert_eq!(restored.signals(), session.signals());
    }

    #[test]
    fn bad_model_bytes_are_refused() {
        let err = DeviceSession::new(b"not a model").unwrap_err();
        assert!(err.to_string().starts_with("model weights:"), "{err}");
    }
}

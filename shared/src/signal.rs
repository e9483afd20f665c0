//! Signals: the favourites a device holds, each with its source, privacy grade and weight,
//! and the set the "audit my signals" screen lists, prunes and re-grades.
use serde::{Deserialize, Serialize};

use crate::{ExternalId, ImportReport, ItemKey};

/// Where a signal came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignalSource {
    /// Typed or pasted by the user.
    TypedList,
    /// A Letterboxd export.
    Letterboxd,
    /// A Goodreads library export.
    Goodreads,
    /// Spotify account data.
    Spotify,
    /// A ListenBrainz listens export.
    #[serde(rename = "listenbrainz")]
    ListenBrainz,
    /// Last.fm scrobbles.
    #[serde(rename = "lastfm")]
    LastFm,
    /// GitHub starred repositories.
    #[serde(rename = "github")]
    GitHub,
    /// A MovieLens ratings file.
    #[serde(rename = "movielens")]
    MovieLens,
}

impl SignalSource {
    /// The grade a new signal from this source gets: public for sources whose data is public
    /// on the service by default (Letterboxd, Last.fm, ListenBrainz, GitHub stars), limited
    /// for a typed list and Goodreads, private for listening history and ratings files that
    /// are private on their service (Spotify, MovieLens).
    pub fn default_grade(self) -> PrivacyGrade {
        match self {
            Self::Letterboxd | Self::LastFm | Self::ListenBrainz | Self::GitHub => {
                PrivacyGrade::Public
            }
            Self::TypedList | Self::Goodreads => PrivacyGrade::Limited,
            Self::Spotify | Self::MovieLens => PrivacyGrade::Private,
        }
    }
}

/// How visible a signal may be, shown as a badge in the audit screen.
///
/// - `Public`: may appear on the public card, in explanations and in the taste vector;
/// - `Limited`: feeds the taste vector and traits, and explanations shown to matched people,
///   but is never listed on the public card;
/// - `Private`: feeds only the taste vector (which leaves the device only on opt-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyGrade {
    /// Visible on the public card.
    Public,
    /// Visible to matched people only.
    Limited,
    /// Never shown to anyone.
    Private,
}

/// One favourite held on the device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// A stable local id (source and canonical key), used to prune or re-grade it.
    pub id: String,
    /// Where it came from.
    pub source: SignalSource,
    /// Its privacy grade.
    pub grade: PrivacyGrade,
    /// The canonical key.
    pub key: ItemKey,
    /// The title as the source wrote it (qualifiers included).
    pub title: String,
    /// Director, author or artist, when the source gives one.
    pub creator: Option<String>,
    /// Release year, when the source gives one.
    pub year: Option<u16>,
    /// A normalised external id, when the source gives one.
    pub external_id: Option<ExternalId>,
    /// Enthusiasm × recency weight, > 0.
    pub weight: f32,
}

/// The signals of one device. Never leaves the device; persisted by the client (IndexedDB in
/// browsers) through [`SignalSet::to_bytes`] and [`SignalSet::from_bytes`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignalSet {
    signals: Vec<Signal>,
}

impl SignalSet {
    /// Adds the favourites of an import, replacing every earlier signal from the same source
    /// (an export is a snapshot of that source). Grades the user changed on signals that are
    /// imported again are kept.
    pub fn apply_import(&mut self, source: SignalSource, report: &ImportReport) {
        let previous: std::collections::HashMap<String, PrivacyGrade> = self
            .signals
            .iter()
            .filter(|s| s.source == source)
            .map(|s| (s.id.clone(), s.grade))
            .collect();
        self.signals.retain(|s| s.source != source);
        for favourite in &report.favourites {
            let id = signal_id(source, &favourite.key);
            let grade = previous.get(&id).copied().unwrap_or(source.default_grade());
            self.signals.push(Signal {
                id,
                source,
                grade,
                key: favourite.key.clone(),
                title: favourite.title.clone(),
                creator: favourite.creator.clone(),
                year: favourite.year,
                external_id: favourite.external_id.clone(),
                weight: favourite.weight,
            });
        }
    }

    /// Every signal, in import order.
    pub fn signals(&self) -> &[Signal] {
        &self.signals
    }

    /// Removes one signal; returns whether it existed.
    pub fn prune(&mut self, id: &str) -> bool {
        let before = self.signals.len();
        self.signals.retain(|s| s.id != id);
        self.signals.len() != before
    }

    /// Removes every signal from a source; returns how many.
    pub fn prune_source(&mut self, source: SignalSource) -> usize {
        let before = self.signals.len();
        self.signals.retain(|s| s.source != source);
        before - self.signals.len()
    }

    /// Changes a signal's grade; returns whether it existed.
    pub fn set_grade(&mut self, id: &str, grade: PrivacyGrade) -> bool {
        match self.signals.iter_mut().find(|s| s.id == id) {
            Some(signal) => {
                signal.grade = grade;
                true
            }
            None => false,
        }
    }

    /// Removes everything (opt-out).
    pub fn clear(&mut self) {
        self.signals.clear();
    }

    /// Whether there are no signals.
    pub fn is_empty(&self) -> bool {
        self.signals.is_empty()
    }

    /// Serialised form for on-device storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`crate::Error::InvalidField`] when the bytes are not a stored signal set.
    pub fn from_bytes(bytes: &[u8]) -> crate::Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| crate::Error::InvalidField {
            field: "signals".to_owned(),
            reason: format!("stored signals do not decode: {e}"),
        })
    }
}

fn signal_id(source: SignalSource, key: &ItemKey) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("mesh-discovery 2026-11 local signal id");
    hasher.update(format!("{source:?}").as_bytes());
    hasher.update(&[0]);
    hasher.update(key.kind().tag().as_bytes());
    hasher.update(&[0]);
    hasher.update(key.as_str().as_bytes());
    hasher.finalize().to_hex()[..16].to_owned()
}

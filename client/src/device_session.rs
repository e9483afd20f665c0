use mesh_models::{Catalogue, FavouriteProfile, resolve_favourites};
use mesh_shared::{
    CandidatesRequest, CardTrait, DiscoveryCandidate, Explanation, ExplanationInput, ItemHash,
    ItemKey, ModelWeights, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, UserId, explain,
    parse_favourite_line,
};
use serde::Serialize;

use crate::{Error, Result};

/// Taste-vector components shown in the summary.
const PREVIEW_DIMS: usize = 16;

/// The on-device engine for one user: the served model, the shipped catalogue and the
/// favourites analysed last. Favourites, their hashes and the full profile stay in here.
#[derive(Debug)]
pub struct DeviceSession {
    model: ModelWeights,
    catalogue: &'static Catalogue,
    profile: Option<FavouriteProfile>,
}

/// What the page shows after analysing favourites.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisView {
    /// Model version the vector belongs to.
    pub model_version: u32,
    /// The favourites used.
    pub favourites: Vec<FavouriteView>,
    /// Lines not used, with reasons.
    pub skipped: Vec<SkippedView>,
    /// Inferred traits, strongest first.
    pub traits: Vec<CardTrait>,
    /// The first components of the taste vector.
    pub vector_preview: Vec<f32>,
    /// BLAKE3 fingerprint of the vector's exact bits.
    pub vector_fingerprint: String,
}

/// One used favourite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FavouriteView {
    /// 1-based line number.
    pub line: usize,
    /// Display title.
    pub title: String,
    /// Whether the catalogue knows it.
    pub in_catalogue: bool,
}

/// One skipped line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedView {
    /// 1-based line number.
    pub line: usize,
    /// Why.
    pub reason: String,
}

impl DeviceSession {
    /// A session over model bytes as served by `GET /v1/model`.
    ///
    /// # Errors
    /// [`Error::Shared`] when the bytes do not decode to a valid model.
    pub fn new(model_bytes: &[u8]) -> Result<Self> {
        Ok(Self {
            model: ModelWeights::decode(model_bytes)?,
            catalogue: Catalogue::embedded(),
            profile: None,
        })
    }

    /// The model version in use.
    pub fn model_version(&self) -> u32 {
        self.model.version()
    }

    /// Analyses a typed list (one favourite per line) and keeps the result for publishing,
    /// querying and explaining.
    ///
    /// # Errors
    /// An empty list or one longer than 5000 lines.
    pub fn analyse(&mut self, text: &str) -> Result<AnalysisView> {
        let profile = resolve_favourites(self.catalogue, &self.model, text)?;
        let view = AnalysisView {
            model_version: self.model.version(),
            favourites: profile
                .items
                .iter()
                .map(|i| FavouriteView {
                    line: i.line,
                    title: i.title.clone(),
                    in_catalogue: i.in_catalogue,
                })
                .collect(),
            skipped: profile
                .skipped
                .iter()
                .map(|s| SkippedView {
                    line: s.line,
                    reason: s.reason.clone(),
                })
                .collect(),
            traits: profile.traits.clone(),
            vector_preview: profile
                .taste_vector
                .as_slice()
                .iter()
                .take(PREVIEW_DIMS)
                .copied()
                .collect(),
            vector_fingerprint: profile.taste_vector.fingerprint(),
        };
        self.profile = Some(profile);
        Ok(view)
    }

    /// The profile to publish: the taste vector, the traits and the first `show_favourites`
    /// favourites (at most 10) as public titles. This is what leaves the device on opt-in.
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] before [`Self::analyse`]; an invalid display name.
    pub fn profile_upload(
        &self,
        display_name: &str,
        show_favourites: usize,
    ) -> Result<ProfileUpload> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let upload = ProfileUpload {
            schema_version: PROFILE_SCHEMA_VERSION,
            model_version: self.model.version(),
            taste_vector: profile.taste_vector.clone(),
            card: PublicCard {
                display_name: display_name.trim().to_owned(),
                traits: profile.traits.clone(),
                public_favourites: profile
                    .items
                    .iter()
                    .take(show_favourites.min(10))
                    .map(|i| i.title.clone())
                    .collect(),
            },
        };
        upload.validate()?;
        Ok(upload)
    }

    /// A discovery query for the `k` nearest people, leaving out `exclude` (normally oneself).
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] before [`Self::analyse`]; `k` outside 1..=100.
    pub fn candidates_request(&self, k: u32, exclude: Option<UserId>) -> Result<CandidatesRequest> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let request = CandidatesRequest {
            model_version: self.model.version(),
            taste_vector: profile.taste_vector.clone(),
            k,
            exclude,
        };
        request.validate()?;
        Ok(request)
    }

    /// "Why this match?" for a candidate, computed here from the candidate's public card and
    /// this device's own favourites.
    ///
    /// # Errors
    /// [`Error::NotAnalysed`] before [`Self::analyse`].
    pub fn explain(&self, candidate: &DiscoveryCandidate) -> Result<Explanation> {
        let profile = self.profile.as_ref().ok_or(Error::NotAnalysed)?;
        let hasher = self.model.hasher();
        let my_items: Vec<ItemHash> = profile.items.iter().map(|i| i.hash).collect();
        let their_public_items: Vec<(ItemHash, String)> = candidate
            .card
            .public_favourites
            .iter()
            .filter_map(|title| {
                let entry = parse_favourite_line(1, title).ok().flatten()?;
                let key = self
                    .catalogue
                    .resolve(&entry)
                    .map_or_else(|| ItemKey::from_entry(&entry), |item| item.key().clone());
                Some((hasher.hash(&key), title.clone()))
            })
            .collect();
        Ok(explain(ExplanationInput {
            my_traits: &profile.traits,
            my_items: &my_items,
            their_traits: &candidate.card.traits,
            their_public_items: &their_public_items,
            taste_cosine: candidate.score,
        }))
    }
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
    fn operations_need_an_analysis_first() {
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
    fn bad_model_bytes_are_refused() {
        let err = DeviceSession::new(b"not a model").unwrap_err();
        assert!(err.to_string().starts_with("model weights:"), "{err}");
    }
}

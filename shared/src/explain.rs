use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{CardTrait, ItemHash};

/// Version of the [`Explanation`] schema.
pub const EXPLANATION_SCHEMA_VERSION: u32 = 1;

/// Most chips in one explanation.
const MAX_CHIPS: usize = 2;

/// "Why this match?": the one or two strongest reasons, computed on the viewer's device from
/// the viewer's own favourites and the candidate's public card. Nothing about the viewer is
/// sent anywhere to compute it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Explanation {
    /// Always [`EXPLANATION_SCHEMA_VERSION`] for explanations built by this version.
    pub schema_version: u32,
    /// One or two chips, strongest first.
    pub chips: Vec<ReasonChip>,
}

/// One reason, with the sentence to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReasonChip {
    /// What kind of reason it is, with its data.
    pub kind: ReasonKind,
    /// A short sentence for the chip.
    pub text: String,
    /// Relative strength, used only to order chips.
    pub weight: f32,
}

/// The kinds of reason a chip can state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonKind {
    /// Both people have this favourite (the candidate listed it publicly).
    SharedFavourite {
        /// The title as the candidate shows it.
        title: String,
    },
    /// Both people's cards carry this trait.
    SharedTrait {
        /// The trait's label.
        label: String,
    },
    /// Overall taste similarity, as a rounded percentage of cosine similarity.
    SimilarTaste {
        /// 0–100.
        percent: u8,
    },
}

/// What an explanation is computed from.
#[derive(Debug, Clone, Copy)]
pub struct ExplanationInput<'a> {
    /// The viewer's traits.
    pub my_traits: &'a [CardTrait],
    /// Hashes of the viewer's favourites (stay on the device).
    pub my_items: &'a [ItemHash],
    /// The candidate's traits, from the public card.
    pub their_traits: &'a [CardTrait],
    /// The candidate's public favourites: hash and title as shown.
    pub their_public_items: &'a [(ItemHash, String)],
    /// Cosine similarity reported by the coordinator.
    pub taste_cosine: f32,
}

/// Builds the explanation: shared favourites weigh 1 each, a shared trait weighs the smaller
/// of the two strengths, overall similarity weighs half the cosine. The top two are kept.
pub fn explain(input: ExplanationInput<'_>) -> Explanation {
    let mut chips = Vec::new();
    for (hash, title) in input.their_public_items {
        if input.my_items.contains(hash) {
            chips.push(ReasonChip {
                kind: ReasonKind::SharedFavourite {
                    title: title.clone(),
                },
                text: format!("You both love {title}"),
                weight: 1.0,
            });
        }
    }
    for mine in input.my_traits {
        if let Some(theirs) = input.their_traits.iter().find(|t| t.label == mine.label) {
            chips.push(ReasonChip {
                kind: ReasonKind::SharedTrait {
                    label: mine.label.clone(),
                },
                text: format!("You both enjoy {}", mine.label),
                weight: mine.strength.min(theirs.strength),
            });
        }
    }
    let cosine = if input.taste_cosine.is_finite() {
        input.taste_cosine.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let percent = (cosine * 100.0).round() as u8;
    chips.push(ReasonChip {
        kind: ReasonKind::SimilarTaste { percent },
        text: format!("Similar taste overall ({percent}%)"),
        weight: cosine * 0.5,
    });
    chips.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    chips.truncate(MAX_CHIPS);
    Explanation {
        schema_version: EXPLANATION_SCHEMA_VERSION,
        chips,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trait_(label: &str, strength: f32) -> CardTrait {
        CardTrait {
            label: label.into(),
            strength,
        }
    }

    #[test]
    fn trivial() {
        let explanation = explain(ExplanationInput {
            my_traits: &[],
            my_items: &[],
            their_traits: &[],
            their_public_items: &[],
            taste_cosine: 0.8,
        });
        assert_eq!(explanation.schema_version, 1);
        assert_eq!(explanation.chips.len(), 1);
        assert_eq!(explanation.chips[0].text, "Similar taste overall (80%)");
    }

    #[test]
    fn shared_favourites_come_first_then_the_strongest_trait() {
        let shared = ItemHash([1; 32]);
        let explanation = explain(ExplanationInput {
            my_traits: &[trait_("jazz", 0.2), trait_("sci-fi films", 0.6)],
            my_items: &[shared, ItemHash([2; 32])],
            their_traits: &[trait_("sci-fi films", 0.4), trait_("jazz", 0.9)],
            their_public_items: &[
                (shared, "Blade Runner".into()),
                (ItemHash([3; 32]), "Heat".into()),
            ],
            taste_cosine: 0.5,
        });
        let texts: Vec<_> = explanation.chips.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(
            texts,
            ["You both love Blade Runner", "You both enjoy sci-fi films"]
        );
        let json = serde_json::to_value(&explanation.chips[0].kind).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "shared_favourite", "title": "Blade Runner"})
        );
    }
}

//! The traits JSON: readable traits inferred on the device from the content embeddings of a
//! user's favourites, each with the favourites behind it, so the user can see why and turn it
//! off. Only enabled traits ever reach the public card.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Everything the device inferred, shown on the traits screen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraitsReport {
    /// The encoder whose embeddings the traits come from.
    pub encoder: String,
    /// Favourites with a content embedding / all favourites.
    pub favourites_embedded: usize,
    /// All favourites considered.
    pub favourites_total: usize,
    /// Strongest first.
    pub traits: Vec<InferredTrait>,
    /// One line over the enabled traits, e.g. "Mostly thought-provoking sci-fi and jazz,
    /// soul and blues."
    #[schemars(length(min = 1, max = 200))]
    pub summary: String,
}

/// One facet, e.g. "arthouse cinema" at 0.4 from three favourites.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InferredTrait {
    /// Stable id from the trait lexicon, e.g. `arthouse`.
    #[schemars(length(min = 1, max = 40), regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub id: String,
    /// Readable label, 1–40 characters.
    #[schemars(length(min = 1, max = 40))]
    pub label: String,
    /// Weighted share of the embedded favourites closest to this trait.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub score: f32,
    /// The favourites behind it (display titles), most typical first, at most 5.
    #[schemars(length(min = 1, max = 5))]
    pub favourites: Vec<String>,
    /// How many favourites are behind it in all.
    pub favourite_count: usize,
    /// Whether the user keeps it; a disabled trait is never published.
    pub enabled: bool,
    /// The sentence shown with the "Turn off?" control.
    pub explanation: String,
}

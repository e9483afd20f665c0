//! The re-ranker's features of a directed pair (viewer → candidate): taste, graph, traits,
//! activity, intents and what was already shown. Every feature is computed from what the
//! coordinator may know: published taste vectors and public cards, the known ties, and its
//! own event log. Never from favourites, which stay on the device.
use mesh_ann::inner_product as dot;

use crate::social_graph::{SocialGraph, TwoHop};

/// Features per row.
pub const FEATURES: usize = 24;

/// The features' names, in row order.
pub const FEATURE_NAMES: [&str; FEATURES] = [
    "taste_cosine",
    "taste_margin_viewer",
    "taste_margin_candidate",
    "neighbour_taste_viewer_to_candidate",
    "neighbour_taste_candidate_to_viewer",
    "mutual_ties",
    "adamic_adar",
    "adamic_adar_relative_viewer",
    "adamic_adar_relative_candidate",
    "resource_allocation",
    "tie_jaccard",
    "paths_of_three_ln",
    "viewer_degree_ln",
    "candidate_degree_ln",
    "candidate_ego_density",
    "candidate_brokerage_ln",
    "same_community",
    "trait_overlap",
    "candidate_activity_prior",
    "activity_window_overlap",
    "time_zone_distance_hours",
    "intent_match",
    "impressions_shown",
    "candidate_recent_accepts_ln",
];

/// What the pipeline knows about one person apart from the graph.
#[derive(Debug, Clone, Copy, Default)]
pub struct PersonSignals<'a> {
    /// Unit taste vector, if published.
    pub taste: Option<&'a [f32]>,
    /// Cosine similarity of the person's 10th nearest neighbour by taste: how close "close"
    /// is for them.
    pub taste_radius: f32,
    /// Mean taste vector of the person's ties (not normalised; `None` without ties).
    pub neighbour_taste: Option<&'a [f32]>,
    /// Trait ids of the public card, sorted.
    pub traits: &'a [u32],
    /// `ln(1 + activity)`: how active and established the person is.
    pub activity_prior: f32,
    /// Hours of the day (UTC, bit `h`) the person is usually active; 0 when unknown.
    pub active_hours: u32,
    /// Offset from UTC in hours, when known.
    pub utc_offset_hours: Option<f32>,
    /// Active intent flags (bit per intent).
    pub intents: u32,
    /// Introductions the person accepted recently.
    pub recent_accepts: f32,
    /// The largest Adamic-Adar between the person and anyone two ties away and not tied to
    /// them: how strong "strong" is for them.
    pub best_adamic_adar: f32,
}

/// Symmetric statistics of a pair on the known graph.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PairGraph {
    /// Common ties.
    pub mutual: u32,
    /// Adamic-Adar over the common ties.
    pub adamic_adar: f32,
    /// Resource allocation over the common ties.
    pub resource_allocation: f32,
    /// Paths of length three.
    pub paths_of_three: u32,
}

impl PairGraph {
    /// The statistics of (`u`, `v`) from `u`'s two-hop neighbourhood.
    pub fn of(graph: &SocialGraph, from_u: &TwoHop, v: usize) -> Self {
        let (mutual, adamic_adar, resource_allocation) = from_u.of(v);
        Self {
            mutual,
            adamic_adar,
            resource_allocation,
            paths_of_three: from_u.paths_of_three(graph, v),
        }
    }
}

/// Writes the features of `viewer → candidate` into `out` (length [`FEATURES`]).
/// `impressions` counts how often the candidate was already shown to the viewer.
#[allow(clippy::too_many_arguments)]
pub fn pair_features(
    graph: &SocialGraph,
    pair: &PairGraph,
    viewer: usize,
    candidate: usize,
    viewer_signals: &PersonSignals<'_>,
    candidate_signals: &PersonSignals<'_>,
    impressions: f32,
    out: &mut [f32],
) {
    let cosine = match (viewer_signals.taste, candidate_signals.taste) {
        (Some(a), Some(b)) => dot(a, b),
        _ => 0.0,
    };
    let toward = |a: Option<&[f32]>, b: Option<&[f32]>| match (a, b) {
        (Some(a), Some(b)) => dot(a, b),
        _ => 0.0,
    };
    let (dv, dc) = (graph.degree(viewer), graph.degree(candidate));
    let union = (dv + dc) as f32 - pair.mutual as f32;
    let values: [f32; FEATURES] = [
        cosine,
        cosine - viewer_signals.taste_radius,
        cosine - candidate_signals.taste_radius,
        toward(viewer_signals.taste, candidate_signals.neighbour_taste),
        toward(candidate_signals.taste, viewer_signals.neighbour_taste),
        pair.mutual as f32,
        pair.adamic_adar,
        relative(pair.adamic_adar, viewer_signals.best_adamic_adar),
        relative(pair.adamic_adar, candidate_signals.best_adamic_adar),
        pair.resource_allocation,
        if union > 0.0 {
            pair.mutual as f32 / union
        } else {
            0.0
        },
        (pair.paths_of_three as f32).ln_1p(),
        (dv as f32).ln_1p(),
        (dc as f32).ln_1p(),
        graph.ego_density(candidate),
        graph.brokerage(candidate).ln_1p(),
        f32::from(u8::from(
            dv > 0 && dc > 0 && graph.community(viewer) == graph.community(candidate),
        )),
        sorted_jaccard(viewer_signals.traits, candidate_signals.traits),
        candidate_signals.activity_prior,
        bit_jaccard(viewer_signals.active_hours, candidate_signals.active_hours),
        match (
            viewer_signals.utc_offset_hours,
            candidate_signals.utc_offset_hours,
        ) {
            (Some(a), Some(b)) => {
                let d = (a - b).abs() % 24.0;
                d.min(24.0 - d)
            }
            _ => -1.0,
        },
        (viewer_signals.intents & candidate_signals.intents).count_ones() as f32,
        impressions,
        candidate_signals.recent_accepts.ln_1p(),
    ];
    for (o, v) in out.iter_mut().zip(values) {
        *o = if v.is_finite() { v } else { 0.0 };
    }
}

fn relative(x: f32, best: f32) -> f32 {
    if best > 0.0 { x / best } else { 0.0 }
}

fn sorted_jaccard(a: &[u32], b: &[u32]) -> f32 {
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    if union == 0 {
        0.0
    } else {
        common as f32 / union as f32
    }
}

fn bit_jaccard(a: u32, b: u32) -> f32 {
    let union = (a | b).count_ones();
    if union == 0 {
        0.0
    } else {
        (a & b).count_ones() as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_of_a_known_pair() {
        // 0–1, 1–2, 0–3, 3–2: 0 and 2 share ties 1 and 3.
        let graph = SocialGraph::from_ties(4, &[(0, 1), (1, 2), (0, 3), (3, 2)]);
        let from0 = graph.two_hop(0);
        let pair = PairGraph::of(&graph, &from0, 2);
        assert_eq!(pair.mutual, 2);
        let (a, b) = ([1.0f32, 0.0], [0.6f32, 0.8]);
        let viewer = PersonSignals {
            taste: Some(&a),
            taste_radius: 0.5,
            traits: &[1, 2, 3],
            active_hours: 0b0111,
            utc_offset_hours: Some(-5.0),
            intents: 0b11,
            ..PersonSignals::default()
        };
        let candidate = PersonSignals {
            taste: Some(&b),
            taste_radius: 0.7,
            traits: &[2, 3, 4],
            active_hours: 0b0110,
            utc_offset_hours: Some(9.0),
            intents: 0b10,
            ..PersonSignals::default()
        };
        let mut out = [0.0; FEATURES];
        pair_features(&graph, &pair, 0, 2, &viewer, &candidate, 3.0, &mut out);
        let get = |name: &str| out[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()];
        assert!((get("taste_cosine") - 0.6).abs() < 1e-6);
        assert!((get("taste_margin_viewer") - 0.1).abs() < 1e-6);
        assert!((get("taste_margin_candidate") + 0.1).abs() < 1e-6);
        assert_eq!(get("mutual_ties"), 2.0);
        assert_eq!(get("tie_jaccard"), 1.0);
        assert_eq!(get("trait_overlap"), 0.5);
        assert!((get("activity_window_overlap") - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(get("time_zone_distance_hours"), 10.0);
        assert_eq!(get("intent_match"), 1.0);
        assert_eq!(get("impressions_shown"), 3.0);
        let same = graph.community(0) == graph.community(2);
        assert_eq!(get("same_community"), f32::from(u8::from(same)));
    }
}

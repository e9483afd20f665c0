//! The ranking stages of the candidate pipeline, after retrieval: pair features in both
//! directions → re-ranker margins (or the prior before one is trained) → reciprocal fusion →
//! intent, swipe-to-tune, safety and impression adjustments → MMR diversity with a weak-tie,
//! a strong-tie and an adjacent-interest slot in the shown head.
//!
//! `POST /v1/discovery/candidates` and `mesh eval --setting b` both run [`rank_pool`] with
//! [`PipelineSettings::SERVED`]: what is measured is what is served.
use mesh_ann::inner_product as dot;

use crate::diversity::diversify;
use crate::features::{FEATURE_NAMES, FEATURES, PairGraph, PersonSignals, pair_features};
use crate::fusion::fuse_reciprocal;
use crate::gbt::GradientBoostedTrees;
use crate::social_graph::{SocialGraph, TwoHop};

/// The pipeline's numbers, in one place: retrieval pool sizes, fusion, adjustments, MMR.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineSettings {
    /// People retrieved by taste before re-ranking (at least; `3 k` when larger).
    pub taste_pool: usize,
    /// People retrieved from the friends-of-friends, beyond as many as the viewer has ties.
    pub graph_pool: usize,
    /// The taste radius (how close "close" is for a viewer) is the similarity of this
    /// neighbour in the taste pool.
    pub radius_rank: usize,
    /// Weight of the candidate's direction in the fused score (0.5: geometric mean).
    pub backward_weight: f32,
    /// MMR trade-off between relevance and similarity to what is already shown.
    pub diversity: f32,
    /// Added per intent flag both people have active.
    pub intent_weight: f32,
    /// Scale of the swipe-to-tune adjustment (mean signed similarity to swiped people).
    pub feedback_weight: f32,
    /// Scale of the harassment-risk penalty.
    pub safety_weight: f32,
    /// Discount per `ln(1 + times already shown)`.
    pub impression_discount: f32,
}

impl PipelineSettings {
    /// What `mesh serve` ranks with (and `mesh eval` measures).
    pub const SERVED: Self = Self {
        taste_pool: 60,
        graph_pool: 100,
        radius_rank: 10,
        backward_weight: 0.5,
        diversity: 0.2,
        intent_weight: 0.5,
        feedback_weight: 1.0,
        safety_weight: 3.0,
        impression_discount: 0.3,
    };

    /// People to retrieve by taste for a list of `k`.
    pub fn taste_pool_for(&self, k: usize) -> usize {
        self.taste_pool.max(3 * k)
    }

    /// People to take from the friends-of-friends of a viewer with `degree` ties.
    pub fn graph_pool_for(&self, degree: usize) -> usize {
        self.graph_pool + degree
    }
}

impl Default for PipelineSettings {
    fn default() -> Self {
        Self::SERVED
    }
}

/// The viewer as the ranking stages see them.
#[derive(Debug, Clone, Default)]
pub struct Viewer<'a> {
    /// Their index in the known graph; `None` for a query that is never personalised.
    pub person: Option<u32>,
    /// What is known of them.
    pub signals: PersonSignals<'a>,
    /// Their suggestion category (a card's first trait), for the adjacent-interest slot.
    pub category: Option<&'a str>,
    /// People they swiped: (graph index, taste vector, +1 for more like this, −1 for less).
    pub swiped: Vec<(u32, &'a [f32], f32)>,
}

/// One retrieved candidate as the ranking stages see them.
#[derive(Debug, Clone, Default)]
pub struct Candidate<'a> {
    /// Their index in the known graph, if they have one.
    pub person: Option<u32>,
    /// What is known of them.
    pub signals: PersonSignals<'a>,
    /// Their suggestion category.
    pub category: Option<&'a str>,
    /// Times they were already shown to the viewer.
    pub impressions: u32,
    /// The share of weighted reports against them (0 to 1).
    pub harassment_risk: f32,
}

/// What scores a pair's feature row.
#[derive(Debug, Clone, Copy)]
pub enum Ranker<'a> {
    /// A fitted re-ranker's margin.
    Trained(&'a GradientBoostedTrees),
    /// The prior blend used before any re-ranker is trained.
    Prior,
}

impl Ranker<'_> {
    /// The margin of one feature row.
    pub fn margin(&self, row: &[f32]) -> f32 {
        match self {
            Ranker::Trained(model) => model.margin(row),
            Ranker::Prior => prior_margin(row),
        }
    }
}

/// The feature rows of `viewer → candidate` (`forward`) and `candidate → viewer`
/// (`backward`), each [`FEATURES`] long, on the known `graph` (`two_hop`: the viewer's).
pub fn pair_rows(
    graph: &SocialGraph,
    two_hop: &TwoHop,
    viewer: &Viewer<'_>,
    candidate: &Candidate<'_>,
    forward: &mut [f32],
    backward: &mut [f32],
) -> PairGraph {
    let (v, c) = (viewer.person, candidate.person);
    let v_index = v.map_or(usize::MAX, |v| v as usize);
    let c_index = c.map_or(usize::MAX, |c| c as usize);
    let pair = if c.is_some() && v.is_some() {
        PairGraph::of(graph, two_hop, c_index)
    } else {
        PairGraph::default()
    };
    let impressions = candidate.impressions as f32;
    let (vs, cs) = (&viewer.signals, &candidate.signals);
    pair_features(graph, &pair, v_index, c_index, vs, cs, impressions, forward);
    pair_features(
        graph,
        &pair,
        c_index,
        v_index,
        cs,
        vs,
        impressions,
        backward,
    );
    pair
}

/// The fused score of a pair from its two margins, with the viewer's intents, swipes and
/// the candidate's safety and impressions applied.
fn adjusted_score(
    settings: &PipelineSettings,
    viewer: &Viewer<'_>,
    candidate: &Candidate<'_>,
    forward_margin: f32,
    backward_margin: f32,
) -> f32 {
    let mut score = fuse_reciprocal(forward_margin, backward_margin, settings.backward_weight);
    let shared_intents = viewer.signals.intents & candidate.signals.intents;
    score += settings.intent_weight * shared_intents.count_ones() as f32;
    if let Some(taste) = candidate.signals.taste
        && !viewer.swiped.is_empty()
    {
        // People like the swiped ones move with them; the swiped person moves most.
        let tune: f32 = viewer
            .swiped
            .iter()
            .map(|(_, swiped, sign)| sign * dot(taste, swiped))
            .sum();
        score += settings.feedback_weight * tune / viewer.swiped.len() as f32;
        if let Some((_, _, sign)) = viewer
            .swiped
            .iter()
            .find(|(t, _, _)| Some(*t) == candidate.person)
        {
            score += settings.feedback_weight * sign;
        }
    }
    score -= settings.safety_weight * candidate.harassment_risk;
    score -= settings.impression_discount * (candidate.impressions as f32).ln_1p();
    score
}

/// Ranks a retrieved `pool` for `viewer`: features, margins by `ranker`, fusion and
/// adjustments (`adjusted_score`), then MMR and the head slots (`order_pool`) for a list of
/// `shown`. Returns pool indices, best first: the first `shown` diversified, the rest of the
/// pool in score order.
pub fn rank_pool(
    graph: &SocialGraph,
    two_hop: &TwoHop,
    viewer: &Viewer<'_>,
    pool: &[Candidate<'_>],
    ranker: Ranker<'_>,
    settings: &PipelineSettings,
    shown: usize,
) -> Vec<usize> {
    let (mut forward, mut backward) = ([0.0f32; FEATURES], [0.0f32; FEATURES]);
    let mut scores = Vec::with_capacity(pool.len());
    let mut mutual = Vec::with_capacity(pool.len());
    for candidate in pool {
        let pair = pair_rows(
            graph,
            two_hop,
            viewer,
            candidate,
            &mut forward,
            &mut backward,
        );
        mutual.push(pair.mutual);
        let (f, b) = (ranker.margin(&forward), ranker.margin(&backward));
        scores.push(adjusted_score(settings, viewer, candidate, f, b));
    }
    order_pool(
        graph,
        viewer,
        pool,
        &scores,
        &mutual,
        settings.diversity,
        shown,
    )
}

/// MMR over the scored pool for a list of `shown` (similarity: half same community on the
/// known graph, half taste), then a weak tie (no mutual ties), a strong tie and an adjacent
/// interest (a category other than the viewer's) in the head when the pool has them. The
/// rest of the pool follows in score order.
fn order_pool(
    graph: &SocialGraph,
    viewer: &Viewer<'_>,
    pool: &[Candidate<'_>],
    scores: &[f32],
    mutual: &[u32],
    diversity: f32,
    shown: usize,
) -> Vec<usize> {
    let communities: Vec<Option<u32>> = pool
        .iter()
        .map(|c| {
            c.person
                .filter(|&p| graph.degree(p as usize) > 0)
                .map(|p| graph.community(p as usize))
        })
        .collect();
    let similarity = |a: usize, b: usize| {
        let same = match (communities[a], communities[b]) {
            (Some(x), Some(y)) => f32::from(u8::from(x == y)),
            _ => 0.0,
        };
        let taste = match (pool[a].signals.taste, pool[b].signals.taste) {
            (Some(x), Some(y)) => dot(x, y).max(0.0),
            _ => 0.0,
        };
        0.5 * same + 0.5 * taste
    };
    let scored: Vec<(usize, f32)> = scores.iter().copied().enumerate().collect();
    let mut order = diversify(&scored, shown, diversity, similarity);
    let weak_tie = |i: usize| mutual.get(i).is_some_and(|&m| m == 0);
    let strong_tie = |i: usize| mutual.get(i).is_some_and(|&m| m > 0);
    let adjacent = |i: usize| {
        viewer.category.is_some_and(|mine| {
            pool[i]
                .category
                .is_some_and(|c| !c.eq_ignore_ascii_case(mine))
        })
    };
    ensure_in_head(&mut order, shown, &[&weak_tie, &strong_tie, &adjacent]);
    order
}

/// The score used before any re-ranker is trained: taste beyond the viewer's radius, the
/// relative Adamic-Adar and mutual ties, as a margin.
fn prior_margin(features: &[f32]) -> f32 {
    let get = |name: &str| {
        FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| features.get(i).copied())
            .unwrap_or(0.0)
    };
    8.0 * get("taste_margin_viewer")
        + 2.0 * get("adamic_adar_relative_viewer")
        + 0.5 * get("mutual_ties").ln_1p()
        + 0.5 * get("trait_overlap")
        - 2.0
}

/// Makes each of `wants`, in turn, hold for at least one of the first `head` of `order` when
/// any later entry satisfies it: the best such entry replaces the lowest-ranked head entry
/// that no earlier want depends on (that entry moves to just after the head).
fn ensure_in_head(order: &mut Vec<usize>, head: usize, wants: &[&dyn Fn(usize) -> bool]) {
    let head = head.min(order.len());
    let mut kept: Vec<usize> = Vec::new();
    for wanted in wants {
        if let Some(&already) = order[..head].iter().find(|&&i| wanted(i)) {
            kept.push(already);
            continue;
        }
        let Some(pos) = order[head..].iter().position(|&i| wanted(i)) else {
            continue;
        };
        let Some(slot) = (0..head).rev().find(|&s| !kept.contains(&order[s])) else {
            return;
        };
        let chosen = order.remove(head + pos);
        let displaced = std::mem::replace(&mut order[slot], chosen);
        order.insert(head, displaced);
        kept.push(chosen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_wanted_kind_gets_a_head_slot_without_evicting_another() {
        // Head of 3; 7 is the only odd number, 8 the only multiple of 4 outside the head.
        let mut order = vec![2, 6, 10, 7, 8, 12];
        let odd = |i: usize| i % 2 == 1;
        let four = |i: usize| i.is_multiple_of(4);
        let even = |i: usize| i.is_multiple_of(2);
        ensure_in_head(&mut order, 3, &[&odd, &four, &even]);
        assert_eq!(order, vec![2, 8, 7, 6, 10, 12]);
        // Nothing to do when the head already satisfies every want, or nothing can.
        let mut same = vec![1, 4, 2];
        ensure_in_head(&mut same, 3, &[&odd, &four, &|i| i > 100]);
        assert_eq!(same, vec![1, 4, 2]);
    }

    #[test]
    fn a_shared_intent_a_swipe_and_a_report_move_a_candidate() {
        let settings = PipelineSettings::SERVED;
        let taste = [1.0f32, 0.0];
        let viewer = Viewer {
            signals: PersonSignals {
                intents: 0b11,
                ..PersonSignals::default()
            },
            ..Viewer::default()
        };
        let plain = Candidate {
            signals: PersonSignals {
                taste: Some(&taste),
                ..PersonSignals::default()
            },
            ..Candidate::default()
        };
        let base = adjusted_score(&settings, &viewer, &plain, 0.0, 0.0);
        let sharing = Candidate {
            signals: PersonSignals {
                intents: 0b01,
                ..plain.signals
            },
            ..plain.clone()
        };
        let lifted = adjusted_score(&settings, &viewer, &sharing, 0.0, 0.0);
        assert!((lifted - base - settings.intent_weight).abs() < 1e-6);
        let reported = Candidate {
            harassment_risk: 0.5,
            ..plain.clone()
        };
        let lowered = adjusted_score(&settings, &viewer, &reported, 0.0, 0.0);
        assert!((base - lowered - 0.5 * settings.safety_weight).abs() < 1e-6);
        let swiped_less = Viewer {
            swiped: vec![(9, &taste[..], -1.0)],
            ..viewer.clone()
        };
        assert!(adjusted_score(&settings, &swiped_less, &plain, 0.0, 0.0) < base);
    }
}

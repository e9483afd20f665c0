//! The candidate pipeline behind `POST /v1/discovery/candidates`: filtered ANN retrieval and
//! friends-of-friends → pair features → re-ranker in both directions, fused → intent, feedback,
//! impression and safety adjustments → MMR diversity with a weak-tie and an adjacent-interest
//! slot → impressions and the exposure tally (fairness). Also the live rooms and the v1
//! baseline behind the feature flag.
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use mesh_shared::{DiscoveryCandidate, PublicCard, RankingVersion, UserId};

use mesh_ann::inner_product as dot;
use mesh_ranking::{
    FEATURES, GbtParams, GradientBoostedTrees, PairGraph, PersonSignals, diversify,
    fuse_reciprocal, pair_features,
};
use crate::{Cohort, DiscoveryIndex, Experiment, OutreachPolicy, SocialState};

/// People retrieved by taste before re-ranking (at least; `3 k` when larger).
const TASTE_POOL: usize = 60;
/// People retrieved from the friends-of-friends.
const GRAPH_POOL: usize = 100;
/// Weight of the log-probability of each direction in the fused score.
const BACKWARD_WEIGHT: f32 = 0.5;
/// MMR trade-off between relevance and similarity to what is already shown.
const DIVERSITY: f32 = 0.2;
/// Added per intent flag both people have active.
const INTENT_WEIGHT: f32 = 0.5;
/// Scale of the swipe-to-tune adjustment (mean signed similarity to swiped people).
const FEEDBACK_WEIGHT: f32 = 1.0;
/// Scale of the harassment-risk penalty.
const SAFETY_WEIGHT: f32 = 3.0;
/// People above this harassment risk are not suggested at all.
/// Discount per `ln(1 + times already shown)`.
const IMPRESSION_DISCOUNT: f32 = 0.3;
/// Accounts younger than this are "new" in the exposure tally.
const NEW_ACCOUNT_DAYS: u64 = 30;

/// What the discovery pipeline keeps between requests.
#[derive(Debug, Default)]
pub struct Discovery {
    pub(crate) social: RwLock<SocialState>,
    ranker: RwLock<Option<Arc<GradientBoostedTrees>>>,
    pub(crate) outreach: OutreachPolicy,
    exposure: Mutex<ExposureTally>,
    experiment: RwLock<Option<Experiment>>,
}

/// DCG-weighted exposure per group in everything shown so far, beside each group's share of
/// the people who were candidates (the fairness post-check).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct ExposureTally {
    /// Group → (candidates seen, exposure).
    pub groups: BTreeMap<String, (u64, f64)>,
}

impl ExposureTally {
    /// Per group: (share of candidates, share of exposure, their ratio).
    pub fn shares(&self) -> BTreeMap<String, (f64, f64, f64)> {
        let candidates: u64 = self.groups.values().map(|g| g.0).sum();
        let exposure: f64 = self.groups.values().map(|g| g.1).sum();
        self.groups
            .iter()
            .map(|(name, &(c, e))| {
                let share = c as f64 / candidates.max(1) as f64;
                let exposed = if exposure > 0.0 { e / exposure } else { 0.0 };
                let ratio = if share > 0.0 { exposed / share } else { 0.0 };
                (name.clone(), (share, exposed, ratio))
            })
            .collect()
    }
}

/// Why a discovery request is not answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryRefusal {
    /// The kill switch is off.
    Off,
}

impl Discovery {
    /// A pipeline over replayed `social` state and an optional trained re-ranker.
    pub fn new(social: SocialState, ranker: Option<GradientBoostedTrees>) -> Self {
        Self {
            social: RwLock::new(social),
            ranker: RwLock::new(ranker.map(Arc::new)),
            outreach: OutreachPolicy::default(),
            exposure: Mutex::default(),
            experiment: RwLock::new(None),
        }
    }

    /// Runs `experiment` on signed viewers (`None`: everyone gets the flags' ranking): its
    /// hold-out is served v1, each arm v2 with its MMR diversity weight.
    pub fn set_experiment(&self, experiment: Option<Experiment>) {
        *self
            .experiment
            .write()
            .unwrap_or_else(PoisonError::into_inner) = experiment;
    }

    /// The running experiment, if any.
    pub fn experiment(&self) -> Option<Experiment> {
        self.experiment
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fairness tally so far.
    pub fn exposure(&self) -> ExposureTally {
        self.exposure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether a trained re-ranker is in use (else the prior blend scores).
    pub fn has_ranker(&self) -> bool {
        self.ranker
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Swaps in a newly trained re-ranker.
    pub fn set_ranker(&self, model: GradientBoostedTrees) {
        *self.ranker.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(model));
    }

    /// The `k` suggestions for taste vector `query` at `now_ms`. `viewer` is the signed-in
    /// person whose ties, blocks, snoozes, intents, feedback and impressions apply; `exclude`
    /// (an unsigned caller's own id) is only left out, never personalised for.
    ///
    /// # Errors
    /// [`DiscoveryRefusal::Off`] when the kill switch is off.
    pub fn candidates(
        &self,
        index: &DiscoveryIndex,
        (viewer, exclude): (Option<&UserId>, Option<&UserId>),
        query: &[f32],
        k: usize,
        now_ms: u64,
    ) -> Result<Vec<DiscoveryCandidate>, DiscoveryRefusal> {
        let ranking = {
            let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
            social.ranking().ok_or(DiscoveryRefusal::Off)?
        };
        let experiment = self.experiment();
        let cohort = experiment.as_ref().zip(viewer).map(|(e, v)| e.assign(v));
        let shown = match (ranking, cohort) {
            (RankingVersion::V1, _) | (RankingVersion::V2, Some(Cohort::Holdout)) => {
                self.v1(index, viewer, exclude, k, now_ms)
            }
            (RankingVersion::V2, Some(Cohort::Arm(arm))) => {
                let diversity = experiment.map_or(DIVERSITY, |e| e.diversity_of(arm));
                self.v2(index, (viewer, exclude), query, k, diversity, now_ms)
            }
            (RankingVersion::V2, None) => {
                self.v2(index, (viewer, exclude), query, k, DIVERSITY, now_ms)
            }
        };
        self.record(&shown, now_ms);
        Ok(shown)
    }

    /// The people present in `room` now, nearest to `topic` first, without the viewer and
    /// anyone they blocked or who blocked them.
    pub fn room_candidates(
        &self,
        index: &DiscoveryIndex,
        room: &str,
        viewer: Option<&UserId>,
        topic: &[f32],
        k: usize,
        now_ms: u64,
    ) -> Result<Vec<DiscoveryCandidate>, DiscoveryRefusal> {
        let mut social = self.social.write().unwrap_or_else(PoisonError::into_inner);
        social.ranking().ok_or(DiscoveryRefusal::Off)?;
        let present = social.present_in(room, now_ms);
        let me = viewer.and_then(|u| social.find(u));
        let present: Vec<&UserId> = present
            .into_iter()
            .filter(|&p| Some(p) != me && !me.is_some_and(|m| social.blocked_pair(m, p)))
            .filter_map(|p| social.user(p))
            .collect();
        // Rooms are small: an exact scan over the people present only.
        Ok(index.top_k_among(topic, present.into_iter(), k))
    }

    /// v1: people sharing public favourites with the caller's own (public) card.
    fn v1(
        &self,
        index: &DiscoveryIndex,
        viewer: Option<&UserId>,
        exclude: Option<&UserId>,
        k: usize,
        now_ms: u64,
    ) -> Vec<DiscoveryCandidate> {
        let Some(own) = viewer.or(exclude) else {
            return Vec::new();
        };
        let Some((_, card)) = index.profile_of(own) else {
            return Vec::new();
        };
        let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
        let v = viewer.and_then(|u| social.find(u));
        let filter = CandidateFilter::new(&social, v, Some(own), now_ms);
        index.top_k_by_favourites(&card.public_favourites, k, |user, card| {
            filter.keeps(user, card)
        })
    }

    fn v2(
        &self,
        index: &DiscoveryIndex,
        (viewer, exclude): (Option<&UserId>, Option<&UserId>),
        query: &[f32],
        k: usize,
        diversity: f32,
        now_ms: u64,
    ) -> Vec<DiscoveryCandidate> {
        let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
        let v = viewer.and_then(|u| social.find(u));
        let own = viewer.or(exclude);
        let filter = CandidateFilter::new(&social, v, own, now_ms);
        let keep_card = |card: &PublicCard| filter.keeps_card(card);
        let mut pool = index.top_k_where(
            query,
            TASTE_POOL.max(3 * k),
            |user| filter.keeps_user(user),
            (!filter.snoozed.is_empty()).then_some(&keep_card as &dyn Fn(&PublicCard) -> bool),
        );
        let radius = pool.get(9).or(pool.last()).map_or(0.0, |c| c.score);
        let graph = social.graph();
        let two_hop = v.map(|v| graph.two_hop(v as usize)).unwrap_or_default();
        if let Some(v) = v {
            let mut seen: HashSet<UserId> = pool.iter().map(|c| c.user_id.clone()).collect();
            for c in two_hop.best(GRAPH_POOL + graph.degree(v as usize)) {
                let Some(user) = social.user(c) else { continue };
                if seen.contains(user) {
                    continue;
                }
                let Some((vector, card)) = index.profile_of(user) else {
                    continue;
                };
                if !filter.keeps(user, &card) {
                    continue;
                }
                seen.insert(user.clone());
                pool.push(DiscoveryCandidate {
                    user_id: user.clone(),
                    score: dot(query, vector.as_slice()),
                    card,
                });
            }
        }
        if pool.is_empty() {
            return pool;
        }
        // Per pool position: taste vector, social index and community (no hashing later).
        let vectors = index.vectors_of(pool.iter().map(|c| &c.user_id));
        let ids: Vec<Option<u32>> = pool.iter().map(|c| social.find(&c.user_id)).collect();
        let communities: Vec<Option<u32>> = ids
            .iter()
            .map(|c| {
                c.filter(|&c| graph.degree(c as usize) > 0)
                    .map(|c| graph.community(c as usize))
            })
            .collect();
        let viewer_traits = v
            .and_then(|_| viewer.and_then(|u| index.profile_of(u)))
            .map(|(_, card)| card);
        let viewer_trait_ids = trait_ids(viewer_traits.as_ref());
        let viewer_category = viewer_traits.as_ref().and_then(category).map(str::to_owned);
        let best_from_viewer = v.map_or(0.0, |v| two_hop.best_adamic_adar(graph, v as usize));
        let viewer_signals = PersonSignals {
            taste: Some(query),
            taste_radius: radius,
            traits: &viewer_trait_ids,
            intents: v.map_or(0, |v| social.active_intents(v, now_ms)),
            activity_prior: v.map_or(0.0, |v| (graph.degree(v as usize) as f32).ln_1p()),
            best_adamic_adar: best_from_viewer,
            active_hours: active_hours(viewer_traits.as_ref()),
            utc_offset_hours: utc_offset_hours(viewer_traits.as_ref()),
            ..PersonSignals::default()
        };
        let ranker = self
            .ranker
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let swiped: Vec<(u32, Vec<f32>, f32)> = v
            .map(|v| social.feedback_of(v))
            .unwrap_or_default()
            .iter()
            .filter_map(|&(target, more)| {
                let (vector, _) = index.profile_of(social.user(target)?)?;
                Some((target, Vec::from(vector), if more { 1.0 } else { -1.0 }))
            })
            .collect();
        let mut scored: Vec<(usize, f32)> = Vec::with_capacity(pool.len());
        let mut mutual_of = Vec::with_capacity(pool.len());
        let (mut forward, mut backward) = ([0.0f32; FEATURES], [0.0f32; FEATURES]);
        for (i, candidate) in pool.iter().enumerate() {
            let c = ids[i];
            let c_index = c.map_or(usize::MAX, |c| c as usize);
            let v_index = v.map_or(usize::MAX, |v| v as usize);
            let pair = if c.is_some() && v.is_some() {
                PairGraph::of(graph, &two_hop, c_index)
            } else {
                PairGraph::default()
            };
            mutual_of.push(pair.mutual);
            let candidate_traits = trait_ids(Some(&candidate.card));
            let candidate_vector = vectors[i].as_deref();
            let candidate_signals = PersonSignals {
                taste: candidate_vector,
                taste_radius: radius,
                traits: &candidate_traits,
                intents: c.map_or(0, |c| social.active_intents(c, now_ms)),
                activity_prior: c.map_or(0.0, |c| (graph.degree(c as usize) as f32).ln_1p()),
                recent_accepts: c.map_or(0.0, |c| social.recent_accepts(c, now_ms) as f32),
                active_hours: active_hours(Some(&candidate.card)),
                utc_offset_hours: utc_offset_hours(Some(&candidate.card)),
                ..PersonSignals::default()
            };
            let impressions = match (v, c) {
                (Some(v), Some(c)) => social.impressions(v, c),
                _ => 0,
            };
            pair_features(
                graph,
                &pair,
                v_index,
                c_index,
                &viewer_signals,
                &candidate_signals,
                impressions as f32,
                &mut forward,
            );
            pair_features(
                graph,
                &pair,
                c_index,
                v_index,
                &candidate_signals,
                &viewer_signals,
                impressions as f32,
                &mut backward,
            );
            let (f, b) = match &ranker {
                Some(model) => (model.margin(&forward), model.margin(&backward)),
                None => (prior_margin(&forward), prior_margin(&backward)),
            };
            let mut score = fuse_reciprocal(f, b, BACKWARD_WEIGHT);
            score += INTENT_WEIGHT
                * (viewer_signals.intents & candidate_signals.intents).count_ones() as f32;
            if let Some(cv) = candidate_vector
                && !swiped.is_empty()
            {
                // People like the swiped ones move with them; the swiped person moves most.
                let tune: f32 = swiped.iter().map(|(_, t, sign)| sign * dot(cv, t)).sum();
                score += FEEDBACK_WEIGHT * tune / swiped.len() as f32;
                if let Some((_, _, sign)) = swiped.iter().find(|(t, _, _)| Some(*t) == c) {
                    score += FEEDBACK_WEIGHT * sign;
                }
            }
            if let Some(c) = c {
                score -= SAFETY_WEIGHT * social.harassment_risk(c);
            }
            score -= IMPRESSION_DISCOUNT * (impressions as f32).ln_1p();
            scored.push((i, score));
        }
        let similarity = |a: usize, b: usize| {
            let same = match (communities[a], communities[b]) {
                (Some(x), Some(y)) => f32::from(u8::from(x == y)),
                _ => 0.0,
            };
            let taste = match (&vectors[a], &vectors[b]) {
                (Some(x), Some(y)) => dot(x, y).max(0.0),
                _ => 0.0,
            };
            0.5 * same + 0.5 * taste
        };
        let mut order = diversify(&scored, k, diversity, similarity);
        // A weak tie (no mutual ties) and a strong one, and one adjacent interest (a category
        // other than the viewer's), when the pool has them.
        let weak_tie = |i: usize| mutual_of[i] == 0;
        let strong_tie = |i: usize| mutual_of[i] > 0;
        let adjacent = |i: usize| {
            viewer_category.as_deref().is_some_and(|mine| {
                category(&pool[i].card).is_some_and(|c| !c.eq_ignore_ascii_case(mine))
            })
        };
        ensure_in_head(&mut order, k, &[&weak_tie, &strong_tie, &adjacent]);
        order.truncate(k);
        order.into_iter().map(|i| pool[i].clone()).collect()
    }

    fn record(&self, shown: &[DiscoveryCandidate], now_ms: u64) {
        let mut social = self.social.write().unwrap_or_else(PoisonError::into_inner);
        // A signed viewer's impressions arrive as a `SuggestionsShown` event (see the route).
        let ids: Vec<u32> = shown.iter().map(|c| social.index_of(&c.user_id)).collect();
        let mut exposure = self.exposure.lock().unwrap_or_else(PoisonError::into_inner);
        for (position, &c) in ids.iter().enumerate() {
            let group = if social.account_age_days(c, now_ms) < NEW_ACCOUNT_DAYS {
                "new accounts (< 30 days)"
            } else {
                "established accounts"
            };
            let entry = exposure.groups.entry(group.to_owned()).or_default();
            entry.0 += 1;
            entry.1 += 1.0 / ((position + 2) as f64).log2();
        }
    }

    /// Fits a re-ranker on the queued outcomes (feedback, accepted introductions) with the
    /// features as they are now; `None` when there are fewer than `min_each` positives or
    /// negatives. The model is returned, not installed.
    ///
    /// # Errors
    /// [`crate::Error::Ranking`] if fitting fails.
    pub fn fit_ranker(
        &self,
        index: &DiscoveryIndex,
        now_ms: u64,
        min_each: usize,
    ) -> crate::Result<Result<GradientBoostedTrees, (usize, usize)>> {
        let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
        let graph = social.graph();
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        let mut row = [0.0f32; FEATURES];
        for example in social.training_examples() {
            let (Some(viewer), Some(candidate)) =
                (social.user(example.viewer), social.user(example.candidate))
            else {
                continue;
            };
            let (Some((vv, vcard)), Some((cv, ccard))) =
                (index.profile_of(viewer), index.profile_of(candidate))
            else {
                continue;
            };
            let two_hop = graph.two_hop(example.viewer as usize);
            let pair = PairGraph::of(graph, &two_hop, example.candidate as usize);
            let (vt, ct) = (trait_ids(Some(&vcard)), trait_ids(Some(&ccard)));
            let signals = |taste, traits, user: u32| PersonSignals {
                taste: Some(taste),
                traits,
                intents: social.active_intents(user, now_ms),
                activity_prior: (graph.degree(user as usize) as f32).ln_1p(),
                recent_accepts: social.recent_accepts(user, now_ms) as f32,
                ..PersonSignals::default()
            };
            pair_features(
                graph,
                &pair,
                example.viewer as usize,
                example.candidate as usize,
                &signals(vv.as_slice(), &vt, example.viewer),
                &signals(cv.as_slice(), &ct, example.candidate),
                social.impressions(example.viewer, example.candidate) as f32,
                &mut row,
            );
            rows.extend_from_slice(&row);
            labels.push(f32::from(u8::from(example.positive)));
        }
        let positives = labels.iter().filter(|y| **y == 1.0).count();
        let negatives = labels.len() - positives;
        if positives < min_each || negatives < min_each {
            return Ok(Err((positives, negatives)));
        }
        let params = GbtParams {
            trees: 100,
            max_depth: 3,
            min_child_weight: 1.0,
            ..GbtParams::default()
        };
        Ok(Ok(GradientBoostedTrees::fit(
            &rows, FEATURES, &labels, params,
        )?))
    }
}

/// The score used before any re-ranker is trained: taste beyond the viewer's radius, the
/// relative Adamic-Adar and mutual ties, as a margin.
fn prior_margin(features: &[f32]) -> f32 {
    let get = |name: &str| {
        mesh_ranking::FEATURE_NAMES
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

/// The usual online hours a card publishes (UTC mask; 0 when not published).
fn active_hours(card: Option<&PublicCard>) -> u32 {
    card.and_then(|c| c.activity)
        .map_or(0, |a| a.active_hours_utc)
}

/// The time zone a card publishes, in hours from UTC.
fn utc_offset_hours(card: Option<&PublicCard>) -> Option<f32> {
    card.and_then(|c| c.activity)
        .map(|a| f32::from(a.utc_offset_hours))
}

/// Who one query may return, decided once per query so that the index walk checks a set
/// instead of the social state: never the caller (`own`), nobody in
/// [`SocialState::never_shown_to`], nobody in a category the viewer snoozed.
struct CandidateFilter<'a> {
    own: Option<&'a UserId>,
    never: HashSet<&'a UserId>,
    snoozed: Vec<String>,
}

impl<'a> CandidateFilter<'a> {
    fn new(
        social: &'a SocialState,
        viewer: Option<u32>,
        own: Option<&'a UserId>,
        now_ms: u64,
    ) -> Self {
        Self {
            own,
            never: social
                .never_shown_to(viewer)
                .into_iter()
                .filter_map(|u| social.user(u))
                .collect(),
            snoozed: viewer
                .map(|v| social.snoozed_categories(v, now_ms))
                .unwrap_or_default(),
        }
    }

    fn keeps_user(&self, user: &UserId) -> bool {
        Some(user) != self.own && (self.never.is_empty() || !self.never.contains(user))
    }

    fn keeps_card(&self, card: &PublicCard) -> bool {
        self.snoozed.is_empty()
            || category(card)
                .is_none_or(|cat| !self.snoozed.iter().any(|s| s.eq_ignore_ascii_case(cat)))
    }

    fn keeps(&self, user: &UserId, card: &PublicCard) -> bool {
        self.keeps_user(user) && self.keeps_card(card)
    }
}

/// A card's suggestion category: its first trait's label.
pub(crate) fn category(card: &PublicCard) -> Option<&str> {
    card.traits.first().map(|t| t.label.as_str())
}

/// Trait labels of a card as sorted ids (hashes) for the overlap feature.
fn trait_ids(card: Option<&PublicCard>) -> Vec<u32> {
    let mut ids: Vec<u32> = card
        .map(|card| {
            card.traits
                .iter()
                .map(|t| {
                    let digest = blake3::hash(t.label.to_lowercase().as_bytes());
                    let b = digest.as_bytes();
                    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
                })
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    ids
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
}

//! The candidate pipeline behind `POST /v1/discovery/candidates`, the one `mesh eval` scores:
//! `Discovery::rank` retrieves by taste through the filtered index and from the
//! friends-of-friends, assembles each person's signals once (`PersonFacts`) and runs the
//! ranking stages of `mesh_ranking::rank_pool`. Also v1 behind the flag, the live rooms,
//! re-ranker refits on the outcomes and the exposure tally (fairness).
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use mesh_ann::inner_product as dot;
use mesh_ranking::{
    Candidate, FEATURES, GbtParams, GradientBoostedTrees, PersonSignals, PipelineSettings, Ranker,
    SocialGraph, TwoHop, Viewer, pair_rows, rank_pool,
};
use mesh_shared::{DiscoveryCandidate, PublicCard, RankingVersion, UserId};

use crate::{Cohort, DiscoveryIndex, Experiment, OutreachPolicy, SocialState};

/// Accounts younger than this are "new" in the exposure tally.
const NEW_ACCOUNT_DAYS: u64 = 30;

/// What the discovery pipeline keeps between requests.
#[derive(Debug, Default)]
pub struct Discovery {
    pub(crate) social: RwLock<SocialState>,
    ranker: RwLock<Option<Arc<GradientBoostedTrees>>>,
    pub(crate) outreach: OutreachPolicy,
    exposure: Mutex<ExposureTally>,
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
        }
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
    /// (an unsigned caller's own id) is only left out, never personalised for. A running
    /// `experiment` serves its hold-out v1 and each arm v2 with the arm's MMR diversity.
    ///
    /// # Errors
    /// [`DiscoveryRefusal::Off`] when the kill switch is off.
    pub fn candidates(
        &self,
        index: &DiscoveryIndex,
        (viewer, exclude): (Option<&UserId>, Option<&UserId>),
        query: &[f32],
        k: usize,
        experiment: Option<&Experiment>,
        now_ms: u64,
    ) -> Result<Vec<DiscoveryCandidate>, DiscoveryRefusal> {
        let ranking = {
            let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
            social.ranking().ok_or(DiscoveryRefusal::Off)?
        };
        let cohort = experiment.zip(viewer).map(|(e, v)| e.assign(v));
        let shown = match (ranking, cohort) {
            (RankingVersion::V1, _) | (RankingVersion::V2, Some(Cohort::Holdout)) => {
                self.v1(index, viewer, exclude, k, now_ms)
            }
            (RankingVersion::V2, Some(Cohort::Arm(arm))) => {
                let diversity =
                    experiment.map_or(PipelineSettings::SERVED.diversity, |e| e.diversity_of(arm));
                self.v2(index, (viewer, exclude), query, k, diversity, now_ms)
            }
            (RankingVersion::V2, None) => self.v2(
                index,
                (viewer, exclude),
                query,
                k,
                PipelineSettings::SERVED.diversity,
                now_ms,
            ),
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

    /// The candidate pipeline for taste vector `query`, with no side effect: filtered ANN
    /// retrieval and friends-of-friends, then the ranking stages of
    /// [`mesh_ranking::rank_pool`] with `settings`. Returns the whole retrieved pool in ranked
    /// order, the first `k` diversified; `mesh serve` shows those `k`, `mesh eval` scores the
    /// whole list.
    pub fn rank(
        &self,
        index: &DiscoveryIndex,
        (viewer, exclude): (Option<&UserId>, Option<&UserId>),
        query: &[f32],
        k: usize,
        settings: &PipelineSettings,
        now_ms: u64,
    ) -> Vec<DiscoveryCandidate> {
        let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
        let Some(pool) = RetrievedPool::retrieve(
            &social,
            index,
            (viewer, exclude),
            query,
            k,
            settings,
            now_ms,
        ) else {
            return Vec::new();
        };
        let ranker = self
            .ranker
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let ranker = ranker.as_deref().map_or(Ranker::Prior, Ranker::Trained);
        let graph = social.graph();
        let (viewer_side, candidates) = pool.sides(&social);
        let ranked = rank_pool(
            graph,
            &pool.two_hop,
            &viewer_side,
            &candidates,
            ranker,
            settings,
            k,
        );
        let RetrievedPool { members, .. } = pool;
        let mut members: Vec<Option<DiscoveryCandidate>> = members.into_iter().map(Some).collect();
        ranked
            .into_iter()
            .filter_map(|i| members.get_mut(i).and_then(Option::take))
            .collect()
    }

    /// The feature rows ([`FEATURES`] each, viewer → candidate and back) of the pool that
    /// [`Discovery::rank`] ranks for signed `viewer`'s query: what a re-ranker for that
    /// pipeline is fitted on. Returns the pool's people beside their rows.
    pub fn pool_features(
        &self,
        index: &DiscoveryIndex,
        viewer: &UserId,
        query: &[f32],
        k: usize,
        settings: &PipelineSettings,
        now_ms: u64,
    ) -> PoolFeatures {
        let social = self.social.read().unwrap_or_else(PoisonError::into_inner);
        let mut features = PoolFeatures::default();
        let Some(pool) = RetrievedPool::retrieve(
            &social,
            index,
            (Some(viewer), None),
            query,
            k,
            settings,
            now_ms,
        ) else {
            return features;
        };
        let (viewer_side, candidates) = pool.sides(&social);
        let (mut forward, mut backward) = ([0.0f32; FEATURES], [0.0f32; FEATURES]);
        for (member, candidate) in pool.members.iter().zip(&candidates) {
            pair_rows(
                social.graph(),
                &pool.two_hop,
                &viewer_side,
                candidate,
                &mut forward,
                &mut backward,
            );
            features.people.push(member.user_id.clone());
            features.forward.extend_from_slice(&forward);
            features.backward.extend_from_slice(&backward);
        }
        features
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
        let settings = PipelineSettings {
            diversity,
            ..PipelineSettings::SERVED
        };
        let mut shown = self.rank(index, (viewer, exclude), query, k, &settings, now_ms);
        shown.truncate(k);
        shown
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
    /// features as they are now, each pair's signals assembled as [`Discovery::rank`] assembles
    /// them; `None` when there are fewer than `min_each` positives or negatives. The model is
    /// returned, not installed.
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
        let (mut forward, mut backward) = ([0.0f32; FEATURES], [0.0f32; FEATURES]);
        for example in social.training_examples() {
            let (Some(viewer), Some(candidate)) =
                (social.user(example.viewer), social.user(example.candidate))
            else {
                continue;
            };
            let (Some((viewer_vector, viewer_card)), Some((vector, card))) =
                (index.profile_of(viewer), index.profile_of(candidate))
            else {
                continue;
            };
            let two_hop = graph.two_hop(example.viewer as usize);
            let viewer_facts = PersonFacts::of(
                &social,
                index,
                (Some(example.viewer), Some(&two_hop)),
                Some(&viewer_card),
                Some(Vec::from(viewer_vector)),
                now_ms,
            );
            let facts = PersonFacts::of(
                &social,
                index,
                (Some(example.candidate), None),
                Some(&card),
                Some(Vec::from(vector)),
                now_ms,
            );
            let viewer_side = Viewer {
                person: Some(example.viewer),
                signals: viewer_facts.signals(0.0),
                ..Viewer::default()
            };
            let candidate_side = Candidate {
                person: Some(example.candidate),
                signals: facts.signals(0.0),
                impressions: social.impressions(example.viewer, example.candidate),
                ..Candidate::default()
            };
            pair_rows(
                graph,
                &two_hop,
                &viewer_side,
                &candidate_side,
                &mut forward,
                &mut backward,
            );
            rows.extend_from_slice(&forward);
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

/// The feature rows of one pool ([`Discovery::pool_features`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolFeatures {
    /// The pool's people, in retrieval order.
    pub people: Vec<UserId>,
    /// Their viewer → candidate rows, [`FEATURES`] each.
    pub forward: Vec<f32>,
    /// Their candidate → viewer rows.
    pub backward: Vec<f32>,
}

/// What the pipeline knows of one person, gathered once per query: the inputs of
/// [`PersonSignals`]. Serving and evaluation assemble these the same way, here.
#[derive(Debug, Default)]
struct PersonFacts {
    taste: Option<Vec<f32>>,
    /// Mean taste vector of their ties (published ones only).
    neighbour_taste: Option<Vec<f32>>,
    traits: Vec<u32>,
    activity_prior: f32,
    best_adamic_adar: f32,
    intents: u32,
    recent_accepts: f32,
    active_hours: u32,
    utc_offset_hours: Option<f32>,
}

impl PersonFacts {
    /// The facts of social person `person` (if they have a social index) with `card` and
    /// `taste` (their published vector, or the query for the viewer); `two_hop` is the
    /// person's two-hop neighbourhood when the caller already has it.
    fn of(
        social: &SocialState,
        index: &DiscoveryIndex,
        (person, two_hop): (Option<u32>, Option<&TwoHop>),
        card: Option<&PublicCard>,
        taste: Option<Vec<f32>>,
        now_ms: u64,
    ) -> Self {
        let graph = social.graph();
        let ties = person.map_or(&[][..], |p| graph.neighbours(p as usize));
        Self {
            taste,
            neighbour_taste: mean_taste(index, ties.iter().filter_map(|&t| social.user(t))),
            traits: trait_ids(card),
            activity_prior: (ties.len() as f32).ln_1p(),
            best_adamic_adar: person.map_or(0.0, |p| match two_hop {
                Some(own) => own.best_adamic_adar(graph, p as usize),
                None => graph
                    .two_hop(p as usize)
                    .best_adamic_adar(graph, p as usize),
            }),
            intents: person.map_or(0, |p| social.active_intents(p, now_ms)),
            recent_accepts: person.map_or(0.0, |p| social.recent_accepts(p, now_ms) as f32),
            active_hours: active_hours(card),
            utc_offset_hours: utc_offset_hours(card),
        }
    }

    /// The signals, with the viewer's taste `radius` (a candidate's own radius would need a
    /// nearest-neighbour query per candidate: neither serving nor evaluation computes it).
    fn signals(&self, radius: f32) -> PersonSignals<'_> {
        PersonSignals {
            taste: self.taste.as_deref(),
            taste_radius: radius,
            neighbour_taste: self.neighbour_taste.as_deref(),
            traits: &self.traits,
            activity_prior: self.activity_prior,
            active_hours: self.active_hours,
            utc_offset_hours: self.utc_offset_hours,
            intents: self.intents,
            recent_accepts: self.recent_accepts,
            best_adamic_adar: self.best_adamic_adar,
        }
    }
}

/// The mean taste vector of `people` who published one; `None` if none did.
fn mean_taste<'a>(
    index: &DiscoveryIndex,
    people: impl Iterator<Item = &'a UserId>,
) -> Option<Vec<f32>> {
    let mut sum: Option<Vec<f32>> = None;
    let mut count = 0.0f32;
    for vector in index.vectors_of(people).into_iter().flatten() {
        let total = sum.get_or_insert_with(|| vec![0.0; vector.len()]);
        total.iter_mut().zip(&vector).for_each(|(a, b)| *a += b);
        count += 1.0;
    }
    sum.map(|mut s| {
        s.iter_mut().for_each(|x| *x /= count);
        s
    })
}

/// One query's retrieved pool with everything the ranking stages read about its people.
struct RetrievedPool {
    members: Vec<DiscoveryCandidate>,
    /// Social index of each member, if they have one.
    persons: Vec<Option<u32>>,
    facts: Vec<PersonFacts>,
    categories: Vec<Option<String>>,
    viewer: Option<u32>,
    viewer_facts: PersonFacts,
    viewer_category: Option<String>,
    /// The viewer's swipes: (social index, taste vector, ±1).
    swiped: Vec<(u32, Vec<f32>, f32)>,
    radius: f32,
    two_hop: TwoHop,
}

impl RetrievedPool {
    /// Taste retrieval through the index (filtered: see [`CandidateFilter`]) and the
    /// friends-of-friends of a signed viewer; `None` when nobody is left.
    fn retrieve(
        social: &SocialState,
        index: &DiscoveryIndex,
        (viewer, exclude): (Option<&UserId>, Option<&UserId>),
        query: &[f32],
        k: usize,
        settings: &PipelineSettings,
        now_ms: u64,
    ) -> Option<Self> {
        let v = viewer.and_then(|u| social.find(u));
        let own = viewer.or(exclude);
        let filter = CandidateFilter::new(social, v, own, now_ms);
        let keep_card = |card: &PublicCard| filter.keeps_card(card);
        let mut members = index.top_k_where(
            query,
            settings.taste_pool_for(k),
            |user| filter.keeps_user(user),
            (!filter.snoozed.is_empty()).then_some(&keep_card as &dyn Fn(&PublicCard) -> bool),
        );
        let radius = members
            .get(settings.radius_rank.saturating_sub(1))
            .or(members.last())
            .map_or(0.0, |c| c.score);
        let graph: &SocialGraph = social.graph();
        let two_hop = v.map(|v| graph.two_hop(v as usize)).unwrap_or_default();
        if let Some(v) = v {
            let mut seen: HashSet<UserId> = members.iter().map(|c| c.user_id.clone()).collect();
            for c in two_hop.best(settings.graph_pool_for(graph.degree(v as usize))) {
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
                members.push(DiscoveryCandidate {
                    user_id: user.clone(),
                    score: dot(query, vector.as_slice()),
                    card,
                });
            }
        }
        if members.is_empty() {
            return None;
        }
        let vectors = index.vectors_of(members.iter().map(|c| &c.user_id));
        let persons: Vec<Option<u32>> = members.iter().map(|c| social.find(&c.user_id)).collect();
        let facts = members
            .iter()
            .zip(&persons)
            .zip(vectors)
            .map(|((c, &p), vector)| {
                PersonFacts::of(social, index, (p, None), Some(&c.card), vector, now_ms)
            })
            .collect();
        let categories = members
            .iter()
            .map(|c| category(&c.card).map(str::to_owned))
            .collect();
        let viewer_card = v
            .and_then(|_| viewer.and_then(|u| index.profile_of(u)))
            .map(|(_, card)| card);
        let viewer_facts = match v {
            Some(_) => PersonFacts::of(
                social,
                index,
                (v, Some(&two_hop)),
                viewer_card.as_ref(),
                Some(query.to_vec()),
                now_ms,
            ),
            None => PersonFacts {
                taste: Some(query.to_vec()),
                ..PersonFacts::default()
            },
        };
        let swiped = v
            .map(|v| social.feedback_of(v))
            .unwrap_or_default()
            .iter()
            .filter_map(|&(target, more)| {
                let (vector, _) = index.profile_of(social.user(target)?)?;
                Some((target, Vec::from(vector), if more { 1.0 } else { -1.0 }))
            })
            .collect();
        Some(Self {
            members,
            persons,
            facts,
            categories,
            viewer: v,
            viewer_facts,
            viewer_category: viewer_card.as_ref().and_then(category).map(str::to_owned),
            swiped,
            radius,
            two_hop,
        })
    }

    /// The viewer and the candidates as the ranking stages see them.
    fn sides<'a>(&'a self, social: &SocialState) -> (Viewer<'a>, Vec<Candidate<'a>>) {
        let viewer = Viewer {
            person: self.viewer,
            signals: self.viewer_facts.signals(self.radius),
            category: self.viewer_category.as_deref(),
            swiped: self
                .swiped
                .iter()
                .map(|(person, vector, sign)| (*person, vector.as_slice(), *sign))
                .collect(),
        };
        let candidates = self
            .persons
            .iter()
            .zip(&self.facts)
            .zip(&self.categories)
            .map(|((&person, facts), category)| Candidate {
                person,
                signals: facts.signals(self.radius),
                category: category.as_deref(),
                impressions: match (self.viewer, person) {
                    (Some(v), Some(c)) => social.impressions(v, c),
                    _ => 0,
                },
                harassment_risk: person.map_or(0.0, |c| social.harassment_risk(c)),
            })
            .collect();
        (viewer, candidates)
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

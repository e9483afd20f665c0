//! Setting B with the served candidate pipeline. Every dataset user becomes a person of the
//! coordinator — a device key, a published profile with their taste vector and a card whose
//! traits are the top tags of their favourites — and the known ties become accepted
//! introductions. Each person's list is then what `POST /v1/discovery/candidates` answers
//! them: [`Discovery::rank`] with [`PipelineSettings::SERVED`], the same function, pool sizes,
//! features, communities and MMR. The re-ranker it uses is fitted on label splits of the known
//! ties (the hidden test ties are only ever scored), with its tree count and depth chosen by
//! cross-fitting on those validation splits.
use std::collections::{BTreeMap, HashMap};

use mesh_coordinator::{Discovery, DiscoveryIndex, SocialEvent, SocialState, Store, StoredProfile};
use mesh_ranking::{
    FEATURES, GbtParams, GradientBoostedTrees, PipelineSettings, SocialGraph, fuse_reciprocal,
};
use mesh_shared::{
    CardTrait, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, RequestAuth, TasteVector, UserId,
};

use super::metrics::RankMetrics;
use super::scorers::PairScorer;
use crate::Dataset;

/// The evaluation's "now": registrations are 400 days and ties 365 days older, so that no
/// tie counts as a recent acceptance and no account as new.
pub const EVAL_NOW_MS: u64 = 1_800_000_000_000;
const DAY_MS: u64 = 86_400_000;
/// When every person registered.
const REGISTERED_MS: u64 = EVAL_NOW_MS - 400 * DAY_MS;
/// When every known tie's introduction was accepted.
const TIED_MS: u64 = EVAL_NOW_MS - 365 * DAY_MS;
/// Length of the shown list (the diversified head) that eval scores and serving shows.
pub(crate) const SHOWN: usize = 10;
/// Traits on a card (the card's limit).
const CARD_TRAITS: usize = 8;

/// Every dataset user as a person of the coordinator, with the discovery index of their
/// published profiles.
#[derive(Debug)]
pub struct EvalPopulation {
    ids: Vec<UserId>,
    secrets: Vec<[u8; 32]>,
    uploads: Vec<Option<ProfileUpload>>,
    by_id: HashMap<UserId, usize>,
    index: DiscoveryIndex,
}

impl EvalPopulation {
    /// The people of `dataset` with their unit `taste` vectors (`None`: nothing published)
    /// under `model_version`. Device keys are derived from the user's position, so the same
    /// dataset always gives the same people.
    ///
    /// # Errors
    /// [`crate::Error::Shared`] for a taste vector that is not a unit 256-d vector.
    pub fn new(
        dataset: &Dataset,
        taste: Vec<Option<Vec<f32>>>,
        model_version: u32,
    ) -> crate::Result<Self> {
        let index = DiscoveryIndex::default();
        let traits = top_tags(dataset);
        let (mut ids, mut secrets, mut uploads) = (Vec::new(), Vec::new(), Vec::new());
        let mut by_id = HashMap::new();
        for (u, taste) in taste.into_iter().enumerate() {
            let secret = *blake3::hash(format!("mesh eval person {u}").as_bytes()).as_bytes();
            let id = UserId::from_public_key(&RequestAuth::public_key_from_secret(&secret));
            let upload = match taste {
                Some(vector) => {
                    let upload = ProfileUpload {
                        schema_version: PROFILE_SCHEMA_VERSION,
                        model_version,
                        taste_vector: TasteVector::try_from(vector)?,
                        card: PublicCard {
                            display_name: format!("person {u}"),
                            traits: traits.get(u).cloned().unwrap_or_default(),
                            public_favourites: Vec::new(),
                            activity: None,
                            tone: None,
                        },
                    };
                    index.upsert(id.clone(), upload.taste_vector.clone(), upload.card.clone());
                    Some(upload)
                }
                None => None,
            };
            by_id.insert(id.clone(), u);
            ids.push(id);
            secrets.push(secret);
            uploads.push(upload);
        }
        Ok(Self {
            ids,
            secrets,
            uploads,
            by_id,
            index,
        })
    }

    /// People in the population.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Dataset user `u`'s id.
    pub fn user_id(&self, u: usize) -> Option<&UserId> {
        self.ids.get(u)
    }

    /// Dataset user `u`'s device secret (what signs their requests).
    pub fn device_secret(&self, u: usize) -> Option<[u8; 32]> {
        self.secrets.get(u).copied()
    }

    /// Dataset user `u`'s published profile, if they have a taste vector.
    pub fn upload(&self, u: usize) -> Option<&ProfileUpload> {
        self.uploads.get(u).and_then(Option::as_ref)
    }

    /// The dataset position of `user`.
    pub fn position(&self, user: &UserId) -> Option<usize> {
        self.by_id.get(user).copied()
    }

    /// The coordinator's event log for this population with `ties` known: everyone
    /// registered, then each tie an accepted introduction.
    pub fn events(&self, ties: &[(usize, usize)]) -> Vec<SocialEvent> {
        let registrations = self.ids.iter().map(|user| SocialEvent::Registered {
            user: user.clone(),
            at_ms: REGISTERED_MS,
        });
        registrations.chain(self.ties(ties)).collect()
    }

    /// Each known tie as the accepted introduction that made it.
    fn ties<'a>(&'a self, ties: &'a [(usize, usize)]) -> impl Iterator<Item = SocialEvent> + 'a {
        ties.iter().filter_map(|&(a, b)| {
            Some(SocialEvent::IntroductionAccepted {
                from: self.ids.get(a)?.clone(),
                to: self.ids.get(b)?.clone(),
                at_ms: TIED_MS,
            })
        })
    }

    /// The discovery service over this population with `ties` known, as a coordinator that
    /// replayed [`EvalPopulation::events`] holds it, ranking with `ranker`.
    pub fn discovery(
        &self,
        ties: &[(usize, usize)],
        ranker: Option<GradientBoostedTrees>,
    ) -> Discovery {
        let mut social = SocialState::default();
        for event in self.events(ties) {
            social.apply(&event);
        }
        social.refresh_communities();
        Discovery::new(social, ranker)
    }

    /// Writes the population into `store` as its devices and the coordinator would: each key
    /// registered, each profile published, each tie appended as an accepted introduction.
    ///
    /// # Errors
    /// [`crate::Error::Coordinator`] if the store refuses a write.
    pub fn publish_into(&self, store: &dyn Store, ties: &[(usize, usize)]) -> crate::Result<()> {
        for (u, (id, secret)) in self.ids.iter().zip(&self.secrets).enumerate() {
            let key = RequestAuth::public_key_from_secret(secret);
            store.register(id, &key, REGISTERED_MS)?;
            if let Some(upload) = self.upload(u) {
                let stored = StoredProfile {
                    upload: upload.clone(),
                    updated_at_ms: REGISTERED_MS + 1,
                };
                store.put_profile(id, &key, REGISTERED_MS + 1, &stored)?;
            }
        }
        for event in self.ties(ties) {
            store.append_event(None, &event.into())?;
        }
        Ok(())
    }

    /// Dataset user `u`'s suggestions, as the served pipeline ranks them for their own taste
    /// vector: the whole retrieved pool as dataset positions, the shown ten diversified.
    pub fn ranked(&self, discovery: &Discovery, u: usize) -> Vec<usize> {
        let (Some(id), Some(upload)) = (self.ids.get(u), self.upload(u)) else {
            return Vec::new();
        };
        discovery
            .rank(
                &self.index,
                (Some(id), None),
                upload.taste_vector.as_slice(),
                SHOWN,
                &PipelineSettings::SERVED,
                EVAL_NOW_MS,
            )
            .iter()
            .filter_map(|c| self.position(&c.user_id))
            .collect()
    }

    /// The retrieved pool of dataset user `u` with its feature rows, as the served pipeline
    /// computes them.
    fn pool(&self, discovery: &Discovery, u: usize) -> Pool {
        let (Some(id), Some(upload)) = (self.ids.get(u), self.upload(u)) else {
            return Pool::default();
        };
        let features = discovery.pool_features(
            &self.index,
            id,
            upload.taste_vector.as_slice(),
            SHOWN,
            &PipelineSettings::SERVED,
            EVAL_NOW_MS,
        );
        Pool {
            members: features
                .people
                .iter()
                .filter_map(|p| self.position(p))
                .collect(),
            forward: features.forward,
            backward: features.backward,
        }
    }
}

/// Each user's top tags (weighted like the taste vector) as card traits: what their device
/// would infer and publish.
fn top_tags(dataset: &Dataset) -> Vec<Vec<CardTrait>> {
    dataset
        .interactions
        .iter()
        .map(|interactions| {
            let mut weights: BTreeMap<&str, f32> = BTreeMap::new();
            let mut total = 0.0f32;
            for i in interactions {
                let Some(info) = dataset.items.get(&i.item) else {
                    continue;
                };
                let weight = 1.0 + i.weight.ln().max(0.0);
                total += weight;
                for tag in &info.tags {
                    let tag = tag.trim();
                    if (1..=40).contains(&tag.chars().count()) && !tag.chars().any(char::is_control)
                    {
                        *weights.entry(tag).or_default() += weight;
                    }
                }
            }
            let mut ranked: Vec<(&str, f32)> = weights.into_iter().collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            ranked
                .into_iter()
                .take(CARD_TRAITS)
                .map(|(label, weight)| CardTrait {
                    label: label.to_owned(),
                    strength: ((weight / total.max(1.0)).min(1.0) * 20.0).round() / 20.0,
                })
                .collect()
        })
        .collect()
}

#[derive(Debug, Default)]
struct Pool {
    members: Vec<usize>,
    forward: Vec<f32>,
    backward: Vec<f32>,
}

/// The fitted re-ranker.
pub(crate) struct Pipeline {
    pub(crate) model: GradientBoostedTrees,
}

/// Validation figures of each setting tried (for the report's notes).
pub(crate) struct Tuning {
    pub(crate) rows: usize,
    pub(crate) positives: usize,
    pub(crate) trees: usize,
    pub(crate) depth: usize,
    pub(crate) tried: Vec<String>,
    pub(crate) candidate_recall: f64,
}

/// Folds of the cross-fitting on the validation users.
const FOLDS: u64 = 4;
/// Tree counts compared on the validation users, every this many trees.
const TREE_STEP: usize = 25;
/// What [`fit_pipeline`] tries.
pub(crate) struct FitSettings {
    /// Tree depths compared on the validation users.
    pub(crate) depths: &'static [usize],
    /// Boosting parameters apart from the depth; `trees` is the most compared.
    pub(crate) gbt: GbtParams,
}

/// The settings of `mesh eval`.
pub(crate) const FIT_SETTINGS: FitSettings = FitSettings {
    depths: &[5, 7],
    gbt: GbtParams {
        trees: 200,
        max_depth: 5,
        learning_rate: 0.05,
        min_child_weight: 10.0,
        l2: 1.0,
        bins: 64,
    },
};

/// A validation user, their pool, and the out-of-fold margins (forward, backward) of each
/// candidate after every [`TREE_STEP`] trees.
type Scored<'a> = (usize, usize, &'a Pool, Vec<[Vec<f32>; 2]>);

/// One way of hiding known ties: the coordinator's discovery without them, and the hidden
/// ties as labels.
pub(crate) struct LabelSplit {
    pub(crate) discovery: Discovery,
    pub(crate) known: SocialGraph,
    pub(crate) labels: SocialGraph,
}

/// Splits `ties` into `parts` seeded parts; split `i` hides part `i` from the coordinator and
/// uses it as labels, so every tie is a label once (with features from a graph without it).
pub(crate) fn label_splits(
    population: &EvalPopulation,
    ties: &[(usize, usize)],
    parts: usize,
    seed: u64,
) -> Vec<LabelSplit> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let users = population.len();
    let mut shuffled = ties.to_vec();
    shuffled.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    (0..parts)
        .map(|part| {
            let (hidden, kept): (Vec<_>, Vec<_>) = shuffled
                .iter()
                .enumerate()
                .partition(|(i, _)| i % parts == part);
            let kept: Vec<(usize, usize)> = kept.into_iter().map(|(_, t)| *t).collect();
            let hidden: Vec<(usize, usize)> = hidden.into_iter().map(|(_, t)| *t).collect();
            LabelSplit {
                discovery: population.discovery(&kept, None),
                known: SocialGraph::from_ties(users, &kept),
                labels: SocialGraph::from_ties(users, &hidden),
            }
        })
        .collect()
}

/// Share of negative pairs kept as training rows (every positive is kept).
const NEGATIVE_SHARE: u64 = 4;

/// Fits the re-ranker on the label `splits` and chooses its depth and tree count by
/// cross-fitting: people are split in four folds; each fold's labelled users are scored by a
/// model fitted only on pairs of people from the other folds (so a tie is never scored from
/// one end after being learned from the other), and the choice maximises their mean NDCG@10
/// with the served fusion weight. The final model is fitted on everyone with the chosen shape.
pub(crate) fn fit_pipeline(
    population: &EvalPopulation,
    splits: &[LabelSplit],
    settings: &FitSettings,
) -> crate::Result<(Pipeline, Tuning)> {
    let users = population.len();
    let fold_of = |u: usize| splitmix(u as u64) % FOLDS;
    let (mut found, mut total) = (0usize, 0usize);
    let mut pools: Vec<(usize, usize, Pool)> = Vec::new();
    for (split_index, split) in splits.iter().enumerate() {
        for u in (0..users).filter(|&u| split.labels.degree(u) > 0) {
            let pool = population.pool(&split.discovery, u);
            let relevant = split.labels.neighbours(u);
            found += pool
                .members
                .iter()
                .filter(|v| relevant.contains(&(**v as u32)))
                .count();
            total += relevant.len();
            pools.push((split_index, u, pool));
        }
    }
    // `keep(person)`: whether pairs with this person may be training rows.
    let fit = |keep: &dyn Fn(usize) -> bool, params: GbtParams| {
        let (mut rows, mut targets) = (Vec::new(), Vec::new());
        for (split, u, pool) in pools.iter().filter(|(_, u, _)| keep(*u)) {
            // A tie is wanted from both sides: each pair is a row in both directions.
            for (i, &v) in pool.members.iter().enumerate() {
                if !keep(v) {
                    continue;
                }
                let positive = splits[*split].labels.connected(*u, v);
                if !positive
                    && !splitmix(((*u as u64) << 32) | v as u64).is_multiple_of(NEGATIVE_SHARE)
                {
                    continue;
                }
                let label = f32::from(u8::from(positive));
                rows.extend_from_slice(&pool.forward[i * FEATURES..(i + 1) * FEATURES]);
                rows.extend_from_slice(&pool.backward[i * FEATURES..(i + 1) * FEATURES]);
                targets.extend([label, label]);
            }
        }
        let model = GradientBoostedTrees::fit(&rows, FEATURES, &targets, params)?;
        Ok::<_, crate::Error>((model, targets))
    };
    // Out-of-fold margins of every candidate in both directions after every TREE_STEP trees.
    let cross_fit = |params: GbtParams| -> crate::Result<Vec<Scored<'_>>> {
        let mut scored: Vec<Scored<'_>> = Vec::new();
        for fold in 0..FOLDS {
            let (model, _) = fit(&|u| fold_of(u) != fold, params)?;
            let mut staged = Vec::new();
            let mut stage = |row: &[f32]| -> Vec<f32> {
                model.staged_margins(row, &mut staged);
                staged
                    .iter()
                    .skip(TREE_STEP - 1)
                    .step_by(TREE_STEP)
                    .copied()
                    .collect()
            };
            for (split, u, pool) in pools.iter().filter(|(_, u, _)| fold_of(*u) == fold) {
                let margins = (0..pool.members.len())
                    .map(|i| {
                        let rows = i * FEATURES..(i + 1) * FEATURES;
                        [
                            stage(&pool.forward[rows.clone()]),
                            stage(&pool.backward[rows]),
                        ]
                    })
                    .collect();
                scored.push((*split, *u, pool, margins));
            }
        }
        Ok(scored)
    };
    let backward_weight = PipelineSettings::SERVED.backward_weight;
    let validation_ndcg = |scored: &[Scored<'_>], checkpoint: usize| -> f64 {
        let mut ndcg = 0.0;
        for (split, u, pool, margins) in scored {
            let mut fused: Vec<(usize, f32)> = pool
                .members
                .iter()
                .zip(margins)
                .map(|(&v, [f, b])| {
                    (
                        v,
                        fuse_reciprocal(f[checkpoint], b[checkpoint], backward_weight),
                    )
                })
                .collect();
            fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let ranked: Vec<usize> = fused.into_iter().map(|(v, _)| v).collect();
            let relevant = splits[*split].labels.neighbours(*u);
            ndcg += RankMetrics::of(&ranked, |c| relevant.contains(&(c as u32)), relevant.len())
                .ndcg_at_10;
        }
        ndcg / scored.len().max(1) as f64
    };
    let mut tried = Vec::new();
    // (depth, checkpoint, validation NDCG)
    let mut best_shape: Option<(usize, usize, f64)> = None;
    for &max_depth in settings.depths {
        let params = GbtParams {
            max_depth,
            ..settings.gbt
        };
        let scored = cross_fit(params)?;
        for checkpoint in 0..params.trees / TREE_STEP {
            let ndcg = validation_ndcg(&scored, checkpoint);
            tried.push(format!(
                "depth {max_depth}, {} trees: {ndcg:.3}",
                (checkpoint + 1) * TREE_STEP
            ));
            if best_shape.as_ref().is_none_or(|b| ndcg > b.2) {
                best_shape = Some((max_depth, checkpoint, ndcg));
            }
        }
    }
    let Some((max_depth, checkpoint, _)) = best_shape else {
        return Err(mesh_ranking::Error::Ranking("no tree shape to try".into()).into());
    };
    let trees = (checkpoint + 1) * TREE_STEP;
    let params = GbtParams {
        max_depth,
        trees,
        ..settings.gbt
    };
    let (model, targets) = fit(&|_| true, params)?;
    let tuning_report = Tuning {
        rows: targets.len(),
        positives: targets.iter().filter(|y| **y == 1.0).count(),
        trees,
        depth: max_depth,
        tried,
        candidate_recall: found as f64 / total.max(1) as f64,
    };
    Ok((Pipeline { model }, tuning_report))
}

/// The served pipeline as a scorer of every user: the ranked pool first, then everyone else
/// by taste.
pub(crate) struct PipelineScorer<'a> {
    pub(crate) population: &'a EvalPopulation,
    pub(crate) discovery: &'a Discovery,
}

impl PairScorer for PipelineScorer<'_> {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        let own = self.population.upload(u).map(|p| p.taste_vector.as_slice());
        for (v, score) in out.iter_mut().enumerate() {
            *score = match (own, self.population.upload(v)) {
                (Some(a), Some(b)) => mesh_ann::inner_product(a, b.taste_vector.as_slice()),
                _ => -2.0,
            };
        }
        let ranked = self.population.ranked(self.discovery, u);
        let len = ranked.len() as f32;
        for (position, v) in ranked.into_iter().enumerate() {
            out[v] = 10.0 + len - position as f32;
        }
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Four groups of 30 people: ties mostly within a group, taste vectors around the group's
    /// direction. The fitted pipeline must find hidden ties far above chance.
    #[test]
    fn the_fitted_pipeline_recovers_hidden_ties() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (people_count, groups) = (120usize, 4usize);
        let dim = mesh_shared::TASTE_DIM;
        let group = |u: usize| u % groups;
        let taste: Vec<Option<Vec<f32>>> = (0..people_count)
            .map(|u| {
                let mut v: Vec<f32> = (0..dim)
                    .map(|d| {
                        if d < 8 {
                            f32::from(u8::from(d == group(u))) + rng.random::<f32>() * 0.8
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                Some(v)
            })
            .collect();
        let mut ties = Vec::new();
        for a in 0..people_count {
            for b in a + 1..people_count {
                let p = if group(a) == group(b) { 0.25 } else { 0.01 };
                if rng.random::<f64>() < p {
                    ties.push((a, b));
                }
            }
        }
        let (known, hidden) = super::super::split_edges(&ties, 0.2, 1);
        let dataset = Dataset {
            users: (0..people_count).map(|u| format!("u{u}")).collect(),
            interactions: vec![Vec::new(); people_count],
            ..Dataset::default()
        };
        let population = EvalPopulation::new(&dataset, taste, 1).unwrap();
        let splits = label_splits(&population, &known, 5, 2);
        let settings = FitSettings {
            depths: &[3],
            gbt: GbtParams {
                trees: 50,
                ..FIT_SETTINGS.gbt
            },
        };
        let (pipeline, tuning) = fit_pipeline(&population, &splits, &settings).unwrap();
        assert!(tuning.positives > 0 && tuning.trees <= 50);
        let discovery = population.discovery(&known, Some(pipeline.model));
        let known_graph = SocialGraph::from_ties(people_count, &known);
        let hidden_graph = SocialGraph::from_ties(people_count, &hidden);
        let scorer = PipelineScorer {
            population: &population,
            discovery: &discovery,
        };
        let mut scores = vec![0.0; people_count];
        let (mut hits, mut shown, mut chance, mut users) = (0usize, 0usize, 0.0f64, 0usize);
        for u in (0..people_count).filter(|&u| hidden_graph.degree(u) > 0) {
            scorer.score_all(u, &mut scores);
            let mut ranked: Vec<usize> = (0..people_count)
                .filter(|&v| v != u && !known_graph.connected(u, v))
                .collect();
            chance += hidden_graph.degree(u) as f64 / ranked.len() as f64;
            ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
            hits += ranked[..10]
                .iter()
                .filter(|&&v| hidden_graph.connected(u, v))
                .count();
            shown += 10;
            users += 1;
        }
        let precision = hits as f64 / shown as f64;
        let chance = chance / users.max(1) as f64;
        assert!(
            precision > 3.0 * chance,
            "precision@10 {precision:.3} vs chance {chance:.3}"
        );
    }
}

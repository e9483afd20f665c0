//! Setting B with the full candidate pipeline: candidates from taste (the ANN's role) and from
//! friends-of-friends, pair features on the known graph, the gradient-boosted re-ranker scored
//! in both directions and fused, then MMR diversity. The re-ranker is fitted on a validation
//! split of the known ties and its tree count, fusion weight and diversity are chosen on a
//! held-apart part of that split: the hidden ties are only ever scored.
use std::collections::{HashMap, HashSet};

use crate::Dataset;
use mesh_ranking::{
    FEATURES, GbtParams, GradientBoostedTrees, PairGraph, PersonSignals, SocialGraph, diversify,
    fuse_reciprocal, pair_features,
};

use super::scorers::PairScorer;

/// Candidates taken from the taste neighbours and from the friends-of-friends of each user.
pub(crate) const TASTE_CANDIDATES: usize = 200;
const GRAPH_CANDIDATES: usize = 200;
/// The taste radius is the similarity of this neighbour.
const RADIUS_RANK: usize = 10;
/// Length of the diversified head of each list (the shown suggestions).
const SHOWN: usize = 10;

/// What the coordinator knows about every user of a dataset apart from the graph.
pub(crate) struct People {
    taste: Vec<Option<Vec<f32>>>,
    radius: Vec<f32>,
    traits: Vec<Vec<u32>>,
    activity: Vec<f32>,
}

impl People {
    /// Taste vectors (unit or `None`), public traits (the top 10 tags of each user's
    /// favourites, weighted like the taste vector) and an activity prior.
    pub(crate) fn new(dataset: &Dataset, taste: Vec<Option<Vec<f32>>>) -> Self {
        let users = dataset.users.len();
        let radius = (0..users)
            .map(|u| {
                let Some(q) = &taste[u] else { return 0.0 };
                let mut sims: Vec<f32> = taste
                    .iter()
                    .enumerate()
                    .filter(|(v, _)| *v != u)
                    .filter_map(|(_, t)| t.as_ref().map(|t| dot(q, t)))
                    .collect();
                if sims.len() < RADIUS_RANK {
                    return 0.0;
                }
                let (_, nth, _) =
                    sims.select_nth_unstable_by(RADIUS_RANK - 1, |a, b| b.total_cmp(a));
                *nth
            })
            .collect();
        let mut tag_ids: HashMap<&str, u32> = HashMap::new();
        let traits = dataset
            .interactions
            .iter()
            .map(|interactions| {
                let mut weights: HashMap<u32, f32> = HashMap::new();
                for i in interactions {
                    let Some(info) = dataset.items.get(&i.item) else {
                        continue;
                    };
                    for tag in &info.tags {
                        let next = tag_ids.len() as u32;
                        let id = *tag_ids.entry(tag.as_str()).or_insert(next);
                        *weights.entry(id).or_default() += 1.0 + i.weight.ln().max(0.0);
                    }
                }
                let mut ranked: Vec<(u32, f32)> = weights.into_iter().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                let mut top: Vec<u32> = ranked.into_iter().take(10).map(|(t, _)| t).collect();
                top.sort_unstable();
                top
            })
            .collect();
        let activity = dataset
            .interactions
            .iter()
            .map(|i| (i.len() as f32).ln_1p())
            .collect();
        Self {
            taste,
            radius,
            traits,
            activity,
        }
    }

    fn cosine(&self, a: usize, b: usize) -> f32 {
        match (&self.taste[a], &self.taste[b]) {
            (Some(x), Some(y)) => dot(x, y),
            _ => f32::NEG_INFINITY,
        }
    }
}

/// The known graph with everything derived from it.
pub(crate) struct KnownGraph {
    graph: SocialGraph,
    neighbour_taste: Vec<Option<Vec<f32>>>,
    best_adamic_adar: Vec<f32>,
}

impl KnownGraph {
    pub(crate) fn new(people: &People, users: usize, ties: &[(usize, usize)]) -> Self {
        let graph = SocialGraph::from_ties(users, ties);
        let neighbour_taste = (0..users)
            .map(|u| {
                let mut sum: Option<Vec<f32>> = None;
                let mut count = 0.0f32;
                for &w in graph.neighbours(u) {
                    if let Some(t) = &people.taste[w as usize] {
                        let s = sum.get_or_insert_with(|| vec![0.0; t.len()]);
                        s.iter_mut().zip(t).for_each(|(a, b)| *a += b);
                        count += 1.0;
                    }
                }
                sum.map(|mut s| {
                    s.iter_mut().for_each(|x| *x /= count);
                    s
                })
            })
            .collect();
        let best_adamic_adar = (0..users)
            .map(|u| graph.two_hop(u).best_adamic_adar(&graph, u))
            .collect();
        Self {
            graph,
            neighbour_taste,
            best_adamic_adar,
        }
    }

    pub(crate) fn social(&self) -> &SocialGraph {
        &self.graph
    }

    fn signals<'a>(&'a self, people: &'a People, u: usize) -> PersonSignals<'a> {
        PersonSignals {
            taste: people.taste[u].as_deref(),
            taste_radius: people.radius[u],
            neighbour_taste: self.neighbour_taste[u].as_deref(),
            traits: &people.traits[u],
            activity_prior: people.activity[u],
            best_adamic_adar: self.best_adamic_adar[u],
            ..PersonSignals::default()
        }
    }

    /// The candidate pool of `u`: taste neighbours and friends-of-friends who are not tied to
    /// `u` yet, with the features of both directions (`forward` rows then `backward` rows).
    fn candidates(&self, people: &People, u: usize) -> Pool {
        let users = people.taste.len();
        let mut by_taste: Vec<(usize, f32)> = (0..users)
            .filter(|&v| v != u && !self.graph.connected(u, v))
            .map(|v| (v, people.cosine(u, v)))
            .filter(|(_, s)| s.is_finite())
            .collect();
        let take = TASTE_CANDIDATES.min(by_taste.len());
        if take > 0 && take < by_taste.len() {
            by_taste.select_nth_unstable_by(take - 1, |a, b| b.1.total_cmp(&a.1));
        }
        let two_hop = self.graph.two_hop(u);
        let mut members: Vec<usize> = by_taste[..take].iter().map(|e| e.0).collect();
        let mut seen: HashSet<usize> = members.iter().copied().collect();
        for v in two_hop.best(GRAPH_CANDIDATES + self.graph.degree(u)) {
            let v = v as usize;
            if v != u && !self.graph.connected(u, v) && seen.insert(v) {
                members.push(v);
            }
        }
        members.sort_unstable();
        let mut forward = vec![0.0; members.len() * FEATURES];
        let mut backward = vec![0.0; members.len() * FEATURES];
        let su = self.signals(people, u);
        for (i, &v) in members.iter().enumerate() {
            let pair = PairGraph::of(&self.graph, &two_hop, v);
            let sv = self.signals(people, v);
            let rows = i * FEATURES..(i + 1) * FEATURES;
            pair_features(
                &self.graph,
                &pair,
                u,
                v,
                &su,
                &sv,
                0.0,
                &mut forward[rows.clone()],
            );
            pair_features(&self.graph, &pair, v, u, &sv, &su, 0.0, &mut backward[rows]);
        }
        Pool {
            members,
            forward,
            backward,
        }
    }
}

struct Pool {
    members: Vec<usize>,
    forward: Vec<f32>,
    backward: Vec<f32>,
}

/// The tuned pipeline: re-ranker, fusion weight and MMR diversity.
pub(crate) struct Pipeline {
    pub(crate) model: GradientBoostedTrees,
    pub(crate) backward_weight: f32,
    pub(crate) diversity: f32,
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

/// One way of hiding known ties: the graph without them, and the hidden ties as labels.
pub(crate) struct LabelSplit {
    pub(crate) graph: KnownGraph,
    pub(crate) labels: SocialGraph,
}

/// Splits `ties` into `parts` seeded parts; split `i` hides part `i` from the graph and uses
/// it as labels, so every tie is a label once (with features from a graph without it).
pub(crate) fn label_splits(
    people: &People,
    ties: &[(usize, usize)],
    parts: usize,
    seed: u64,
) -> Vec<LabelSplit> {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let users = people.taste.len();
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
                graph: KnownGraph::new(people, users, &kept),
                labels: SocialGraph::from_ties(users, &hidden),
            }
        })
        .collect()
}

/// Share of negative pairs kept as training rows (every positive is kept).
const NEGATIVE_SHARE: u64 = 4;

/// Fits the re-ranker on the label `splits` and chooses its depth, tree count, fusion weight
/// and diversity by cross-fitting: people are split in four folds; each fold's labelled users
/// are scored by a model fitted only on pairs of people from the other folds (so a tie is
/// never scored from one end after being learned from the other), and the choice maximises
/// their mean NDCG@10 while keeping the diversity of their shown lists (`communities`) at
/// least `min_diversity`. The final model is fitted on everyone with the chosen shape.
pub(crate) fn fit_pipeline(
    people: &People,
    splits: &[LabelSplit],
    communities: &[u32],
    min_diversity: f64,
    settings: &FitSettings,
) -> crate::Result<(Pipeline, Tuning)> {
    let users = people.taste.len();
    let fold_of = |u: usize| splitmix(u as u64) % FOLDS;
    let (mut found, mut total) = (0usize, 0usize);
    let mut pools: Vec<(usize, usize, Pool)> = Vec::new();
    for (split_index, split) in splits.iter().enumerate() {
        for u in (0..users).filter(|&u| split.labels.degree(u) > 0) {
            let pool = split.graph.candidates(people, u);
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
    let evaluate = |scored: &[Scored<'_>],
                    checkpoint: usize,
                    backward_weight: f32,
                    diversity: f32|
     -> (f64, f64) {
        let (mut ndcg, mut entropy) = (0.0, 0.0);
        for (split, u, pool, margins) in scored {
            let LabelSplit { graph, labels } = &splits[*split];
            let fused: Vec<(usize, f32)> = pool
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
            let ranked = diversify(&fused, SHOWN, diversity, |a, b| {
                similarity(people, &graph.graph, a, b)
            });
            let relevant = labels.neighbours(*u);
            ndcg += super::metrics::RankMetrics::of(
                &ranked,
                |c| relevant.contains(&(c as u32)),
                relevant.len(),
            )
            .ndcg_at_10;
            entropy += super::metrics::community_entropy(
                ranked.iter().take(SHOWN).map(|&c| communities[c]),
            );
        }
        let n = scored.len().max(1) as f64;
        (ndcg / n, entropy / n)
    };
    let mut tried = Vec::new();
    // (depth, checkpoint, validation NDCG, out-of-fold margins)
    let mut best_shape: Option<(usize, usize, f64, Vec<Scored<'_>>)> = None;
    for &max_depth in settings.depths {
        let params = GbtParams {
            max_depth,
            ..settings.gbt
        };
        let scored = cross_fit(params)?;
        for checkpoint in 0..params.trees / TREE_STEP {
            let (ndcg, _) = evaluate(&scored, checkpoint, 0.5, 0.0);
            tried.push(format!(
                "depth {max_depth}, {} trees: {ndcg:.3}",
                (checkpoint + 1) * TREE_STEP
            ));
            if best_shape.as_ref().is_none_or(|b| ndcg > b.2) {
                best_shape = Some((max_depth, checkpoint, ndcg, Vec::new()));
            }
        }
        if let Some(best) = best_shape.as_mut().filter(|b| b.0 == max_depth) {
            best.3 = scored;
        }
    }
    let Some((max_depth, checkpoint, _, scored)) = best_shape else {
        return Err(mesh_ranking::Error::Ranking("no tree shape to try".into()).into());
    };
    let mut best = (0.5f32, 0.0f32, f64::MIN);
    for backward_weight in [0.0, 0.25, 0.5, 0.75, 1.0] {
        for diversity in [0.0, 0.1, 0.2, 0.3, 0.4, 0.5] {
            let (ndcg, entropy) = evaluate(&scored, checkpoint, backward_weight, diversity);
            tried.push(format!(
                "fusion {backward_weight} diversity {diversity}: {ndcg:.3} ({entropy:.2} bits)"
            ));
            if entropy >= min_diversity && ndcg > best.2 {
                best = (backward_weight, diversity, ndcg);
            }
        }
    }
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
    Ok((
        Pipeline {
            model,
            backward_weight: best.0,
            diversity: best.1,
        },
        tuning_report,
    ))
}

/// MMR similarity of two candidates: same community on the known graph, and taste.
fn similarity(people: &People, graph: &SocialGraph, a: usize, b: usize) -> f32 {
    let same = f32::from(u8::from(graph.community(a) == graph.community(b)));
    0.5 * same + 0.5 * people.cosine(a, b).max(0.0)
}

/// The pipeline as a scorer of every user: the pool in pipeline order first, then everyone
/// else by taste.
pub(crate) struct PipelineScorer<'a> {
    pub(crate) people: &'a People,
    pub(crate) known: &'a KnownGraph,
    pub(crate) pipeline: &'a Pipeline,
}

impl PairScorer for PipelineScorer<'_> {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        for (v, score) in out.iter_mut().enumerate() {
            let cosine = self.people.cosine(u, v);
            *score = if cosine.is_finite() { cosine } else { -2.0 };
        }
        let pool = self.known.candidates(self.people, u);
        let scored: Vec<(usize, f32)> = pool
            .members
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let rows = i * FEATURES..(i + 1) * FEATURES;
                let f = self.pipeline.model.margin(&pool.forward[rows.clone()]);
                let b = self.pipeline.model.margin(&pool.backward[rows]);
                (v, fuse_reciprocal(f, b, self.pipeline.backward_weight))
            })
            .collect();
        let ranked = diversify(&scored, SHOWN, self.pipeline.diversity, |a, b| {
            similarity(self.people, &self.known.graph, a, b)
        });
        let len = ranked.len() as f32;
        for (position, v) in ranked.into_iter().enumerate() {
            out[v] = 10.0 + len - position as f32;
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
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
        let (people_count, groups, dim) = (120usize, 4usize, 8usize);
        let group = |u: usize| u % groups;
        let taste: Vec<Option<Vec<f32>>> = (0..people_count)
            .map(|u| {
                let mut v: Vec<f32> = (0..dim)
                    .map(|d| f32::from(u8::from(d == group(u))) + rng.random::<f32>() * 0.8)
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
        let people = People::new(&dataset, taste);
        let splits = label_splits(&people, &known, 5, 2);
        let communities = super::super::label_propagation(people_count, &known);
        let settings = FitSettings {
            depths: &[3],
            gbt: GbtParams {
                trees: 50,
                ..FIT_SETTINGS.gbt
            },
        };
        let (pipeline, tuning) =
            fit_pipeline(&people, &splits, &communities, 0.0, &settings).unwrap();
        assert!(tuning.positives > 0 && tuning.trees <= 50);
        let known_graph = KnownGraph::new(&people, people_count, &known);
        let hidden_graph = SocialGraph::from_ties(people_count, &hidden);
        let scorer = PipelineScorer {
            people: &people,
            known: &known_graph,
            pipeline: &pipeline,
        };
        let mut scores = vec![0.0; people_count];
        let (mut hits, mut shown, mut chance, mut users) = (0usize, 0usize, 0.0f64, 0usize);
        for u in (0..people_count).filter(|&u| hidden_graph.degree(u) > 0) {
            scorer.score_all(u, &mut scores);
            let mut ranked: Vec<usize> = (0..people_count)
                .filter(|&v| v != u && !known_graph.social().connected(u, v))
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

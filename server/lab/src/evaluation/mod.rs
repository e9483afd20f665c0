//! `mesh eval`: the reference protocol of `shared/data/FORMAT.md` on any dataset in the TSV
//! layout. With ties: rank every other user for each user with at least one tie and report
//! recall@10, recall@50, NDCG@10 and MRR, in setting A (taste only) and setting B (20% of
//! ties hidden, seed 42; the known 80% usable as graph features, blend weights tuned on a
//! validation split of those 80%, never on the hidden ties). Without ties (MovieLens): hide
//! 20% of each user's favourites and report how well the rest recovers them.
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use mesh_models::Catalogue;
use mesh_shared::{
    FavouriteHasher, ItemHash, ModelWeights, WeightedItem, parse_favourite_line, taste_vector,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::Dataset;

mod metrics;
pub(crate) mod pipeline;
mod report;
mod scorers;

use metrics::{CURVE_CUTOFFS, RankMetrics, community_entropy, mean};
use scorers::{AdamicAdar, Blend, DenseCosine, Jaccard, PairScorer, TfIdfCosine};

/// Which setting of the protocol to run on a dataset with ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EvalSetting {
    /// Taste only: every tie is relevant, none is a feature.
    A,
    /// 20% of ties hidden; the rest usable as graph features.
    B,
}

/// How to split and score.
#[derive(Debug, Clone, Copy)]
pub struct EvalOptions {
    /// Seed of every random split (the protocol says 42).
    pub seed: u64,
    /// Share of ties (or favourites) hidden as the test set.
    pub test_fraction: f64,
    /// The setting (ignored without ties: then held-out favourites are scored).
    pub setting: EvalSetting,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            test_fraction: 0.2,
            setting: EvalSetting::A,
        }
    }
}

/// One method's figures in one setting. Serialised with the metric names as keys
/// (`"recall@10"`, `"ndcg@10"`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodScore {
    /// Short key of the method in the JSON report; the project's own method is `mesh`.
    #[serde(skip)]
    pub id: String,
    /// `A`, `B` or `held-out favourites`.
    pub setting: String,
    /// The method.
    pub method: String,
    /// Users evaluated.
    pub users: usize,
    /// Mean recall@10.
    #[serde(rename = "recall@10")]
    pub recall_at_10: f64,
    /// Mean recall@50.
    #[serde(rename = "recall@50")]
    pub recall_at_50: f64,
    /// Mean NDCG@10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_at_10: f64,
    /// Mean reciprocal rank of the first relevant candidate.
    pub mrr: f64,
    /// Mean Shannon entropy (bits) of the communities among each top-10 (datasets with ties).
    #[serde(rename = "diversity@10")]
    pub diversity: Option<f64>,
    /// Share of the candidates (users, or items without ties) that appear in at least one
    /// top-10.
    #[serde(rename = "coverage@10")]
    pub coverage: f64,
    /// Mean recall at cut-offs 1, 2, 5, 10, 20, 30, 50 (`[k, recall]`).
    pub recall_curve: Vec<(usize, f64)>,
    /// Wall time of scoring and ranking, seconds.
    pub seconds: f64,
}

/// Everything `mesh eval` measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Users in the dataset.
    pub users: usize,
    /// Undirected ties in the dataset.
    pub ties: usize,
    /// The model version whose taste vectors were scored.
    pub model_version: u32,
    /// One row per setting and method.
    pub results: Vec<MethodScore>,
    /// How the splits and tuning came out (e.g. the tuned blend weight).
    pub notes: Vec<String>,
}

impl EvalReport {
    /// One object per method, keyed by its id (`mesh` for the project's own), each with the
    /// metric names as keys.
    pub fn methods_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.results
                .iter()
                .map(|r| {
                    (
                        r.id.clone(),
                        serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
                    )
                })
                .collect(),
        )
    }

    /// The results as a Markdown table.
    pub fn to_markdown(&self) -> String {
        let mut out = String::from(
            "| setting | method | users | R@10 | R@50 | NDCG@10 | MRR | diversity@10 | coverage@10 | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.results {
            out.push_str(&format!(
                "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {:.3} | {:.1} |\n",
                r.setting,
                r.method,
                r.users,
                r.recall_at_10,
                r.recall_at_50,
                r.ndcg_at_10,
                r.mrr,
                r.diversity.map_or("—".to_owned(), |d| format!("{d:.2}")),
                r.coverage,
                r.seconds
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("\n{note}"));
        }
        out.push('\n');
        out
    }
}

/// Label splits of the known ties for fitting the re-ranker (each tie is a label in one).
const LABEL_SPLITS: usize = 5;

/// Content shares tried on the validation ties in setting B.
const CONTENT_SHARES: [f32; 5] = [0.0, 0.5, 1.0, 2.0, 4.0];

/// Runs the protocol on `dataset`, scoring the taste vectors of `model` beside the reference
/// methods.
pub fn evaluate(
    dataset: &Dataset,
    catalogue: &Catalogue,
    model: &ModelWeights,
    options: EvalOptions,
) -> EvalReport {
    let item_hashes = item_hashes(dataset, catalogue, &model.hasher());
    let mut report = EvalReport {
        users: dataset.users.len(),
        ties: dataset.edges.len(),
        model_version: model.version(),
        results: Vec::new(),
        notes: Vec::new(),
    };
    let model_name = format!("mesh taste vectors (model v{})", model.version());
    if dataset.edges.is_empty() {
        held_out_favourites(
            dataset,
            model,
            &item_hashes,
            options,
            &model_name,
            &mut report,
        );
        return report;
    }
    let vectors_of = |model: &ModelWeights| -> DenseCosine {
        DenseCosine::new(
            (0..dataset.users.len())
                .map(|u| user_vector(dataset, u, model, &item_hashes, |_| true))
                .collect(),
        )
    };
    let content_tower = model
        .content_tower()
        .filter(|_| !dataset.content.is_empty());
    let rows_only_model = model.clone().with_content_tower(None);
    let jaccard = Jaccard::new(dataset);
    let tfidf = TfIdfCosine::new(dataset);
    let mut dense = vectors_of(model);
    let rows_only = content_tower.map(|_| vectors_of(&rows_only_model));
    let rows_only_name = format!("{model_name} without its content tower");
    if let Some(tower) = content_tower {
        report.notes.push(format!(
            "Content tower: {} of {} items have a content embedding; the model's content share is {}.",
            dataset.content.len(),
            dataset.items.len(),
            tower.share()
        ));
    }
    let users = dataset.users.len();
    let communities = label_propagation(users, &dataset.edges);
    let community_count = communities.iter().collect::<HashSet<_>>().len();
    report.notes.push(format!(
        "Diversity: entropy (bits) of the communities among each top-10; {community_count} communities found by label propagation on all {} ties.",
        dataset.edges.len()
    ));
    let ranking = Ranking {
        users,
        communities: &communities,
    };

    if options.setting == EvalSetting::A {
        let all_ties = AdamicAdar::new(users, &dataset.edges);
        for (id, method, scorer) in [
            (
                "jaccard",
                "Jaccard on favourite sets",
                &jaccard as &dyn PairScorer,
            ),
            (
                "tfidf_cosine",
                "cosine on TF-IDF weighted favourites",
                &tfidf,
            ),
            ("mesh", model_name.as_str(), &dense),
        ] {
            report.results.push(ranking.rank_all(
                ("A", id, method),
                scorer,
                |u| all_ties.neighbours(u),
                |_| &[],
            ));
        }
        if let Some(rows_only) = &rows_only {
            report.results.push(ranking.rank_all(
                ("A", "mesh_without_content", &rows_only_name),
                rows_only,
                |u| all_ties.neighbours(u),
                |_| &[],
            ));
        }
        return report;
    }

    let (known, hidden) = split_edges(&dataset.edges, options.test_fraction, options.seed);
    let (train, validation) = split_edges(&known, options.test_fraction, options.seed + 1);
    let known_graph = AdamicAdar::new(users, &known);
    let hidden_graph = AdamicAdar::new(users, &hidden);
    let train_graph = AdamicAdar::new(users, &train);
    let validation_graph = AdamicAdar::new(users, &validation);
    let tune = |other: &dyn PairScorer| -> f32 {
        let mut best = (0.0, f64::MIN);
        for step in 0..=10 {
            let alpha = step as f32 / 10.0;
            let blend = Blend {
                a: &train_graph,
                b: other,
                alpha,
            };
            let score = ranking
                .rank_all(
                    ("validation", "", ""),
                    &blend,
                    |u| validation_graph.neighbours(u),
                    |u| train_graph.neighbours(u),
                )
                .ndcg_at_10;
            if score > best.1 {
                best = (alpha, score);
            }
        }
        best.0
    };
    let alpha_tfidf = tune(&tfidf);
    let mut alpha_dense = tune(&dense);
    if let Some(tower) = content_tower {
        // The content share is tuned with the blend weight, on the validation ties only.
        let validation_ndcg = |scorer: &dyn PairScorer| {
            ranking
                .rank_all(
                    ("validation", "", ""),
                    scorer,
                    |u| validation_graph.neighbours(u),
                    |u| train_graph.neighbours(u),
                )
                .ndcg_at_10
        };
        let mut best = (tower.share(), alpha_dense, f64::MIN);
        let mut tried = Vec::new();
        for share in CONTENT_SHARES {
            let Ok(tower) = tower.with_share(share) else {
                continue;
            };
            let candidate = vectors_of(&model.clone().with_content_tower(Some(tower)));
            let alpha = tune(&candidate);
            let score = validation_ndcg(&Blend {
                a: &train_graph,
                b: &candidate,
                alpha,
            });
            tried.push(format!("{share}: {score:.3}"));
            if score > best.2 {
                best = (share, alpha, score);
                dense = candidate;
            }
        }
        alpha_dense = best.1;
        report.notes.push(format!(
            "Content share tuned on the validation ties (validation NDCG@10 per share: {}): {}.",
            tried.join(", "),
            best.0
        ));
    }
    report.notes.push(format!(
        "Setting B: {} of {} ties hidden (seed {}); blend weights tuned on a validation split of the known ties: Adamic-Adar weight {alpha_tfidf:.1} with TF-IDF, {alpha_dense:.1} with the taste vectors.",
        hidden.len(),
        dataset.edges.len(),
        options.seed
    ));
    let blend_tfidf = Blend {
        a: &known_graph,
        b: &tfidf,
        alpha: alpha_tfidf,
    };
    let blend_dense = Blend {
        a: &known_graph,
        b: &dense,
        alpha: alpha_dense,
    };
    let blend_tfidf_name = format!("Adamic-Adar + TF-IDF blend (weight {alpha_tfidf:.1})");
    let blend_dense_name = format!("Adamic-Adar + {model_name} blend (weight {alpha_dense:.1})");
    for (id, method, scorer) in [
        (
            "adamic_adar",
            "Adamic-Adar on the known ties",
            &known_graph as &dyn PairScorer,
        ),
        ("jaccard", "Jaccard on favourite sets", &jaccard),
        (
            "tfidf_cosine",
            "cosine on TF-IDF weighted favourites",
            &tfidf,
        ),
        (
            "mesh_taste_only",
            model_name.as_str(),
            &dense as &dyn PairScorer,
        ),
        ("adamic_adar+tfidf", blend_tfidf_name.as_str(), &blend_tfidf),
        ("mesh_blend", blend_dense_name.as_str(), &blend_dense),
    ] {
        report.results.push(ranking.rank_all(
            ("B", id, method),
            scorer,
            |u| hidden_graph.neighbours(u),
            |u| known_graph.neighbours(u),
        ));
    }
    full_pipeline(
        (dataset, model.version()),
        &dense,
        (&known, options.seed),
        &jaccard,
        &ranking,
        (&hidden_graph, &known_graph),
        &mut report,
    );
    report
}

/// Setting B with the served pipeline (candidates, re-ranker in both directions, MMR): its
/// re-ranker fitted on label splits of the `known` ties, then every user's list ranked as the
/// coordinator ranks it with `known` as the graph and scored on the hidden ties; adds the
/// `mesh` row and notes on the fit and on exposure by degree group.
fn full_pipeline(
    (dataset, model_version): (&Dataset, u32),
    dense: &DenseCosine,
    (known, seed): (&[Tie], u64),
    v1: &dyn PairScorer,
    ranking: &Ranking<'_>,
    (hidden_graph, known_graph): (&AdamicAdar, &AdamicAdar),
    report: &mut EvalReport,
) {
    let users = dataset.users.len();
    let started = Instant::now();
    let population =
        match pipeline::EvalPopulation::new(dataset, dense.vectors().to_vec(), model_version) {
            Ok(population) => population,
            Err(error) => {
                report
                    .notes
                    .push(format!("The full pipeline could not be built: {error}."));
                return;
            }
        };
    let splits = pipeline::label_splits(&population, known, LABEL_SPLITS, seed + 2);
    let known_communities = label_propagation(users, known);
    let v1_diversity = ranking_entropy(v1, &splits[0].labels, &splits[0].known, &known_communities);
    let fitted = pipeline::fit_pipeline(&population, &splits, &pipeline::FIT_SETTINGS);
    let (fitted, tuning) = match fitted {
        Ok(fitted) => fitted,
        Err(error) => {
            report
                .notes
                .push(format!("The full pipeline could not be fitted: {error}."));
            return;
        }
    };
    let served = mesh_ranking::PipelineSettings::SERVED;
    report.notes.push(format!(
        "Full pipeline (`mesh`): every user a person of the coordinator (published taste vector, top tags as card traits, known ties as accepted introductions), each list ranked by `Discovery::rank`, the function `POST /v1/discovery/candidates` runs, with the served settings (taste pool {}, friends-of-friends {} + degree, fusion weight {}, MMR diversity {}). The re-ranker it uses was fitted in {:.1} s on {} rows (5 splits of the known ties, each hiding a fifth as labels; both directions of each candidate pair, a quarter of the negatives; {} positive); its shape chosen by 4-fold cross-fitting over people: {} trees of depth {}. v1's diversity on the validation labels: {v1_diversity:.2} bits. The served pools hold {:.1}% of the validation ties. Validation NDCG@10 tried: {}.",
        served.taste_pool,
        served.graph_pool,
        served.backward_weight,
        served.diversity,
        started.elapsed().as_secs_f64(),
        tuning.rows,
        tuning.positives,
        tuning.trees,
        tuning.depth,
        tuning.candidate_recall * 100.0,
        tuning.tried.join("; ")
    ));
    let discovery = population.discovery(known, Some(fitted.model));
    let scorer = pipeline::PipelineScorer {
        population: &population,
        discovery: &discovery,
    };
    let score = ranking.rank_all(
        (
            "B",
            "mesh",
            "mesh pipeline as served: candidates → GBT re-ranker (both directions) → MMR",
        ),
        &scorer,
        |u| hidden_graph.neighbours(u),
        |u| known_graph.neighbours(u),
    );
    report.results.push(score);
    let exposure = exposure_by_degree(&scorer, known_graph, hidden_graph, users);
    report.notes.push(format!(
        "Exposure in the pipeline's top-10 by degree on the known graph (share of people → share of DCG-weighted exposure): {}; smallest ratio {:.2}.",
        exposure
            .groups
            .iter()
            .map(|(g, p, e)| format!("{g}: {:.1}% → {:.1}%", p * 100.0, e * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        exposure.min_ratio
    ));
}

/// Mean community entropy of the top-10 of `scorer` for every user with a label, leaving out
/// the user and their ties in `graph`.
fn ranking_entropy(
    scorer: &dyn PairScorer,
    labels: &mesh_ranking::SocialGraph,
    known: &mesh_ranking::SocialGraph,
    communities: &[u32],
) -> f64 {
    let users = labels.people();
    let mut scores = vec![0.0f32; users];
    let mut entropies = Vec::new();
    for u in (0..users).filter(|&u| labels.degree(u) > 0) {
        scorer.score_all(u, &mut scores);
        let mut candidates: Vec<usize> = (0..users)
            .filter(|&v| v != u && !known.connected(u, v))
            .collect();
        candidates.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        entropies.push(community_entropy(
            candidates.iter().take(10).map(|&c| communities[c]),
        ));
    }
    entropies.iter().sum::<f64>() / entropies.len().max(1) as f64
}

/// The fairness post-check of the evaluation: exposure of people by degree group.
fn exposure_by_degree(
    scorer: &dyn PairScorer,
    known: &AdamicAdar,
    hidden: &AdamicAdar,
    users: usize,
) -> mesh_ranking::ExposureReport {
    let group = |v: usize| match known.neighbours(v).len() {
        0..=2 => "0–2 ties".to_owned(),
        3..=9 => "3–9 ties".to_owned(),
        _ => "10+ ties".to_owned(),
    };
    let mut scores = vec![0.0f32; users];
    let mut lists: Vec<Vec<usize>> = Vec::new();
    for u in (0..users).filter(|&u| !hidden.neighbours(u).is_empty()) {
        scorer.score_all(u, &mut scores);
        let excluded: HashSet<u32> = known.neighbours(u).iter().copied().collect();
        let mut candidates: Vec<usize> = (0..users)
            .filter(|&v| v != u && !excluded.contains(&(v as u32)))
            .collect();
        candidates.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
        candidates.truncate(10);
        lists.push(candidates);
    }
    mesh_ranking::ExposureReport::of(
        lists.iter().map(Vec::as_slice),
        (0..users).map(group),
        group,
    )
}

/// Community label per user: asynchronous label propagation in user order, ties broken
/// towards the smallest label, until stable (at most 50 sweeps). Isolated users keep their
/// own label.
fn label_propagation(users: usize, edges: &[Tie]) -> Vec<u32> {
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); users];
    for &(a, b) in edges {
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    let mut labels: Vec<u32> = (0..users as u32).collect();
    for _ in 0..50 {
        let mut changed = false;
        for u in 0..users {
            let mut counts: HashMap<u32, usize> = HashMap::new();
            for &v in &neighbours[u] {
                *counts.entry(labels[v]).or_default() += 1;
            }
            let Some(best) = counts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(label, _)| *label)
            else {
                continue;
            };
            if best != labels[u] {
                labels[u] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

/// Ranks users for users.
struct Ranking<'a> {
    users: usize,
    communities: &'a [u32],
}

impl Ranking<'_> {
    /// Ranks every candidate for every user with at least one relevant user; `excluded(u)`
    /// are left out of `u`'s candidates (known ties in setting B).
    fn rank_all<'r>(
        &self,
        (setting, id, method): (&str, &str, &str),
        scorer: &dyn PairScorer,
        relevant: impl Fn(usize) -> &'r [u32],
        excluded: impl Fn(usize) -> &'r [u32],
    ) -> MethodScore {
        let start = Instant::now();
        let users = self.users;
        let mut scores = vec![0.0f32; users];
        let mut per_user = Vec::new();
        let mut entropy = Vec::new();
        let mut shown = vec![false; users];
        for u in 0..users {
            let relevant_set: HashSet<u32> = relevant(u).iter().copied().collect();
            if relevant_set.is_empty() {
                continue;
            }
            scorer.score_all(u, &mut scores);
            let excluded_set: HashSet<u32> = excluded(u).iter().copied().collect();
            let mut candidates: Vec<usize> = (0..users)
                .filter(|&v| v != u && !excluded_set.contains(&(v as u32)))
                .collect();
            candidates.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            for &c in candidates.iter().take(10) {
                shown[c] = true;
            }
            entropy.push(community_entropy(
                candidates.iter().take(10).map(|&c| self.communities[c]),
            ));
            per_user.push(RankMetrics::of(
                &candidates,
                |c| relevant_set.contains(&(c as u32)),
                relevant_set.len(),
            ));
        }
        let m = mean(&per_user);
        let seconds = start.elapsed().as_secs_f64();
        if !method.is_empty() {
            tracing::info!(setting, method, users = per_user.len(), seconds, "ranked");
        }
        MethodScore {
            id: id.to_owned(),
            setting: setting.to_owned(),
            method: method.to_owned(),
            users: per_user.len(),
            recall_at_10: m.recall_at_10,
            recall_at_50: m.recall_at_50,
            ndcg_at_10: m.ndcg_at_10,
            mrr: m.mrr,
            diversity: Some(entropy.iter().sum::<f64>() / entropy.len().max(1) as f64),
            coverage: shown.iter().filter(|s| **s).count() as f64 / users.max(1) as f64,
            recall_curve: CURVE_CUTOFFS.into_iter().zip(m.recall_curve).collect(),
            seconds,
        }
    }
}

/// An undirected tie between two user indices.
type Tie = (usize, usize);

/// Splits ties into (kept, hidden) with a seeded shuffle; `fraction` of them are hidden.
fn split_edges(edges: &[Tie], fraction: f64, seed: u64) -> (Vec<Tie>, Vec<Tie>) {
    let mut shuffled = edges.to_vec();
    shuffled.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let hidden = (shuffled.len() as f64 * fraction).round() as usize;
    let kept = shuffled.split_off(hidden);
    (kept, shuffled)
}

/// The keyed hash of every titled item, resolved like a typed favourite.
pub(crate) fn item_hashes(
    dataset: &Dataset,
    catalogue: &Catalogue,
    hasher: &FavouriteHasher,
) -> HashMap<String, ItemHash> {
    dataset
        .items
        .iter()
        .filter_map(|(id, info)| {
            let entry = parse_favourite_line(1, &info.title).ok().flatten()?;
            Some((id.clone(), hasher.hash(&catalogue.key_of(&entry))))
        })
        .collect()
}

/// A user's taste vector from the interactions `keep` accepts, weights damped `1 + ln w`.
fn user_vector(
    dataset: &Dataset,
    u: usize,
    model: &ModelWeights,
    item_hashes: &HashMap<String, ItemHash>,
    keep: impl Fn(&crate::Interaction) -> bool,
) -> Option<Vec<f32>> {
    let items: Vec<WeightedItem> = dataset.interactions[u]
        .iter()
        .filter(|i| keep(i))
        .filter_map(|i| {
            Some(WeightedItem {
                hash: *item_hashes.get(&i.item)?,
                weight: 1.0 + i.weight.ln().max(0.0),
                content: dataset.content.get(&i.item).map(Vec::as_slice),
            })
        })
        .collect();
    taste_vector(model, &items).ok().map(Vec::from)
}

/// The favourites hidden per user when a dataset has no ties: a seeded share of each user's
/// titled favourites (item ids), for users with at least 5. Training that is to be evaluated
/// this way leaves them out (`mesh train --hold-out`).
pub fn held_out_split(dataset: &Dataset, options: EvalOptions) -> Vec<HashSet<String>> {
    let titled_items: HashSet<&str> = dataset
        .items
        .iter()
        .filter(|(_, info)| matches!(parse_favourite_line(1, &info.title), Ok(Some(_))))
        .map(|(id, _)| id.as_str())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    dataset
        .interactions
        .iter()
        .map(|interactions| {
            let mut titled: Vec<&str> = interactions
                .iter()
                .map(|i| i.item.as_str())
                .filter(|i| titled_items.contains(i))
                .collect();
            if titled.len() < 5 {
                return HashSet::new();
            }
            titled.shuffle(&mut rng);
            let hidden = ((titled.len() as f64) * options.test_fraction)
                .round()
                .max(1.0) as usize;
            titled[..hidden].iter().map(|i| (*i).to_owned()).collect()
        })
        .collect()
}

/// Without ties: rank every titled item for each user with hidden favourites, by popularity
/// among the known favourites and by cosine between the user's taste vector (from the known
/// favourites) and the item's row.
fn held_out_favourites(
    dataset: &Dataset,
    model: &ModelWeights,
    item_hashes: &HashMap<String, ItemHash>,
    options: EvalOptions,
    model_name: &str,
    report: &mut EvalReport,
) {
    let split = held_out_split(dataset, options);
    let mut items: Vec<&String> = item_hashes.keys().collect();
    items.sort();
    let index: HashMap<&str, usize> = items
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut popularity = vec![0.0f32; items.len()];
    for (interactions, hidden) in dataset.interactions.iter().zip(&split) {
        for i in interactions.iter().filter(|i| !hidden.contains(&i.item)) {
            if let Some(&at) = index.get(i.item.as_str()) {
                popularity[at] += 1.0;
            }
        }
    }
    // Items are scored as in PureSVD, taste vector · item latent row. The served rows are
    // `idf · E`, so the latent row is the served row divided by the bucket's IDF over the
    // known favourites (what `mesh train --hold-out` computed it from).
    let mut document_frequency: HashMap<u32, u32> = HashMap::new();
    let mut clients = 0u32;
    for (interactions, hidden) in dataset.interactions.iter().zip(&split) {
        let buckets: HashSet<u32> = interactions
            .iter()
            .filter(|i| !hidden.contains(&i.item))
            .filter_map(|i| item_hashes.get(&i.item).map(|h| h.bucket(model.buckets())))
            .collect();
        clients += u32::from(!buckets.is_empty());
        for bucket in buckets {
            *document_frequency.entry(bucket).or_default() += 1;
        }
    }
    let rows: Vec<Vec<f32>> = items
        .iter()
        .map(|id| {
            let bucket = item_hashes[*id].bucket(model.buckets());
            let idf = document_frequency
                .get(&bucket)
                .map_or(0.0, |&df| (clients as f32 / df as f32).ln());
            let row = model.row(bucket);
            row.iter()
                .map(|x| if idf > 0.0 { x / idf } else { 0.0 })
                .collect()
        })
        .collect();
    let (mut by_popularity, mut by_model) = (Vec::new(), Vec::new());
    let (mut shown_popular, mut shown_model) = (vec![false; items.len()], vec![false; items.len()]);
    let start = Instant::now();
    for (u, hidden_ids) in split.iter().enumerate() {
        let hidden: HashSet<usize> = hidden_ids
            .iter()
            .filter_map(|i| index.get(i.as_str()).copied())
            .collect();
        if hidden.is_empty() {
            continue;
        }
        let known: HashSet<usize> = dataset.interactions[u]
            .iter()
            .filter(|i| !hidden_ids.contains(&i.item))
            .filter_map(|i| index.get(i.item.as_str()).copied())
            .collect();
        let candidates: Vec<usize> = (0..items.len()).filter(|i| !known.contains(i)).collect();
        let rank = |scores: &[f32], shown: &mut [bool]| {
            let mut ranked = candidates.clone();
            ranked.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            for &c in ranked.iter().take(10) {
                shown[c] = true;
            }
            RankMetrics::of(&ranked, |c| hidden.contains(&c), hidden.len())
        };
        by_popularity.push(rank(&popularity, &mut shown_popular));
        if let Some(vector) = user_vector(dataset, u, model, item_hashes, |i| {
            !hidden_ids.contains(&i.item)
        }) {
            let scores: Vec<f32> = rows
                .iter()
                .map(|row| row.iter().zip(&vector).map(|(a, b)| a * b).sum())
                .collect();
            by_model.push(rank(&scores, &mut shown_model));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    for (id, method, all, shown) in [
        (
            "popularity",
            "most popular items",
            &by_popularity,
            &shown_popular,
        ),
        ("mesh", model_name, &by_model, &shown_model),
    ] {
        let m = mean(all);
        report.results.push(MethodScore {
            id: id.to_owned(),
            diversity: None,
            coverage: shown.iter().filter(|s| **s).count() as f64 / items.len().max(1) as f64,
            recall_curve: CURVE_CUTOFFS.into_iter().zip(m.recall_curve).collect(),
            setting: "held-out favourites".to_owned(),
            method: method.to_owned(),
            users: all.len(),
            recall_at_10: m.recall_at_10,
            recall_at_50: m.recall_at_50,
            ndcg_at_10: m.ndcg_at_10,
            mrr: m.mrr,
            seconds,
        });
    }
    report.notes.push(format!(
        "No ties in this dataset: {:.0}% of each user's titled favourites hidden (seed {}), users with at least 5; a model trained with `mesh train --hold-out` never saw them.",
        options.test_fraction * 100.0,
        options.seed
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Interaction;
    use mesh_models::initial_model;

    fn likes(items: &[&str]) -> Vec<Interaction> {
        items
            .iter()
            .map(|i| Interaction {
                item: (*i).to_owned(),
                weight: 3.0,
                timestamp: None,
            })
            .collect()
    }

    #[test]
    fn label_propagation_finds_separate_groups() {
        let edges = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)];
        let labels = label_propagation(7, &edges);
        assert_eq!(labels[0], labels[1]);
        assert_eq!(labels[1], labels[2]);
        assert_eq!(labels[3], labels[4]);
        assert_eq!(labels[4], labels[5]);
        assert_ne!(labels[0], labels[3]);
        assert_ne!(labels[6], labels[0]);
        assert_ne!(labels[6], labels[3]);
    }

    #[test]
    fn friends_with_the_same_favourites_rank_first() {
        let mut dataset = Dataset {
            users: (0..6).map(|u| format!("u{u}")).collect(),
            interactions: vec![
                likes(&["1", "2", "3"]),
                likes(&["1", "2", "3"]),
                likes(&["4", "5", "6"]),
                likes(&["4", "5", "6"]),
                likes(&["7", "8"]),
                likes(&["9", "10"]),
            ],
            ..Dataset::default()
        };
        for (id, title) in [
            ("1", "Blade Runner (1982)"),
            ("2", "Alien (1979)"),
            ("4", "Radiohead"),
            ("5", "Daft Punk"),
        ] {
            dataset.items.insert(
                id.to_owned(),
                crate::ItemInfo {
                    title: title.to_owned(),
                    tags: Vec::new(),
                },
            );
        }
        dataset.edges = vec![(0, 1), (2, 3)];
        let catalogue = Catalogue::embedded();
        let report = evaluate(
            &dataset,
            catalogue,
            &initial_model(catalogue, 1),
            EvalOptions::default(),
        );
        let jaccard = report
            .results
            .iter()
            .find(|r| r.setting == "A" && r.method.starts_with("Jaccard"))
            .unwrap();
        assert_eq!(
            (jaccard.users, jaccard.ndcg_at_10, jaccard.mrr),
            (4, 1.0, 1.0)
        );
        let dense = report
            .results
            .iter()
            .find(|r| r.setting == "A" && r.method.starts_with("mesh"))
            .unwrap();
        assert_eq!(
            dense.mrr, 1.0,
            "identical titled favourites give identical taste vectors"
        );
        assert!(
            report
                .to_markdown()
                .contains("| A | Jaccard on favourite sets | 4 | 1.000 |")
        );
        let json = report.methods_json();
        assert_eq!(json["mesh"]["mrr"], 1.0);
        assert_eq!(json["jaccard"]["ndcg@10"], 1.0);
        assert!(json["tfidf_cosine"]["recall@50"].is_number());
        // Two communities ({0, 1} and {2, 3}) and two singletons: a top-10 of 5 candidates
        // holds at least three communities.
        assert!(json["mesh"]["diversity@10"].as_f64().unwrap() > 1.0);

        let setting_b = evaluate(
            &dataset,
            catalogue,
            &initial_model(catalogue, 1),
            EvalOptions {
                setting: EvalSetting::B,
                ..EvalOptions::default()
            },
        );
        assert!(setting_b.results.iter().all(|r| r.setting == "B"));
        for id in [
            "adamic_adar",
            "adamic_adar+tfidf",
            "mesh",
            "mesh_taste_only",
        ] {
            assert!(setting_b.methods_json()[id]["ndcg@10"].is_number(), "{id}");
        }
    }
}

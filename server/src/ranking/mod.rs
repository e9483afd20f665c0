//! The candidate pipeline's ranking stages, shared by `mesh serve` and `mesh eval`: pair
//! features on the known graph, the gradient-boosted re-ranker, reciprocal fusion of both
//! directions, maximal-marginal-relevance diversity and the exposure (fairness) check.
mod features;
mod gbt;
mod social_graph;

pub use features::{FEATURE_NAMES, FEATURES, PairGraph, PersonSignals, pair_features};
pub use gbt::{GbtParams, GradientBoostedTrees};
pub use social_graph::{SocialGraph, TwoHop};

/// Fuses the re-ranker's margins in both directions into one score: the weighted sum of the
/// log-probabilities that the viewer wants the candidate (`forward`) and that the candidate
/// wants the viewer (`backward`). `backward_weight` 0 ignores the candidate's side, 0.5 is the
/// geometric mean of the two probabilities.
pub fn fuse_reciprocal(forward: f32, backward: f32, backward_weight: f32) -> f32 {
    (1.0 - backward_weight) * log_sigmoid(forward) + backward_weight * log_sigmoid(backward)
}

/// `ln σ(x)` without overflow for large |x|.
fn log_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// Maximal marginal relevance: picks `k` of `pool` (candidate, score) greedily, each time the
/// one maximising `(1 − diversity) · relevance − diversity · max similarity to those picked`,
/// relevance being the score min-max scaled over the pool. `diversity` 0 keeps score order.
/// Returns the picks in order, then the rest of the pool in score order.
pub fn diversify(
    pool: &[(usize, f32)],
    k: usize,
    diversity: f32,
    similarity: impl Fn(usize, usize) -> f32,
) -> Vec<usize> {
    let mut rest: Vec<(usize, f32)> = pool.to_vec();
    rest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if diversity <= 0.0 || rest.len() <= 1 {
        return rest.into_iter().map(|(c, _)| c).collect();
    }
    let (low, high) = rest
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), e| {
            (l.min(e.1), h.max(e.1))
        });
    let span = if high > low { high - low } else { 1.0 };
    let mut picked: Vec<usize> = Vec::with_capacity(k);
    let mut max_similarity = vec![0.0f32; rest.len()];
    while picked.len() < k && !rest.is_empty() {
        let (best, _) = rest
            .iter()
            .enumerate()
            .map(|(i, &(_, score))| {
                let relevance = (score - low) / span;
                let penalty = if picked.is_empty() {
                    0.0
                } else {
                    max_similarity[i]
                };
                (i, (1.0 - diversity) * relevance - diversity * penalty)
            })
            .fold(
                (0, f32::NEG_INFINITY),
                |best, e| {
                    if e.1 > best.1 { e } else { best }
                },
            );
        let (chosen, _) = rest.remove(best);
        max_similarity.remove(best);
        for (m, &(c, _)) in max_similarity.iter_mut().zip(&rest) {
            *m = m.max(similarity(chosen, c));
        }
        picked.push(chosen);
    }
    picked.extend(rest.into_iter().map(|(c, _)| c));
    picked
}

/// Exposure of groups in the shown lists against their share of the candidates: the fairness
/// post-check. Position `i` of a list carries the DCG weight `1 / log2(i + 2)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExposureReport {
    /// Per group: (group, share of the population, share of the exposure).
    pub groups: Vec<(String, f64, f64)>,
    /// The smallest ratio of exposure share to population share over the groups (1 is
    /// exactly proportional).
    pub min_ratio: f64,
}

impl ExposureReport {
    /// The report for `lists` of people, with `group_of(person)` naming each person's group
    /// and `population` the group of every candidate.
    pub fn of<'a>(
        lists: impl Iterator<Item = &'a [usize]>,
        population: impl Iterator<Item = String>,
        group_of: impl Fn(usize) -> String,
    ) -> Self {
        use std::collections::BTreeMap;
        let mut members: BTreeMap<String, f64> = BTreeMap::new();
        for group in population {
            *members.entry(group).or_default() += 1.0;
        }
        let mut exposure: BTreeMap<String, f64> = BTreeMap::new();
        for list in lists {
            for (i, &person) in list.iter().enumerate() {
                *exposure.entry(group_of(person)).or_default() += 1.0 / ((i + 2) as f64).log2();
            }
        }
        let total_members: f64 = members.values().sum::<f64>().max(1.0);
        let total_exposure: f64 = exposure.values().sum::<f64>().max(f64::MIN_POSITIVE);
        let groups: Vec<(String, f64, f64)> = members
            .iter()
            .map(|(g, m)| {
                (
                    g.clone(),
                    m / total_members,
                    exposure.get(g).copied().unwrap_or(0.0) / total_exposure,
                )
            })
            .collect();
        let min_ratio = groups
            .iter()
            .filter(|(_, share, _)| *share > 0.0)
            .map(|(_, share, exposed)| exposed / share)
            .fold(f64::INFINITY, f64::min);
        Self {
            groups,
            min_ratio: if min_ratio.is_finite() {
                min_ratio
            } else {
                0.0
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_is_the_weighted_log_probability() {
        let p = |x: f32| 1.0 / (1.0 + (-x).exp());
        let fused = fuse_reciprocal(1.0, -2.0, 0.5);
        let expected = 0.5 * p(1.0).ln() + 0.5 * p(-2.0).ln();
        assert!((fused - expected).abs() < 1e-5, "{fused} vs {expected}");
        assert!((fuse_reciprocal(3.0, -50.0, 0.0) - p(3.0).ln()).abs() < 1e-5);
        assert!(fuse_reciprocal(80.0, 80.0, 0.5).is_finite());
        assert!(fuse_reciprocal(-80.0, -80.0, 0.5).is_finite());
        // Both sides wanting each other beats one side wanting strongly.
        assert!(fuse_reciprocal(2.0, 2.0, 0.5) > fuse_reciprocal(5.0, -3.0, 0.5));
    }

    #[test]
    fn diversify_spreads_over_groups() {
        // Candidates 0..4 in group A with top scores, 5 in group B slightly lower.
        let pool: Vec<(usize, f32)> = vec![(0, 1.0), (1, 0.99), (2, 0.98), (3, 0.97), (5, 0.9)];
        let group = |c: usize| usize::from(c == 5);
        let same = |a: usize, b: usize| f32::from(u8::from(group(a) == group(b)));
        assert_eq!(diversify(&pool, 2, 0.0, same), vec![0, 1, 2, 3, 5]);
        let spread = diversify(&pool, 2, 0.5, same);
        assert_eq!(&spread[..2], &[0, 5]);
        assert_eq!(spread.len(), 5, "the rest follow in score order");
        assert_eq!(&spread[2..], &[1, 2, 3]);
    }

    #[test]
    fn exposure_of_a_known_list() {
        let lists = [vec![0usize, 1], vec![0, 2]];
        let report = ExposureReport::of(
            lists.iter().map(Vec::as_slice),
            ["a", "a", "b", "b"].into_iter().map(String::from),
            |p| if p < 2 { "a" } else { "b" }.to_owned(),
        );
        let w1 = 1.0 / 3f64.log2();
        let total = 2.0 + 2.0 * w1;
        assert_eq!(report.groups[0].0, "a");
        assert!((report.groups[0].2 - (2.0 + w1) / total).abs() < 1e-12);
        assert!((report.min_ratio - (w1 / total) / 0.5).abs() < 1e-12);
    }
}

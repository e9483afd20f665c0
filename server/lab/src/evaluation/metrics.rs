//! Ranking metrics of the reference protocol: recall@k, NDCG@k (binary relevance) and MRR;
//! plus the diversity of a top-10 (entropy of its communities) and the recall curve.

/// The cut-offs of the recall curve plotted in the report.
pub(crate) const CURVE_CUTOFFS: [usize; 7] = [1, 2, 5, 10, 20, 30, 50];

/// Metrics of one ranked list against its relevant set.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct RankMetrics {
    pub(crate) recall_at_10: f64,
    pub(crate) recall_at_50: f64,
    pub(crate) ndcg_at_10: f64,
    pub(crate) mrr: f64,
    /// Recall at each of [`CURVE_CUTOFFS`].
    pub(crate) recall_curve: [f64; CURVE_CUTOFFS.len()],
}

impl RankMetrics {
    /// `ranking` holds candidates best first; `relevant(c)` says whether `c` is relevant;
    /// `relevant_count` is the size of the relevant set (> 0).
    pub(crate) fn of(
        ranking: &[usize],
        relevant: impl Fn(usize) -> bool,
        relevant_count: usize,
    ) -> Self {
        let total = relevant_count.max(1) as f64;
        let hits_within =
            |k: usize| ranking.iter().take(k).filter(|c| relevant(**c)).count() as f64;
        let dcg: f64 = ranking
            .iter()
            .take(10)
            .enumerate()
            .filter(|(_, c)| relevant(**c))
            .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let ideal: f64 = (0..relevant_count.min(10))
            .map(|i| 1.0 / ((i + 2) as f64).log2())
            .sum();
        let first = ranking.iter().position(|c| relevant(*c));
        Self {
            recall_at_10: hits_within(10) / total,
            recall_at_50: hits_within(50) / total,
            ndcg_at_10: if ideal > 0.0 { dcg / ideal } else { 0.0 },
            mrr: first.map_or(0.0, |p| 1.0 / (p + 1) as f64),
            recall_curve: CURVE_CUTOFFS.map(|k| hits_within(k) / total),
        }
    }
}

/// Shannon entropy (bits) of the community labels of a top-k list: 0 when every candidate
/// comes from one community, `log2 k` when each comes from a different one.
pub(crate) fn community_entropy(labels: impl Iterator<Item = u32>) -> f64 {
    let mut counts: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut total = 0usize;
    for label in labels {
        *counts.entry(label).or_default() += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

/// Mean of per-user metrics.
pub(crate) fn mean(all: &[RankMetrics]) -> RankMetrics {
    let n = all.len().max(1) as f64;
    let mut sum = RankMetrics::default();
    for m in all {
        sum.recall_at_10 += m.recall_at_10;
        sum.recall_at_50 += m.recall_at_50;
        sum.ndcg_at_10 += m.ndcg_at_10;
        sum.mrr += m.mrr;
        for (s, r) in sum.recall_curve.iter_mut().zip(m.recall_curve) {
            *s += r;
        }
    }
    RankMetrics {
        recall_at_10: sum.recall_at_10 / n,
        recall_at_50: sum.recall_at_50 / n,
        ndcg_at_10: sum.ndcg_at_10 / n,
        mrr: sum.mrr / n,
        recall_curve: sum.recall_curve.map(|r| r / n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial() {
        let m = RankMetrics::of(&[3, 1, 2], |c| c == 3, 1);
        assert_eq!((m.recall_at_10, m.ndcg_at_10, m.mrr), (1.0, 1.0, 1.0));
    }

    #[test]
    fn entropy_of_communities() {
        assert_eq!(community_entropy([1, 1, 1].into_iter()), 0.0);
        assert!((community_entropy([1, 2, 3, 4].into_iter()) - 2.0).abs() < 1e-12);
        assert!((community_entropy([1, 1, 2, 2].into_iter()) - 1.0).abs() < 1e-12);
        assert_eq!(community_entropy(std::iter::empty()), 0.0);
    }

    #[test]
    fn known_values() {
        // Relevant {2, 5}; ranking 1, 2, 3, 4, 5: hits at positions 2 and 5.
        let m = RankMetrics::of(&[1, 2, 3, 4, 5], |c| c == 2 || c == 5, 2);
        let dcg = 1.0 / 3f64.log2() + 1.0 / 6f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2();
        assert!((m.ndcg_at_10 - dcg / idcg).abs() < 1e-12);
        assert_eq!(m.mrr, 0.5);
        assert_eq!(m.recall_at_10, 1.0);
        assert_eq!(m.recall_curve[..4], [0.0, 0.5, 1.0, 1.0]);
        let none = RankMetrics::of(&[1, 3], |c| c == 9, 1);
        assert_eq!(none, RankMetrics::default());
    }
}

//! Gradient-boosted regression trees with the logistic loss (second-order, XGBoost-style
//! split gain), trained on histogram bins of the features: the re-ranker's model.
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How a [`GradientBoostedTrees`] model is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GbtParams {
    /// Boosting rounds (one tree each).
    pub trees: usize,
    /// Depth of every tree (a depth-`d` tree has up to `2^d` leaves).
    pub max_depth: usize,
    /// Shrinkage of every leaf value.
    pub learning_rate: f32,
    /// Smallest hessian sum a child may have.
    pub min_child_weight: f32,
    /// L2 penalty on leaf values.
    pub l2: f32,
    /// Histogram bins per feature (2 to 256), cut at quantiles of the training values.
    pub bins: usize,
}

impl Default for GbtParams {
    fn default() -> Self {
        Self {
            trees: 150,
            max_depth: 4,
            learning_rate: 0.1,
            min_child_weight: 5.0,
            l2: 1.0,
            bins: 64,
        }
    }
}

/// A fitted model: `margin(x) = base + Σ tree(x)`; the probability of a positive is the
/// logistic of the margin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientBoostedTrees {
    features: usize,
    base: f32,
    trees: Vec<Tree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Node {
    /// `x[feature] <= threshold` goes to `left`, else to `right` (node indices).
    Split {
        feature: u16,
        threshold: f32,
        left: u32,
        right: u32,
    },
    Leaf(f32),
}

impl GradientBoostedTrees {
    /// Fits `params.trees` trees to `rows` (row-major, `features` values per row) and `labels`
    /// (each 0 or 1).
    ///
    /// # Errors
    /// [`Error::Ranking`] for parameters out of range, a row count that does not match the
    /// labels, a non-finite feature value or a label other than 0 or 1.
    pub fn fit(rows: &[f32], features: usize, labels: &[f32], params: GbtParams) -> Result<Self> {
        let invalid = |reason: String| Error::Ranking(reason);
        if features == 0 || features > usize::from(u16::MAX) {
            return Err(invalid(format!("{features} features (1 to 65535 allowed)")));
        }
        if !(2..=256).contains(&params.bins)
            || params.max_depth == 0
            || params.max_depth > 16
            || !(params.learning_rate > 0.0 && params.learning_rate.is_finite())
            || !(params.l2 >= 0.0 && params.min_child_weight >= 0.0)
        {
            return Err(invalid(format!("parameters out of range: {params:?}")));
        }
        if rows.len() != labels.len() * features {
            return Err(invalid(format!(
                "{} feature values for {} labels of {features} features",
                rows.len(),
                labels.len()
            )));
        }
        if let Some(i) = rows.iter().position(|x| !x.is_finite()) {
            return Err(invalid(format!(
                "row {} feature {} is not finite",
                i / features,
                i % features
            )));
        }
        if let Some(i) = labels.iter().position(|&y| y != 0.0 && y != 1.0) {
            return Err(invalid(format!(
                "label {i} is {} (0 or 1 expected)",
                labels[i]
            )));
        }
        let n = labels.len();
        let positives = labels.iter().sum::<f32>();
        let prior = ((positives + 0.5) / (n as f32 + 1.0)).clamp(1e-6, 1.0 - 1e-6);
        let base = (prior / (1.0 - prior)).ln();
        let cuts: Vec<Vec<f32>> = (0..features)
            .map(|f| quantile_cuts(rows, features, f, params.bins))
            .collect();
        // Row-major bins: one row's bins share a cache line when histograms are built.
        let mut binned = vec![0u8; n * features];
        for (i, row) in rows.chunks_exact(features).enumerate() {
            for (f, (&x, cut)) in row.iter().zip(&cuts).enumerate() {
                binned[i * features + f] = cut.partition_point(|&c| c < x) as u8;
            }
        }
        let mut margins = vec![base; n];
        let mut gradients = vec![0.0f32; n];
        let mut hessians = vec![0.0f32; n];
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut trees = Vec::with_capacity(params.trees);
        for _ in 0..params.trees {
            for i in 0..n {
                let p = sigmoid(margins[i]);
                gradients[i] = p - labels[i];
                hessians[i] = (p * (1.0 - p)).max(1e-6);
            }
            let mut builder = TreeBuilder {
                binned: &binned,
                features,
                cuts: &cuts,
                gradients: &gradients,
                hessians: &hessians,
                params: &params,
                nodes: Vec::new(),
            };
            builder.grow(&mut order, 0, None);
            let tree = Tree {
                nodes: builder.nodes,
            };
            for (i, margin) in margins.iter_mut().enumerate() {
                *margin += tree.value(&rows[i * features..(i + 1) * features]);
            }
            trees.push(tree);
        }
        Ok(Self {
            features,
            base,
            trees,
        })
    }

    /// Features per row.
    pub fn features(&self) -> usize {
        self.features
    }

    /// Trees in the model.
    pub fn tree_count(&self) -> usize {
        self.trees.len()
    }

    /// Keeps the first `trees` trees (the count chosen on a validation set).
    pub fn truncate(&mut self, trees: usize) {
        self.trees.truncate(trees);
    }

    /// The margin (log-odds) of `row`; a row of the wrong length scores the base rate.
    pub fn margin(&self, row: &[f32]) -> f32 {
        if row.len() != self.features {
            return self.base;
        }
        self.base + self.trees.iter().map(|t| t.value(row)).sum::<f32>()
    }

    /// The margin of `row` after each tree: `out[t]` is the margin with the first `t + 1`
    /// trees (for choosing the tree count on a validation set).
    pub fn staged_margins(&self, row: &[f32], out: &mut Vec<f32>) {
        out.clear();
        let mut margin = self.base;
        for tree in &self.trees {
            if row.len() == self.features {
                margin += tree.value(row);
            }
            out.push(margin);
        }
    }

    /// The probability that `row` is a positive.
    pub fn probability(&self, row: &[f32]) -> f32 {
        sigmoid(self.margin(row))
    }
}

impl Tree {
    fn value(&self, row: &[f32]) -> f32 {
        let mut at = 0usize;
        loop {
            match self.nodes.get(at) {
                Some(Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                }) => {
                    let x = row.get(usize::from(*feature)).copied().unwrap_or(0.0);
                    at = if x <= *threshold { *left } else { *right } as usize;
                }
                Some(Node::Leaf(value)) => return *value,
                None => return 0.0,
            }
        }
    }
}

struct TreeBuilder<'a> {
    /// Row-major: `binned[i * features + f]`.
    binned: &'a [u8],
    features: usize,
    cuts: &'a [Vec<f32>],
    gradients: &'a [f32],
    hessians: &'a [f32],
    params: &'a GbtParams,
    nodes: Vec<Node>,
}

/// Per feature and bin: (gradient sum, hessian sum); `features × 256` entries.
type Histogram = Vec<(f64, f64)>;

impl TreeBuilder<'_> {
    /// Grows the subtree of the rows in `rows` (whose histogram is `histogram` when the
    /// caller has it); returns its node index.
    fn grow(&mut self, rows: &mut [u32], depth: usize, histogram: Option<Histogram>) -> u32 {
        let at = self.nodes.len() as u32;
        self.nodes.push(Node::Leaf(0.0));
        let (g, h) = rows.iter().fold((0.0f64, 0.0f64), |(g, h), &i| {
            (
                g + f64::from(self.gradients[i as usize]),
                h + f64::from(self.hessians[i as usize]),
            )
        });
        let l2 = f64::from(self.params.l2);
        let leaf = (-g / (h + l2)) as f32 * self.params.learning_rate;
        let min_child = f64::from(self.params.min_child_weight);
        if depth >= self.params.max_depth || h < 2.0 * min_child {
            self.nodes[at as usize] = Node::Leaf(leaf);
            return at;
        }
        let histogram = histogram.unwrap_or_else(|| self.histogram(rows));
        let Some((feature, bin)) = self.best_split(&histogram, g, h) else {
            self.nodes[at as usize] = Node::Leaf(leaf);
            return at;
        };
        let mut left_len = 0;
        for j in 0..rows.len() {
            if self.binned[rows[j] as usize * self.features + feature] <= bin {
                rows.swap(j, left_len);
                left_len += 1;
            }
        }
        let (left_rows, right_rows) = rows.split_at_mut(left_len);
        // Build the smaller child's histogram; the larger one's is the parent's minus it.
        let (small, large) = if left_rows.len() <= right_rows.len() {
            (&*left_rows, &*right_rows)
        } else {
            (&*right_rows, &*left_rows)
        };
        let children_split = depth + 1 < self.params.max_depth;
        let (small_histogram, large_histogram) = if children_split && !large.is_empty() {
            let small_histogram = self.histogram(small);
            let large_histogram: Histogram = histogram
                .iter()
                .zip(&small_histogram)
                .map(|(p, c)| (p.0 - c.0, p.1 - c.1))
                .collect();
            (Some(small_histogram), Some(large_histogram))
        } else {
            (None, None)
        };
        let (left_histogram, right_histogram) = if left_rows.len() <= right_rows.len() {
            (small_histogram, large_histogram)
        } else {
            (large_histogram, small_histogram)
        };
        let left = self.grow(left_rows, depth + 1, left_histogram);
        let right = self.grow(right_rows, depth + 1, right_histogram);
        self.nodes[at as usize] = Node::Split {
            feature: feature as u16,
            threshold: self.cuts[feature][usize::from(bin)],
            left,
            right,
        };
        at
    }

    fn histogram(&self, rows: &[u32]) -> Histogram {
        let mut histogram = vec![(0.0f64, 0.0f64); self.features * 256];
        for &i in rows {
            let (g, h) = (
                f64::from(self.gradients[i as usize]),
                f64::from(self.hessians[i as usize]),
            );
            let start = i as usize * self.features;
            for (f, &bin) in self.binned[start..start + self.features].iter().enumerate() {
                let slot = &mut histogram[f * 256 + usize::from(bin)];
                slot.0 += g;
                slot.1 += h;
            }
        }
        histogram
    }

    /// The split with the largest positive gain whose children both meet the minimum
    /// hessian: `(feature, last bin of the left child)`.
    fn best_split(&self, histogram: &[(f64, f64)], g: f64, h: f64) -> Option<(usize, u8)> {
        let l2 = f64::from(self.params.l2);
        let min_child = f64::from(self.params.min_child_weight);
        let parent = g * g / (h + l2);
        let mut best: Option<(f64, usize, u8)> = None;
        for feature in 0..self.features {
            let cuts = self.cuts[feature].len();
            let (mut gl, mut hl) = (0.0, 0.0);
            for (bin, &(gb, hb)) in histogram[feature * 256..feature * 256 + cuts]
                .iter()
                .enumerate()
            {
                gl += gb;
                hl += hb;
                let (gr, hr) = (g - gl, h - hl);
                if hl < min_child || hr < min_child {
                    continue;
                }
                let gain = gl * gl / (hl + l2) + gr * gr / (hr + l2) - parent;
                if gain > 1e-9 && best.is_none_or(|(b, _, _)| gain > b) {
                    best = Some((gain, feature, bin as u8));
                }
            }
        }
        best.map(|(_, feature, bin)| (feature, bin))
    }
}

/// Up to `bins - 1` distinct cut points of feature `f` at quantiles of its values (bin `b`
/// holds the values in `(cut[b-1], cut[b]]`).
fn quantile_cuts(rows: &[f32], features: usize, f: usize, bins: usize) -> Vec<f32> {
    let n = rows.len() / features;
    let stride = (n / 200_000).max(1);
    let mut values: Vec<f32> = (0..n)
        .step_by(stride)
        .map(|i| rows[i * features + f])
        .collect();
    values.sort_by(f32::total_cmp);
    let mut cuts: Vec<f32> = (1..bins)
        .filter_map(|b| values.get(b * values.len() / bins).copied())
        .collect();
    cuts.dedup();
    // The largest value needs no cut: everything above the last cut is the last bin.
    if cuts.last() == values.last() {
        cuts.pop();
    }
    cuts
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};

    fn synthetic(n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut rows = Vec::with_capacity(n * 3);
        let mut labels = Vec::with_capacity(n);
        for _ in 0..n {
            let (a, b, noise): (f32, f32, f32) = (rng.random(), rng.random(), rng.random());
            rows.extend([a, b, noise]);
            // A non-linear rule on two of three features: an interaction a tree learns.
            labels.push(if (a > 0.5) ^ (b > 0.7) { 1.0 } else { 0.0 });
        }
        (rows, labels)
    }

    fn accuracy(model: &GradientBoostedTrees, rows: &[f32], labels: &[f32]) -> f64 {
        rows.chunks_exact(3)
            .zip(labels)
            .filter(|(row, y)| (model.probability(row) > 0.5) == (**y == 1.0))
            .count() as f64
            / labels.len() as f64
    }

    #[test]
    fn learns_an_interaction_and_generalises() {
        let (rows, labels) = synthetic(4000, 1);
        let model = GradientBoostedTrees::fit(&rows, 3, &labels, GbtParams::default()).unwrap();
        let (test_rows, test_labels) = synthetic(2000, 2);
        let acc = accuracy(&model, &test_rows, &test_labels);
        assert!(acc > 0.97, "held-out accuracy {acc}");
        // The constant model is far worse: the rule is learned, not the base rate.
        let mut stump = model.clone();
        stump.truncate(0);
        assert!(accuracy(&stump, &test_rows, &test_labels) < 0.75);
    }

    #[test]
    fn staged_margins_end_at_the_margin() {
        let (rows, labels) = synthetic(500, 3);
        let params = GbtParams {
            trees: 20,
            ..GbtParams::default()
        };
        let model = GradientBoostedTrees::fit(&rows, 3, &labels, params).unwrap();
        let mut staged = Vec::new();
        model.staged_margins(&rows[..3], &mut staged);
        assert_eq!(staged.len(), 20);
        assert!((staged[19] - model.margin(&rows[..3])).abs() < 1e-5);
        let mut truncated = model.clone();
        truncated.truncate(7);
        assert!((staged[6] - truncated.margin(&rows[..3])).abs() < 1e-5);
    }

    #[test]
    fn rejects_bad_input_with_its_position() {
        let err = |rows: &[f32], labels: &[f32]| {
            GradientBoostedTrees::fit(rows, 2, labels, GbtParams::default())
                .unwrap_err()
                .to_string()
        };
        assert!(err(&[0.0, f32::NAN], &[1.0]).contains("row 0 feature 1"));
        assert!(err(&[0.0, 1.0], &[0.5]).contains("label 0"));
        assert!(err(&[0.0, 1.0, 2.0], &[1.0]).contains("3 feature values"));
    }

    #[test]
    fn round_trips_through_json() {
        let (rows, labels) = synthetic(300, 4);
        let model = GradientBoostedTrees::fit(&rows, 3, &labels, GbtParams::default()).unwrap();
        let json = serde_json::to_string(&model).unwrap();
        let back: GradientBoostedTrees = serde_json::from_str(&json).unwrap();
        assert_eq!(back, model);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Boosting never makes the training log-loss worse than the base rate, and every
        /// probability is a probability.
        #[test]
        fn training_loss_does_not_exceed_the_base_rate(
            data in proptest::collection::vec((0.0f32..1.0, 0.0f32..1.0, any::<bool>()), 2..200)
        ) {
            let rows: Vec<f32> = data.iter().flat_map(|(a, b, _)| [*a, *b]).collect();
            let labels: Vec<f32> = data.iter().map(|(_, _, y)| f32::from(u8::from(*y))).collect();
            let params = GbtParams { trees: 10, min_child_weight: 0.0, ..GbtParams::default() };
            let model = GradientBoostedTrees::fit(&rows, 2, &labels, params).unwrap();
            let mut base = model.clone();
            base.truncate(0);
            let loss = |m: &GradientBoostedTrees| -> f64 {
                rows.chunks_exact(2).zip(&labels).map(|(r, y)| {
                    let p = f64::from(m.probability(r)).clamp(1e-12, 1.0 - 1e-12);
                    if *y == 1.0 { -p.ln() } else { -(1.0 - p).ln() }
                }).sum()
            };
            for row in rows.chunks_exact(2) {
                let p = model.probability(row);
                prop_assert!((0.0..=1.0).contains(&p));
            }
            prop_assert!(loss(&model) <= loss(&base) + 1e-6);
        }
    }
}

//! Ways to score every user against one user: set overlap (Jaccard), TF-IDF cosine, dense
//! taste vectors, Adamic-Adar on a known graph, and a blend of two scorers.
use std::collections::HashMap;

use crate::Dataset;

/// Scores of one user against every user (higher is closer).
pub(crate) trait PairScorer: Sync {
    /// Writes into `out[v]` the score of user `v` for user `u` (`out.len()` = users).
    fn score_all(&self, u: usize, out: &mut [f32]);
}

/// Item ids of a dataset as dense integers.
fn item_index(dataset: &Dataset) -> HashMap<&str, u32> {
    let mut index = HashMap::new();
    for interactions in &dataset.interactions {
        for i in interactions {
            let next = index.len() as u32;
            index.entry(i.item.as_str()).or_insert(next);
        }
    }
    index
}

/// Jaccard similarity of favourite sets ("set-intersection v1").
pub(crate) struct Jaccard {
    sizes: Vec<f32>,
    items_of: Vec<Vec<u32>>,
    users_of: Vec<Vec<u32>>,
}

impl Jaccard {
    pub(crate) fn new(dataset: &Dataset) -> Self {
        let index = item_index(dataset);
        let mut users_of = vec![Vec::new(); index.len()];
        let items_of: Vec<Vec<u32>> = dataset
            .interactions
            .iter()
            .enumerate()
            .map(|(u, interactions)| {
                let mut items: Vec<u32> = interactions
                    .iter()
                    .map(|i| index[i.item.as_str()])
                    .collect();
                items.sort_unstable();
                items.dedup();
                for &item in &items {
                    users_of[item as usize].push(u as u32);
                }
                items
            })
            .collect();
        Self {
            sizes: items_of.iter().map(|i| i.len() as f32).collect(),
            items_of,
            users_of,
        }
    }
}

impl PairScorer for Jaccard {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        out.fill(0.0);
        for &item in &self.items_of[u] {
            for &v in &self.users_of[item as usize] {
                out[v as usize] += 1.0;
            }
        }
        for (v, score) in out.iter_mut().enumerate() {
            let union = self.sizes[u] + self.sizes[v] - *score;
            *score = if union > 0.0 { *score / union } else { 0.0 };
        }
    }
}

/// Cosine similarity of TF-IDF weighted favourites: `tf = 1 + ln(weight)`,
/// `idf = ln(users / users with the item)`.
pub(crate) struct TfIdfCosine {
    rows: Vec<Vec<(u32, f32)>>,
    postings: Vec<Vec<(u32, f32)>>,
}

impl TfIdfCosine {
    pub(crate) fn new(dataset: &Dataset) -> Self {
        let index = item_index(dataset);
        let mut document_frequency = vec![0u32; index.len()];
        for interactions in &dataset.interactions {
            for i in interactions {
                document_frequency[index[i.item.as_str()] as usize] += 1;
            }
        }
        let users = dataset.users.len() as f32;
        let mut postings = vec![Vec::new(); index.len()];
        let rows: Vec<Vec<(u32, f32)>> = dataset
            .interactions
            .iter()
            .enumerate()
            .map(|(u, interactions)| {
                let mut row: Vec<(u32, f32)> = interactions
                    .iter()
                    .map(|i| {
                        let item = index[i.item.as_str()];
                        let idf = (users / document_frequency[item as usize] as f32).ln();
                        (item, (1.0 + i.weight.ln().max(0.0)) * idf)
                    })
                    .collect();
                let norm = row.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
                if norm > 0.0 {
                    row.iter_mut().for_each(|(_, w)| *w /= norm);
                }
                for &(item, w) in &row {
                    postings[item as usize].push((u as u32, w));
                }
                row
            })
            .collect();
        Self { rows, postings }
    }
}

impl PairScorer for TfIdfCosine {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        out.fill(0.0);
        for &(item, w) in &self.rows[u] {
            for &(v, x) in &self.postings[item as usize] {
                out[v as usize] += w * x;
            }
        }
    }
}

/// Cosine similarity of unit taste vectors; users without a vector score `-inf`.
pub(crate) struct DenseCosine {
    vectors: Vec<Option<Vec<f32>>>,
}

impl DenseCosine {
    pub(crate) fn new(vectors: Vec<Option<Vec<f32>>>) -> Self {
        Self { vectors }
    }

    pub(crate) fn vectors(&self) -> &[Option<Vec<f32>>] {
        &self.vectors
    }
}

impl PairScorer for DenseCosine {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        let Some(query) = &self.vectors[u] else {
            out.fill(f32::NEG_INFINITY);
            return;
        };
        for (score, vector) in out.iter_mut().zip(&self.vectors) {
            *score = match vector {
                Some(v) => query.iter().zip(v).map(|(a, b)| a * b).sum(),
                None => f32::NEG_INFINITY,
            };
        }
    }
}

/// Adamic-Adar on a known graph: the sum of `1 / ln(degree)` over common neighbours.
pub(crate) struct AdamicAdar {
    neighbours: Vec<Vec<u32>>,
}

impl AdamicAdar {
    pub(crate) fn new(users: usize, edges: &[(usize, usize)]) -> Self {
        let mut neighbours = vec![Vec::new(); users];
        for &(a, b) in edges {
            neighbours[a].push(b as u32);
            neighbours[b].push(a as u32);
        }
        Self { neighbours }
    }

    pub(crate) fn neighbours(&self, u: usize) -> &[u32] {
        &self.neighbours[u]
    }
}

impl PairScorer for AdamicAdar {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        out.fill(0.0);
        for &w in &self.neighbours[u] {
            let degree = self.neighbours[w as usize].len();
            if degree < 2 {
                continue;
            }
            let weight = 1.0 / (degree as f32).ln();
            for &v in &self.neighbours[w as usize] {
                out[v as usize] += weight;
            }
        }
    }
}

/// `alpha · a/max(a) + (1 − alpha) · b/max(b)`, each scorer scaled by its largest score for
/// the user.
pub(crate) struct Blend<'a> {
    pub(crate) a: &'a dyn PairScorer,
    pub(crate) b: &'a dyn PairScorer,
    pub(crate) alpha: f32,
}

impl PairScorer for Blend<'_> {
    fn score_all(&self, u: usize, out: &mut [f32]) {
        let mut other = vec![0.0; out.len()];
        self.a.score_all(u, out);
        self.b.score_all(u, &mut other);
        let scale = |scores: &[f32]| {
            let max = scores
                .iter()
                .enumerate()
                .filter(|(v, s)| *v != u && s.is_finite())
                .map(|(_, s)| *s)
                .fold(0.0f32, f32::max);
            if max > 0.0 { 1.0 / max } else { 0.0 }
        };
        let (sa, sb) = (scale(out), scale(&other));
        for (x, y) in out.iter_mut().zip(&other) {
            let (x0, y0) = (
                if x.is_finite() { *x } else { 0.0 },
                if y.is_finite() { *y } else { 0.0 },
            );
            *x = self.alpha * x0 * sa + (1.0 - self.alpha) * y0 * sb;
        }
    }
}

//! The learned item tower: a hashed embedding table whose 256 columns span the top principal
//! subspace of the users' TF-IDF weighted favourites (latent semantic analysis), learned
//! federatedly by subspace iteration.
//!
//! Each round, every client computes, from its own favourites only, the gradient of its local
//! objective `½‖xᵀE‖²` (`x` its unit TF-IDF vector over hashed buckets, `E` the current basis):
//! `x (xᵀE)`, non-zero only on the client's own rows. The coordinator sums these updates (the
//! sum is what secure aggregation reveals) and re-orthonormalises the columns. Document
//! frequencies for the IDF come from a first round in which each client contributes a 0/1
//! indicator of its buckets. The served rows are `idf[b] · E[b]`, so a client's taste vector
//! (the weighted mean of its rows with weights `1 + ln plays`) is the LSA projection of its
//! TF-IDF vector.
use mesh_shared::{ModelWeights, TASTE_DIM, WeightedItem};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// A client's update: rows of the table, each with its bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseRows {
    /// `(bucket, 256 values)`, buckets distinct.
    pub rows: Vec<(u32, Vec<f32>)>,
}

impl SparseRows {
    /// The L2 norm over every value.
    pub fn norm(&self) -> f32 {
        self.rows
            .iter()
            .flat_map(|(_, r)| r.iter())
            .map(|x| x * x)
            .sum::<f32>()
            .sqrt()
    }

    /// Scales the update down to L2 norm `max_norm` when it is larger; returns whether it was
    /// clipped (reported, never silent).
    pub fn clip(&mut self, max_norm: f32) -> bool {
        let norm = self.norm();
        if norm <= max_norm || norm == 0.0 {
            return false;
        }
        let scale = max_norm / norm;
        self.rows
            .iter_mut()
            .flat_map(|(_, r)| r.iter_mut())
            .for_each(|x| *x *= scale);
        true
    }
}

/// The state of the federated training: the orthonormal basis and the IDF per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaBasis {
    buckets: u32,
    basis: Vec<f32>,
    idf: Vec<f32>,
}

impl PcaBasis {
    /// A random orthonormal starting basis (deterministic for `seed`) with the given IDF.
    ///
    /// # Errors
    /// [`Error::Training`] when `idf` does not have one entry per bucket or `buckets` < 256.
    pub fn random(buckets: u32, idf: Vec<f32>, seed: u64) -> Result<Self> {
        if idf.len() != buckets as usize || (buckets as usize) < TASTE_DIM {
            return Err(Error::Training(format!(
                "{} IDF entries for {buckets} buckets (at least {TASTE_DIM})",
                idf.len()
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut basis: Vec<f32> = (0..buckets as usize * TASTE_DIM)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        orthonormalise_columns(&mut basis, buckets as usize);
        Ok(Self {
            buckets,
            basis,
            idf,
        })
    }

    /// Number of buckets.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// A client's local update from its own favourites (bucket and enthusiasm weight):
    /// `x (xᵀE)` with `x` the unit TF-IDF vector. Items in the same bucket add up.
    pub fn local_update(&self, items: &[(u32, f32)]) -> SparseRows {
        let mut x: Vec<(u32, f32)> = Vec::with_capacity(items.len());
        for &(bucket, weight) in items {
            let bucket = bucket % self.buckets;
            let value = weight * self.idf[bucket as usize];
            match x.iter_mut().find(|(b, _)| *b == bucket) {
                Some((_, v)) => *v += value,
                None => x.push((bucket, value)),
            }
        }
        let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm == 0.0 {
            return SparseRows { rows: Vec::new() };
        }
        let mut projection = vec![0.0f32; TASTE_DIM];
        for &(bucket, v) in &x {
            for (p, e) in projection.iter_mut().zip(self.row(bucket)) {
                *p += v / norm * e;
            }
        }
        SparseRows {
            rows: x
                .iter()
                .map(|&(bucket, v)| (bucket, projection.iter().map(|p| v / norm * p).collect()))
                .collect(),
        }
    }

    /// Replaces the basis with the orthonormalised sum of a round's updates.
    ///
    /// # Errors
    /// [`Error::Training`] when the round's sum has no rows (no client took part).
    pub fn apply_round(&mut self, sum: &[f32]) -> Result<()> {
        if sum.len() != self.basis.len() || sum.iter().all(|x| *x == 0.0) {
            return Err(Error::Training(
                "the round's updates sum to nothing".to_owned(),
            ));
        }
        self.basis.copy_from_slice(sum);
        orthonormalise_columns(&mut self.basis, self.buckets as usize);
        Ok(())
    }

    /// The served model: rows `idf[b] · E[b]`, so taste vectors with play-count weights are
    /// LSA projections.
    ///
    ///
    /// # Errors
    /// Only for an inconsistent basis.
    /// Only the first `rank` columns (the leading subspace: Gram-Schmidt orders them) are
    /// kept; the others are zero, so a small dataset is not memorised by 256 directions.
    pub fn to_model(&self, version: u32, salt: [u8; 32], rank: usize) -> Result<ModelWeights> {
        let rows = self
            .basis
            .chunks_exact(TASTE_DIM)
            .zip(&self.idf)
            .flat_map(|(row, idf)| {
                row.iter()
                    .enumerate()
                    .map(move |(c, x)| if c < rank { x * idf } else { 0.0 })
            })
            .collect();
        Ok(ModelWeights::new(version, salt, self.buckets, rows)?)
    }

    fn row(&self, bucket: u32) -> &[f32] {
        let start = bucket as usize * TASTE_DIM;
        &self.basis[start..start + TASTE_DIM]
    }
}

/// Adds an update into a dense round sum (`buckets × 256`).
pub fn accumulate(sum: &mut [f32], update: &SparseRows) {
    for (bucket, row) in &update.rows {
        let start = *bucket as usize * TASTE_DIM;
        if let Some(target) = sum.get_mut(start..start + TASTE_DIM) {
            target.iter_mut().zip(row).for_each(|(t, r)| *t += r);
        }
    }
}

/// IDF per bucket from document frequencies over `clients`: `ln(clients / df)`, 0 for
/// buckets nobody has.
pub fn inverse_document_frequency(document_frequency: &[u32], clients: usize) -> Vec<f32> {
    document_frequency
        .iter()
        .map(|&df| {
            if df == 0 {
                0.0
            } else {
                (clients as f32 / df as f32).ln()
            }
        })
        .collect()
}

/// The buckets a client's favourites occupy, each once: its document-frequency contribution.
pub fn occupied_buckets(items: &[WeightedItem], buckets: u32) -> Vec<u32> {
    let mut occupied: Vec<u32> = items.iter().map(|i| i.hash.bucket(buckets)).collect();
    occupied.sort_unstable();
    occupied.dedup();
    occupied
}

/// Orthonormalises the 256 columns of a row-major `rows × 256` matrix, in f64: modified
/// Gram-Schmidt applied twice per column ("twice is enough"), and a column that is (numerically)
/// in the span of the previous ones is replaced by the next unit vector that is not, so the
/// result is orthonormal even when the round's sum has rank below 256.
fn orthonormalise_columns(matrix: &mut [f32], rows: usize) {
    let mut columns: Vec<Vec<f64>> = (0..TASTE_DIM)
        .map(|c| {
            (0..rows)
                .map(|r| f64::from(matrix[r * TASTE_DIM + c]))
                .collect()
        })
        .collect();
    let mut next_unit = 0usize;
    for c in 0..TASTE_DIM {
        let (done, rest) = columns.split_at_mut(c);
        let column = &mut rest[0];
        let original = column.iter().map(|x| x * x).sum::<f64>().sqrt();
        let mut norm = project_out(column, done);
        while norm <= 1e-9 * original.max(1.0) && next_unit < rows {
            column.iter_mut().for_each(|x| *x = 0.0);
            column[next_unit] = 1.0;
            next_unit += 1;
            norm = project_out(column, done);
        }
        if norm > 0.0 {
            column.iter_mut().for_each(|x| *x /= norm);
        }
    }
    for (c, column) in columns.iter().enumerate() {
        for (r, value) in column.iter().enumerate() {
            matrix[r * TASTE_DIM + c] = *value as f32;
        }
    }
}

/// Removes from `column` its components along `previous` (orthonormal), twice; returns the
/// remaining norm.
fn project_out(column: &mut [f64], previous: &[Vec<f64>]) -> f64 {
    for _ in 0..2 {
        for p in previous {
            let dot: f64 = p.iter().zip(column.iter()).map(|(a, b)| a * b).sum();
            column.iter_mut().zip(p).for_each(|(x, q)| *x -= dot * q);
        }
    }
    column.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basis() -> PcaBasis {
        PcaBasis::random(512, vec![1.0; 512], 3).unwrap()
    }

    #[test]
    fn trivial() {
        let b = basis();
        let update = b.local_update(&[(7, 1.0)]);
        assert_eq!(update.rows.len(), 1);
        // x = e7, so the update is row 7 itself: E[7] (xᵀE = E[7]).
        let row: Vec<f32> = b.row(7).to_vec();
        for (u, r) in update.rows[0].1.iter().zip(&row) {
            assert!((u - r).abs() < 1e-6);
        }
    }

    #[test]
    fn the_basis_is_orthonormal_even_after_a_rank_deficient_round() {
        let mut b = basis();
        let mut sum = vec![0.0f32; 512 * TASTE_DIM];
        accumulate(&mut sum, &b.local_update(&[(1, 1.0), (2, 1.0)]));
        b.apply_round(&sum).unwrap();
        for i in [0usize, 1, 2, 17, 255] {
            for j in [0usize, 1, 2, 17, 255] {
                let dot: f32 = (0..512)
                    .map(|r| b.basis[r * TASTE_DIM + i] * b.basis[r * TASTE_DIM + j])
                    .sum();
                let expected = if i == j { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-4, "{i} {j}: {dot}");
            }
        }
    }

    #[test]
    fn clipping_is_reported_and_bounds_the_norm() {
        let b = basis();
        let mut update = b.local_update(&[(1, 1.0), (2, 3.0), (9, 0.5)]);
        let before = update.norm();
        assert!(update.clip(before / 2.0));
        assert!((update.norm() - before / 2.0).abs() < 1e-4);
        assert!(!update.clip(10.0 * before));
    }

    /// The local objective summed over clients: Σ ½‖xᵀE‖², the variance the basis captures.
    fn captured(b: &PcaBasis, clients: &[Vec<(u32, f32)>]) -> f32 {
        clients
            .iter()
            .map(|items| {
                b.local_update(items)
                    .rows
                    .iter()
                    .map(|(_, r)| r.iter().map(|x| x * x).sum::<f32>())
                    .sum::<f32>()
            })
            .sum()
    }

    #[test]
    fn rounds_raise_the_captured_variance() {
        let mut b = basis();
        let clients: Vec<Vec<(u32, f32)>> = (0..40u32)
            .map(|c| vec![(c % 7, 1.0), (c % 7 + 100, 2.0), (c * 13 % 512, 0.5)])
            .collect();
        let mut previous = captured(&b, &clients);
        for _ in 0..3 {
            let mut sum = vec![0.0f32; 512 * TASTE_DIM];
            for items in &clients {
                accumulate(&mut sum, &b.local_update(items));
            }
            b.apply_round(&sum).unwrap();
            let now = captured(&b, &clients);
            assert!(now >= previous - 1e-4, "{now} < {previous}");
            previous = now;
        }
        assert!(
            b.apply_round(&vec![0.0; 512 * TASTE_DIM]).is_err(),
            "an empty round is refused"
        );
    }

    #[test]
    fn federated_sums_equal_the_central_product() {
        let b = basis();
        let clients: Vec<Vec<(u32, f32)>> = vec![
            vec![(1, 1.0), (5, 2.0)],
            vec![(5, 1.0), (9, 1.0)],
            vec![(300, 1.5)],
        ];
        let mut sum = vec![0.0f32; 512 * TASTE_DIM];
        for items in &clients {
            accumulate(&mut sum, &b.local_update(items));
        }
        // Central: Σ_u x_u x_uᵀ E computed row by row.
        let mut central = vec![0.0f32; 512 * TASTE_DIM];
        for items in &clients {
            let norm = items.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            for &(bi, wi) in items {
                for &(bj, wj) in items {
                    for c in 0..TASTE_DIM {
                        central[bi as usize * TASTE_DIM + c] +=
                            wi / norm * wj / norm * b.row(bj)[c];
                    }
                }
            }
        }
        let max_error = sum
            .iter()
            .zip(&central)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_error < 1e-5, "{max_error}");
    }
}

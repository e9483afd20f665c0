//! Fitting the content tower federatedly: ridge regression of the learned item rows on the
//! items' content embeddings, from sufficient statistics.
//!
//! Each client adds, for each of its own favourites that has a content embedding `c` and a
//! non-zero row `r` in the served model, `c cᵀ` and `c rᵀ` to a vector of
//! [`CONTENT_STATISTICS_LEN`] values; only the sum over clients is needed (what secure
//! aggregation reveals). The coordinator solves `(Σ c cᵀ + λ I) P = Σ c rᵀ` for the
//! `384 × 256` projection `P`, so that `Pᵀ c` predicts the row of an item from its text.
use mesh_shared::{CONTENT_DIM, ModelWeights, TASTE_DIM, WeightedItem};

use crate::{Error, Result};

/// Values in a client's content statistics: `Σ c cᵀ` (384 × 384) then `Σ c rᵀ` (384 × 256).
pub const CONTENT_STATISTICS_LEN: usize = CONTENT_DIM * CONTENT_DIM + CONTENT_DIM * TASTE_DIM;

/// Adds the content statistics of `items` (those with a content embedding and a non-zero row
/// in `model`) to `statistics`; returns how many items contributed. A device calls this on a
/// zeroed vector with its own favourites; a simulation may add every client into one sum.
///
/// # Errors
/// [`Error::Training`] when `statistics` does not hold [`CONTENT_STATISTICS_LEN`] values.
pub fn add_content_statistics(
    statistics: &mut [f32],
    model: &ModelWeights,
    items: &[WeightedItem<'_>],
) -> Result<usize> {
    if statistics.len() != CONTENT_STATISTICS_LEN {
        return Err(Error::Training(format!(
            "{} statistics values, expected {CONTENT_STATISTICS_LEN}",
            statistics.len()
        )));
    }
    let (gram, cross) = statistics.split_at_mut(CONTENT_DIM * CONTENT_DIM);
    let mut contributed = 0;
    for item in items {
        let Some(content) = item.content.filter(|c| c.len() == CONTENT_DIM) else {
            continue;
        };
        let row = model.row(item.hash.bucket(model.buckets()));
        if row.iter().all(|x| *x == 0.0) {
            continue;
        }
        contributed += 1;
        for (i, ci) in content.iter().enumerate() {
            let gram_row = &mut gram[i * CONTENT_DIM..(i + 1) * CONTENT_DIM];
            for (g, cj) in gram_row.iter_mut().zip(content) {
                *g += ci * cj;
            }
            let cross_row = &mut cross[i * TASTE_DIM..(i + 1) * TASTE_DIM];
            for (x, r) in cross_row.iter_mut().zip(row) {
                *x += ci * r;
            }
        }
    }
    Ok(contributed)
}

/// Solves the ridge regression for the projection (`384 × 256`, row-major) from the summed
/// statistics; `ridge` scales the identity added to `Σ c cᵀ` relative to its mean diagonal.
///
/// # Errors
/// [`Error::Training`] for statistics of the wrong size, an empty sum, a `ridge` that is not
/// > 0, or a system that is not positive definite.
pub fn fit_content_projection(statistics: &[f32], ridge: f64) -> Result<Vec<f32>> {
    if statistics.len() != CONTENT_STATISTICS_LEN {
        return Err(Error::Training(format!(
            "{} statistics values, expected {CONTENT_STATISTICS_LEN}",
            statistics.len()
        )));
    }
    if !(ridge.is_finite() && ridge > 0.0) {
        return Err(Error::Training(format!("ridge {ridge} is not > 0")));
    }
    let (gram, cross) = statistics.split_at(CONTENT_DIM * CONTENT_DIM);
    let n = CONTENT_DIM;
    let mut a: Vec<f64> = gram.iter().map(|&x| f64::from(x)).collect();
    let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
    if !(trace.is_finite() && trace > 0.0) {
        return Err(Error::Training(
            "no item had both a content embedding and a learned row".to_owned(),
        ));
    }
    let lambda = ridge * trace / n as f64;
    for i in 0..n {
        a[i * n + i] += lambda;
    }
    // Cholesky: a = L Lᵀ, L stored in the lower triangle.
    for j in 0..n {
        let mut diagonal = a[j * n + j];
        for k in 0..j {
            diagonal -= a[j * n + k] * a[j * n + k];
        }
        if diagonal <= 0.0 || !diagonal.is_finite() {
            return Err(Error::Training(format!(
                "the content statistics are not positive definite (pivot {j})"
            )));
        }
        let pivot = diagonal.sqrt();
        a[j * n + j] = pivot;
        for i in j + 1..n {
            let mut value = a[i * n + j];
            for k in 0..j {
                value -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = value / pivot;
        }
    }
    let mut projection = vec![0.0f32; n * TASTE_DIM];
    let mut column = vec![0.0f64; n];
    for t in 0..TASTE_DIM {
        for (i, value) in column.iter_mut().enumerate() {
            *value = f64::from(cross[i * TASTE_DIM + t]);
        }
        for i in 0..n {
            let mut value = column[i];
            for k in 0..i {
                value -= a[i * n + k] * column[k];
            }
            column[i] = value / a[i * n + i];
        }
        for i in (0..n).rev() {
            let mut value = column[i];
            for k in i + 1..n {
                value -= a[k * n + i] * column[k];
            }
            column[i] = value / a[i * n + i];
        }
        for (i, value) in column.iter().enumerate() {
            projection[i * TASTE_DIM + t] = *value as f32;
        }
    }
    Ok(projection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::{ContentTower, ItemHash, cosine, taste_vector};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn unit(rng: &mut ChaCha8Rng, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim).map(|_| rng.random::<f32>() - 0.5).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / norm).collect()
    }

    #[test]
    fn recovers_a_linear_map_and_places_cold_items() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let truth: Vec<f32> = (0..CONTENT_DIM * TASTE_DIM)
            .map(|_| rng.random::<f32>() - 0.5)
            .collect();
        let truth_tower = ContentTower::new(truth, 1.0).unwrap();
        let buckets = 1024u32;
        let contents: Vec<Vec<f32>> = (0..buckets).map(|_| unit(&mut rng, CONTENT_DIM)).collect();
        let mut rows = Vec::new();
        for c in &contents {
            rows.extend(truth_tower.project(c));
        }
        let hashes: Vec<ItemHash> = (0..buckets)
            .map(|b| {
                let mut bytes = [0u8; 32];
                bytes[..4].copy_from_slice(&b.to_le_bytes());
                ItemHash(bytes)
            })
            .collect();
        // Rows by bucket, so each item's row is the map of its content.
        let mut by_bucket = vec![0.0f32; buckets as usize * TASTE_DIM];
        let mut content_of_bucket: Vec<Option<&Vec<f32>>> = vec![None; buckets as usize];
        for (i, hash) in hashes.iter().enumerate() {
            let b = hash.bucket(buckets) as usize;
            by_bucket[b * TASTE_DIM..(b + 1) * TASTE_DIM]
                .copy_from_slice(&rows[i * TASTE_DIM..(i + 1) * TASTE_DIM]);
            content_of_bucket[b] = Some(&contents[i]);
        }
        let model = ModelWeights::new(1, [0; 32], buckets, by_bucket).unwrap();
        let items: Vec<WeightedItem<'_>> = hashes
            .iter()
            .filter_map(|h| {
                Some(WeightedItem {
                    content: Some(content_of_bucket[h.bucket(buckets) as usize]?),
                    ..WeightedItem::new(*h, 1.0)
                })
            })
            .collect();
        let mut statistics = vec![0.0; CONTENT_STATISTICS_LEN];
        // Two "clients", summed.
        let (first, second) = items.split_at(items.len() / 2);
        let mut other = vec![0.0; CONTENT_STATISTICS_LEN];
        add_content_statistics(&mut statistics, &model, first).unwrap();
        add_content_statistics(&mut other, &model, second).unwrap();
        statistics.iter_mut().zip(&other).for_each(|(s, o)| *s += o);
        let fitted =
            ContentTower::new(fit_content_projection(&statistics, 1e-6).unwrap(), 1.0).unwrap();
        // A new item, never seen: its predicted row matches the true map of its text.
        let fresh = unit(&mut rng, CONTENT_DIM);
        let similarity = cosine(&fitted.project(&fresh), &truth_tower.project(&fresh));
        assert!(similarity > 0.99, "{similarity}");

        // In the user tower, a zero-row item is placed by its content.
        let cold_model = ModelWeights::new(2, [0; 32], 4, vec![0.0; 4 * TASTE_DIM])
            .unwrap()
            .with_content_tower(Some(fitted));
        let vector = taste_vector(
            &cold_model,
            &[WeightedItem {
                content: Some(&fresh),
                ..WeightedItem::new(ItemHash([9; 32]), 1.0)
            }],
        )
        .unwrap();
        assert!(cosine(vector.as_slice(), &truth_tower.project(&fresh)) > 0.99);
    }

    #[test]
    fn refuses_empty_or_misshapen_statistics() {
        assert!(fit_content_projection(&[0.0; 3], 1.0).is_err());
        let err = fit_content_projection(&vec![0.0; CONTENT_STATISTICS_LEN], 1.0).unwrap_err();
        assert!(err.to_string().contains("no item had"), "{err}");
    }
}

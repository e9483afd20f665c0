use std::collections::BTreeMap;

use mesh_shared::{FavouriteHasher, ModelWeights, TASTE_DIM};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Catalogue;

/// Rows in the version-1 hashed-embedding table.
pub const MODEL_BUCKETS: u32 = 4096;

const SALT_CONTEXT: &str = "mesh-discovery 2026-11 model salt";
const GENRE_SHARE: f32 = 0.8;
const ITEM_SHARE: f32 = 0.45;

/// The hashing salt of model `version`: each version hashes favourites under its own key.
pub fn model_salt(version: u32) -> [u8; 32] {
    blake3::derive_key(SALT_CONTEXT, &version.to_le_bytes())
}

/// The version-1 taste model: a 4096 × 256 hashed-embedding table, deterministic for a given
/// catalogue and `version`.
///
/// Every row starts as a random unit vector (so unknown favourites still act as identities);
/// rows that catalogue items hash to become a mix of their genres' shared random directions
/// and their own, so people who like the same genres get close taste vectors. Later versions
/// come from federated training.
pub fn initial_model(catalogue: &Catalogue, version: u32) -> ModelWeights {
    let salt = model_salt(version);
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(version));
    let mut weights: Vec<f32> = Vec::with_capacity(MODEL_BUCKETS as usize * TASTE_DIM);
    for _ in 0..MODEL_BUCKETS {
        weights.extend(random_unit_vector(&mut rng));
    }

    let mut genre_directions: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    for item in catalogue.items() {
        for genre in &item.genres {
            genre_directions.entry(genre.as_str()).or_default();
        }
    }
    for direction in genre_directions.values_mut() {
        *direction = random_unit_vector(&mut rng);
    }

    let hasher = FavouriteHasher::new(&salt);
    for item in catalogue.items() {
        let bucket = hasher.hash(item.key()).bucket(MODEL_BUCKETS) as usize;
        let own = random_unit_vector(&mut rng);
        let mut row = vec![0.0f32; TASTE_DIM];
        let genre_weight = GENRE_SHARE / item.genres.len() as f32;
        for genre in &item.genres {
            if let Some(direction) = genre_directions.get(genre.as_str()) {
                for (r, g) in row.iter_mut().zip(direction) {
                    *r += genre_weight * g;
                }
            }
        }
        for (r, o) in row.iter_mut().zip(&own) {
            *r += ITEM_SHARE * o;
        }
        normalise(&mut row);
        weights[bucket * TASTE_DIM..(bucket + 1) * TASTE_DIM].copy_from_slice(&row);
    }
    // Every weight is finite by construction and the size is MODEL_BUCKETS × TASTE_DIM.
    #[allow(clippy::expect_used)]
    ModelWeights::new(version, salt, MODEL_BUCKETS, weights).expect("a well-formed initial model")
}

fn random_unit_vector(rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut v: Vec<f32> = (0..TASTE_DIM / 2)
        .flat_map(|_| {
            let u1 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2 = rng.random::<f64>();
            let radius = (-2.0 * u1.ln()).sqrt();
            let angle = std::f64::consts::TAU * u2;
            [(radius * angle.cos()) as f32, (radius * angle.sin()) as f32]
        })
        .collect();
    normalise(&mut v);
    v
}

fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_is_deterministic_and_round_trips() {
        let catalogue = Catalogue::embedded();
        let a = initial_model(catalogue, 1);
        let b = initial_model(catalogue, 1);
        assert_eq!(a.encode(), b.encode());
        assert_eq!(ModelWeights::decode(&a.encode()).unwrap(), a);
        assert_ne!(initial_model(catalogue, 2).encode(), a.encode());
    }
}

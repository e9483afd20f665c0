//! `mesh train`: simulates every dataset user as a client of the federated subspace iteration
//! (see `mesh_models::PcaBasis`), in process, and builds the next model version.
//!
//! A client's update `x(xᵀE)` has L2 norm `‖Eᵀx‖ ≤ 1` (unit `x`, orthonormal `E`), so the
//! default clip at 1 bounds each client's influence without changing any update; it is the
//! sensitivity that differential-privacy noise will be calibrated to.
use std::time::Instant;

use mesh_models::{
    Catalogue, PcaBasis, accumulate, inverse_document_frequency, model_salt, occupied_buckets,
};
use mesh_shared::{FavouriteHasher, ModelWeights, TASTE_DIM, WeightedItem};
use serde::Serialize;

use crate::{Dataset, Result};

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// Rows of the hashed table.
    pub buckets: u32,
    /// Rounds of subspace iteration after the document-frequency round.
    pub rounds: u32,
    /// Leading directions kept in the served model (at most 256; the rest are zero).
    pub rank: usize,
    /// Per-client L2 clip of the update (`None`: no clipping).
    pub clip_norm: Option<f32>,
    /// Version of the model produced.
    pub version: u32,
    /// Seed of the random starting basis.
    pub seed: u64,
    /// Leave out the favourites `mesh eval` hides on a dataset without ties (this split).
    pub hold_out: Option<crate::EvalOptions>,
    /// Run the central reference instead: no clipping, so each round computes exactly the
    /// central product `XᵀXE` (the unclipped federated sum equals it; `mesh_models` tests
    /// this).
    pub central: bool,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            buckets: 16_384,
            rounds: 5,
            rank: TASTE_DIM,
            clip_norm: Some(1.0),
            version: 2,
            seed: 7,
            hold_out: None,
            central: false,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundStats {
    /// 0 is the document-frequency round.
    pub round: u32,
    /// Clients that contributed.
    pub clients: usize,
    /// Updates that were clipped.
    pub clipped: usize,
    /// Mean L2 norm of the updates before clipping.
    pub mean_update_norm: f32,
    /// Wall time of the round, seconds.
    pub seconds: f64,
}

/// The trained model and how training went.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The model to serve.
    pub model: ModelWeights,
    /// Per-round statistics.
    pub rounds: Vec<RoundStats>,
}

/// Trains the next model version on `dataset`, every user a client.
///
/// # Errors
/// A dataset without usable favourites.
pub fn train(
    dataset: &Dataset,
    catalogue: &Catalogue,
    options: TrainOptions,
) -> Result<TrainReport> {
    let salt = model_salt(options.version);
    let item_hashes =
        crate::evaluation::item_hashes(dataset, catalogue, &FavouriteHasher::new(&salt));
    let hidden = options
        .hold_out
        .map(|split| crate::evaluation::held_out_split(dataset, split));
    let clients: Vec<Vec<WeightedItem>> = dataset
        .interactions
        .iter()
        .enumerate()
        .map(|(u, interactions)| {
            interactions
                .iter()
                .filter(|i| hidden.as_ref().is_none_or(|h| !h[u].contains(&i.item)))
                .filter_map(|i| {
                    Some(WeightedItem {
                        hash: *item_hashes.get(i.item.as_str())?,
                        weight: 1.0 + i.weight.ln().max(0.0),
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|items: &Vec<WeightedItem>| !items.is_empty())
        .collect();
    let mut stats = Vec::new();

    let start = Instant::now();
    let mut document_frequency = vec![0u32; options.buckets as usize];
    for items in &clients {
        for bucket in occupied_buckets(items, options.buckets) {
            document_frequency[bucket as usize] += 1;
        }
    }
    let idf = inverse_document_frequency(&document_frequency, clients.len());
    stats.push(RoundStats {
        round: 0,
        clients: clients.len(),
        clipped: 0,
        mean_update_norm: 0.0,
        seconds: start.elapsed().as_secs_f64(),
    });

    let mut basis = PcaBasis::random(options.buckets, idf, options.seed)?;
    let buckets_of = |items: &[WeightedItem]| -> Vec<(u32, f32)> {
        items
            .iter()
            .map(|i| (i.hash.bucket(options.buckets), i.weight))
            .collect()
    };
    for round in 1..=options.rounds {
        let start = Instant::now();
        let mut sum = vec![0.0f32; options.buckets as usize * TASTE_DIM];
        let (mut clipped, mut norms) = (0, 0.0f32);
        for items in &clients {
            let mut update = basis.local_update(&buckets_of(items));
            norms += update.norm();
            if !options.central
                && let Some(max) = options.clip_norm
                && update.clip(max)
            {
                clipped += 1;
            }
            accumulate(&mut sum, &update);
        }
        basis.apply_round(&sum)?;
        stats.push(RoundStats {
            round,
            clients: clients.len(),
            clipped,
            mean_update_norm: norms / clients.len().max(1) as f32,
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    Ok(TrainReport {
        model: basis.to_model(options.version, salt, options.rank)?,
        rounds: stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Interaction, ItemInfo};

    #[test]
    fn trains_a_servable_model_of_the_next_version() {
        let mut dataset = Dataset {
            users: (0..30).map(|u| format!("u{u}")).collect(),
            ..Dataset::default()
        };
        for i in 0..20 {
            dataset.items.insert(
                i.to_string(),
                ItemInfo {
                    title: format!("Artist number {i}"),
                    tags: Vec::new(),
                },
            );
        }
        dataset.interactions = (0..30)
            .map(|u| {
                (0..4)
                    .map(|k| Interaction {
                        item: ((u + k * 3) % 20).to_string(),
                        weight: 10.0,
                        timestamp: None,
                    })
                    .collect()
            })
            .collect();
        let options = TrainOptions {
            buckets: 512,
            rounds: 2,
            version: 5,
            ..TrainOptions::default()
        };
        let report = train(&dataset, Catalogue::embedded(), options).unwrap();
        assert_eq!((report.model.version(), report.model.buckets()), (5, 512));
        assert_eq!(report.rounds.len(), 3);
        // Updates have norm ‖Eᵀx‖ ≤ 1; once the basis spans every client (here: 20 items,
        // 256 columns) it is 1 up to rounding, which the exact clip at 1 may trim.
        for round in &report.rounds[1..] {
            assert_eq!(round.clients, 30, "{round:?}");
            assert!(round.mean_update_norm <= 1.0 + 1e-4, "{round:?}");
        }
        assert_eq!(
            report.rounds[1].clipped, 0,
            "a random basis captures less than all of x"
        );
        assert_eq!(
            ModelWeights::decode(&report.model.encode()).unwrap(),
            report.model
        );
    }
}

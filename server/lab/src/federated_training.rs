//! `mesh train`: simulates every dataset user as a client of the federated subspace iteration
//! (see `mesh_models::PcaBasis`), in process, and builds the next model version.
//!
//! A client's update `x(xᵀE)` has L2 norm `‖Eᵀx‖ ≤ 1` (unit `x`, orthonormal `E`), so the
//! default clip at 1 bounds each client's influence without changing any update; it is the
//! sensitivity that differential-privacy noise will be calibrated to.
use std::time::Instant;

use mesh_models::{
    CONTENT_STATISTICS_LEN, Catalogue, LocalTrainer, LocalTrainingOptions, PcaBasis, accumulate,
    add_content_statistics, fit_content_projection, inverse_document_frequency, model_salt,
    occupied_buckets,
};
use mesh_shared::secagg::{DiscreteGaussian, NoisyRound, PrivacyAccountant};
use mesh_shared::{ContentTower, FavouriteHasher, ModelWeights, TASTE_DIM, WeightedItem};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use mesh_coordinator::{ServerOptimizer, apply_server_step};

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
    /// this), and the fine-tuning rounds take full-batch gradient steps on the summed
    /// objective.
    pub central: bool,
    /// Rounds of on-device fine-tuning (candle, BPR on held-out favourites) after the
    /// subspace iteration.
    pub local_rounds: u32,
    /// Settings of each client's local training in those rounds (its seed is mixed with the
    /// round and the client).
    pub local: LocalTrainingOptions,
    /// How the coordinator applies the mean client update.
    pub server_optimizer: ServerOptimizer,
    /// Differential privacy of every round's sum (`None`: no noise).
    pub dp: Option<DpOptions>,
    /// Fit the content tower in a last round, from the clients' content embeddings
    /// (`Dataset::content`); `None` or a dataset without content: no content tower.
    pub content: Option<ContentOptions>,
    /// Share of the dataset's items (chosen by a seeded hash of the item id) that no client
    /// trains on, as if they had appeared after training: the cold-start experiment.
    pub cold_items: f64,
}

/// The content tower's fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContentOptions {
    /// Weight of the content half in an item's vector (`mesh_shared::ContentTower`).
    pub share: f32,
    /// Ridge of the least-squares fit, relative to the mean diagonal of `Σ c cᵀ`.
    pub ridge: f64,
}

impl Default for ContentOptions {
    fn default() -> Self {
        Self {
            share: 1.0,
            ridge: 0.1,
        }
    }
}

/// Whether `item` is one of the `fraction` of items held out of training as cold (a seeded
/// hash of its id, so `mesh eval` can name the same items).
pub fn is_cold_item(item: &str, fraction: f64, seed: u64) -> bool {
    if fraction <= 0.0 {
        return false;
    }
    let mut hasher = blake3::Hasher::new();
    hasher.update(&seed.to_le_bytes());
    hasher.update(item.as_bytes());
    let mut word = [0u8; 8];
    word.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
    (u64::from_le_bytes(word) as f64 / u64::MAX as f64) < fraction
}

/// Distributed discrete Gaussian noise on every round's sum (see
/// `mesh_shared::secagg::DiscreteGaussian`). Each client would add `N_Z(0, (z·Δ)²/n)` in
/// fixed point (2^12 units per 1.0) to its clipped update; the simulation draws the sum of the
/// clients' noise once per coordinate with the total variance `(z·Δ)²`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DpOptions {
    /// Noise multiplier `z`: the sum's noise standard deviation over the L2 sensitivity.
    pub noise_multiplier: f64,
    /// δ of the reported (ε, δ).
    pub delta: f64,
    /// Seed of the simulated noise.
    pub seed: u64,
    /// Most distinct favourites a client counts in the document-frequency round (its L2
    /// sensitivity is the square root of this).
    pub document_frequency_cap: usize,
}

impl Default for DpOptions {
    fn default() -> Self {
        Self {
            noise_multiplier: 1.0,
            delta: 1e-5,
            seed: 1,
            document_frequency_cap: 64,
        }
    }
}

/// Fixed-point units per 1.0 of an update coordinate.
const DP_UNITS: f64 = 4_096.0;

/// The noise of a private training run: its settings, its random stream and the privacy it
/// has spent.
#[derive(Debug)]
struct RoundNoise {
    dp: DpOptions,
    rng: ChaCha20Rng,
    accountant: PrivacyAccountant,
}

impl RoundNoise {
    fn new(dp: DpOptions) -> Self {
        Self {
            dp,
            rng: ChaCha20Rng::seed_from_u64(dp.seed),
            accountant: PrivacyAccountant::default(),
        }
    }

    /// Adds the simulated distributed noise for an L2 sensitivity `sensitivity` (in real
    /// units) of each of `clients` clients to a round's `sum` and records the round.
    fn add(&mut self, sum: &mut [f32], sensitivity: f64, clients: usize) -> Result<()> {
        let sigma_units = self.dp.noise_multiplier * sensitivity * DP_UNITS;
        let sampler = DiscreteGaussian::new(sigma_units)?;
        for value in sum.iter_mut() {
            *value += (sampler.sample(&mut self.rng) as f64 / DP_UNITS) as f32;
        }
        self.accountant.record(&NoisyRound {
            l2_sensitivity: sensitivity * DP_UNITS,
            dimension: sum.len(),
            client_sigma: sigma_units / (clients.max(1) as f64).sqrt(),
            clients,
        });
        Ok(())
    }

    /// `(ε, δ)` spent so far.
    fn spent(&self) -> (f64, f64) {
        (self.accountant.epsilon(self.dp.delta), self.dp.delta)
    }
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
            local_rounds: 0,
            local: LocalTrainingOptions::default(),
            server_optimizer: ServerOptimizer::FedAvg { learning_rate: 1.0 },
            dp: None,
            content: None,
            cold_items: 0.0,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundStats {
    /// 0 is the document-frequency round; with a content tower, the last round is the one in
    /// which clients send their content statistics.
    pub round: u32,
    /// Clients that contributed.
    pub clients: usize,
    /// Updates that were clipped.
    pub clipped: usize,
    /// Mean L2 norm of the updates before clipping.
    pub mean_update_norm: f32,
    /// Wall time of the round, seconds.
    pub seconds: f64,
    /// Fine-tuning rounds: the clients' mean local loss before and after their local steps.
    pub local_loss: Option<(f32, f32)>,
}

/// The trained model and how training went.
#[derive(Debug, Clone)]
pub struct TrainReport {
    /// The model to serve.
    pub model: ModelWeights,
    /// Per-round statistics.
    pub rounds: Vec<RoundStats>,
    /// With differential privacy: `(ε, δ)` spent by all rounds together.
    pub privacy: Option<(f64, f64)>,
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
    if options.dp.is_some() && (options.central || options.clip_norm.is_none()) {
        return Err(mesh_models::Error::Training(
            "differential privacy needs clipped federated updates (not --central, a clip norm)"
                .to_owned(),
        )
        .into());
    }
    let salt = model_salt(options.version);
    let item_hashes =
        crate::evaluation::item_hashes(dataset, catalogue, &FavouriteHasher::new(&salt));
    if options.dp.is_some() && options.content.is_some() {
        return Err(mesh_models::Error::Training(
            "the content tower's statistics are not yet clipped for differential privacy: train it without --dp-noise-multiplier".to_owned(),
        )
        .into());
    }
    let hidden = options
        .hold_out
        .map(|split| crate::evaluation::held_out_split(dataset, split));
    let clients: Vec<Vec<WeightedItem<'_>>> = dataset
        .interactions
        .iter()
        .enumerate()
        .map(|(u, interactions)| {
            interactions
                .iter()
                .filter(|i| hidden.as_ref().is_none_or(|h| !h[u].contains(&i.item)))
                .filter(|i| !is_cold_item(&i.item, options.cold_items, options.seed))
                .filter_map(|i| {
                    Some(WeightedItem {
                        hash: *item_hashes.get(i.item.as_str())?,
                        weight: 1.0 + i.weight.ln().max(0.0),
                        content: dataset.content.get(&i.item).map(Vec::as_slice),
                    })
                })
                .collect::<Vec<_>>()
        })
        .filter(|items: &Vec<WeightedItem>| !items.is_empty())
        .collect();
    let mut stats = Vec::new();

    let start = Instant::now();
    let mut noise = options.dp.map(RoundNoise::new);
    let mut document_frequency = vec![0.0f32; options.buckets as usize];
    for items in &clients {
        let mut occupied = occupied_buckets(items, options.buckets);
        if let Some(dp) = &options.dp {
            occupied.truncate(dp.document_frequency_cap);
        }
        for bucket in occupied {
            document_frequency[bucket as usize] += 1.0;
        }
    }
    if let Some(noise) = &mut noise {
        let sensitivity = (noise.dp.document_frequency_cap as f64).sqrt();
        noise.add(&mut document_frequency, sensitivity, clients.len())?;
    }
    let document_frequency: Vec<u32> = document_frequency
        .iter()
        .map(|df| df.round().max(0.0) as u32)
        .collect();
    let idf = inverse_document_frequency(&document_frequency, clients.len());
    stats.push(RoundStats {
        round: 0,
        clients: clients.len(),
        clipped: 0,
        mean_update_norm: 0.0,
        seconds: start.elapsed().as_secs_f64(),
        local_loss: None,
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
        if let Some(noise) = &mut noise {
            let sensitivity = f64::from(options.clip_norm.unwrap_or(1.0));
            noise.add(&mut sum, sensitivity, clients.len())?;
        }
        basis.apply_round(&sum)?;
        stats.push(RoundStats {
            round,
            clients: clients.len(),
            clipped,
            mean_update_norm: norms / clients.len().max(1) as f32,
            seconds: start.elapsed().as_secs_f64(),
            local_loss: None,
        });
    }
    let mut model = basis.to_model(options.version, salt, options.rank)?;
    let mut optimiser_state = None;
    for local_round in 1..=options.local_rounds {
        let start = Instant::now();
        let round = options.rounds + local_round;
        let trainer = LocalTrainer::new(model);
        let mut sum = vec![0.0f32; options.buckets as usize * TASTE_DIM];
        let (mut clipped, mut norms, mut contributed) = (0, 0.0f32, 0usize);
        let (mut loss_before, mut loss_after) = (0.0f64, 0.0f64);
        for (c, items) in clients.iter().enumerate() {
            let local = LocalTrainingOptions {
                seed: options.local.seed ^ (u64::from(round) << 32) ^ c as u64,
                clip_norm: if options.central {
                    f32::MAX
                } else {
                    options.local.clip_norm
                },
                ..options.local
            };
            // A client with fewer than two distinct favourites has nothing to hold out.
            let Ok(update) = trainer.train(items, &local) else {
                continue;
            };
            contributed += 1;
            norms += update.norm_before_clip;
            clipped += usize::from(update.clipped);
            loss_before += f64::from(update.loss_before);
            loss_after += f64::from(update.loss_after);
            accumulate(&mut sum, &update.delta);
        }
        if contributed == 0 {
            return Err(mesh_models::Error::Training(
                "no client could train locally (each needs two distinct favourites)".to_owned(),
            )
            .into());
        }
        if let Some(noise) = &mut noise {
            noise.add(&mut sum, f64::from(options.local.clip_norm), contributed)?;
        }
        let mean_update: Vec<f32> = sum.iter().map(|x| x / contributed as f32).collect();
        let mut weights = trainer.into_model().weights().to_vec();
        apply_server_step(
            options.server_optimizer,
            &mut optimiser_state,
            &mut weights,
            &mean_update,
        );
        model = ModelWeights::new(options.version, salt, options.buckets, weights)?;
        stats.push(RoundStats {
            round,
            clients: contributed,
            clipped,
            mean_update_norm: norms / contributed as f32,
            seconds: start.elapsed().as_secs_f64(),
            local_loss: Some((
                (loss_before / contributed as f64) as f32,
                (loss_after / contributed as f64) as f32,
            )),
        });
    }
    if let Some(content) = options.content.filter(|_| !dataset.content.is_empty()) {
        let start = Instant::now();
        let mut statistics = vec![0.0f32; CONTENT_STATISTICS_LEN];
        let mut client_statistics = vec![0.0f32; CONTENT_STATISTICS_LEN];
        let (mut contributed, mut norms) = (0usize, 0.0f32);
        for items in &clients {
            client_statistics.fill(0.0);
            if add_content_statistics(&mut client_statistics, &model, items)? == 0 {
                continue;
            }
            contributed += 1;
            norms += client_statistics.iter().map(|x| x * x).sum::<f32>().sqrt();
            statistics
                .iter_mut()
                .zip(&client_statistics)
                .for_each(|(s, c)| *s += c);
        }
        let projection = fit_content_projection(&statistics, content.ridge)?;
        model = model.with_content_tower(Some(ContentTower::new(projection, content.share)?));
        stats.push(RoundStats {
            round: stats.len() as u32,
            clients: contributed,
            clipped: 0,
            mean_update_norm: norms / contributed.max(1) as f32,
            seconds: start.elapsed().as_secs_f64(),
            local_loss: None,
        });
    }
    Ok(TrainReport {
        model,
        rounds: stats,
        privacy: noise.as_ref().map(RoundNoise::spent),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Interaction, ItemInfo};

    #[test]
    fn private_training_reports_its_budget_and_refuses_unclipped_updates() {
        let dataset = small_dataset();
        let options = TrainOptions {
            buckets: 256,
            rounds: 2,
            dp: Some(DpOptions {
                noise_multiplier: 2.0,
                ..DpOptions::default()
            }),
            ..TrainOptions::default()
        };
        let report = train(&dataset, Catalogue::embedded(), options).unwrap();
        let (epsilon, delta) = report.privacy.unwrap();
        assert_eq!(delta, 1e-5);
        // Three rounds (document frequency + 2) at ρ = 1/(2·2²) each: ρ = 0.375.
        assert!(epsilon > 0.375 && epsilon < 10.0, "{epsilon}");
        let noisier = TrainOptions {
            dp: Some(DpOptions {
                noise_multiplier: 8.0,
                ..DpOptions::default()
            }),
            ..options
        };
        let quieter = train(&dataset, Catalogue::embedded(), noisier).unwrap();
        assert!(quieter.privacy.unwrap().0 < epsilon);
        let central = TrainOptions {
            central: true,
            ..options
        };
        let err = train(&dataset, Catalogue::embedded(), central).unwrap_err();
        assert!(
            err.to_string().contains("clipped federated updates"),
            "{err}"
        );
    }

    fn small_dataset() -> Dataset {
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
        dataset
    }

    #[test]
    fn fits_a_content_tower_that_places_cold_items() {
        let mut dataset = small_dataset();
        dataset.content = dataset
            .items
            .keys()
            .map(|id| {
                let key = format!("{:08x}", id.parse::<u32>().unwrap() * 7919 + 1);
                (
                    id.clone(),
                    mesh_shared::testing::synthetic_content_embedding(&key),
                )
            })
            .collect();
        let cold: Vec<&String> = dataset
            .items
            .keys()
            .filter(|id| is_cold_item(id, 0.3, 7))
            .collect();
        assert!(!cold.is_empty() && cold.len() < 20, "{cold:?}");
        let options = TrainOptions {
            buckets: 512,
            rounds: 2,
            content: Some(ContentOptions::default()),
            cold_items: 0.3,
            ..TrainOptions::default()
        };
        let report = train(&dataset, Catalogue::embedded(), options).unwrap();
        let tower = report.model.content_tower().expect("a content tower");
        assert_eq!(tower.share(), 1.0);
        assert_eq!(
            report.rounds.last().unwrap().clients,
            report.rounds[1].clients
        );
        let hasher = report.model.hasher();
        let hashes = crate::evaluation::item_hashes(&dataset, Catalogue::embedded(), &hasher);
        for id in &cold {
            let bucket = hashes[id.as_str()].bucket(512);
            assert!(report.model.row(bucket).iter().all(|x| *x == 0.0), "{id}");
        }
        // The cold item's vector comes from its content: a user with only cold favourites
        // still gets a taste vector.
        let items: Vec<WeightedItem<'_>> = cold
            .iter()
            .map(|id| WeightedItem {
                content: dataset.content.get(id.as_str()).map(Vec::as_slice),
                ..WeightedItem::new(hashes[id.as_str()], 1.0)
            })
            .collect();
        assert!(mesh_shared::taste_vector(&report.model, &items).is_ok());
        let rows_only = report.model.clone().with_content_tower(None);
        assert!(mesh_shared::taste_vector(&rows_only, &items).is_err());
        assert_eq!(
            ModelWeights::decode(&report.model.encode()).unwrap(),
            report.model
        );

        let private = TrainOptions {
            dp: Some(DpOptions::default()),
            ..options
        };
        let err = train(&dataset, Catalogue::embedded(), private).unwrap_err();
        assert!(err.to_string().contains("content tower"), "{err}");
    }

    #[test]
    fn trains_a_servable_model_of_the_next_version() {
        let dataset = small_dataset();
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

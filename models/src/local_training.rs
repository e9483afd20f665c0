//! On-device training of the item tower with candle's autograd.
//!
//! The local objective, over the user's own favourites only: split the favourites into folds;
//! for each fold, the taste vector of the *other* favourites (their weighted rows, L2
//! normalised) should score the held-out favourites above sampled negatives (BPR:
//! `mean softplus(s_neg − s_pos)` over every held-out × negative pair). Negatives are drawn
//! from the model's non-empty rows the user does not hold. A step updates only the rows the
//! fold touches, so the client's update is sparse: the rows of its own favourites and of the
//! sampled negatives. The update is the difference between the trained rows and the served
//! ones, clipped to an L2 norm; nothing else leaves the device.
//!
//! The same code runs natively (the coordinator's simulation) and in WebAssembly (the client).
use std::collections::BTreeMap;
use std::sync::OnceLock;

use candle_core::{DType, Device, Tensor, Var};
use mesh_shared::{ModelWeights, TASTE_DIM, WeightedItem};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result, SparseRows};

/// Settings of one client's local training.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTrainingOptions {
    /// Passes over the folds.
    pub epochs: u32,
    /// Folds the favourites are split into (each is held out once per epoch).
    pub folds: usize,
    /// Negatives sampled per held-out fold.
    pub negatives: usize,
    /// SGD step size.
    pub learning_rate: f32,
    /// L2 norm the update is clipped to.
    pub clip_norm: f32,
    /// Seed of the fold split and the negative sampling (a client picks it at random).
    pub seed: u64,
}

impl Default for LocalTrainingOptions {
    fn default() -> Self {
        Self {
            epochs: 1,
            folds: 5,
            negatives: 64,
            learning_rate: 0.5,
            clip_norm: 1.0,
            seed: 0,
        }
    }
}

/// What a client's local training produced.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalUpdate {
    /// Trained rows minus served rows, clipped to `clip_norm`.
    pub delta: SparseRows,
    /// The local objective on a fixed evaluation draw, before training.
    pub loss_before: f32,
    /// The same objective after training (with the unclipped rows).
    pub loss_after: f32,
    /// L2 norm of the delta before clipping.
    pub norm_before_clip: f32,
    /// Whether the delta was clipped.
    pub clipped: bool,
}

/// Trains against one served model, for any number of clients. The model's non-empty rows
/// (the pool negatives come from) are indexed on the first training, not when a session
/// starts.
#[derive(Debug, Clone)]
pub struct LocalTrainer {
    model: ModelWeights,
    negative_pool: OnceLock<Vec<u32>>,
}

impl LocalTrainer {
    /// Takes the served model.
    pub fn new(model: ModelWeights) -> Self {
        Self {
            model,
            negative_pool: OnceLock::new(),
        }
    }

    fn negative_pool(&self) -> &[u32] {
        self.negative_pool.get_or_init(|| {
            (0..self.model.buckets())
                .filter(|&b| self.model.row(b).iter().any(|x| *x != 0.0))
                .collect()
        })
    }

    /// The model the updates are computed against.
    pub fn model(&self) -> &ModelWeights {
        &self.model
    }

    /// Gives the model back.
    pub fn into_model(self) -> ModelWeights {
        self.model
    }

    /// Runs the local objective over `items` (favourite hashes with enthusiasm weights).
    ///
    /// # Errors
    /// [`Error::Training`] when fewer than two distinct rows are held (nothing to hold out),
    /// when the options are out of range, or when candle fails.
    pub fn train(
        &self,
        items: &[WeightedItem],
        options: &LocalTrainingOptions,
    ) -> Result<LocalUpdate> {
        if options.folds < 2 || options.negatives == 0 || options.epochs == 0 {
            return Err(Error::Training(format!(
                "local training needs at least 2 folds, 1 negative and 1 epoch (got {}, {}, {})",
                options.folds, options.negatives, options.epochs
            )));
        }
        let positive_finite = |x: f32| x.is_finite() && x > 0.0;
        if !positive_finite(options.learning_rate) || !positive_finite(options.clip_norm) {
            return Err(Error::Training(
                "the learning rate and the clip norm must be positive and finite".to_owned(),
            ));
        }
        let buckets = self.model.buckets();
        let mut held: BTreeMap<u32, f32> = BTreeMap::new();
        for item in items {
            *held.entry(item.hash.bucket(buckets)).or_default() += item.weight.max(0.0);
        }
        held.retain(|_, w| *w > 0.0);
        if held.len() < 2 {
            return Err(Error::Training(format!(
                "local training needs at least 2 distinct favourites, got {}",
                held.len()
            )));
        }
        let negatives: Vec<u32> = self
            .negative_pool()
            .iter()
            .copied()
            .filter(|b| !held.contains_key(b))
            .collect();
        if negatives.is_empty() {
            return Err(Error::Training(
                "the model has no rows to sample negatives from".to_owned(),
            ));
        }

        let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
        let mut own: Vec<(u32, f32)> = held.into_iter().collect();
        own.shuffle(&mut rng);
        let folds = options.folds.min(own.len());
        let evaluation = self.draw_folds(&own, folds, options.negatives, &negatives, &mut rng);
        let training: Vec<Vec<Fold>> = (0..options.epochs)
            .map(|_| self.draw_folds(&own, folds, options.negatives, &negatives, &mut rng))
            .collect();

        // Every row any fold touches, gathered once into the trainable table.
        let mut touched: BTreeMap<u32, u32> = BTreeMap::new();
        for fold in evaluation.iter().chain(training.iter().flatten()) {
            for bucket in fold.buckets() {
                let next = touched.len() as u32;
                touched.entry(bucket).or_insert(next);
            }
        }
        let mut order: Vec<(u32, u32)> = touched.iter().map(|(b, i)| (*b, *i)).collect();
        order.sort_by_key(|(_, i)| *i);
        let initial: Vec<f32> = order
            .iter()
            .flat_map(|(b, _)| self.model.row(*b).iter().copied())
            .collect();
        let device = Device::Cpu;
        let table = Var::from_tensor(&Tensor::from_vec(
            initial.clone(),
            (order.len(), TASTE_DIM),
            &device,
        )?)?;

        let loss_before = mean_loss(&table, &evaluation, &touched, &device)?;
        for epoch in &training {
            for fold in epoch {
                let loss = fold_loss(table.as_tensor(), fold, &touched, &device)?;
                let gradients = loss.backward()?;
                if let Some(gradient) = gradients.get(table.as_tensor()) {
                    let step = (gradient * f64::from(options.learning_rate))?;
                    table.set(&table.as_tensor().sub(&step)?)?;
                }
            }
        }
        let loss_after = mean_loss(&table, &evaluation, &touched, &device)?;

        let trained: Vec<f32> = table.as_tensor().flatten_all()?.to_vec1()?;
        let mut delta = SparseRows {
            rows: order
                .iter()
                .map(|(bucket, index)| {
                    let start = *index as usize * TASTE_DIM;
                    let row = (start..start + TASTE_DIM)
                        .map(|k| trained[k] - initial[k])
                        .collect();
                    (*bucket, row)
                })
                .filter(|(_, row): &(u32, Vec<f32>)| row.iter().any(|x| *x != 0.0))
                .collect(),
        };
        let norm_before_clip = delta.norm();
        let clipped = delta.clip(options.clip_norm);
        Ok(LocalUpdate {
            delta,
            loss_before,
            loss_after,
            norm_before_clip,
            clipped,
        })
    }

    fn draw_folds(
        &self,
        own: &[(u32, f32)],
        folds: usize,
        negatives: usize,
        pool: &[u32],
        rng: &mut ChaCha8Rng,
    ) -> Vec<Fold> {
        let mut shuffled = own.to_vec();
        shuffled.shuffle(rng);
        (0..folds)
            .map(|f| {
                let (held_out, held_in): (Vec<_>, Vec<_>) = shuffled
                    .iter()
                    .enumerate()
                    .partition(|(i, _)| i % folds == f);
                Fold {
                    held_in: held_in.into_iter().map(|(_, x)| *x).collect(),
                    held_out: held_out.into_iter().map(|(_, (b, _))| *b).collect(),
                    negatives: (0..negatives)
                        .map(|_| pool[rng.random_range(0..pool.len())])
                        .collect(),
                }
            })
            .collect()
    }
}

#[derive(Debug)]
struct Fold {
    held_in: Vec<(u32, f32)>,
    held_out: Vec<u32>,
    negatives: Vec<u32>,
}

impl Fold {
    fn buckets(&self) -> impl Iterator<Item = u32> + '_ {
        self.held_in
            .iter()
            .map(|(b, _)| *b)
            .chain(self.held_out.iter().copied())
            .chain(self.negatives.iter().copied())
    }
}

fn mean_loss(
    table: &Var,
    folds: &[Fold],
    index: &BTreeMap<u32, u32>,
    device: &Device,
) -> Result<f32> {
    let mut total = 0.0f32;
    for fold in folds {
        total += fold_loss(table.as_tensor(), fold, index, device)?.to_scalar::<f32>()?;
    }
    Ok(total / folds.len() as f32)
}

/// BPR loss of one fold: `mean softplus(s_neg − s_pos)` with `s = u·row` and `u` the unit
/// weighted sum of the held-in rows.
fn fold_loss(
    table: &Tensor,
    fold: &Fold,
    index: &BTreeMap<u32, u32>,
    device: &Device,
) -> Result<Tensor> {
    let rows = |buckets: &mut dyn Iterator<Item = u32>| -> Result<Tensor> {
        let ids: Vec<u32> = buckets.map(|b| index[&b]).collect();
        let len = ids.len();
        Ok(table.index_select(&Tensor::from_vec(ids, len, device)?, 0)?)
    };
    let held_in = rows(&mut fold.held_in.iter().map(|(b, _)| *b))?;
    let weights: Vec<f32> = fold.held_in.iter().map(|(_, w)| *w).collect();
    let weights = Tensor::from_vec(weights, (1, fold.held_in.len()), device)?;
    let user = weights.matmul(&held_in)?; // 1 × 256
    let norm = user.sqr()?.sum_all()?.affine(1.0, 1e-12)?.sqrt()?;
    let user = user.broadcast_div(&norm)?.t()?; // 256 × 1
    let positive = rows(&mut fold.held_out.iter().copied())?.matmul(&user)?; // P × 1
    let negative = rows(&mut fold.negatives.iter().copied())?
        .matmul(&user)?
        .t()?; // 1 × N
    let margin = negative.broadcast_sub(&positive)?; // P × N
    // softplus(x) = max(x, 0) + ln(1 + e^(−|x|)), stable for any x.
    let softplus = (margin.relu()? + margin.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    Ok(softplus.to_dtype(DType::F32)?.mean_all()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Catalogue, initial_model};
    use mesh_shared::FavouriteHasher;

    fn items(model: &ModelWeights, count: usize) -> Vec<WeightedItem<'static>> {
        let hasher = model.hasher();
        Catalogue::embedded()
            .items()
            .iter()
            .take(count)
            .enumerate()
            .map(|(i, item)| WeightedItem {
                hash: hasher.hash(item.key()),
                weight: 1.0 + (i % 3) as f32,
                content: None,
            })
            .collect()
    }

    #[test]
    fn local_training_lowers_the_local_loss() {
        let model = initial_model(Catalogue::embedded(), 1);
        let trainer = LocalTrainer::new(model.clone());
        let options = LocalTrainingOptions {
            epochs: 3,
            clip_norm: 100.0,
            seed: 11,
            ..LocalTrainingOptions::default()
        };
        let update = trainer.train(&items(&model, 60), &options).unwrap();
        assert!(
            update.loss_after < update.loss_before - 0.01,
            "{} -> {}",
            update.loss_before,
            update.loss_after
        );
        assert!(!update.clipped);
        assert!(!update.delta.rows.is_empty());
    }

    #[test]
    fn the_update_is_clipped_and_deterministic_for_a_seed() {
        let model = initial_model(Catalogue::embedded(), 1);
        let trainer = LocalTrainer::new(model.clone());
        let options = LocalTrainingOptions {
            clip_norm: 0.01,
            seed: 3,
            ..LocalTrainingOptions::default()
        };
        let favourites = items(&model, 40);
        let a = trainer.train(&favourites, &options).unwrap();
        let b = trainer.train(&favourites, &options).unwrap();
        assert_eq!(a, b);
        assert!(a.clipped);
        assert!((a.delta.norm() - 0.01).abs() < 1e-4, "{}", a.delta.norm());
        assert!(a.norm_before_clip > 0.01);
    }

    #[test]
    fn the_update_touches_only_own_rows_and_sampled_negatives() {
        let model = initial_model(Catalogue::embedded(), 1);
        let trainer = LocalTrainer::new(model.clone());
        let favourites = items(&model, 20);
        let options = LocalTrainingOptions {
            negatives: 4,
            folds: 2,
            ..LocalTrainingOptions::default()
        };
        let update = trainer.train(&favourites, &options).unwrap();
        // Own rows plus at most 4 negatives per fold, per draw (evaluation + 1 epoch).
        assert!(update.delta.rows.len() <= 20 + 4 * 2 * 2);
    }

    #[test]
    fn too_few_favourites_or_bad_options_are_refused() {
        let model = initial_model(Catalogue::embedded(), 1);
        let trainer = LocalTrainer::new(model.clone());
        let hasher = FavouriteHasher::new(&[0; 32]);
        let one = [WeightedItem {
            hash: hasher.hash(Catalogue::embedded().items()[0].key()),
            weight: 1.0,
            content: None,
        }];
        assert!(
            trainer
                .train(&one, &LocalTrainingOptions::default())
                .is_err()
        );
        let bad = LocalTrainingOptions {
            learning_rate: f32::NAN,
            ..LocalTrainingOptions::default()
        };
        assert!(trainer.train(&items(&model, 10), &bad).is_err());
    }
}

//! The live server optimiser: how a round's mean update becomes the next model version.
//! `mesh train` (the lab's simulation) applies its rounds with the same code.
use serde::{Deserialize, Serialize};

/// How the coordinator turns a round's mean update into the next model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerOptimizer {
    /// `w += lr · mean update` (FedAvg; lr 1 is plain averaging).
    FedAvg {
        /// Server learning rate.
        learning_rate: f32,
    },
    /// Adam on the negated mean update as a pseudo-gradient (FedAdam, Reddi et al. 2021).
    FedAdam {
        /// Server learning rate.
        learning_rate: f32,
        /// First-moment decay.
        beta1: f32,
        /// Second-moment decay.
        beta2: f32,
        /// Adaptivity floor τ.
        tau: f32,
    },
}

/// First and second moments of FedAdam, carried from round to round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdamMoments {
    first: Vec<f32>,
    second: Vec<f32>,
}

/// Applies one round's `mean_update` to `weights` with `optimiser`; FedAdam keeps its moments
/// in `state` from round to round.
pub fn apply_server_step(
    optimiser: ServerOptimizer,
    state: &mut Option<AdamMoments>,
    weights: &mut [f32],
    mean_update: &[f32],
) {
    match optimiser {
        ServerOptimizer::FedAvg { learning_rate } => {
            for (w, d) in weights.iter_mut().zip(mean_update) {
                *w += learning_rate * d;
            }
        }
        ServerOptimizer::FedAdam {
            learning_rate,
            beta1,
            beta2,
            tau,
        } => {
            let moments = state.get_or_insert_with(|| AdamMoments {
                first: vec![0.0; weights.len()],
                second: vec![tau * tau; weights.len()],
            });
            for (((w, d), m), v) in weights
                .iter_mut()
                .zip(mean_update)
                .zip(&mut moments.first)
                .zip(&mut moments.second)
            {
                *m = beta1 * *m + (1.0 - beta1) * d;
                *v = beta2 * *v + (1.0 - beta2) * d * d;
                if *m != 0.0 {
                    *w += learning_rate * *m / (v.sqrt() + tau);
                }
            }
        }
    }
}

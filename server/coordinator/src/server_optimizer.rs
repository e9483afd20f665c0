//! The live server optimiser: how a round's mean update becomes the next model version.
//! `mesh train` (the lab's simulation) applies its rounds with the same code.
use mesh_shared::ServerOptimizer;
use serde::{Deserialize, Serialize};

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

//! What a discovery answer may reveal. A published taste vector is a weighted mean of item rows
//! under a public model, so exact similarity scores would let a caller rebuild it (and with it
//! the person's favourites) from a few hundred chosen queries. Two limits stand in the way:
//!
//! - **A daily query budget per identity** ([`QueryBudget`]): discovery answers only signed,
//!   registered callers, each at most `queries_per_day` times per UTC day (in this process;
//!   each replica keeps its own count).
//! - **Coarse, noised scores** ([`coarse_score`]): each score leaves as a multiple of
//!   [`SCORE_STEP`] after fresh uniform noise of one step's width, so a query near a rounding
//!   boundary reads as a coin flip instead of one exact bit.
//!
//! The order of the list is the pipeline's and stays as it is. The attack these limits answer
//! is `tests/tests/integration/attacks/vector_reconstruction.rs`, which measures it.
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use mesh_shared::UserId;
use rand::RngExt;

use crate::DAY_MS;

/// The grid scores are rounded to.
pub const SCORE_STEP: f32 = 0.25;

/// The default number of discovery queries an identity may make per UTC day.
pub const DEFAULT_QUERIES_PER_DAY: u32 = 100;

/// `score` as it leaves the coordinator: plus fresh uniform noise in `±SCORE_STEP / 2`, rounded
/// to a multiple of [`SCORE_STEP`] and clamped to `[-1, 1]`.
pub fn coarse_score(score: f32, rng: &mut impl rand::Rng) -> f32 {
    let dither = rng.random_range(-0.5f32..0.5) * SCORE_STEP;
    (((score + dither) / SCORE_STEP).round() * SCORE_STEP).clamp(-1.0, 1.0)
}

/// Discovery queries per identity per UTC day.
#[derive(Debug, Default)]
pub(crate) struct QueryBudget {
    spent: Mutex<HashMap<UserId, (u64, u32)>>,
}

impl QueryBudget {
    /// Counts one query of `user` at `now_ms` if their budget of `per_day` allows it; `false`
    /// (nothing counted) when it is spent.
    pub(crate) fn spend(&self, user: &UserId, now_ms: u64, per_day: u32) -> bool {
        let day = now_ms / DAY_MS;
        let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
        // Yesterday's counts are of no further use.
        if spent.len() > 100_000 {
            spent.retain(|_, (d, _)| *d == day);
        }
        let entry = spent.entry(user.clone()).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        if entry.1 >= per_day {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn scores_leave_on_the_grid_and_near_their_value() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        for i in 0..=200 {
            let score = i as f32 / 100.0 - 1.0;
            let coarse = coarse_score(score, &mut rng);
            assert!((coarse / SCORE_STEP - (coarse / SCORE_STEP).round()).abs() < 1e-6);
            assert!(
                (coarse - score).abs() <= SCORE_STEP + 1e-6,
                "{score} → {coarse}"
            );
        }
        // On a boundary the answer is a fair coin, not a bit about the score.
        let ups = (0..10_000)
            .filter(|_| coarse_score(SCORE_STEP / 2.0, &mut rng) > 0.1)
            .count();
        assert!((4_500..5_500).contains(&ups), "{ups}");
    }

    #[test]
    fn the_budget_is_per_identity_and_per_day() {
        let budget = QueryBudget::default();
        let (ada, bo) = (
            UserId::try_from("ada".to_owned()).unwrap(),
            UserId::try_from("bo".to_owned()).unwrap(),
        );
        assert!((0..3).all(|_| budget.spend(&ada, 5, 3)));
        assert!(!budget.spend(&ada, 6, 3));
        assert!(budget.spend(&bo, 6, 3));
        assert!(budget.spend(&ada, DAY_MS + 1, 3));
    }
}

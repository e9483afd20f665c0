//! What a device requires of a federated round before it takes part, whatever the coordinator
//! asks: enough devices in the cohort, a secret-sharing threshold above half of it, on-device
//! noise, a small δ, and a lifetime privacy budget that the round must fit in. The device
//! checks [`PrivacyFloors::admit`] before it joins, and charges the round's ρ to its budget
//! before it reveals anything for unmasking, whether or not the round then applies.
//!
//! The round's cost is computed for the worst case the protocol allows: only `threshold`
//! devices survive, so the sum holds the least noise it can (each device adds
//! `1/expected_clients` of the target variance). zCDP composes by adding ρ; ε is reported at the
//! floors' δ.
use serde::{Deserialize, Serialize};

use crate::secagg::PrivacyAccountant;
use crate::{Error, Result, RoundSettings};

/// The round dimension README's statement of the default guarantee is computed for: the
/// 65,536 weights (256 × 256) the demo's rounds train.
pub const ROUND_GUARANTEE_DIMENSION: usize = 65_536;

/// A device's minimums for a round, and its lifetime budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyFloors {
    /// Fewest devices a round may be planned for (`expected_clients`).
    pub min_cohort: usize,
    /// Smallest on-device noise multiplier `z`.
    pub min_noise_multiplier: f64,
    /// Largest δ of the guarantee.
    pub max_delta: f64,
    /// ε (at `max_delta`) this device may spend over all the rounds it ever takes part in.
    pub epsilon_budget: f64,
}

impl Default for PrivacyFloors {
    /// Cohorts of 20 or more, `z ≥ 1`, δ ≤ 1e-5, a lifetime ε of 16.
    fn default() -> Self {
        Self {
            min_cohort: 20,
            min_noise_multiplier: 1.0,
            max_delta: 1e-5,
            epsilon_budget: 16.0,
        }
    }
}

/// What taking part in one round costs a device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RoundCharge {
    /// zCDP ρ of the round (worst case: only `threshold` devices survive).
    pub rho: f64,
    /// ε of this round alone, at the floors' δ.
    pub epsilon: f64,
    /// ε of every round this device took part in, this one included.
    pub epsilon_total: f64,
}

impl PrivacyFloors {
    /// Checks `settings` against the floors, given the ρ this device has already spent;
    /// what the round would cost.
    ///
    /// # Errors
    /// [`Error::InvalidField`] on `round`, naming the floor the round is below, or the budget
    /// it would exceed.
    pub fn admit(&self, settings: &RoundSettings, rho_spent: f64) -> Result<RoundCharge> {
        let refuse = |why: String| Err(Error::field("round", why));
        if settings.expected_clients < self.min_cohort {
            return refuse(format!(
                "planned for {} devices; this device takes part in rounds of at least {}",
                settings.expected_clients, self.min_cohort
            ));
        }
        if 2 * settings.threshold <= settings.expected_clients {
            return refuse(format!(
                "threshold {} is not above half of {} devices",
                settings.threshold, settings.expected_clients
            ));
        }
        if let Some(k) = settings.neighbours {
            let neighbourhood = 2 * k.div_ceil(2) + 1;
            if 2 * settings.share_threshold() <= neighbourhood {
                return refuse(format!(
                    "share threshold {} is not above half of a neighbourhood of {neighbourhood}",
                    settings.share_threshold()
                ));
            }
        }
        if !(settings.noise_multiplier >= self.min_noise_multiplier
            && settings.noise_multiplier.is_finite())
        {
            return refuse(format!(
                "noise multiplier {}; this device adds at least {}",
                settings.noise_multiplier, self.min_noise_multiplier
            ));
        }
        if settings.delta > self.max_delta {
            return refuse(format!(
                "δ {}; this device accepts at most {}",
                settings.delta, self.max_delta
            ));
        }
        let noisy = settings
            .privacy()
            .round_privacy(settings.threshold, settings.dimension)?
            .ok_or_else(|| Error::field("round", "the round adds no noise"))?;
        let mut round = PrivacyAccountant::default();
        round.record(&noisy);
        let mut total = PrivacyAccountant::from_rho(rho_spent);
        total.record(&noisy);
        let charge = RoundCharge {
            rho: noisy.rho(),
            epsilon: round.epsilon(self.max_delta),
            epsilon_total: total.epsilon(self.max_delta),
        };
        if !(charge.rho > 0.0 && charge.epsilon_total.is_finite()) {
            return refuse(format!(
                "the round's privacy cannot be computed (ρ {})",
                charge.rho
            ));
        }
        if charge.epsilon_total > self.epsilon_budget {
            return refuse(format!(
                "the round costs ε {:.2}; with the ε {:.2} already spent this device would pass its budget of {}",
                charge.epsilon,
                PrivacyAccountant::from_rho(rho_spent).epsilon(self.max_delta),
                self.epsilon_budget
            ));
        }
        Ok(charge)
    }

    /// The round a coordinator should plan for these floors to be met at their minimum:
    /// `min_cohort` devices over `dimension` weights, threshold just above half, noise at the
    /// floor, δ at the floor.
    pub fn minimal_round(&self, dimension: usize) -> RoundSettings {
        RoundSettings {
            noise_multiplier: self.min_noise_multiplier,
            delta: self.max_delta,
            ..RoundSettings::new(dimension, self.min_cohort / 2 + 1, self.min_cohort)
        }
    }

    /// The guarantee of the default floors, as README states it: per-round ε of the minimal
    /// round over `dimension` weights, and how many such rounds fit in the budget.
    pub fn stated_guarantee(&self, dimension: usize) -> Result<(f64, u32)> {
        let round = self.minimal_round(dimension);
        let mut rounds = 0;
        let mut rho = 0.0;
        let first = self.admit(&round, rho)?;
        while let Ok(charge) = self.admit(&round, rho) {
            rho += charge.rho;
            rounds += 1;
        }
        Ok((first.epsilon, rounds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_below_a_floor_are_refused_with_the_floor_named() {
        let floors = PrivacyFloors::default();
        let fine = floors.minimal_round(4096);
        let charge = floors.admit(&fine, 0.0).unwrap();
        assert!(charge.epsilon > 0.0 && charge.epsilon <= charge.epsilon_total + 1e-12);
        let cases = [
            (
                RoundSettings {
                    expected_clients: 5,
                    threshold: 3,
                    ..fine
                },
                "at least 20",
            ),
            (
                RoundSettings {
                    threshold: 10,
                    ..fine
                },
                "not above half",
            ),
            (
                RoundSettings {
                    noise_multiplier: 0.0,
                    ..fine
                },
                "adds at least 1",
            ),
            (
                RoundSettings {
                    delta: 1e-3,
                    ..fine
                },
                "at most 0.00001",
            ),
            (
                RoundSettings {
                    neighbours: Some(8),
                    share_threshold: Some(4),
                    ..fine
                },
                "share threshold 4",
            ),
        ];
        for (settings, why) in cases {
            let err = floors.admit(&settings, 0.0).unwrap_err().to_string();
            assert!(err.contains(why), "{why:?} not in {err}");
        }
        // Past the budget.
        let err = floors.admit(&fine, 100.0).unwrap_err().to_string();
        assert!(err.contains("budget of 16"), "{err}");
    }

    #[test]
    fn fewer_survivors_cost_more_and_rounds_compose() {
        let floors = PrivacyFloors::default();
        let round = floors.minimal_round(4096);
        let more_survivors = RoundSettings {
            threshold: 19,
            ..round
        };
        let worst = floors.admit(&round, 0.0).unwrap();
        let better = floors.admit(&more_survivors, 0.0).unwrap();
        assert!(worst.rho > better.rho);
        let second = floors.admit(&round, worst.rho).unwrap();
        assert!(second.epsilon_total > worst.epsilon_total);
        assert!((second.rho - worst.rho).abs() < 1e-12);
    }

    #[test]
    fn the_readme_states_the_default_guarantee() {
        let (epsilon, rounds) = PrivacyFloors::default()
            .stated_guarantee(crate::ROUND_GUARANTEE_DIMENSION)
            .unwrap();
        let sentence = format!(
            "costs each device ε = {epsilon:.2} at δ = 1e-5, and a device takes part in at most {rounds} such rounds"
        );
        let readme = include_str!("../../README.md").replace('\n', " ");
        assert!(
            readme.contains(&sentence),
            "README.md must state the default guarantee as computed: \"{sentence}\""
        );
    }
}

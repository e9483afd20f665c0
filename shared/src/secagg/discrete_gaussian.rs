//! Differential privacy for the aggregated model update: each client adds discrete Gaussian
//! noise to its quantised update (the distributed discrete Gaussian of Kairouz, Liu and
//! Steinke, ICML 2021), so the sum that secure aggregation reveals carries the noise of all
//! of them, and [`PrivacyAccountant`] tracks the privacy spent over rounds in concentrated DP
//! (zCDP) and reports it as (ε, δ).
//!
//! The sampler is the exact algorithm of Canonne, Kamath and Steinke (NeurIPS 2020): integer
//! arithmetic only, randomness from the caller's CSPRNG, no floating point in the decisions;
//! the variance is taken as a rational `σ² = numerator / 2^20`.
use rand::{Rng, RngExt};

use crate::{Error, Result};

/// Denominator of the rational variance.
const VARIANCE_DENOMINATOR: u128 = 1 << 20;

/// A discrete Gaussian `N_Z(0, σ²)` over the integers: `P(x) ∝ exp(-x² / 2σ²)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscreteGaussian {
    /// σ² · 2^20, rounded.
    variance_numerator: u128,
    /// ⌊σ⌋ + 1, the scale of the discrete Laplace proposal.
    proposal_scale: u128,
}

impl DiscreteGaussian {
    /// A sampler with standard deviation `sigma` (the variance is rounded to a multiple of
    /// 2^-20).
    ///
    /// # Errors
    /// [`Error::InvalidField`] unless `sigma` is finite and in `(0, 2^20]`.
    pub fn new(sigma: f64) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0 && sigma <= f64::from(1u32 << 20)) {
            return Err(Error::InvalidField {
                field: "sigma".to_owned(),
                reason: format!("{sigma} is not a standard deviation in (0, 2^20]"),
            });
        }
        let variance_numerator = ((sigma * sigma) * VARIANCE_DENOMINATOR as f64).round() as u128;
        Ok(Self {
            variance_numerator: variance_numerator.max(1),
            proposal_scale: sigma.floor() as u128 + 1,
        })
    }

    /// The variance as a float (for reports).
    pub fn variance(&self) -> f64 {
        self.variance_numerator as f64 / VARIANCE_DENOMINATOR as f64
    }

    /// One sample.
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        let t = self.proposal_scale;
        loop {
            let y = discrete_laplace(t, rng);
            // Accept with probability exp(-(|y| - σ²/t)² / 2σ²); with σ² = v/D this is
            // exp(-(|y|·t·D - v)² / (2·v·t²·D)).
            let magnitude = u128::from(y.unsigned_abs());
            let shifted = (magnitude * t * VARIANCE_DENOMINATOR).abs_diff(self.variance_numerator);
            let numerator = shifted.saturating_mul(shifted);
            let denominator = 2 * self.variance_numerator * t * t * VARIANCE_DENOMINATOR;
            if bernoulli_exp_neg(numerator, denominator, rng) {
                return y;
            }
        }
    }

    /// Adds one sample to every value (wrapping, as the values live in `Z_2^32`).
    pub fn add_noise(&self, values: &mut [u32], rng: &mut impl Rng) {
        for value in values {
            *value = value.wrapping_add(self.sample(rng) as u32);
        }
    }
}

/// `true` with probability `n / d` (`n ≤ d`, `d > 0`).
fn bernoulli(n: u128, d: u128, rng: &mut impl Rng) -> bool {
    uniform_below(d, rng) < n
}

/// Uniform in `0..bound` (`bound > 0`), by rejection.
fn uniform_below(bound: u128, rng: &mut impl Rng) -> u128 {
    let zone = u128::MAX - (u128::MAX % bound + 1) % bound;
    loop {
        let x = (u128::from(rng.random::<u64>()) << 64) | u128::from(rng.random::<u64>());
        if x <= zone {
            return x % bound;
        }
    }
}

/// `true` with probability `exp(-n/d)`.
fn bernoulli_exp_neg(n: u128, d: u128, rng: &mut impl Rng) -> bool {
    if n > d {
        // exp(-n/d) = exp(-1)^⌊n/d⌋ · exp(-(n mod d)/d).
        let whole = n / d;
        let mut i = 0;
        while i < whole {
            if !bernoulli_exp_neg(1, 1, rng) {
                return false;
            }
            i += 1;
        }
        return bernoulli_exp_neg(n % d, d, rng);
    }
    // γ = n/d ∈ [0, 1]: the first k with Bernoulli(γ/k) false is odd with probability e^-γ.
    let mut k: u128 = 1;
    while bernoulli(n, d.saturating_mul(k), rng) {
        k += 1;
    }
    k % 2 == 1
}

/// A discrete Laplace sample with `P(x) ∝ exp(-|x|/t)`.
fn discrete_laplace(t: u128, rng: &mut impl Rng) -> i64 {
    loop {
        let u = uniform_below(t, rng);
        if !bernoulli_exp_neg(u, t, rng) {
            continue;
        }
        let mut v: u128 = 0;
        while bernoulli_exp_neg(1, 1, rng) {
            v += 1;
        }
        let magnitude = u + t * v;
        let negative = rng.random::<bool>();
        if negative && magnitude == 0 {
            continue;
        }
        let magnitude = i64::try_from(magnitude).unwrap_or(i64::MAX);
        return if negative { -magnitude } else { magnitude };
    }
}

/// The privacy of training rounds whose sums carry the distributed discrete Gaussian noise of
/// `clients` clients, each adding `N_Z(0, σ²)` to an update of L2 norm at most
/// `l2_sensitivity` (in quantised units) and `dimension` coordinates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoisyRound {
    /// L2 bound of one client's quantised update (after clipping and rounding).
    pub l2_sensitivity: f64,
    /// Coordinates of the update.
    pub dimension: usize,
    /// Each client's noise standard deviation σ.
    pub client_sigma: f64,
    /// Clients whose noise is in the sum (the survivors of the round).
    pub clients: usize,
}

impl NoisyRound {
    /// ρ of the round in zero-concentrated DP, from Kairouz et al. 2021 (Proposition 14 with
    /// its τ term for a sum of discrete Gaussians): `ε = sqrt(Δ²/(nσ²) + dτ/2)`, `ρ = ε²/2`.
    pub fn rho(&self) -> f64 {
        let n = self.clients.max(1) as f64;
        let variance = self.client_sigma * self.client_sigma;
        let tau: f64 = 10.0
            * (1..self.clients.max(1))
                .map(|k| {
                    let k = k as f64;
                    (-2.0 * std::f64::consts::PI.powi(2) * variance * k / (k + 1.0)).exp()
                })
                .sum::<f64>();
        let epsilon_squared =
            self.l2_sensitivity.powi(2) / (n * variance) + 0.5 * tau * self.dimension as f64;
        epsilon_squared / 2.0
    }
}

/// Privacy spent over rounds, in zCDP (ρ adds up under composition).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PrivacyAccountant {
    rho: f64,
    rounds: u32,
}

impl PrivacyAccountant {
    /// An accountant that has already spent `rho` (of earlier rounds; their count is not
    /// kept).
    pub fn from_rho(rho: f64) -> Self {
        Self {
            rho: rho.max(0.0),
            rounds: 0,
        }
    }

    /// Records one round.
    pub fn record(&mut self, round: &NoisyRound) {
        self.rho += round.rho();
        self.rounds += 1;
    }

    /// ρ spent so far.
    pub fn rho(&self) -> f64 {
        self.rho
    }

    /// Rounds recorded.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// ε at `delta` (0 < δ < 1): the conversion of Canonne, Kamath and Steinke 2020
    /// (Proposition 12 / Corollary 13), minimised over the Rényi order α:
    /// `ε = min_α αρ + (ln(1/δ) + (α−1) ln(1−1/α) − ln α) / (α−1)`.
    pub fn epsilon(&self, delta: f64) -> f64 {
        if self.rho <= 0.0 {
            return 0.0;
        }
        let log_inv_delta = (1.0 / delta).ln();
        (1..=4000)
            .map(|i| 1.0 + (i as f64 / 200.0).exp() / 100.0)
            .map(|alpha| {
                alpha * self.rho
                    + (log_inv_delta + (alpha - 1.0) * (1.0 - 1.0 / alpha).ln() - alpha.ln())
                        / (alpha - 1.0)
            })
            .fold(f64::INFINITY, f64::min)
            .max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn moments_match_the_discrete_gaussian() {
        for sigma in [0.5, 1.0, 3.0, 20.0] {
            let sampler = DiscreteGaussian::new(sigma).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(7);
            let n = 40_000;
            let samples: Vec<f64> = (0..n).map(|_| sampler.sample(&mut rng) as f64).collect();
            let mean = samples.iter().sum::<f64>() / n as f64;
            let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            // The discrete Gaussian's variance is at most σ² and, for σ ≥ 1, within 1% of it.
            let expected: f64 = {
                let z: f64 = (-200i64..=200)
                    .map(|x| (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
                    .sum();
                (-200i64..=200)
                    .map(|x| (x * x) as f64 * (-(x * x) as f64 / (2.0 * sigma * sigma)).exp())
                    .sum::<f64>()
                    / z
            };
            assert!(
                mean.abs() < 4.0 * (expected / n as f64).sqrt() + 1e-9,
                "σ {sigma}: mean {mean}"
            );
            assert!(
                (variance - expected).abs() < 0.05 * expected,
                "σ {sigma}: variance {variance}, expected {expected}"
            );
        }
    }

    #[test]
    fn the_probability_of_zero_is_right() {
        let sigma = 1.0;
        let sampler = DiscreteGaussian::new(sigma).unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let n = 50_000;
        let zeros = (0..n).filter(|_| sampler.sample(&mut rng) == 0).count() as f64 / n as f64;
        let z: f64 = (-50i64..=50).map(|x| (-(x * x) as f64 / 2.0).exp()).sum();
        let expected = 1.0 / z;
        assert!(
            (zeros - expected).abs() < 0.01,
            "P(0) {zeros}, expected {expected}"
        );
    }

    #[test]
    fn bernoulli_exp_matches_its_probability() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for (n, d) in [(1u128, 2u128), (3, 1), (7, 4)] {
            let trials = 40_000;
            let hits = (0..trials)
                .filter(|_| bernoulli_exp_neg(n, d, &mut rng))
                .count();
            let expected = (-(n as f64) / d as f64).exp();
            let seen = hits as f64 / trials as f64;
            assert!(
                (seen - expected).abs() < 0.01,
                "exp(-{n}/{d}): {seen} vs {expected}"
            );
        }
    }

    #[test]
    fn bad_sigmas_are_refused() {
        for sigma in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert!(DiscreteGaussian::new(sigma).is_err(), "{sigma}");
        }
    }

    #[test]
    fn the_accountant_composes_and_converts() {
        // One Gaussian round with Δ/σ_total = 1: ρ = 1/2 (τ negligible for σ = 10).
        let round = NoisyRound {
            l2_sensitivity: 10.0,
            dimension: 256,
            client_sigma: 10.0,
            clients: 1,
        };
        assert!((round.rho() - 0.5).abs() < 1e-9, "{}", round.rho());
        let mut accountant = PrivacyAccountant::default();
        assert_eq!(accountant.epsilon(1e-5), 0.0);
        accountant.record(&round);
        let one = accountant.epsilon(1e-5);
        // The classic bound ρ + 2·sqrt(ρ ln(1/δ)) is looser than the optimised conversion.
        let classic = 0.5 + 2.0 * (0.5 * (1e5f64).ln()).sqrt();
        assert!(one < classic && one > 0.5, "ε {one}, classic {classic}");
        for _ in 0..3 {
            accountant.record(&round);
        }
        assert_eq!(accountant.rounds(), 4);
        assert!((accountant.rho() - 2.0).abs() < 1e-9);
        assert!(accountant.epsilon(1e-5) > one);
        // 25 clients sharing the noise (σ 2 each, 10 in the sum) give the same ρ...
        let shared = NoisyRound {
            client_sigma: 2.0,
            clients: 25,
            ..round
        };
        assert!((shared.rho() - 0.5).abs() < 1e-6, "{}", shared.rho());
        // ...but spread too thin (σ 1 each over 100) the sum is less Gaussian and τ costs.
        let thin = NoisyRound {
            client_sigma: 1.0,
            clients: 100,
            ..round
        };
        assert!(thin.rho() > 0.53, "{}", thin.rho());
    }

    proptest! {
        #[test]
        fn samples_are_symmetric_in_distribution(seed in any::<u64>()) {
            // Sign flips of a seeded stream: mean over 2,000 samples stays near 0.
            let sampler = DiscreteGaussian::new(2.0).unwrap();
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let sum: i64 = (0..2_000).map(|_| sampler.sample(&mut rng)).sum();
            prop_assert!((sum as f64 / 2_000.0).abs() < 0.5);
        }

        #[test]
        fn epsilon_grows_with_rho(rho in 0.001f64..10.0, extra in 0.001f64..10.0) {
            let a = PrivacyAccountant { rho, rounds: 1 };
            let b = PrivacyAccountant { rho: rho + extra, rounds: 2 };
            prop_assert!(b.epsilon(1e-6) >= a.epsilon(1e-6));
        }
    }
}

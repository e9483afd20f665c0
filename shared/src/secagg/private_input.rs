//! What a client does to its update before masking it: clip to an L2 norm (reported), quantise
//! into `Z_2^32`, and add its share of the distributed discrete Gaussian noise, so that the sum
//! the coordinator unmasks is differentially private (Kairouz et al. 2021) while no single
//! input is noised more than its share.
use rand::Rng;

use super::{DiscreteGaussian, NoisyRound, Quantizer};
use crate::{Error, Result};

/// Each client's noise deviation on the grid of a noised round, in units.
const NOISE_UNITS: f64 = 65_536.0;

/// How a round's inputs are prepared; every client and the coordinator use the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputPrivacy {
    /// L2 bound of an update (it also bounds every coordinate).
    pub l2_clip: f32,
    /// Noise multiplier `z`: the sum's noise deviation over the L2 bound, when every expected
    /// client's noise is in it; 0 for none.
    pub noise_multiplier: f64,
    /// Clients the round expects.
    pub expected_clients: u32,
}

/// A prepared input and what preparing it did.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedInput {
    /// Quantised, noised values, ready to mask.
    pub values: Vec<u32>,
    /// The update's L2 norm before clipping.
    pub norm_before_clip: f32,
    /// Whether the L2 clip bound it (reported, never silent).
    pub clipped: bool,
}

impl InputPrivacy {
    /// The quantiser: sums of `expected_clients` inputs in `[-l2_clip, l2_clip]` plus eight
    /// deviations of the summed noise fit without wrapping.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a clip that is not > 0, a negative or non-finite noise
    /// multiplier, or no clients.
    pub fn quantizer(&self) -> Result<Quantizer> {
        if !(self.noise_multiplier.is_finite() && self.noise_multiplier >= 0.0) {
            return Err(Error::field(
                "noise_multiplier",
                format!("{} is not a finite number >= 0", self.noise_multiplier),
            ));
        }
        let clients = f64::from(self.expected_clients.max(1));
        let headroom = 1.0 + 8.0 * self.noise_multiplier / clients;
        let clip = (f64::from(self.l2_clip) * headroom) as f32;
        let finest = Quantizer::new(clip, self.expected_clients)?;
        if self.noise_multiplier == 0.0 {
            return Ok(finest);
        }
        // A grid on which each client's deviation is 2^16 units: fine enough, and within what
        // the discrete Gaussian sampler draws exactly.
        let units = (NOISE_UNITS * clients.sqrt()
            / (self.noise_multiplier * f64::from(self.l2_clip)))
        .min(finest.units_per_one());
        Quantizer::with_units(clip, self.expected_clients, units)
    }

    /// Each client's noise deviation in quantised units: `z · l2_clip / √expected_clients`,
    /// so the expected clients' noise sums to deviation `z · l2_clip`.
    ///
    /// # Errors
    /// As [`InputPrivacy::quantizer`].
    pub fn client_sigma(&self) -> Result<f64> {
        let quantizer = self.quantizer()?;
        Ok(
            self.noise_multiplier * f64::from(self.l2_clip) * quantizer.units_per_one()
                / f64::from(self.expected_clients.max(1)).sqrt(),
        )
    }

    /// Clips `update` to the L2 bound, quantises it and adds this client's noise from `rng`.
    ///
    /// # Errors
    /// As [`InputPrivacy::quantizer`].
    pub fn prepare(&self, update: &[f32], rng: &mut impl Rng) -> Result<PreparedInput> {
        let quantizer = self.quantizer()?;
        let norm = update
            .iter()
            .map(|x| if x.is_finite() { x * x } else { 0.0 })
            .sum::<f32>()
            .sqrt();
        let scale = if norm > self.l2_clip {
            self.l2_clip / norm
        } else {
            1.0
        };
        let clipped: Vec<f32> = update
            .iter()
            .map(|x| if x.is_finite() { x * scale } else { 0.0 })
            .collect();
        let mut values = quantizer.quantize(&clipped).values;
        let sigma = self.client_sigma()?;
        if sigma > 0.0 {
            DiscreteGaussian::new(sigma)?.add_noise(&mut values, rng);
        }
        Ok(PreparedInput {
            values,
            norm_before_clip: norm,
            clipped: norm > self.l2_clip,
        })
    }

    /// The privacy of one round whose sum holds `survivors` clients' noise, over `dimension`
    /// coordinates (`None` without noise).
    ///
    /// # Errors
    /// As [`InputPrivacy::quantizer`].
    pub fn round_privacy(&self, survivors: usize, dimension: usize) -> Result<Option<NoisyRound>> {
        let sigma = self.client_sigma()?;
        if sigma <= 0.0 {
            return Ok(None);
        }
        let units = self.quantizer()?.units_per_one();
        // Rounding to the grid can add half a unit per coordinate to the clipped norm.
        let l2_sensitivity = f64::from(self.l2_clip) * units + (dimension as f64).sqrt() / 2.0;
        Ok(Some(NoisyRound {
            l2_sensitivity,
            dimension,
            client_sigma: sigma,
            clients: survivors,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::PrivacyAccountant;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn clipping_is_reported_and_noise_sums_to_the_target_deviation() {
        let privacy = InputPrivacy {
            l2_clip: 1.0,
            noise_multiplier: 1.0,
            expected_clients: 16,
        };
        let quantizer = privacy.quantizer().unwrap();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let big = privacy.prepare(&[3.0, 4.0], &mut rng).unwrap();
        assert!(big.clipped);
        assert_eq!(big.norm_before_clip, 5.0);
        // 16 clients' zero updates: the dequantised sum is pure noise of deviation z · clip.
        let dimension = 4000;
        let mut sum = vec![0u32; dimension];
        for _ in 0..16 {
            let input = privacy.prepare(&vec![0.0; dimension], &mut rng).unwrap();
            assert!(!input.clipped);
            sum.iter_mut()
                .zip(&input.values)
                .for_each(|(s, v)| *s = s.wrapping_add(*v));
        }
        let noise = quantizer.dequantize_sum(&sum, 16).unwrap();
        let variance = noise.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / dimension as f64;
        assert!((variance.sqrt() - 1.0).abs() < 0.05, "{}", variance.sqrt());
        // One round at z = 1 with all 16 clients: ε about 4.7 at δ = 1e-5 by this accounting.
        let round = privacy.round_privacy(16, dimension).unwrap().unwrap();
        let mut accountant = PrivacyAccountant::default();
        accountant.record(&round);
        let epsilon = accountant.epsilon(1e-5);
        assert!((3.0..7.0).contains(&epsilon), "{epsilon}");
        assert!(
            InputPrivacy {
                noise_multiplier: 0.0,
                ..privacy
            }
            .round_privacy(16, 10)
            .unwrap()
            .is_none()
        );
        assert!(
            InputPrivacy {
                noise_multiplier: f64::NAN,
                ..privacy
            }
            .quantizer()
            .is_err()
        );
    }
}

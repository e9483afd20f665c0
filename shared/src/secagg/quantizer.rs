//! Fixed-point quantisation of model updates into `Z_2^32`, sized so that the sum of up to
//! `max_clients` inputs never wraps.
use crate::{Error, Result};

/// Maps values in `[-clip, clip]` to `u32` so that sums of up to `max_clients` inputs fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantizer {
    clip: f32,
    scale: f64,
    max_clients: u32,
}

/// A quantised input and how many coordinates had to be clipped (reported, never silent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantized {
    /// Fixed-point values.
    pub values: Vec<u32>,
    /// Coordinates outside `[-clip, clip]`, clipped before quantising.
    pub clipped: usize,
}

impl Quantizer {
    /// A quantiser for values in `[-clip, clip]` and sums over at most `max_clients` inputs.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for a clip that is not a finite number > 0 or no clients.
    pub fn new(clip: f32, max_clients: u32) -> Result<Self> {
        if !(clip.is_finite() && clip > 0.0) || max_clients == 0 {
            return Err(Error::InvalidField {
                field: "quantizer".to_owned(),
                reason: format!("clip {clip} and max_clients {max_clients} must be > 0"),
            });
        }
        let scale = f64::from(u32::MAX) / (2.0 * f64::from(clip) * f64::from(max_clients));
        Ok(Self {
            clip,
            scale,
            max_clients,
        })
    }

    /// A quantiser like [`Quantizer::new`] with a coarser grid of `units_per_one` units per
    /// 1.0 (a noised round keeps its noise deviation within what the sampler draws exactly).
    ///
    /// # Errors
    /// As [`Quantizer::new`]; [`Error::InvalidField`] for a grid finer than the range allows
    /// or not > 0.
    pub fn with_units(clip: f32, max_clients: u32, units_per_one: f64) -> Result<Self> {
        let finest = Self::new(clip, max_clients)?;
        if !(units_per_one.is_finite() && units_per_one > 0.0 && units_per_one <= finest.scale) {
            return Err(Error::InvalidField {
                field: "quantizer".to_owned(),
                reason: format!(
                    "{units_per_one} units per 1.0: between 0 and {}",
                    finest.scale
                ),
            });
        }
        Ok(Self {
            scale: units_per_one,
            ..finest
        })
    }

    /// Clips and quantises `values`.
    pub fn quantize(&self, values: &[f32]) -> Quantized {
        let mut clipped = 0;
        let values = values
            .iter()
            .map(|&v| {
                let v = if v.is_nan() { 0.0 } else { v };
                let bounded = v.clamp(-self.clip, self.clip);
                if bounded != v {
                    clipped += 1;
                }
                ((f64::from(bounded) + f64::from(self.clip)) * self.scale).round() as u32
            })
            .collect();
        Quantized { values, clipped }
    }

    /// The real-valued sum of `clients` inputs from the wrapping sum of their quantised values.
    ///
    /// # Errors
    /// [`Error::InvalidField`] when `clients` is above the quantiser's `max_clients`.
    pub fn dequantize_sum(&self, sum: &[u32], clients: u32) -> Result<Vec<f32>> {
        if clients > self.max_clients {
            return Err(Error::InvalidField {
                field: "clients".to_owned(),
                reason: format!(
                    "{clients} inputs, the quantiser is sized for {}",
                    self.max_clients
                ),
            });
        }
        let offset = f64::from(self.clip) * f64::from(clients);
        Ok(sum
            .iter()
            .map(|&s| (f64::from(s) / self.scale - offset) as f32)
            .collect())
    }

    /// Quantised units per 1.0 of an input value.
    pub fn units_per_one(&self) -> f64 {
        self.scale
    }

    /// The largest error of a dequantised sum of `clients` inputs, per coordinate.
    pub fn max_sum_error(&self, clients: u32) -> f32 {
        (0.5 * f64::from(clients) / self.scale) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        let q = Quantizer::new(1.0, 2).unwrap();
        let a = q.quantize(&[0.5, -2.0]);
        assert_eq!(a.clipped, 1);
        let b = q.quantize(&[0.25, 1.0]);
        let sum: Vec<u32> = a
            .values
            .iter()
            .zip(&b.values)
            .map(|(x, y)| x.wrapping_add(*y))
            .collect();
        let back = q.dequantize_sum(&sum, 2).unwrap();
        assert!((back[0] - 0.75).abs() <= q.max_sum_error(2));
        assert!((back[1] - 0.0).abs() <= q.max_sum_error(2));
        assert!(q.dequantize_sum(&sum, 3).is_err());
    }

    proptest! {
        /// Differential: the dequantised wrapping sum equals the plaintext sum of the clipped
        /// inputs within the quantisation bound.
        #[test]
        fn sums_survive_quantisation(inputs in proptest::collection::vec(proptest::collection::vec(-2.0f32..2.0, 8), 1..40)) {
            let q = Quantizer::new(1.5, 64).unwrap();
            let mut sum = vec![0u32; 8];
            let mut plain = vec![0.0f64; 8];
            for input in &inputs {
                let quantized = q.quantize(input);
                prop_assert_eq!(quantized.clipped, input.iter().filter(|v| v.abs() > 1.5).count());
                for (s, v) in sum.iter_mut().zip(&quantized.values) {
                    *s = s.wrapping_add(*v);
                }
                for (p, v) in plain.iter_mut().zip(input) {
                    *p += f64::from(v.clamp(-1.5, 1.5));
                }
            }
            let back = q.dequantize_sum(&sum, inputs.len() as u32).unwrap();
            for (b, p) in back.iter().zip(&plain) {
                prop_assert!((f64::from(*b) - p).abs() <= f64::from(q.max_sum_error(inputs.len() as u32)) + 1e-4);
            }
        }
    }
}

//! Shamir t-of-n sharing of 32-byte mask seeds over the scalar field of curve25519
//! (`curve25519_dalek::Scalar`, a prime field of order 2^252 + …). A seed is split into two
//! 16-byte halves, each shared with its own random polynomial of degree `t − 1`.
use curve25519_dalek::Scalar;

use crate::{Error, Result};

/// One share of a seed, for the holder with 1-based `index`.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct SeedShare {
    /// The evaluation point, 1..=n.
    pub index: u32,
    /// The polynomials' values at `index`, one per seed half, as canonical scalar bytes.
    pub values: [[u8; 32]; 2],
}

/// Splits `seed` into `shares` shares, any `threshold` of which rebuild it. `randomness` holds
/// the caller's CSPRNG output: `2 × (threshold − 1)` wide values of 64 bytes.
///
/// # Errors
/// [`Error::InvalidField`] for `threshold` outside `1..=shares` or too little randomness.
pub fn split_seed(
    seed: &[u8; 32],
    threshold: usize,
    shares: usize,
    randomness: &[[u8; 64]],
) -> Result<Vec<SeedShare>> {
    if threshold == 0 || threshold > shares || shares > u32::MAX as usize {
        return Err(field(
            "threshold",
            format!("{threshold} of {shares} shares"),
        ));
    }
    if randomness.len() < 2 * (threshold - 1) {
        return Err(field(
            "randomness",
            format!(
                "{} wide values, need {}",
                randomness.len(),
                2 * (threshold - 1)
            ),
        ));
    }
    let polynomials: Vec<Vec<Scalar>> = (0..2)
        .map(|half| {
            let mut constant = [0u8; 32];
            constant[..16].copy_from_slice(&seed[half * 16..half * 16 + 16]);
            let mut coefficients = vec![Scalar::from_bytes_mod_order(constant)];
            coefficients.extend(
                randomness[half * (threshold - 1)..(half + 1) * (threshold - 1)]
                    .iter()
                    .map(Scalar::from_bytes_mod_order_wide),
            );
            coefficients
        })
        .collect();
    Ok((1..=shares as u32)
        .map(|index| {
            let x = Scalar::from(u64::from(index));
            let evaluate = |coefficients: &[Scalar]| {
                coefficients
                    .iter()
                    .rev()
                    .fold(Scalar::ZERO, |acc, c| acc * x + c)
            };
            SeedShare {
                index,
                values: [
                    evaluate(&polynomials[0]).to_bytes(),
                    evaluate(&polynomials[1]).to_bytes(),
                ],
            }
        })
        .collect())
}

/// Rebuilds a seed from at least `threshold` shares with distinct indices (Lagrange
/// interpolation at 0 over the first `threshold` of them).
///
/// # Errors
/// [`Error::InvalidField`] for too few or repeated shares, a share value that is not a
/// canonical scalar, or shares that do not belong to one seed (the result is not two 16-byte
/// halves).
pub fn reconstruct_seed(shares: &[SeedShare], threshold: usize) -> Result<[u8; 32]> {
    let used = shares
        .get(..threshold)
        .filter(|_| threshold > 0)
        .ok_or_else(|| {
            field(
                "shares",
                format!("{} shares, need {threshold}", shares.len()),
            )
        })?;
    for (i, a) in used.iter().enumerate() {
        if a.index == 0 || used[..i].iter().any(|b| b.index == a.index) {
            return Err(field(
                "shares",
                format!("index {} is zero or repeated", a.index),
            ));
        }
    }
    let mut seed = [0u8; 32];
    for half in 0..2 {
        let mut secret = Scalar::ZERO;
        for (i, share) in used.iter().enumerate() {
            let y = Option::<Scalar>::from(Scalar::from_canonical_bytes(share.values[half]))
                .ok_or_else(|| {
                    field(
                        "shares",
                        format!("share {} is not a canonical scalar", share.index),
                    )
                })?;
            let xi = Scalar::from(u64::from(share.index));
            let mut numerator = Scalar::ONE;
            let mut denominator = Scalar::ONE;
            for (j, other) in used.iter().enumerate() {
                if i != j {
                    let xj = Scalar::from(u64::from(other.index));
                    numerator *= xj;
                    denominator *= xj - xi;
                }
            }
            secret += y * numerator * denominator.invert();
        }
        let bytes = secret.to_bytes();
        if bytes[16..].iter().any(|b| *b != 0) {
            return Err(field(
                "shares",
                "the shares do not belong to one seed".to_owned(),
            ));
        }
        seed[half * 16..half * 16 + 16].copy_from_slice(&bytes[..16]);
    }
    Ok(seed)
}

fn field(name: &str, reason: String) -> Error {
    Error::InvalidField {
        field: name.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        let seed = [7u8; 32];
        let shares = split_seed(&seed, 2, 3, &[[1; 64], [2; 64]]).unwrap();
        assert_eq!(reconstruct_seed(&shares[1..], 2).unwrap(), seed);
        assert!(reconstruct_seed(&shares[..1], 2).is_err());
        assert!(split_seed(&seed, 4, 3, &[]).is_err());
    }

    proptest! {
        /// Any `t` of the `n` shares rebuild the seed; `t − 1` of them rebuild something else.
        #[test]
        fn any_threshold_subset_rebuilds(
            seed in proptest::array::uniform32(any::<u8>()),
            n in 2usize..8,
            t_fraction in 0.0f64..1.0,
            randomness in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 64), 14),
            rotate in 0usize..8,
        ) {
            let t = 2 + ((n - 2) as f64 * t_fraction) as usize;
            let wide: Vec<[u8; 64]> = randomness.iter().map(|r| r.as_slice().try_into().unwrap()).collect();
            let mut shares = split_seed(&seed, t, n, &wide).unwrap();
            shares.rotate_left(rotate % n);
            prop_assert_eq!(reconstruct_seed(&shares, t).unwrap(), seed);
            if let Ok(wrong) = reconstruct_seed(&shares, t - 1) {
                prop_assert_ne!(wrong, seed);
            }
        }
    }
}

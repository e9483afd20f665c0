//! Masks that cancel in the sum: every pair of clients derives a shared seed by X25519 and
//! HKDF-SHA256, expands it with ChaCha20, and one adds what the other subtracts; each client
//! also adds a self mask from a seed only it knows (recoverable from Shamir shares). All
//! arithmetic wraps in `Z_2^32`.
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::{Error, Result};

const PAIRWISE_INFO: &[u8] = b"mesh-discovery 2026-11 secagg pairwise mask seed v1";

/// A client's masked input, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaskedInput {
    /// `x + PRG(self) ± PRG(pairwise)`, wrapping.
    pub values: Vec<u32>,
}

/// The X25519 public key of a mask-agreement secret (the secret never leaves the device).
pub fn mask_public_key(secret: &[u8; 32]) -> [u8; 32] {
    PublicKey::from(&StaticSecret::from(*secret)).to_bytes()
}

/// The seed two clients share: HKDF-SHA256 of their X25519 shared secret, salted with both
/// public keys in a fixed order, so both ends derive the same bytes.
///
/// # Errors
/// [`Error::InvalidField`] when the peer's key is a low-order point (a non-contributory
/// exchange, as a malicious peer or server might send).
pub fn pairwise_seed(my_secret: &[u8; 32], peer_public: &[u8; 32]) -> Result<[u8; 32]> {
    agreed_key(my_secret, peer_public, PAIRWISE_INFO)
}

/// HKDF-SHA256 of an X25519 shared secret, salted with both public keys in a fixed order and
/// bound to `info` (so mask seeds and share-encryption keys never coincide).
pub(crate) fn agreed_key(
    my_secret: &[u8; 32],
    peer_public: &[u8; 32],
    info: &[u8],
) -> Result<[u8; 32]> {
    let secret = StaticSecret::from(*my_secret);
    let mine = PublicKey::from(&secret).to_bytes();
    let shared = secret.diffie_hellman(&PublicKey::from(*peer_public));
    if !shared.was_contributory() {
        return Err(Error::InvalidField {
            field: "peer_public_key".to_owned(),
            reason: "a low-order X25519 point: the exchange would not be secret".to_owned(),
        });
    }
    let (low, high) = if mine <= *peer_public {
        (mine, *peer_public)
    } else {
        (*peer_public, mine)
    };
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(&low);
    salt[32..].copy_from_slice(&high);
    let mut seed = [0u8; 32];
    Hkdf::<Sha256>::new(Some(&salt), shared.as_bytes())
        .expand(info, &mut seed)
        .map_err(|_| Error::InvalidField {
            field: "seed".to_owned(),
            reason: "HKDF output length".to_owned(),
        })?;
    Ok(seed)
}

/// `len` pseudo-random `u32` from a seed: the ChaCha20 keystream under the seed as key and the
/// round number as nonce, read little-endian.
pub fn expand_mask(seed: &[u8; 32], round: u64, len: usize) -> Vec<u32> {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&round.to_le_bytes());
    let mut stream = vec![0u8; len * 4];
    let mut cipher = ChaCha20::new(seed.into(), &nonce.into());
    cipher.apply_keystream(&mut stream);
    stream
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Masks a quantised input: adds the self mask, adds the pairwise mask for every peer with a
/// larger id and subtracts it for every peer with a smaller id.
pub fn mask_input(
    input: &[u32],
    my_id: u32,
    self_seed: &[u8; 32],
    peers: &[(u32, [u8; 32])],
    round: u64,
) -> MaskedInput {
    let mut values = input.to_vec();
    add(&mut values, &expand_mask(self_seed, round, input.len()));
    for (peer, seed) in peers {
        let mask = expand_mask(seed, round, input.len());
        if *peer > my_id {
            add(&mut values, &mask);
        } else if *peer < my_id {
            subtract(&mut values, &mask);
        }
    }
    MaskedInput { values }
}

/// Removes the self masks of the clients whose inputs are in `sum` (seeds recovered from
/// their Shamir shares).
pub fn remove_self_masks(sum: &mut [u32], self_seeds: &[[u8; 32]], round: u64) {
    for seed in self_seeds {
        subtract(sum, &expand_mask(seed, round, sum.len()));
    }
}

/// Removes the pairwise masks between a client that dropped out after the others masked and
/// each surviving client (`(survivor id, seed shared with the dropped client)`, the seeds
/// recovered from the dropped client's Shamir shares of its mask key).
pub fn remove_pairwise_masks(
    sum: &mut [u32],
    dropped_id: u32,
    survivors: &[(u32, [u8; 32])],
    round: u64,
) {
    for (survivor, seed) in survivors {
        let mask = expand_mask(seed, round, sum.len());
        // The survivor added the mask when the dropped id is larger, subtracted it otherwise.
        if dropped_id > *survivor {
            subtract(sum, &mask);
        } else if dropped_id < *survivor {
            add(sum, &mask);
        }
    }
}

fn add(values: &mut [u32], mask: &[u32]) {
    values
        .iter_mut()
        .zip(mask)
        .for_each(|(v, m)| *v = v.wrapping_add(*m));
}

fn subtract(values: &mut [u32], mask: &[u32]) {
    values
        .iter_mut()
        .zip(mask)
        .for_each(|(v, m)| *v = v.wrapping_sub(*m));
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let ab = pairwise_seed(&a, &mask_public_key(&b)).unwrap();
        let ba = pairwise_seed(&b, &mask_public_key(&a)).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(expand_mask(&ab, 1, 4), expand_mask(&ba, 1, 4));
        assert_ne!(
            expand_mask(&ab, 1, 4),
            expand_mask(&ab, 2, 4),
            "rounds use fresh masks"
        );
        assert!(
            pairwise_seed(&a, &[0u8; 32]).is_err(),
            "the identity point is refused"
        );
    }

    /// Runs one masked round: clients `0..n` mask; those in `dropped` never upload.
    fn masked_round(
        inputs: &[Vec<u32>],
        secrets: &[[u8; 32]],
        self_seeds: &[[u8; 32]],
        dropped: &[usize],
    ) -> Vec<u32> {
        let n = inputs.len();
        let publics: Vec<[u8; 32]> = secrets.iter().map(mask_public_key).collect();
        let seed = |i: usize, j: usize| pairwise_seed(&secrets[i], &publics[j]).unwrap();
        let len = inputs[0].len();
        let mut sum = vec![0u32; len];
        for i in (0..n).filter(|i| !dropped.contains(i)) {
            let peers: Vec<(u32, [u8; 32])> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (j as u32, seed(i, j)))
                .collect();
            add(
                &mut sum,
                &mask_input(&inputs[i], i as u32, &self_seeds[i], &peers, 9).values,
            );
        }
        let survivors: Vec<usize> = (0..n).filter(|i| !dropped.contains(i)).collect();
        remove_self_masks(
            &mut sum,
            &survivors.iter().map(|&i| self_seeds[i]).collect::<Vec<_>>(),
            9,
        );
        for &d in dropped {
            let pairs: Vec<(u32, [u8; 32])> =
                survivors.iter().map(|&i| (i as u32, seed(d, i))).collect();
            remove_pairwise_masks(&mut sum, d as u32, &pairs, 9);
        }
        sum
    }

    proptest! {
        /// Differential: the unmasked sum equals the plaintext sum of the surviving inputs,
        /// with and without dropouts.
        #[test]
        fn unmasking_gives_the_plaintext_sum(
            inputs in proptest::collection::vec(proptest::collection::vec(any::<u32>(), 5), 2..7),
            secret_bytes in proptest::collection::vec(proptest::array::uniform32(1u8..), 7),
            seed_bytes in proptest::collection::vec(proptest::array::uniform32(any::<u8>()), 7),
            drop_mask in any::<u8>(),
        ) {
            let n = inputs.len();
            let dropped: Vec<usize> = (0..n).filter(|i| drop_mask & (1 << i) != 0).take(n - 1).collect();
            let sum = masked_round(&inputs, &secret_bytes[..n], &seed_bytes[..n], &dropped);
            let mut plain = vec![0u32; 5];
            for (i, input) in inputs.iter().enumerate().filter(|(i, _)| !dropped.contains(i)) {
                let _ = i;
                add(&mut plain, input);
            }
            prop_assert_eq!(sum, plain);
        }
    }
}

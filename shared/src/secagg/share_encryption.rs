//! Shares travel between clients through the coordinator, encrypted so that only their
//! recipient reads them (Bonawitz et al. 2017, round "ShareKeys"): ChaCha20-Poly1305 under a
//! key both ends derive from their X25519 encryption keys (HKDF-SHA256 with its own label),
//! with the round, the sender and the recipient bound in as associated data, so the
//! coordinator can neither read, alter nor redirect a share.
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};

use super::SeedShare;
use super::pairwise_mask::agreed_key;
use crate::{Error, Result};

const SHARE_KEY_INFO: &[u8] = b"mesh-discovery 2026-11 secagg share encryption key v1";
const AAD_LABEL: &[u8] = b"mesh secagg shares v1";
/// Plaintext: sender, recipient, then two shares of (index, 2 × 32 bytes).
const PLAINTEXT_LEN: usize = 4 + 4 + 2 * (4 + 64);
/// Poly1305 tag.
const TAG_LEN: usize = 16;

/// What client `sender` gives client `recipient` in a round: its shares of its self-mask seed
/// and of its mask-agreement secret (one of them is revealed later, never both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharesForPeer {
    /// Share of the sender's self-mask seed.
    pub self_mask_seed: SeedShare,
    /// Share of the sender's mask-agreement secret key.
    pub mask_secret: SeedShare,
}

/// The key `me` and `peer` share for encrypting shares (the same at both ends).
///
/// # Errors
/// [`Error::InvalidField`] for a low-order peer key.
pub fn share_encryption_key(my_secret: &[u8; 32], peer_public: &[u8; 32]) -> Result<[u8; 32]> {
    agreed_key(my_secret, peer_public, SHARE_KEY_INFO)
}

fn nonce_and_aad(round: u64, sender: u32, recipient: u32) -> (Nonce, Vec<u8>) {
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&round.to_le_bytes());
    nonce[8..].copy_from_slice(&sender.to_le_bytes());
    let mut aad = AAD_LABEL.to_vec();
    aad.extend_from_slice(&round.to_le_bytes());
    aad.extend_from_slice(&sender.to_le_bytes());
    aad.extend_from_slice(&recipient.to_le_bytes());
    (Nonce::from(nonce), aad)
}

/// Encrypts `shares` from `sender` to `recipient` for `round`. Each (key, round, sender)
/// encrypts one message: the nonce is the round and the sender.
pub fn encrypt_shares(
    key: &[u8; 32],
    round: u64,
    sender: u32,
    recipient: u32,
    shares: &SharesForPeer,
) -> Vec<u8> {
    let mut plaintext = Vec::with_capacity(PLAINTEXT_LEN);
    plaintext.extend_from_slice(&sender.to_le_bytes());
    plaintext.extend_from_slice(&recipient.to_le_bytes());
    for share in [&shares.self_mask_seed, &shares.mask_secret] {
        plaintext.extend_from_slice(&share.index.to_le_bytes());
        plaintext.extend_from_slice(&share.values[0]);
        plaintext.extend_from_slice(&share.values[1]);
    }
    let (nonce, aad) = nonce_and_aad(round, sender, recipient);
    let cipher = ChaCha20Poly1305::new(key.into());
    // Encryption fails only for messages beyond ChaCha20's 256 GiB limit.
    #[allow(clippy::expect_used)]
    cipher
        .encrypt(
            &nonce,
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .expect("a 144-byte message encrypts")
}

/// Decrypts what `sender` sent `recipient` in `round`.
///
/// # Errors
/// [`Error::InvalidField`] when the ciphertext has the wrong length, fails authentication
/// (tampered, or not from this sender for this recipient and round), or names other parties.
pub fn decrypt_shares(
    key: &[u8; 32],
    round: u64,
    sender: u32,
    recipient: u32,
    ciphertext: &[u8],
) -> Result<SharesForPeer> {
    let fail = |reason: String| Error::InvalidField {
        field: "encrypted_shares".to_owned(),
        reason,
    };
    if ciphertext.len() != PLAINTEXT_LEN + TAG_LEN {
        return Err(fail(format!(
            "{} bytes, expected {}",
            ciphertext.len(),
            PLAINTEXT_LEN + TAG_LEN
        )));
    }
    let (nonce, aad) = nonce_and_aad(round, sender, recipient);
    let plaintext = ChaCha20Poly1305::new(key.into())
        .decrypt(&nonce, Payload { msg: ciphertext, aad: &aad })
        .map_err(|_| {
            fail(format!(
                "authentication failed: not shares from client {sender} to client {recipient} in round {round}"
            ))
        })?;
    let u32_at = |at: usize| {
        u32::from_le_bytes([
            plaintext[at],
            plaintext[at + 1],
            plaintext[at + 2],
            plaintext[at + 3],
        ])
    };
    if u32_at(0) != sender || u32_at(4) != recipient {
        return Err(fail("the shares name other parties".to_owned()));
    }
    let share_at = |at: usize| {
        let mut values = [[0u8; 32]; 2];
        values[0].copy_from_slice(&plaintext[at + 4..at + 36]);
        values[1].copy_from_slice(&plaintext[at + 36..at + 68]);
        SeedShare {
            index: u32_at(at),
            values,
        }
    };
    Ok(SharesForPeer {
        self_mask_seed: share_at(8),
        mask_secret: share_at(8 + 68),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secagg::{mask_public_key, pairwise_seed, split_seed};
    use proptest::prelude::*;

    fn shares(seed: u8) -> SharesForPeer {
        let wide = vec![[seed; 64]; 4];
        let a = split_seed(&[seed; 32], 3, 5, &wide).unwrap();
        let b = split_seed(&[seed.wrapping_add(1); 32], 3, 5, &wide).unwrap();
        SharesForPeer {
            self_mask_seed: a[1].clone(),
            mask_secret: b[1].clone(),
        }
    }

    #[test]
    fn both_ends_derive_the_same_key_distinct_from_the_mask_seed() {
        let (alice, bob) = ([1u8; 32], [2u8; 32]);
        let key_a = share_encryption_key(&alice, &mask_public_key(&bob)).unwrap();
        let key_b = share_encryption_key(&bob, &mask_public_key(&alice)).unwrap();
        assert_eq!(key_a, key_b);
        assert_ne!(
            key_a,
            pairwise_seed(&alice, &mask_public_key(&bob)).unwrap()
        );
    }

    #[test]
    fn the_coordinator_cannot_read_alter_or_redirect_shares() {
        let key = [9u8; 32];
        let sent = shares(4);
        let ciphertext = encrypt_shares(&key, 7, 1, 2, &sent);
        assert_eq!(decrypt_shares(&key, 7, 1, 2, &ciphertext).unwrap(), sent);
        // Redirected to another recipient, replayed in another round, or claimed by another
        // sender: authentication fails.
        for (round, sender, recipient) in [(7, 1, 3), (8, 1, 2), (7, 3, 2)] {
            let err = decrypt_shares(&key, round, sender, recipient, &ciphertext).unwrap_err();
            assert!(err.to_string().contains("authentication failed"), "{err}");
        }
        let mut tampered = ciphertext.clone();
        tampered[20] ^= 1;
        assert!(decrypt_shares(&key, 7, 1, 2, &tampered).is_err());
        let err = decrypt_shares(&key, 7, 1, 2, &ciphertext[..10]).unwrap_err();
        assert!(err.to_string().contains("10 bytes, expected 160"), "{err}");
        assert!(decrypt_shares(&[8u8; 32], 7, 1, 2, &ciphertext).is_err());
    }

    proptest! {
        #[test]
        fn shares_round_trip(seed in any::<u8>(), key in any::<[u8; 32]>(), round in any::<u64>(), sender in any::<u32>(), recipient in any::<u32>()) {
            let sent = shares(seed);
            let ciphertext = encrypt_shares(&key, round, sender, recipient, &sent);
            prop_assert_eq!(decrypt_shares(&key, round, sender, recipient, &ciphertext).unwrap(), sent);
        }
    }
}

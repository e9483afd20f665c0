//! Secure aggregation (Bonawitz et al. 2017, with its consistency check) as both sides compute
//! it: fixed-point quantisation into `Z_2^32` with reported clipping, pairwise masks from
//! X25519 + HKDF-SHA256 + ChaCha20, self masks, Shamir t-of-n sharing of mask seeds over the
//! ed25519 scalar field, share encryption, the distributed discrete Gaussian noise with its
//! privacy accountant, and the client's side of a round ([`ClientRound`]); the coordinator's
//! side and the HTTP rounds live in `mesh-coordinator`. Randomness comes from the caller (a
//! CSPRNG on the device); nothing here draws its own.
mod client_round;
mod discrete_gaussian;
mod pairwise_mask;
mod private_input;
mod quantizer;
mod round_graph;
mod shamir;
mod share_encryption;

pub use client_round::{
    ClientPhase, ClientRound, EncryptedShares, SignedRoundKeys, SurvivorSignature, UnmaskingShares,
    verify_survivor_signature,
};
pub use discrete_gaussian::{DiscreteGaussian, NoisyRound, PrivacyAccountant};
pub use pairwise_mask::{
    MaskedInput, expand_mask, mask_input, mask_public_key, pairwise_seed, remove_pairwise_masks,
    remove_self_masks,
};
pub use private_input::{InputPrivacy, PreparedInput};
pub use quantizer::{Quantized, Quantizer};
pub use round_graph::round_graph;
pub use shamir::{SeedShare, reconstruct_seed, split_seed};
pub use share_encryption::{SharesForPeer, decrypt_shares, encrypt_shares, share_encryption_key};

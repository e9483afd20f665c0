//! Simulated clients for [`AggregationRound`](crate::AggregationRound): real keys, real
//! encrypted Shamir shares and real masks, in process. Used by the tests and by
//! `mesh bench-secagg`, which times clients and coordinator separately.
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use mesh_shared::secagg::{
    SharesForPeer, decrypt_shares, encrypt_shares, mask_input, mask_public_key, pairwise_seed,
    share_encryption_key, split_seed,
};
use rand::{Rng, RngExt};
use serde::Serialize;

use crate::{AdvertisedKeys, AggregationRound, RoundError};

/// What a simulated round measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationReport {
    /// The unmasked sum of the survivors' inputs.
    #[serde(skip)]
    pub sum: Vec<u32>,
    /// Clients whose input is in the sum.
    pub survivors: usize,
    /// Median of the clients' compute time over the round, seconds.
    pub client_seconds_median: f64,
    /// Largest client compute time, seconds.
    pub client_seconds_max: f64,
    /// The coordinator's compute time (closing phases, unmasking), seconds.
    pub server_seconds: f64,
    /// Bytes one surviving client uploads (keys, shares, masked input, unmasking shares).
    pub bytes_up_per_client: usize,
    /// Bytes one surviving client downloads (keys, its mailbox, the survivor list).
    pub bytes_down_per_client: usize,
}

struct Client {
    id: u32,
    encryption_secret: [u8; 32],
    mask_secret: [u8; 32],
    self_seed: [u8; 32],
    received: BTreeMap<u32, SharesForPeer>,
    seconds: f64,
    bytes_up: usize,
    bytes_down: usize,
}

/// Runs one round over `inputs` (client `i` has id `i + 1`); the clients in `drop_before_input`
/// share keys but never send their input. Randomness from `rng`.
///
/// # Errors
/// What the round refuses (for example too few clients left).
pub fn simulate_round(
    inputs: &[Vec<u32>],
    threshold: usize,
    drop_before_input: &BTreeSet<u32>,
    round_id: u64,
    rng: &mut impl Rng,
) -> Result<SimulationReport, RoundError> {
    let dimension = inputs.first().map_or(0, Vec::len);
    let mut round = AggregationRound::new(round_id, threshold, dimension)?;
    let mut server_seconds = 0.0;
    let mut clients: Vec<Client> = (1..=inputs.len() as u32)
        .map(|id| Client {
            id,
            encryption_secret: rng.random(),
            mask_secret: rng.random(),
            self_seed: rng.random(),
            received: BTreeMap::new(),
            seconds: 0.0,
            bytes_up: 0,
            bytes_down: 0,
        })
        .collect();

    for c in &mut clients {
        let start = Instant::now();
        let keys = AdvertisedKeys {
            encryption_public: mask_public_key(&c.encryption_secret),
            mask_public: mask_public_key(&c.mask_secret),
        };
        c.seconds += start.elapsed().as_secs_f64();
        c.bytes_up += 64;
        round.advertise(c.id, keys)?;
    }
    let start = Instant::now();
    let advertised = round.close_advertise()?;
    server_seconds += start.elapsed().as_secs_f64();
    let n = advertised.len();

    for c in &mut clients {
        let randomness: Vec<[u8; 64]> = (0..4 * (threshold - 1))
            .map(|_| {
                let mut wide = [0u8; 64];
                rng.fill_bytes(&mut wide);
                wide
            })
            .collect();
        let start = Instant::now();
        c.bytes_down += n * 68;
        let (seed_randomness, secret_randomness) = randomness.split_at(2 * (threshold - 1));
        let seed_shares = split_seed(&c.self_seed, threshold, n, seed_randomness)
            .map_err(|e| malformed(round_id, c.id, e))?;
        let secret_shares = split_seed(&c.mask_secret, threshold, n, secret_randomness)
            .map_err(|e| malformed(round_id, c.id, e))?;
        let mut out = Vec::with_capacity(n - 1);
        for (position, (peer, peer_keys)) in advertised.iter().enumerate() {
            if *peer == c.id {
                continue;
            }
            let key = share_encryption_key(&c.encryption_secret, &peer_keys.encryption_public)
                .map_err(|e| malformed(round_id, c.id, e))?;
            let shares = SharesForPeer {
                self_mask_seed: seed_shares[position].clone(),
                mask_secret: secret_shares[position].clone(),
            };
            out.push((*peer, encrypt_shares(&key, round_id, c.id, *peer, &shares)));
        }
        c.seconds += start.elapsed().as_secs_f64();
        c.bytes_up += out.iter().map(|(_, m)| 4 + m.len()).sum::<usize>();
        round.share_keys(c.id, out)?;
    }
    let start = Instant::now();
    let mailboxes = round.close_share_keys()?;
    server_seconds += start.elapsed().as_secs_f64();

    for c in &mut clients {
        let start = Instant::now();
        let mailbox = mailboxes.get(&c.id).map(Vec::as_slice).unwrap_or_default();
        for (sender, ciphertext) in mailbox {
            let key =
                share_encryption_key(&c.encryption_secret, &advertised[sender].encryption_public)
                    .map_err(|e| malformed(round_id, c.id, e))?;
            let shares = decrypt_shares(&key, round_id, *sender, c.id, ciphertext)
                .map_err(|e| malformed(round_id, c.id, e))?;
            c.received.insert(*sender, shares);
            c.bytes_down += 4 + ciphertext.len();
        }
        c.seconds += start.elapsed().as_secs_f64();
    }
    for (c, input) in clients.iter_mut().zip(inputs) {
        if drop_before_input.contains(&c.id) {
            continue;
        }
        let start = Instant::now();
        let mut peers = Vec::with_capacity(n - 1);
        for (peer, keys) in &advertised {
            if *peer != c.id {
                let seed = pairwise_seed(&c.mask_secret, &keys.mask_public)
                    .map_err(|e| malformed(round_id, c.id, e))?;
                peers.push((*peer, seed));
            }
        }
        let masked = mask_input(input, c.id, &c.self_seed, &peers, round_id);
        c.seconds += start.elapsed().as_secs_f64();
        c.bytes_up += 4 * masked.values.len();
        round.masked_input(c.id, &masked.values)?;
    }
    let start = Instant::now();
    let survivors = round.close_masked_input()?;
    server_seconds += start.elapsed().as_secs_f64();

    for c in clients.iter_mut().filter(|c| survivors.contains(&c.id)) {
        c.bytes_down += 4 * survivors.len();
        let (mut seeds, mut secrets) = (Vec::new(), Vec::new());
        for (owner, shares) in &c.received {
            if survivors.contains(owner) {
                seeds.push((*owner, shares.self_mask_seed.clone()));
            } else {
                secrets.push((*owner, shares.mask_secret.clone()));
            }
        }
        c.bytes_up += (seeds.len() + secrets.len()) * (4 + 4 + 64);
        round.unmask(c.id, seeds, secrets)?;
    }
    let start = Instant::now();
    let sum = round.finish()?;
    server_seconds += start.elapsed().as_secs_f64();

    let surviving: Vec<&Client> = clients
        .iter()
        .filter(|c| survivors.contains(&c.id))
        .collect();
    let mut seconds: Vec<f64> = surviving.iter().map(|c| c.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    Ok(SimulationReport {
        sum,
        survivors: survivors.len(),
        client_seconds_median: seconds.get(seconds.len() / 2).copied().unwrap_or(0.0),
        client_seconds_max: seconds.last().copied().unwrap_or(0.0),
        server_seconds,
        bytes_up_per_client: surviving.first().map_or(0, |c| c.bytes_up),
        bytes_down_per_client: surviving.first().map_or(0, |c| c.bytes_down),
    })
}

fn malformed(round: u64, client: u32, error: mesh_shared::Error) -> RoundError {
    RoundError::Malformed {
        round,
        client,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn inputs(clients: usize, dimension: usize, rng: &mut ChaCha20Rng) -> Vec<Vec<u32>> {
        (0..clients)
            .map(|_| (0..dimension).map(|_| rng.random_range(0..1000)).collect())
            .collect()
    }

    fn plain_sum(inputs: &[Vec<u32>], without: &BTreeSet<u32>) -> Vec<u32> {
        let mut sum = vec![0u32; inputs[0].len()];
        for (i, input) in inputs.iter().enumerate() {
            if !without.contains(&(i as u32 + 1)) {
                for (s, x) in sum.iter_mut().zip(input) {
                    *s = s.wrapping_add(*x);
                }
            }
        }
        sum
    }

    #[test]
    fn the_coordinator_learns_the_sum_of_the_survivors() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let data = inputs(6, 32, &mut rng);
        let none = BTreeSet::new();
        let report = simulate_round(&data, 3, &none, 9, &mut rng).unwrap();
        assert_eq!(report.sum, plain_sum(&data, &none));
        assert_eq!(report.survivors, 6);
        // Keys, 5 shares of 164 bytes, the input, 5 unmasking shares of 72 bytes.
        assert_eq!(report.bytes_up_per_client, 64 + 5 * 164 + 4 * 32 + 5 * 72);
    }

    #[test]
    fn dropped_clients_masks_are_recovered_from_shares() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let data = inputs(7, 64, &mut rng);
        let dropped = BTreeSet::from([2, 5]);
        let report = simulate_round(&data, 4, &dropped, 3, &mut rng).unwrap();
        assert_eq!(report.sum, plain_sum(&data, &dropped));
        assert_eq!(report.survivors, 5);
    }

    #[test]
    fn too_many_dropouts_abandon_the_round_without_revealing_anything() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let data = inputs(4, 8, &mut rng);
        let err = simulate_round(&data, 3, &BTreeSet::from([1, 2]), 1, &mut rng).unwrap_err();
        assert!(
            matches!(
                err,
                RoundError::TooFewClients {
                    have: 2,
                    threshold: 3,
                    ..
                }
            ),
            "{err}"
        );
    }
}

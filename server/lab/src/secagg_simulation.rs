//! Simulated clients for [`AggregationRound`](mesh_coordinator::AggregationRound), in process: each a
//! `mesh_shared::secagg::ClientRound` (real keys, signatures, encrypted Shamir shares and
//! masks), the same client code the browser runs. Used by the tests and by
//! `mesh bench-secagg`, which times clients and coordinator separately.
use std::collections::BTreeSet;
use std::time::Instant;

use mesh_shared::secagg::{ClientRound, SignedRoundKeys};
use rand::Rng;
use serde::Serialize;

use mesh_coordinator::{AggregationRound, RoundError};

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
    /// The coordinator's compute time (checking, closing phases, unmasking), seconds.
    pub server_seconds: f64,
    /// Bytes one surviving client uploads (keys, shares, masked input, signature, unmasking
    /// shares), as raw bytes without encoding overhead.
    pub bytes_up_per_client: usize,
    /// Bytes one surviving client downloads (roster, its mailbox, survivors, signatures).
    pub bytes_down_per_client: usize,
}

/// Raw sizes of the messages: signed keys (3 keys, a signature, the id), one share, one
/// survivor signature, one revealed share (owner, index, two scalars).
const KEYS_BYTES: usize = 4 + 3 * 32 + 64;
const SIGNATURE_BYTES: usize = 4 + 64;
const REVEALED_SHARE_BYTES: usize = 4 + 4 + 64;

/// Runs one round over `inputs` (client `i` has id `i + 1`) for model `model_version`; the
/// clients in `drop_before_input` share keys but never send their input. Randomness from `rng`.
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
    let model_version = 1;
    let dimension = inputs.first().map_or(0, Vec::len);
    let mut round = AggregationRound::new(round_id, model_version, threshold, dimension)?;
    let mut server_seconds = 0.0;
    let mut seconds = vec![0.0f64; inputs.len()];
    let (mut up, mut down) = (vec![0usize; inputs.len()], vec![0usize; inputs.len()]);
    let refuse = |client: u32, error: mesh_shared::Error| RoundError::Malformed {
        round: round_id,
        client,
        reason: error.to_string(),
    };
    let mut clients: Vec<ClientRound> = Vec::with_capacity(inputs.len());
    for id in 1..=inputs.len() as u32 {
        let client = ClientRound::new(round_id, model_version, id, threshold, rng)
            .map_err(|e| refuse(id, e))?;
        clients.push(client);
    }
    let mut keys: Vec<SignedRoundKeys> = Vec::with_capacity(clients.len());
    for (at, c) in clients.iter().enumerate() {
        let start = Instant::now();
        keys.push(c.advertise());
        seconds[at] += start.elapsed().as_secs_f64();
        up[at] += KEYS_BYTES;
    }
    let start = Instant::now();
    for k in keys {
        round.advertise(k)?;
    }
    let roster = round.close_advertise()?;
    server_seconds += start.elapsed().as_secs_f64();

    let mut outgoing = Vec::with_capacity(clients.len());
    for (at, c) in clients.iter_mut().enumerate() {
        let start = Instant::now();
        let shares = c
            .share_keys(&roster, rng)
            .map_err(|e| refuse(c.client(), e))?;
        seconds[at] += start.elapsed().as_secs_f64();
        down[at] += roster.len() * KEYS_BYTES;
        up[at] += shares.iter().map(|m| 8 + m.ciphertext.len()).sum::<usize>();
        outgoing.push((c.client(), shares));
    }
    let start = Instant::now();
    for (client, shares) in outgoing {
        round.share_keys(client, shares)?;
    }
    round.close_share_keys()?;
    server_seconds += start.elapsed().as_secs_f64();

    let mut masked = Vec::new();
    for ((at, c), input) in clients.iter_mut().enumerate().zip(inputs) {
        if drop_before_input.contains(&c.client()) {
            continue;
        }
        let mailbox = round.mailbox(c.client());
        down[at] += mailbox
            .iter()
            .map(|m| 8 + m.ciphertext.len())
            .sum::<usize>();
        let start = Instant::now();
        let values = c
            .masked_input(&mailbox, input)
            .map_err(|e| refuse(c.client(), e))?;
        seconds[at] += start.elapsed().as_secs_f64();
        up[at] += 4 * values.len();
        masked.push((c.client(), values));
    }
    let start = Instant::now();
    for (client, values) in masked {
        round.masked_input(client, &values)?;
    }
    let survivors = round.close_masked_input()?;
    server_seconds += start.elapsed().as_secs_f64();

    let mut signatures = Vec::new();
    for (at, c) in clients.iter_mut().enumerate() {
        if !survivors.contains(&c.client()) {
            continue;
        }
        down[at] += 4 * survivors.len();
        let start = Instant::now();
        let signature = c
            .consistency_signature(&survivors)
            .map_err(|e| refuse(c.client(), e))?;
        seconds[at] += start.elapsed().as_secs_f64();
        up[at] += SIGNATURE_BYTES;
        signatures.push(signature);
    }
    let start = Instant::now();
    for signature in signatures {
        round.consistency(signature.client, signature)?;
    }
    let signatures = round.close_consistency()?;
    server_seconds += start.elapsed().as_secs_f64();

    let mut revealed = Vec::new();
    for (at, c) in clients.iter_mut().enumerate() {
        if !survivors.contains(&c.client()) {
            continue;
        }
        down[at] += signatures.len() * SIGNATURE_BYTES;
        let start = Instant::now();
        let shares = c
            .unmasking_shares(&signatures)
            .map_err(|e| refuse(c.client(), e))?;
        seconds[at] += start.elapsed().as_secs_f64();
        up[at] += (shares.self_seed_shares.len() + shares.mask_secret_shares.len())
            * REVEALED_SHARE_BYTES;
        revealed.push((c.client(), shares));
    }
    let start = Instant::now();
    for (client, shares) in revealed {
        round.unmask(client, shares)?;
    }
    let sum = round.finish()?;
    server_seconds += start.elapsed().as_secs_f64();

    let surviving: Vec<usize> = (0..clients.len())
        .filter(|at| survivors.contains(&(*at as u32 + 1)))
        .collect();
    let mut times: Vec<f64> = surviving.iter().map(|at| seconds[*at]).collect();
    times.sort_by(f64::total_cmp);
    Ok(SimulationReport {
        sum,
        survivors: survivors.len(),
        client_seconds_median: times.get(times.len() / 2).copied().unwrap_or(0.0),
        client_seconds_max: times.last().copied().unwrap_or(0.0),
        server_seconds,
        bytes_up_per_client: surviving.first().map_or(0, |at| up[*at]),
        bytes_down_per_client: surviving.first().map_or(0, |at| down[*at]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::secagg::{EncryptedShares, UnmaskingShares};
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha20Rng;

    fn inputs(clients: usize, dimension: usize, rng: &mut ChaCha20Rng) -> Vec<Vec<u32>> {
        (0..clients)
            .map(|_| (0..dimension).map(|_| rng.random()).collect())
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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn the_coordinator_learns_the_sum_of_the_survivors(
            n in 3usize..10,
            extra in 0usize..3,
            dimension in 1usize..48,
            seed in any::<u64>(),
            drop_bits in any::<u16>(),
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let threshold = (n / 2 + 1 + extra).min(n);
            let data = inputs(n, dimension, &mut rng);
            let dropped: BTreeSet<u32> = (1..=n as u32)
                .filter(|id| drop_bits & (1 << id) != 0)
                .take(n - threshold)
                .collect();
            let report = simulate_round(&data, threshold, &dropped, 9, &mut rng).unwrap();
            prop_assert_eq!(report.sum, plain_sum(&data, &dropped));
            prop_assert_eq!(report.survivors, n - dropped.len());
        }
    }

    #[test]
    fn too_many_dropouts_abandon_the_round_without_revealing_anything() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let data = inputs(5, 8, &mut rng);
        let err = simulate_round(&data, 3, &BTreeSet::from([1, 2, 3]), 1, &mut rng).unwrap_err();
        assert!(
            matches!(
                err,
                RoundError::TooFewClients {
                    have: 2,
                    threshold: 3,
                    phase: mesh_coordinator::RoundPhase::MaskedInput,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// Three clients through advertising and sharing, for the negative tests.
    fn shared_round(rng: &mut ChaCha20Rng) -> (AggregationRound, Vec<ClientRound>) {
        let mut round = AggregationRound::new(4, 2, 2, 3).unwrap();
        let mut clients: Vec<ClientRound> = (1..=3)
            .map(|id| ClientRound::new(4, 2, id, 2, rng).unwrap())
            .collect();
        for c in &clients {
            round.advertise(c.advertise()).unwrap();
        }
        let roster = round.close_advertise().unwrap();
        let forged = vec![EncryptedShares {
            sender: 2,
            recipient: 3,
            ciphertext: vec![0; 4],
        }];
        let err = round.share_keys(1, forged).unwrap_err();
        assert!(
            err.to_string().contains("claiming to come from client 2"),
            "{err}"
        );
        for c in &mut clients {
            let shares = c.share_keys(&roster, rng).unwrap();
            round.share_keys(c.client(), shares).unwrap();
        }
        round.close_share_keys().unwrap();
        (round, clients)
    }

    #[test]
    fn the_coordinator_refuses_bad_messages_with_clear_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        // Keys signed for another round or model version.
        let mut round = AggregationRound::new(4, 2, 2, 3).unwrap();
        let stale = ClientRound::new(4, 1, 1, 2, &mut rng).unwrap();
        let err = round.advertise(stale.advertise()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "round 4: client 1: keys: client 1's signature: does not verify"
        );
        let other_round = ClientRound::new(5, 2, 1, 2, &mut rng).unwrap();
        assert!(round.advertise(other_round.advertise()).is_err());
        let fresh = ClientRound::new(4, 2, 1, 2, &mut rng).unwrap();
        round.advertise(fresh.advertise()).unwrap();
        let err = round.advertise(fresh.advertise()).unwrap_err();
        assert_eq!(err.to_string(), "round 4: client 1 already sent its keys");
        assert!(matches!(
            round.masked_input(1, &[0; 3]),
            Err(RoundError::WrongPhase { .. })
        ));

        let (mut round, mut clients) = shared_round(&mut rng);
        // Wrong vector length; a replayed input.
        let mailbox = round.mailbox(1);
        let masked = clients[0].masked_input(&mailbox, &[1, 2, 3]).unwrap();
        let err = round.masked_input(1, &masked[..2]).unwrap_err();
        assert_eq!(err.to_string(), "round 4: client 1: 2 values, expected 3");
        round.masked_input(1, &masked).unwrap();
        let err = round.masked_input(1, &masked).unwrap_err();
        assert_eq!(
            err.to_string(),
            "round 4: client 1 already sent its masked input"
        );
        for c in &mut clients[1..] {
            let values = c
                .masked_input(&round.mailbox(c.client()), &[4, 5, 6])
                .unwrap();
            round.masked_input(c.client(), &values).unwrap();
        }
        let survivors = round.close_masked_input().unwrap();
        // A signature over another set, or in another client's name.
        let mut signatures = Vec::new();
        for c in &mut clients {
            signatures.push(c.consistency_signature(&survivors).unwrap());
        }
        let err = round.consistency(1, signatures[1].clone()).unwrap_err();
        assert!(err.to_string().contains("another client's name"), "{err}");
        let mut bad = signatures[0].clone();
        bad.signature[0] ^= 1;
        let err = round.consistency(1, bad).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
        for s in &signatures {
            round.consistency(s.client, s.clone()).unwrap();
        }
        let relayed = round.close_consistency().unwrap();
        // Asking to reveal both kinds of share for one client is refused.
        let honest = clients[0].unmasking_shares(&relayed).unwrap();
        let both = UnmaskingShares {
            self_seed_shares: honest.self_seed_shares.clone(),
            mask_secret_shares: vec![(2, honest.self_seed_shares[0].1.clone())],
        };
        let err = round.unmask(1, both).unwrap_err();
        assert!(err.to_string().contains("not a dropped sharer"), "{err}");
        round.unmask(1, honest).unwrap();
        for c in &mut clients[1..] {
            round
                .unmask(c.client(), c.unmasking_shares(&relayed).unwrap())
                .unwrap();
        }
        assert_eq!(round.finish().unwrap(), vec![9, 12, 15]);
    }
}

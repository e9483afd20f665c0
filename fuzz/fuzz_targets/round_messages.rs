//! What a coordinator relays to a client in a federated round (roster, mailbox, survivors,
//! signatures) as arbitrary JSON: parsing and the client's checks never panic, and a client
//! never gets past a step with a relayed message it cannot verify.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use mesh_shared::secagg::{
    ClientPhase, ClientRound, EncryptedShares, SignedRoundKeys, SurvivorSignature,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fuzz_target!(|data: &[u8]| {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let Ok(mut client) = ClientRound::new(1, 1, 1, 2, &mut rng) else {
        return;
    };
    if let Ok(roster) = serde_json::from_slice::<Vec<SignedRoundKeys>>(data) {
        // Only a roster holding this client's own signed keys can be accepted.
        if client.share_keys(&roster, &mut rng).is_ok() {
            assert!(roster.contains(&client.advertise()));
        }
    }
    if let Ok(mailbox) = serde_json::from_slice::<Vec<EncryptedShares>>(data) {
        let _ = client.masked_input(&mailbox, &[0; 8]);
        assert_ne!(client.phase(), ClientPhase::InputSent, "no forged share decrypts");
    }
    if let Ok(survivors) = serde_json::from_slice::<BTreeSet<u32>>(data) {
        let _ = client.consistency_signature(&survivors);
    }
    if let Ok(signatures) = serde_json::from_slice::<Vec<SurvivorSignature>>(data) {
        assert!(client.unmasking_shares(&signatures).is_err());
    }
});

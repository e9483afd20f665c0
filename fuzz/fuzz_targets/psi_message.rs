//! A private-set-intersection message from a peer (relayed by the coordinator): decoding,
//! answering and intersecting never panic, and an answer holds one point per point received.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::{ItemHash, PsiMessage, PsiParty};
use rand::SeedableRng;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = serde_json::from_slice::<PsiMessage>(data) else {
        return;
    };
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let Ok(party) = PsiParty::new(&[ItemHash([7; 32]), ItemHash([9; 32])], &mut rng) else {
        return;
    };
    if let Ok(answer) = party.answer(&message) {
        assert_eq!(answer.points.len(), message.points.len());
    }
    let _ = party.intersection(&message, &message);
});

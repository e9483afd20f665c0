//! Encrypted shares relayed by the coordinator: decrypting any bytes never panics, and what
//! decrypts re-encrypts to the same bytes (the sender, recipient and round are bound in).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::secagg::{decrypt_shares, encrypt_shares};

const KEY: [u8; 32] = [7; 32];

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let round = u64::from_le_bytes(data[..8].try_into().unwrap_or_default());
    let sender = u32::from_le_bytes(data[8..12].try_into().unwrap_or_default());
    let recipient = u32::from_le_bytes(data[12..16].try_into().unwrap_or_default());
    let ciphertext = &data[16..];
    if let Ok(shares) = decrypt_shares(&KEY, round, sender, recipient, ciphertext) {
        assert_eq!(
            encrypt_shares(&KEY, round, sender, recipient, &shares),
            ciphertext
        );
    }
});

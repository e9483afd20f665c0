//! A `PUT /v1/profiles/{id}` body from a peer: decoding and validation never panic, and an
//! accepted profile's vector is a valid unit vector.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::ProfileUpload;

fuzz_target!(|data: &[u8]| {
    if let Ok(upload) = serde_json::from_slice::<ProfileUpload>(data) {
        if upload.validate().is_ok() {
            let norm: f32 = upload
                .taste_vector
                .as_slice()
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt();
            assert!((norm - 1.0).abs() <= 1e-3);
        }
    }
});

//! Model bytes from the network: decoding never panics and round-trips what it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::ModelWeights;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = ModelWeights::decode(data) {
        assert_eq!(model.encode(), data);
    }
});

//! A typed favourites list: parsing, catalogue resolution, hashing and the taste vector must
//! never panic, and every produced vector is valid.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mesh_models::{Catalogue, initial_model, resolve_favourites};
use mesh_shared::ModelWeights;

fn model() -> &'static ModelWeights {
    static MODEL: OnceLock<ModelWeights> = OnceLock::new();
    MODEL.get_or_init(|| initial_model(Catalogue::embedded(), 1))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(profile) = resolve_favourites(Catalogue::embedded(), model(), text) {
        assert!(!profile.items.is_empty());
        assert_eq!(
            profile.taste_vector.as_slice().len(),
            mesh_shared::TASTE_DIM
        );
    }
});

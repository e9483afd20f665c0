//! Round settings a coordinator sends and floors a host app configures, as arbitrary JSON: the
//! device's admission check never panics, and what it admits meets every floor and fits the
//! budget.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::{PrivacyFloors, RoundSettings};

fuzz_target!(|data: &[u8]| {
    let Ok((settings, floors, spent)) =
        serde_json::from_slice::<(RoundSettings, PrivacyFloors, f64)>(data)
    else {
        return;
    };
    if let Ok(charge) = floors.admit(&settings, spent) {
        assert!(settings.expected_clients >= floors.min_cohort);
        assert!(2 * settings.threshold > settings.expected_clients);
        assert!(settings.noise_multiplier >= floors.min_noise_multiplier);
        assert!(settings.delta <= floors.max_delta);
        assert!(charge.epsilon_total <= floors.epsilon_budget);
        assert!(charge.rho > 0.0);
    }
});

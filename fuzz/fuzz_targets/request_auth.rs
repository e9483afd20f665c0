//! The `Authorization` header of a peer: parsing and verifying never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::RequestAuth;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(auth) = RequestAuth::parse_header(header) {
        let _ = auth.verify("PUT", "/v1/profiles/x", b"{}");
        assert_eq!(
            RequestAuth::parse_header(&auth.to_header()).ok(),
            Some(auth)
        );
    }
});

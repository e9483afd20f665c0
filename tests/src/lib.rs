//! Cross-crate tests of Mesh Discovery live in `tests/integration/` (one test binary); the
//! browser walk-through lives in `e2e/` and is driven from `browser_demo.rs`.
//!
//! ```
//! assert!(mesh_tests::FIXTURES.ends_with("fixtures"));
//! ```
#![warn(missing_docs)]

/// Directory of the shared test fixtures.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

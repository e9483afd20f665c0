//! Integration tests of the lab, compiled as one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serve_equals_eval;

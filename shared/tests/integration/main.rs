//! Integration tests of `mesh-shared`: one binary, one module per concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::wildcard_enum_match_arm
)]

mod canonical_pairs;
mod importers;
mod movielens_titles;
mod schemas;

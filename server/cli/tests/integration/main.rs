//! Integration tests of the `mesh` binary, compiled as one binary: `kill_nine` runs
//! `mesh serve` on loopback and kills it with SIGKILL mid-round and during event ingestion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod kill_nine;

//! Integration tests of the coordinator's HTTP API, compiled as one binary.
//!
//! Every test builds the router with [`mesh_server::app`] over a [`mesh_server::RedbStore`] in
//! a temporary directory and a fixed test clock, calls it with `oneshot` (no socket), and
//! checks the status, the JSON body and what the store and the discovery index hold afterwards.
//! `kill_nine` runs the `mesh` binary itself on loopback and kills it with SIGKILL mid-round.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authentication;
mod bad_input;
mod discovery_controls;
mod federated_round;
mod fixtures;
mod kill_nine;
mod model_download;
mod mutual_favourites;
mod openapi;
mod operations;
mod profile_lifecycle;
mod restart;
mod store_suite;

//! Integration tests of the coordinator's HTTP API, compiled as one binary.
//!
//! Every test builds the router with [`mesh_coordinator::app`] over a
//! [`mesh_coordinator::RedbStore`] in a temporary directory and a fixed test clock, calls it with `oneshot` (no socket), and
//! checks the status, the JSON body and what the store and the discovery index hold afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authentication;
mod bad_input;
mod discovery_controls;
mod federated_round;
mod fixtures;
mod model_download;
mod mutual_favourites;
mod openapi;
mod operations;
mod profile_lifecycle;
mod restart;
mod store_health;
mod store_suite;
mod stored_format;

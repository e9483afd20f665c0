//! Cross-crate integration tests: one binary, one module per flow.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::wildcard_enum_match_arm
)]

mod attacks;
mod browser_dashboard;
mod browser_demo;
mod browser_flows;
mod browser_round;
mod client_server_flow;
mod crate_graph;
mod fixtures;

//! Criterion benchmarks of `mesh-shared`, named after real workloads.
//! Run with `cargo bench -p mesh-shared --features testing`.
#![allow(clippy::expect_used)]

use criterion::criterion_main;

mod benchmarks;

criterion_main!(benchmarks::import::benches, benchmarks::secagg::benches);

//! `mesh`: the command line of the Mesh coordinator (`serve`) and of its lab (evaluation,
//! training, simulations and benchmarks). One module per subcommand in `commands/`.
#![allow(clippy::print_stdout)]

mod commands;

use clap::{Parser, Subcommand};

use commands::{bench_ann, bench_secagg, eval, serve, simulate, simulate_days, train, wrk_script};

#[derive(Debug, Parser)]
#[command(name = "mesh", about = "The Mesh Discovery coordinator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (and the demo page) on an address, with a durable embedded store.
    Serve(serve::Args),
    /// Evaluate friend recommendation from taste on a dataset (the reference protocol).
    Eval(eval::Args),
    /// Train the next model version federatedly, every dataset user a simulated client.
    Train(train::Args),
    /// Time one secure-aggregation round with simulated clients (real keys, shares, masks).
    BenchSecagg(bench_secagg::Args),
    /// Run one federated round with N native clients against a coordinator over loopback HTTP.
    Simulate(simulate::Args),
    /// Build an HNSW index from raw f32 rows and time single-threaded queries against exact
    /// neighbours (the files `ann_bench.py` writes).
    BenchAnn(bench_ann::Args),
    /// Write a wrk Lua script that POSTs discovery queries (taste vectors of fresh demo people
    /// under the store's current model) for the load test (`cargo xtask loadtest`).
    WrkScript(wrk_script::Args),
    /// Drive the coordinator (in process, simulated clock) with a synthetic population over
    /// simulated days into a store, so the dashboard shows real numbers.
    SimulateDays(simulate_days::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve::run(args).await,
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::BenchSecagg(args) => bench_secagg::run(args),
        Command::Simulate(args) => tokio::task::spawn_blocking(move || simulate::run(args)).await?,
        Command::BenchAnn(args) => bench_ann::run(args),
        Command::WrkScript(args) => wrk_script::run(args),
        Command::SimulateDays(args) => simulate_days::run(args).await,
    }
}

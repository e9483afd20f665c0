//! `mesh`: the Mesh coordinator's command line.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

mod simulate_command;
mod simulate_days;

use anyhow::Context;
use clap::{Parser, Subcommand};
use mesh_models::{Catalogue, LocalTrainingOptions};
use mesh_server::{
    AppConfig, AppState, ContentOptions, Dataset, DiscoveryIndex, DpOptions, EvalOptions,
    EvalSetting, RedbStore, ServerOptimizer, Store, SystemClock, TrainOptions, app, current_model,
    demo_population, evaluate, load_population_dir, simulate_round, train,
};

#[derive(Debug, Parser)]
#[command(name = "mesh", about = "The Mesh Discovery coordinator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (and the demo page) on an address, with a durable embedded store.
    Serve(ServeArgs),
    /// Evaluate friend recommendation from taste on a dataset (the reference protocol).
    Eval(EvalArgs),
    /// Train the next model version federatedly, every dataset user a simulated client.
    Train(TrainArgs),
    /// Time one secure-aggregation round with simulated clients (real keys, shares, masks).
    BenchSecagg(BenchSecaggArgs),
    /// Run one federated round with N native clients against a coordinator over loopback HTTP.
    Simulate(SimulateArgs),
    /// Build an HNSW index from raw f32 rows and time single-threaded queries against exact
    /// neighbours (the files `ann_bench.py` writes).
    BenchAnn(BenchAnnArgs),
    /// Write a wrk Lua script that POSTs discovery queries (taste vectors of fresh demo people
    /// under the store's current model) for the load test (`cargo xtask loadtest`).
    WrkScript(WrkScriptArgs),
    /// Drive the coordinator (in process, simulated clock) with a synthetic population over
    /// simulated days into a store, so the dashboard shows real numbers.
    SimulateDays(SimulateDaysArgs),
}

#[derive(Debug, clap::Args)]
struct SimulateDaysArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 45)]
    days: u64,
    /// People in the population.
    #[arg(long, default_value_t = 300)]
    people: usize,
    /// A fresh directory for the store (then `mesh serve --data-dir` it).
    #[arg(long)]
    data_dir: PathBuf,
    /// Seed of the population and its choices.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// First simulated day, in days since the Unix epoch (default 20727: 2026-10-01).
    #[arg(long, default_value_t = 20_727)]
    start_day: u64,
}

#[derive(Debug, clap::Args)]
struct WrkScriptArgs {
    /// Directory of the store whose current model the queries use.
    #[arg(long)]
    data_dir: PathBuf,
    /// Distinct queries, sent round-robin.
    #[arg(long, default_value_t = 64)]
    count: usize,
    /// Candidates asked for per query.
    #[arg(long, default_value_t = 20)]
    k: u32,
    /// Where to write the script.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
struct BenchAnnArgs {
    /// Base vectors: little-endian f32 rows of `--dim`.
    #[arg(long)]
    base: PathBuf,
    /// Query vectors: little-endian f32 rows of `--dim`.
    #[arg(long)]
    queries: PathBuf,
    /// Exact neighbours: little-endian i64 rows of 10 base row indices per query.
    #[arg(long)]
    gt: PathBuf,
    /// Values per vector.
    #[arg(long, default_value_t = 256)]
    dim: usize,
    /// Links per node (2M on layer 0).
    #[arg(long, default_value_t = 16)]
    m: usize,
    /// Candidate list size while building.
    #[arg(long, default_value_t = 128)]
    efc: usize,
    /// Candidate list sizes to query with, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    ef: Vec<usize>,
    /// Use only the first N base rows (the ground truth must refer to them).
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Clients (threads).
    #[arg(long, default_value_t = 10)]
    clients: usize,
    /// Parameters of each update (the model weights the round trains).
    #[arg(long, default_value_t = 10_000)]
    params: usize,
    /// Share of clients that drop out before `--stage`.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// The step dropped clients never take: keys, shares, input, signature or unmask.
    #[arg(long, default_value = "input")]
    stage: String,
    /// A running coordinator (started with --operator-token); none: start one on a free
    /// loopback port with a fresh store.
    #[arg(long)]
    coordinator: Option<String>,
    /// The operator token of `--coordinator`.
    #[arg(long)]
    operator_token: Option<String>,
    /// Clients needed in every phase (default: more than half).
    #[arg(long)]
    threshold: Option<usize>,
    /// How long each phase waits for stragglers, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    phase_ms: u64,
    /// Seed of the inputs, dropouts and keys.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Join the coordinator's current round (with its settings) instead of starting one:
    /// native clients beside browser ones.
    #[arg(long)]
    join: bool,
    /// Differential privacy of a round this command starts: noise multiplier of the discrete
    /// Gaussian noise the clients add on their devices; 0 for none.
    #[arg(long, default_value_t = 0.0)]
    noise_multiplier: f64,
    /// SecAgg+ for a round this command starts: each client shares with this many ring
    /// neighbours (default: every other client).
    #[arg(long)]
    neighbours: Option<usize>,
}

#[derive(Debug, clap::Args)]
struct BenchSecaggArgs {
    /// Clients in the round.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Coordinates of each input.
    #[arg(long, default_value_t = 100_000)]
    dimension: usize,
    /// Share of clients that drop out after sharing keys (before sending their input).
    #[arg(long, default_value_t = 0.1)]
    dropout: f64,
    /// Threshold (default: more than half of the clients).
    #[arg(long)]
    threshold: Option<usize>,
    /// Repetitions.
    #[arg(long, default_value_t = 3)]
    reps: u32,
}

#[derive(Debug, clap::Args)]
struct TrainArgs {
    /// Dataset directory in the interactions.tsv / items.tsv layout.
    #[arg(long)]
    data: PathBuf,
    /// Store whose current model the trained one replaces (its version + 1).
    #[arg(long)]
    data_dir: PathBuf,
    /// Rounds of subspace iteration.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Rows of the hashed table.
    #[arg(long, default_value_t = 16_384)]
    buckets: u32,
    /// Leading directions kept (at most 256; fewer suit small datasets).
    #[arg(long, default_value_t = 256)]
    rank: usize,
    /// Per-client L2 clip of the update.
    #[arg(long, default_value_t = 1.0)]
    clip: f32,
    /// Train the central reference (no clipping) instead of the federated model.
    #[arg(long)]
    central: bool,
    /// Leave out the favourites `mesh eval` hides on a dataset without ties (same seed).
    #[arg(long)]
    hold_out: bool,
    /// Rounds of on-device fine-tuning (candle BPR, every client) after the subspace rounds.
    #[arg(long, default_value_t = 0)]
    local_rounds: u32,
    /// Local epochs per fine-tuning round.
    #[arg(long, default_value_t = 1)]
    local_epochs: u32,
    /// Local SGD step size.
    #[arg(long, default_value_t = 0.5)]
    local_lr: f32,
    /// L2 clip of each client's fine-tuning update.
    #[arg(long, default_value_t = 1.0)]
    local_clip: f32,
    /// How the coordinator applies the mean update: fedavg or fedadam.
    #[arg(long, default_value = "fedavg")]
    server_optimizer: String,
    /// Server learning rate.
    #[arg(long, default_value_t = 1.0)]
    server_lr: f32,
    /// Differential privacy: noise multiplier z of every round's sum (distributed discrete
    /// Gaussian, σ = z × the round's L2 sensitivity); 0 for none.
    #[arg(long, default_value_t = 0.0)]
    dp_noise_multiplier: f64,
    /// δ of the reported (ε, δ).
    #[arg(long, default_value_t = 1e-5)]
    dp_delta: f64,
    /// FedAdam's adaptivity floor τ (about the size of a mean update's coordinates).
    #[arg(long, default_value_t = 1e-3)]
    server_tau: f32,
    /// Content embeddings of the dataset's items (`cargo xtask embed`): fit the content
    /// tower from them in a last round.
    #[arg(long)]
    content: Option<PathBuf>,
    /// Weight of the content half of an item's vector.
    #[arg(long, default_value_t = ContentOptions::default().share)]
    content_share: f32,
    /// Ridge of the content tower's least-squares fit (relative to the mean diagonal).
    #[arg(long, default_value_t = ContentOptions::default().ridge)]
    content_ridge: f64,
    /// Share of the items no client trains on (seeded by item id): the cold-start experiment.
    #[arg(long, default_value_t = 0.0)]
    cold_items: f64,
}

#[derive(Debug, clap::Args)]
struct EvalArgs {
    /// Dataset directory in the interactions.tsv / items.tsv / edges.tsv layout.
    #[arg(long)]
    data: PathBuf,
    /// Score the current model of this store instead of the version-1 model.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Setting of the protocol on a dataset with ties: a (taste only) or b (20% of ties
    /// hidden, the rest usable). Ignored without ties.
    #[arg(long, default_value = "a")]
    setting: String,
    /// Also write the results as JSON to this file: one object per method, keyed by method
    /// (`mesh` is the project's own), each with the metric names as keys.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Also write a Markdown report with SVG plots (beside it) to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Seed of the splits.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Content embeddings of the dataset's items (`cargo xtask embed`), used by a model with a
    /// content tower as the devices would use theirs.
    #[arg(long)]
    content: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Directory of the embedded store (created if missing); with `--database-url`, only the
    /// index snapshot is kept here.
    #[arg(long, default_value = ".mesh-data")]
    data_dir: PathBuf,
    /// Keep the state in PostgreSQL (`postgres://user@host:port/db`) instead of the embedded
    /// store, so several replicas can share it; each re-reads the profiles every 2 s.
    #[arg(long)]
    database_url: Option<String>,
    /// Directory of the demo page to serve at `/`.
    #[arg(long, default_value = "web-demo")]
    web_dir: PathBuf,
    /// Load the read-only population from a dataset in the `interactions.tsv` / `items.tsv`
    /// layout instead of generating the demo population.
    #[arg(long)]
    population: Option<PathBuf>,
    /// Size of the generated demo population (0 for none).
    #[arg(long, default_value_t = 300)]
    demo_users: usize,
    /// Bearer token that may start federated rounds (`POST /v1/rounds`); none: no rounds.
    #[arg(long)]
    operator_token: Option<String>,
    /// Refit the re-ranker on the queued outcomes every this many hours (0: only on
    /// `POST /v1/admin/ranker/train`).
    #[arg(long, default_value_t = 24)]
    ranker_refresh_hours: u64,
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
        Command::Serve(args) => serve(args).await,
        Command::Eval(args) => eval(args),
        Command::Train(args) => train_command(args),
        Command::BenchSecagg(args) => bench_secagg(args),
        Command::Simulate(args) => tokio::task::spawn_blocking(move || simulate(args)).await?,
        Command::BenchAnn(args) => bench_ann(args),
        Command::WrkScript(args) => wrk_script(args),
        Command::SimulateDays(args) => {
            simulate_days::simulate_days(&simulate_days::SimulateDaysOptions {
                days: args.days,
                people: args.people,
                data_dir: args.data_dir,
                seed: args.seed,
                start_ms: args.start_day * mesh_server::DAY_MS,
            })
            .await
        }
    }
}

fn train_command(args: TrainArgs) -> anyhow::Result<()> {
    let store = Arc::new(
        RedbStore::open(&args.data_dir)
            .with_context(|| format!("opening the store in {}", args.data_dir.display()))?,
    );
    let current = current_model(store.as_ref())?.version();
    let mut dataset = Dataset::load(&args.data)?;
    if let Some(path) = &args.content {
        let attached = dataset.attach_content(path)?;
        println!(
            "content embeddings for {attached} of {} items",
            dataset.items.len()
        );
    }
    anyhow::ensure!(
        (0.0..1.0).contains(&args.cold_items),
        "--cold-items {}: expected a share in [0, 1)",
        args.cold_items
    );
    let options = TrainOptions {
        buckets: args.buckets,
        rounds: args.rounds,
        rank: args.rank.min(256),
        clip_norm: Some(args.clip),
        version: current + 1,
        central: args.central,
        hold_out: args.hold_out.then(EvalOptions::default),
        local_rounds: args.local_rounds,
        local: LocalTrainingOptions {
            epochs: args.local_epochs,
            learning_rate: args.local_lr,
            clip_norm: args.local_clip,
            ..LocalTrainingOptions::default()
        },
        server_optimizer: match args.server_optimizer.as_str() {
            "fedavg" => ServerOptimizer::FedAvg {
                learning_rate: args.server_lr,
            },
            "fedadam" => ServerOptimizer::FedAdam {
                learning_rate: args.server_lr,
                beta1: 0.9,
                beta2: 0.99,
                tau: args.server_tau,
            },
            other => anyhow::bail!("--server-optimizer {other}: expected fedavg or fedadam"),
        },
        dp: (args.dp_noise_multiplier > 0.0).then(|| DpOptions {
            noise_multiplier: args.dp_noise_multiplier,
            delta: args.dp_delta,
            ..DpOptions::default()
        }),
        content: args.content.is_some().then_some(ContentOptions {
            share: args.content_share,
            ridge: args.content_ridge,
        }),
        cold_items: args.cold_items,
        ..TrainOptions::default()
    };
    let report = train(&dataset, Catalogue::embedded(), options)?;
    println!(
        "| round | clients | clipped | mean update norm | local loss before → after | seconds |\n|---:|---:|---:|---:|---|---:|"
    );
    for r in &report.rounds {
        let loss = r
            .local_loss
            .map(|(before, after)| format!("{before:.4} → {after:.4}"))
            .unwrap_or_default();
        println!(
            "| {} | {} | {} | {:.3} | {loss} | {:.2} |",
            r.round, r.clients, r.clipped, r.mean_update_norm, r.seconds
        );
    }
    if let Some(tower) = report.model.content_tower() {
        println!(
            "the last round fitted the content tower (384 → 256, share {}) from the clients' content statistics",
            tower.share()
        );
    }
    if let Some((epsilon, delta)) = report.privacy {
        println!(
            "differential privacy over {} rounds (noise multiplier {}): ε = {epsilon:.3} at δ = {delta:e}",
            report.rounds.len(),
            args.dp_noise_multiplier
        );
    }
    store.save_model(&report.model.encode())?;
    let mut figures =
        std::collections::BTreeMap::from([("rounds".to_owned(), report.rounds.len() as f64)]);
    if let Some((epsilon, _)) = report.privacy {
        figures.insert("epsilon".to_owned(), epsilon);
    }
    if let Some(last) = report.rounds.last() {
        figures.insert("clients".to_owned(), last.clients as f64);
        if let Some((before, after)) = last.local_loss {
            figures.insert("local_loss_before".to_owned(), f64::from(before));
            figures.insert("local_loss_after".to_owned(), f64::from(after));
        }
    }
    store.append_social(
        None,
        &mesh_server::SocialEvent::ModelVersioned {
            version: report.model.version(),
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64,
            source: "mesh train".to_owned(),
            figures,
        },
    )?;
    println!(
        "saved model v{} ({} buckets{}) as the current model of {}",
        report.model.version(),
        report.model.buckets(),
        if args.central {
            ", central reference"
        } else {
            ""
        },
        args.data_dir.display()
    );
    Ok(())
}

fn simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let options = simulate_command::SimulateOptions {
        clients: args.clients,
        params: args.params,
        dropout: args.dropout,
        stage: args.stage,
        coordinator: args.coordinator,
        operator_token: args.operator_token,
        threshold: args.threshold,
        phase_ms: args.phase_ms,
        seed: args.seed,
        join: args.join,
        noise_multiplier: args.noise_multiplier,
        neighbours: args.neighbours,
    };
    let report = simulate_command::simulate(&options)?;
    if let Some(path) = &args.json {
        simulate_command::write_json(path, &report)?;
    }
    anyhow::ensure!(
        report.completed,
        "the round did not complete: {}",
        report.outcome
    );
    Ok(())
}

fn read_rows<T: Copy>(
    path: &std::path::Path,
    width: usize,
    parse: fn([u8; 8]) -> T,
    bytes_per: usize,
) -> anyhow::Result<Vec<T>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() % (width * bytes_per) == 0,
        "{}: {} bytes is not a whole number of rows of {width} values",
        path.display(),
        bytes.len()
    );
    Ok(bytes
        .chunks_exact(bytes_per)
        .map(|c| {
            let mut word = [0u8; 8];
            word[..bytes_per].copy_from_slice(c);
            parse(word)
        })
        .collect())
}

fn wrk_script(args: WrkScriptArgs) -> anyhow::Result<()> {
    let store = RedbStore::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let model = current_model(&store)?;
    // A seed other than the served population's: queries from people who are not indexed.
    let people = demo_population(Catalogue::embedded(), &model, args.count, 7)?;
    let mut script = String::from(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nbodies = {\n",
    );
    for person in &people {
        let body = mesh_shared::CandidatesRequest {
            model_version: model.version(),
            taste_vector: person.upload.taste_vector.clone(),
            k: args.k,
            exclude: None,
        };
        script.push_str(&format!("  [[{}]],\n", serde_json::to_string(&body)?));
    }
    script.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])\nend\n",
    );
    std::fs::write(&args.out, script).with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{} queries of k = {} in {}",
        people.len(),
        args.k,
        args.out.display()
    );
    Ok(())
}

fn bench_ann(args: BenchAnnArgs) -> anyhow::Result<()> {
    use std::time::Instant;
    const K: usize = 10;
    let dim = args.dim;
    let f32_row = |w: [u8; 8]| f32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    let mut base = read_rows(&args.base, dim, f32_row, 4)?;
    if let Some(limit) = args.limit {
        base.truncate(limit * dim);
    }
    let queries = read_rows(&args.queries, dim, f32_row, 4)?;
    let gt = read_rows(&args.gt, K, i64::from_le_bytes, 8)?;
    let n = base.len() / dim;
    let nq = queries.len() / dim;
    anyhow::ensure!(n > 0 && nq > 0, "no base rows or no queries");
    anyhow::ensure!(
        gt.len() == nq * K,
        "{} has {} rows of {K}, expected one per query ({nq})",
        args.gt.display(),
        gt.len() / K
    );
    anyhow::ensure!(
        gt.iter().all(|&i| (0..n as i64).contains(&i)),
        "the ground truth refers to rows beyond the {n} base rows"
    );
    let mut index = mesh_server::Hnsw::<u32>::new(mesh_server::HnswParams {
        dim,
        m: args.m,
        ef_construction: args.efc,
        seed: 42,
    })?;
    let started = Instant::now();
    index.reserve(n);
    for (i, row) in base.chunks_exact(dim).enumerate() {
        index.insert(u32::try_from(i)?, row)?;
    }
    let build = started.elapsed().as_secs_f64();
    let memory_mb = index.memory_bytes() as f64 / (1u64 << 20) as f64;
    println!(
        "n={n} d={dim} queries={nq} M={} efc={}: build {build:.1} s single-threaded, index memory ≈ {memory_mb:.1} MB\n",
        args.m, args.efc
    );
    println!("| ef | recall@10 | QPS | p50 µs | p99 µs |\n|---:|---:|---:|---:|---:|");
    for &ef in &args.ef {
        for q in queries.chunks_exact(dim).take(100) {
            index.search(q, K, ef, |_| true)?;
        }
        let mut latencies = Vec::with_capacity(nq);
        let mut hits = 0usize;
        let all = Instant::now();
        for (q, truth) in queries.chunks_exact(dim).zip(gt.chunks_exact(K)) {
            let t = Instant::now();
            let found = index.search(q, K, ef, |_| true)?;
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            hits += found
                .iter()
                .filter(|(key, _)| truth.contains(&i64::from(*key)))
                .count();
        }
        let total = all.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        println!(
            "| {ef} | {:.4} | {:.0} | {:.1} | {:.1} |",
            hits as f64 / (nq * K) as f64,
            nq as f64 / total,
            pct(0.5),
            pct(0.99)
        );
    }
    Ok(())
}

fn bench_secagg(args: BenchSecaggArgs) -> anyhow::Result<()> {
    use rand::{RngExt, SeedableRng};
    let threshold = args.threshold.unwrap_or(args.clients / 2 + 1);
    let dropped_count = (args.clients as f64 * args.dropout).round() as u32;
    let dropped: std::collections::BTreeSet<u32> = (1..=dropped_count).collect();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    println!(
        "| clients | dimension | dropped | client s (median / max) | server s | up B/client | down B/client | upload / fp32 |\n|---:|---:|---:|---|---:|---:|---:|---:|"
    );
    for rep in 0..args.reps {
        let inputs: Vec<Vec<u32>> = (0..args.clients)
            .map(|_| (0..args.dimension).map(|_| rng.random::<u32>()).collect())
            .collect();
        let report = simulate_round(&inputs, threshold, &dropped, u64::from(rep), &mut rng)?;
        let mut expected = vec![0u32; args.dimension];
        for (i, input) in inputs.iter().enumerate() {
            if !dropped.contains(&(i as u32 + 1)) {
                for (e, x) in expected.iter_mut().zip(input) {
                    *e = e.wrapping_add(*x);
                }
            }
        }
        anyhow::ensure!(report.sum == expected, "the unmasked sum is wrong");
        println!(
            "| {} | {} | {} | {:.4} / {:.4} | {:.3} | {} | {} | {:.3}× |",
            args.clients,
            args.dimension,
            dropped.len(),
            report.client_seconds_median,
            report.client_seconds_max,
            report.server_seconds,
            report.bytes_up_per_client,
            report.bytes_down_per_client,
            report.bytes_up_per_client as f64 / (4.0 * args.dimension as f64)
        );
    }
    Ok(())
}

fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let store = match &args.data_dir {
        Some(dir) => Some(
            RedbStore::open(dir)
                .with_context(|| format!("opening the store in {}", dir.display()))?,
        ),
        None => None,
    };
    let model = match &store {
        Some(store) => current_model(store)?,
        None => mesh_models::initial_model(Catalogue::embedded(), 1),
    };
    let setting = match args.setting.to_ascii_lowercase().as_str() {
        "a" => EvalSetting::A,
        "b" => EvalSetting::B,
        other => anyhow::bail!("--setting {other}: expected a or b"),
    };
    let mut dataset = Dataset::load(&args.data)?;
    if let Some(path) = &args.content {
        dataset.attach_content(path)?;
    }
    let options = EvalOptions {
        seed: args.seed,
        setting,
        ..EvalOptions::default()
    };
    let report = evaluate(&dataset, Catalogue::embedded(), &model, options);
    println!(
        "{}: {} users, {} ties\n",
        args.data.display(),
        report.users,
        report.ties
    );
    print!("{}", report.to_markdown());
    // The store's model history keeps the figures of its version.
    if let Some(store) = &store {
        let mut figures = std::collections::BTreeMap::new();
        for row in report.results.iter().filter(|r| r.id.starts_with("mesh")) {
            for (metric, value) in [
                ("recall@10", row.recall_at_10),
                ("recall@50", row.recall_at_50),
                ("ndcg@10", row.ndcg_at_10),
                ("mrr", row.mrr),
            ] {
                figures.insert(format!("{}:{}:{metric}", row.setting, row.id), value);
            }
        }
        store.append_social(
            None,
            &mesh_server::SocialEvent::ModelEvaluated {
                version: model.version(),
                at_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis() as u64,
                figures,
            },
        )?;
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report.methods_json())?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.report {
        let title = format!("mesh eval: {}", args.data.display());
        let files = report
            .write_report(&title, path)
            .with_context(|| format!("writing the report {}", path.display()))?;
        for file in files {
            println!("wrote {}", file.display());
        }
    }
    Ok(())
}

/// Closes round phases at their deadlines (every message also checks), 4 times a second.
fn spawn_round_timer(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            interval.tick().await;
            if let Err(error) = state.rounds().tick() {
                tracing::error!(%error, "closing a round phase failed");
            }
        }
    });
}

/// Replicas sharing a database: every 2 s, re-read the profiles and apply the social events
/// the others appended (`AppState::sync_index`, `AppState::sync_social`).
fn spawn_index_sync(state: AppState) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_secs(2));
        loop {
            interval.tick().await;
            let sync = state.clone();
            let synced = tokio::task::spawn_blocking(move || {
                let profiles = sync.sync_index()?;
                Ok::<_, mesh_server::Error>((profiles, sync.sync_social()?))
            })
            .await;
            match synced {
                Ok(Ok(((0, 0), 0))) => {}
                Ok(Ok(((changed, dropped), events))) => {
                    tracing::info!(changed, dropped, events, "synced with the database")
                }
                Ok(Err(error)) => tracing::error!(%error, "syncing the index failed"),
                Err(error) => tracing::error!(%error, "syncing the index panicked"),
            }
        }
    });
}

/// The scheduled refresh: refits the re-ranker every `hours` on the outcomes queued since
/// (skipped, with a log line, while there are too few).
fn spawn_ranker_refresh(state: AppState, hours: u64) {
    if hours == 0 {
        return;
    }
    tokio::spawn(async move {
        let period = std::time::Duration::from_secs(hours * 3600);
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            interval.tick().await;
            let refresh = state.clone();
            let outcome =
                tokio::task::spawn_blocking(move || refresh.refresh_ranker("scheduled", 10)).await;
            match outcome {
                Ok(Ok(Ok(trees))) => tracing::info!(trees, "scheduled re-ranker refresh"),
                Ok(Ok(Err((positives, negatives)))) => tracing::info!(
                    positives,
                    negatives,
                    "scheduled re-ranker refresh skipped: too few outcomes"
                ),
                Ok(Err(error)) => tracing::error!(%error, "scheduled re-ranker refresh failed"),
                Err(error) => tracing::error!(%error, "scheduled re-ranker refresh panicked"),
            }
        }
    });
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => {
            Arc::new(mesh_server::PgStore::connect(url).context("connecting to PostgreSQL")?)
        }
        None => Arc::new(
            RedbStore::open(&args.data_dir)
                .with_context(|| format!("opening the store in {}", args.data_dir.display()))?,
        ),
    };
    std::fs::create_dir_all(&args.data_dir)?;
    let model = current_model(store.as_ref())?;
    let catalogue = Catalogue::embedded();
    let population = match &args.population {
        Some(dir) => load_population_dir(dir, catalogue, &model)?,
        None => demo_population(catalogue, &model, args.demo_users, 42)?,
    };
    let population_size = population.len();
    // The HNSW graph of the last run, if it was saved for this model version: a restart then
    // re-links only the people whose vectors changed.
    let snapshot_path = args
        .data_dir
        .join(format!("discovery-v{}.hnsw", model.version()));
    let index = match std::fs::read(&snapshot_path) {
        Ok(bytes) => DiscoveryIndex::from_snapshot(&bytes).unwrap_or_else(|error| {
            tracing::warn!(%error, path = %snapshot_path.display(), "ignoring the index snapshot");
            DiscoveryIndex::default()
        }),
        Err(_) => DiscoveryIndex::default(),
    };
    let state = AppState::open_with_index(store, Arc::new(SystemClock), population, index)?;
    let web_dir = args.web_dir.is_dir().then(|| args.web_dir.clone());
    if web_dir.is_none() {
        tracing::warn!(dir = %args.web_dir.display(), "no demo page directory: serving the API only");
    }
    let config = AppConfig {
        web_dir,
        operator_token: args.operator_token.clone(),
        experiment: Some(mesh_server::Experiment::discovery()),
        ..AppConfig::default()
    };
    spawn_round_timer(state.clone());
    if args.database_url.is_some() {
        spawn_index_sync(state.clone());
    }
    spawn_ranker_refresh(state.clone(), args.ranker_refresh_hours);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    println!(
        "mesh coordinator listening on http://{local} (model v{}, {} discoverable, {population_size} from the population)",
        state.model_version(),
        state.discoverable_count(),
    );
    axum::serve(listener, app(state.clone(), &config))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let partial = snapshot_path.with_extension("partial");
    std::fs::write(&partial, state.index().snapshot())
        .and_then(|()| std::fs::rename(&partial, &snapshot_path))
        .with_context(|| format!("saving the index snapshot {}", snapshot_path.display()))?;
    println!("saved the discovery index to {}", snapshot_path.display());
    Ok(())
}

//! `mesh serve`: the coordinator on an address, with the demo page, a store (redb or
//! PostgreSQL) and a read-only population.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use mesh_coordinator::{
    AppConfig, AppState, BackgroundWork, DiscoveryIndex, Experiment, PgStore, RateLimit, RedbStore,
    ServeLimits, Store, SystemClock, app, current_model, demo_population, serve,
    spawn_background_work,
};
use mesh_lab::load_population_dir;
use mesh_models::Catalogue;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on. Port 0 picks a free port (printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// Directory of the embedded store (created if missing); with `--database-url`, only the
    /// index snapshot is kept here.
    #[arg(long, default_value = ".mesh-data")]
    pub(crate) data_dir: PathBuf,
    /// Keep the state in PostgreSQL (`postgres://user@host:port/db`) instead of the embedded
    /// store, so several replicas can share it; each re-reads the profiles every 2 s.
    #[arg(long)]
    pub(crate) database_url: Option<String>,
    /// Directory of the demo page to serve at `/`.
    #[arg(long, default_value = "web-demo")]
    pub(crate) web_dir: PathBuf,
    /// Load the read-only population from a dataset in the `interactions.tsv` / `items.tsv`
    /// layout instead of generating the demo population.
    #[arg(long)]
    pub(crate) population: Option<PathBuf>,
    /// Size of the generated demo population (0 for none).
    #[arg(long, default_value_t = 300)]
    pub(crate) demo_users: usize,
    /// Bearer token of the operator's routes (rounds, `/v1/admin`, `/metrics`). Visible to
    /// anyone who can list processes: prefer `--operator-token-file` or the environment
    /// variable `MESH_OPERATOR_TOKEN`. None of the three: no operator routes.
    #[arg(long)]
    pub(crate) operator_token: Option<String>,
    /// A file whose first line is the operator's bearer token.
    #[arg(long, conflicts_with = "operator_token")]
    pub(crate) operator_token_file: Option<PathBuf>,
    /// Refit the re-ranker on the queued outcomes every this many hours (0: only on
    /// `POST /v1/admin/ranker/train`).
    #[arg(long, default_value_t = 24)]
    pub(crate) ranker_refresh_hours: u64,
    /// Discovery queries (candidates and rooms) each identity may make per UTC day: the budget
    /// that keeps a caller from rebuilding a published taste vector from answers.
    #[arg(long, default_value_t = mesh_coordinator::DEFAULT_QUERIES_PER_DAY)]
    pub(crate) discovery_queries_per_day: u32,
    /// Sustained requests per second from one IP address (bursts of twice as many); 0: none.
    #[arg(long, default_value_t = 50)]
    pub(crate) requests_per_ip_per_second: u32,
    /// Open connections at most; further clients wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    pub(crate) max_connections: usize,
    /// Seconds a client has to send a request's headers.
    #[arg(long, default_value_t = 10)]
    pub(crate) header_read_timeout_s: u64,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    let store: Arc<dyn Store> = match &args.database_url {
        Some(url) => Arc::new(PgStore::connect(url).context("connecting to PostgreSQL")?),
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
        operator_token: operator_token(&args)?,
        experiment: Some(Experiment::discovery()),
        discovery_queries_per_day: args.discovery_queries_per_day,
        per_ip_rate: Some(RateLimit {
            per_second: args.requests_per_ip_per_second,
            burst: args.requests_per_ip_per_second.saturating_mul(2),
        }),
        ..AppConfig::default()
    };
    let limits = ServeLimits {
        max_connections: args.max_connections,
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout_s),
        ..ServeLimits::default()
    };
    spawn_background_work(
        &state,
        BackgroundWork {
            replica_sync: args.database_url.is_some(),
            ranker_refresh_hours: args.ranker_refresh_hours,
        },
    );
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr()?;
    println!(
        "mesh coordinator listening on http://{local} (model v{}, {} discoverable, {population_size} from the population)",
        state.model_version(),
        state.discoverable_count(),
    );
    serve(
        listener,
        app(state.clone(), &config),
        limits,
        shutdown_signal(),
    )
    .await?;
    save_snapshot(&snapshot_path, &state.index().snapshot())
        .with_context(|| format!("saving the index snapshot {}", snapshot_path.display()))?;
    println!("saved the discovery index to {}", snapshot_path.display());
    Ok(())
}

/// SIGINT (Ctrl-C) or SIGTERM (what service managers and `kill` send): either stops the server
/// gracefully and saves the index.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Writes the index snapshot durably: to a `0600` temporary file, fsynced, renamed over the
/// old one, the directory fsynced; snapshots of other model versions (stale, and holding the
/// vectors of that version's people) are removed.
fn save_snapshot(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::File::open(dir)?.sync_all()?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let stale =
            name.starts_with("discovery-v") && name.ends_with(".hnsw") && entry.path() != path;
        if stale {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The operator token: `--operator-token`, else the first line of `--operator-token-file`,
/// else `MESH_OPERATOR_TOKEN`; an empty token is refused.
fn operator_token(args: &Args) -> anyhow::Result<Option<String>> {
    let token = match (&args.operator_token, &args.operator_token_file) {
        (Some(token), _) => Some(token.clone()),
        (None, Some(path)) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the operator token from {}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned(),
        ),
        (None, None) => std::env::var("MESH_OPERATOR_TOKEN").ok(),
    };
    if token.as_deref().is_some_and(str::is_empty) {
        anyhow::bail!("the operator token is empty");
    }
    Ok(token)
}

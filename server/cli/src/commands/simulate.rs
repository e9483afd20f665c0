//! `mesh simulate`: N native clients (threads), each a `mesh_shared::secagg::ClientRound`,
//! run one federated round against a coordinator over loopback HTTP: one given by URL, or one
//! this command starts itself (`mesh serve` as a child process on a free loopback port, with a
//! fresh store), whose CPU time it then reads from `/proc`.
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use mesh_shared::secagg::{
    ClientRound, EncryptedShares, SignedRoundKeys, SurvivorSignature, UnmaskingShares,
};
use mesh_shared::{
    RoundJoin, RoundJoined, RoundKeysMessage, RoundPhase, RoundSettings, RoundSharesMessage,
    RoundSignatureMessage, RoundStatus, RoundUnmaskMessage,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Clients (threads).
    #[arg(long, default_value_t = 10)]
    pub(crate) clients: usize,
    /// Parameters of each update (the model weights the round trains).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) params: usize,
    /// Share of clients that drop out before `--stage`.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) dropout: f64,
    /// The step dropped clients never take: keys, shares, input, signature or unmask.
    #[arg(long, value_enum, default_value_t = Stage::Input)]
    pub(crate) stage: Stage,
    /// A running coordinator (started with --operator-token); none: start one on a free
    /// loopback port with a fresh store.
    #[arg(long)]
    pub(crate) coordinator: Option<String>,
    /// The operator token of `--coordinator`.
    #[arg(long)]
    pub(crate) operator_token: Option<String>,
    /// Clients needed in every phase (default: more than half).
    #[arg(long)]
    pub(crate) threshold: Option<usize>,
    /// How long each phase waits for stragglers, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub(crate) phase_ms: u64,
    /// Seed of the inputs, dropouts and keys.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Join the coordinator's current round (with its settings) instead of starting one:
    /// native clients beside browser ones.
    #[arg(long)]
    pub(crate) join: bool,
    /// Differential privacy of a round this command starts: noise multiplier of the discrete
    /// Gaussian noise the clients add on their devices; 0 for none.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) noise_multiplier: f64,
    /// SecAgg+ for a round this command starts: each client shares with this many ring
    /// neighbours (default: every other client).
    #[arg(long)]
    pub(crate) neighbours: Option<usize>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let options = SimulateOptions {
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
    let report = simulate(&options)?;
    if let Some(path) = &args.json {
        write_json(path, &report)?;
    }
    anyhow::ensure!(
        report.completed,
        "the round did not complete: {}",
        report.outcome
    );
    Ok(())
}

/// The steps of a round, in order; `--stage` names the one dropped clients never take.
pub(crate) const STAGES: [&str; 5] = ["keys", "shares", "input", "signature", "unmask"];

/// A step of a round (in the order of [`STAGES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Stage {
    /// Advertising round keys.
    Keys,
    /// Sharing the mask secrets.
    Shares,
    /// Sending the masked input.
    Input,
    /// Signing the survivor set.
    Signature,
    /// Sending unmasking shares.
    Unmask,
}

impl Stage {
    /// The step's position in [`STAGES`].
    fn index(self) -> usize {
        match self {
            Self::Keys => 0,
            Self::Shares => 1,
            Self::Input => 2,
            Self::Signature => 3,
            Self::Unmask => 4,
        }
    }
}

/// What `mesh simulate` was asked.
#[derive(Debug, Clone)]
pub(crate) struct SimulateOptions {
    pub(crate) clients: usize,
    pub(crate) params: usize,
    pub(crate) dropout: f64,
    pub(crate) stage: Stage,
    pub(crate) coordinator: Option<String>,
    pub(crate) operator_token: Option<String>,
    pub(crate) threshold: Option<usize>,
    pub(crate) phase_ms: u64,
    pub(crate) seed: u64,
    /// Join the coordinator's current round (its settings) instead of starting one.
    pub(crate) join: bool,
    /// Noise multiplier of a round this command starts.
    pub(crate) noise_multiplier: f64,
    /// SecAgg+ neighbours of a round this command starts (`None`: the complete graph).
    pub(crate) neighbours: Option<usize>,
}

/// Per-stage figures, medians over the clients that took the stage.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StageReport {
    pub(crate) stage: &'static str,
    pub(crate) clients: usize,
    pub(crate) wall_s_median: f64,
    pub(crate) client_cpu_s_median: f64,
    pub(crate) upload_bytes_median: usize,
    pub(crate) download_bytes_median: usize,
}

/// The JSON `--json` writes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SimulateReport {
    pub(crate) clients: usize,
    pub(crate) params: usize,
    pub(crate) dropout: f64,
    pub(crate) dropped: usize,
    pub(crate) drop_stage: String,
    pub(crate) threshold: usize,
    pub(crate) completed: bool,
    pub(crate) outcome: String,
    pub(crate) model_version_before: u32,
    pub(crate) model_version_after: Option<u32>,
    pub(crate) round_wall_s: f64,
    /// The coordinator's CPU seconds over the round (`null` for a coordinator given by URL).
    pub(crate) server_cpu_s: Option<f64>,
    pub(crate) client_cpu_s_median: f64,
    pub(crate) upload_bytes_per_client: usize,
    pub(crate) download_bytes_per_client: usize,
    pub(crate) aggregate_max_abs_error: Option<f64>,
    /// With on-device noise: ε of the round (and of all noised rounds so far) at δ 1e-5.
    pub(crate) epsilon: Option<f64>,
    pub(crate) epsilon_total: Option<f64>,
    pub(crate) quantisation_error_bound: f64,
    pub(crate) stages: Vec<StageReport>,
}

#[derive(Debug, Default, Clone)]
struct ClientLog {
    /// Per stage: (wall seconds, CPU seconds, bytes up, bytes down); `None` when not taken.
    stages: [Option<(f64, f64, usize, usize)>; 5],
    survived: bool,
}

struct Http {
    agent: ureq::Agent,
    base: String,
    /// The device secret that signs every request (`Authorization: Mesh-Ed25519 …`), if any.
    device: Option<[u8; 32]>,
    up: usize,
    down: usize,
}

impl Http {
    fn new(base: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        Self {
            agent,
            base: base.trim_end_matches('/').to_owned(),
            device: None,
            up: 0,
            down: 0,
        }
    }

    /// The same client signing every request with the device secret `device`.
    fn signing_as(mut self, device: [u8; 32]) -> Self {
        self.device = Some(device);
        self
    }

    /// The `Authorization` header of a request, when this client signs.
    fn authorization(&self, method: &str, path: &str, body: &[u8]) -> Option<String> {
        let device = self.device.as_ref()?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Some(mesh_shared::RequestAuth::sign(device, method, path, now_ms, body).authorization)
    }

    fn get(&mut self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(authorization) = self.authorization("GET", path, b"") {
            request = request.header("authorization", authorization);
        }
        let mut response = request.call().with_context(|| format!("GET {path}"))?;
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()?;
        self.down += body.len();
        Ok((response.status().as_u16(), body))
    }

    fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> anyhow::Result<Vec<u8>> {
        self.up += body.len();
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        } else if let Some(authorization) = self.authorization("POST", path, body) {
            request = request.header("authorization", authorization);
        }
        let mut response = request.send(body).with_context(|| format!("POST {path}"))?;
        let answer = response.body_mut().read_to_vec()?;
        self.down += answer.len();
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            bail!(
                "POST {path}: {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        Ok(answer)
    }

    fn post_json(&mut self, path: &str, value: &impl Serialize) -> anyhow::Result<Vec<u8>> {
        let body = serde_json::to_vec(value)?;
        self.post(path, "application/json", &body, None)
    }

    /// Polls the round's status (every 100 ms) until it reaches `phase`, then reads `path`.
    fn wait_for(&mut self, path: &str, round: u64, phase: RoundPhase) -> anyhow::Result<Vec<u8>> {
        loop {
            let (_, current) = self.get("/v1/rounds/current")?;
            let status: RoundStatus = serde_json::from_slice(&current)?;
            if status.round != round {
                bail!("round {round} is over while waiting for {path}");
            }
            if status.phase >= phase {
                let (code, body) = self.get(path)?;
                ensure!(
                    code == 200,
                    "GET {path}: {code}: {}",
                    String::from_utf8_lossy(&body)
                );
                return Ok(body);
            }
            if status.outcome.is_some() {
                bail!("round {round} ended while waiting for {path}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// CPU seconds of the calling thread so far (`/proc/thread-self/stat`, clock ticks at 100 Hz).
fn thread_cpu_seconds() -> f64 {
    proc_cpu_seconds("/proc/thread-self/stat").unwrap_or(0.0)
}

fn proc_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct ChildCoordinator {
    child: Child,
    url: String,
    token: String,
    dir: PathBuf,
}

impl Drop for ChildCoordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_coordinator(seed: u64) -> anyhow::Result<ChildCoordinator> {
    let token = format!("simulate-{seed:x}-{}", std::process::id());
    // A fresh store, removed with the coordinator.
    let dir = std::env::temp_dir().join(format!("mesh-{token}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--addr", "127.0.0.1:0", "--demo-users", "0"])
        // Every simulated device connects from this machine: no per-address limit.
        .args(["--requests-per-ip-per-second", "0"])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--web-dir")
        .arg(dir.join("no-page"))
        .args(["--operator-token", &token])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting `mesh serve`")?;
    let stdout = child.stdout.take().context("the coordinator's stdout")?;
    let mut lines = BufReader::new(stdout);
    let mut url = None;
    let mut line = String::new();
    while url.is_none() && lines.read_line(&mut line)? > 0 {
        if line.contains("listening on") {
            url = line
                .split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(str::to_owned);
        }
        line.clear();
    }
    let url = url.context("the coordinator exited before saying where it listens")?;
    // Keep draining its log so that it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Ok(ChildCoordinator {
        child,
        url,
        token,
        dir,
    })
}

/// Runs the simulation and prints a per-stage table; returns the report.
///
/// # Errors
/// Bad options, or a coordinator that cannot be started or reached.
pub(crate) fn simulate(options: &SimulateOptions) -> anyhow::Result<SimulateReport> {
    let drop_stage = options.stage.index();
    ensure!(
        options.clients >= if options.join { 1 } else { 3 },
        "--clients: at least 3 for a round of its own, 1 to join one"
    );
    ensure!(
        (0.0..1.0).contains(&options.dropout),
        "--dropout: a share in [0, 1)"
    );
    ensure!(options.params > 0, "--params: at least 1");
    let threshold = options.threshold.unwrap_or(options.clients / 2 + 1);

    let child = match &options.coordinator {
        Some(_) => None,
        None => Some(start_coordinator(options.seed)?),
    };
    let (url, token) = match (&child, &options.coordinator) {
        (Some(c), _) => (c.url.clone(), Some(c.token.clone())),
        (None, Some(url)) => (url.clone(), options.operator_token.clone()),
        (None, None) => unreachable!("a coordinator is started when none is given"),
    };
    let server_pid = child.as_ref().map(|c| c.child.id());
    let server_cpu =
        |pid: Option<u32>| pid.and_then(|p| proc_cpu_seconds(&format!("/proc/{p}/stat")));

    let mut http = Http::new(&url);
    let (status, model) = http.get("/v1/model")?;
    ensure!(status == 200, "GET /v1/model answered {status}");
    let model = mesh_shared::ModelWeights::decode(&model)?;
    let cpu_before = server_cpu(server_pid);
    let started = Instant::now();
    let status: RoundStatus = if options.join {
        let (code, body) = http.get("/v1/rounds/current")?;
        ensure!(
            code == 200,
            "no round to join: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body)?
    } else {
        let settings = RoundSettings {
            phase_ms: options.phase_ms,
            noise_multiplier: options.noise_multiplier,
            neighbours: options.neighbours,
            // The simulated devices register just before the round.
            min_account_age_ms: 0,
            ..RoundSettings::new(options.params, threshold, options.clients)
        };
        let body = serde_json::to_vec(&settings)?;
        serde_json::from_slice(&http.post(
            "/v1/rounds",
            "application/json",
            &body,
            token.as_deref(),
        )?)?
    };
    ensure!(
        status.outcome.is_none(),
        "round {} is over: {:?}",
        status.round,
        status.outcome
    );
    let settings = status.settings;
    let (threshold, params) = (settings.threshold, settings.dimension);
    let quantizer = settings.quantizer()?;
    let round = status.round;
    let model_version = status.model_version;
    eprintln!(
        "round {round} on model v{model_version}: {} of {} clients, {params} parameters, threshold {threshold}",
        options.clients, settings.expected_clients
    );

    let mut rng = ChaCha20Rng::seed_from_u64(options.seed);
    let dropped_count = (options.clients as f64 * options.dropout).round() as usize;
    let mut order: Vec<usize> = (0..options.clients).collect();
    rand::seq::SliceRandom::shuffle(order.as_mut_slice(), &mut rng);
    let dropped: BTreeSet<usize> = order[..dropped_count].iter().copied().collect();
    // Random directions with L2 norms spread over [0, 1.25 × clip]: a fifth of the updates
    // are clipped by their clients.
    let inputs: Vec<Vec<f32>> = (0..options.clients)
        .map(|_| {
            let direction: Vec<f32> = (0..params).map(|_| rng.random::<f32>() - 0.5).collect();
            let norm = direction
                .iter()
                .map(|x| x * x)
                .sum::<f32>()
                .sqrt()
                .max(1e-12);
            let length = rng.random::<f32>() * 1.25 * settings.clip;
            direction.iter().map(|x| x / norm * length).collect()
        })
        .collect();
    // What the sum holds of each input: the input clipped to the round's L2 bound.
    let clipped_inputs: Vec<Vec<f32>> = inputs
        .iter()
        .map(|input| {
            let norm = input.iter().map(|x| x * x).sum::<f32>().sqrt();
            let scale = if norm > settings.clip {
                settings.clip / norm
            } else {
                1.0
            };
            input.iter().map(|x| x * scale).collect()
        })
        .collect();
    let seeds: Vec<u64> = (0..options.clients).map(|_| rng.random()).collect();

    let logs: Vec<anyhow::Result<ClientLog>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..options.clients)
            .map(|at| {
                let (url, input, seed, status) = (&url, &inputs[at], seeds[at], &status);
                let stop_before = dropped.contains(&at).then_some(drop_stage);
                std::thread::Builder::new()
                    .stack_size(4 << 20)
                    .spawn_scoped(scope, move || {
                        run_client(url, status, input, seed, stop_before)
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a client thread panicked"))),
                Err(e) => Err(e.into()),
            })
            .collect()
    });
    // Wait for the round to end (the last phase may close at its deadline).
    let final_status = loop {
        let (_, body) = http.get("/v1/rounds/current")?;
        let status: RoundStatus = serde_json::from_slice(&body)?;
        if status.outcome.is_some() || status.round != round {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let round_wall_s = started.elapsed().as_secs_f64();
    let server_cpu_s = match (cpu_before, server_cpu(server_pid)) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let mut failures = Vec::new();
    let logs: Vec<ClientLog> = logs
        .into_iter()
        .enumerate()
        .filter_map(|(at, log)| match log {
            Ok(log) => Some(log),
            Err(error) => {
                failures.push(format!("client {}: {error:#}", at + 1));
                None
            }
        })
        .collect();
    for failure in failures.iter().take(5) {
        eprintln!("{failure}");
    }

    let (epsilon, epsilon_total) = match &final_status.outcome {
        Some(mesh_coordinator::RoundOutcome::Applied {
            epsilon,
            epsilon_total,
            ..
        }) => (*epsilon, *epsilon_total),
        _ => (None, None),
    };
    let (completed, outcome, model_version_after) = match &final_status.outcome {
        Some(mesh_coordinator::RoundOutcome::Applied {
            new_model_version, ..
        }) => (true, "applied".to_owned(), Some(*new_model_version)),
        Some(mesh_coordinator::RoundOutcome::Aborted { reason }) => {
            (false, format!("aborted: {reason}"), None)
        }
        None => (false, "did not end".to_owned(), None),
    };
    let survivors: Vec<usize> = (0..options.clients)
        .filter(|at| !(dropped.contains(at) && drop_stage <= 2))
        .collect();
    // Joining a round, the other clients' inputs are unknown here.
    let aggregate_max_abs_error = if completed && !options.join {
        let (status, bytes) = http.get(&format!("/v1/rounds/{round}/result"))?;
        ensure!(status == 200, "GET the round's result answered {status}");
        let applied: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let mut worst = 0.0f64;
        for (i, value) in applied.iter().enumerate() {
            let expected: f64 = survivors
                .iter()
                .map(|at| f64::from(clipped_inputs[*at][i]))
                .sum::<f64>()
                / survivors.len() as f64;
            worst = worst.max((f64::from(*value) - expected).abs());
        }
        Some(worst)
    } else {
        None
    };

    let surviving_logs: Vec<&ClientLog> = logs.iter().filter(|l| l.survived).collect();
    let total = |log: &ClientLog, pick: fn(&(f64, f64, usize, usize)) -> f64| -> f64 {
        log.stages.iter().flatten().map(pick).sum()
    };
    let median = |mut values: Vec<f64>| -> f64 {
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    };
    let stages: Vec<StageReport> = STAGES
        .iter()
        .enumerate()
        .map(|(s, name)| {
            let taken: Vec<(f64, f64, usize, usize)> =
                logs.iter().filter_map(|l| l.stages[s]).collect();
            StageReport {
                stage: name,
                clients: taken.len(),
                wall_s_median: median(taken.iter().map(|t| t.0).collect()),
                client_cpu_s_median: median(taken.iter().map(|t| t.1).collect()),
                upload_bytes_median: median(taken.iter().map(|t| t.2 as f64).collect()) as usize,
                download_bytes_median: median(taken.iter().map(|t| t.3 as f64).collect()) as usize,
            }
        })
        .collect();
    let report = SimulateReport {
        clients: options.clients,
        params,
        dropout: options.dropout,
        dropped: dropped.len(),
        drop_stage: STAGES[drop_stage].to_owned(),
        threshold,
        completed,
        outcome,
        model_version_before: model.version(),
        model_version_after,
        round_wall_s,
        server_cpu_s,
        client_cpu_s_median: median(surviving_logs.iter().map(|l| total(l, |t| t.1)).collect()),
        upload_bytes_per_client: median(
            surviving_logs
                .iter()
                .map(|l| total(l, |t| t.2 as f64))
                .collect(),
        ) as usize,
        download_bytes_per_client: median(
            surviving_logs
                .iter()
                .map(|l| total(l, |t| t.3 as f64))
                .collect(),
        ) as usize,
        aggregate_max_abs_error,
        epsilon,
        epsilon_total,
        quantisation_error_bound: f64::from(quantizer.max_sum_error(survivors.len() as u32))
            / survivors.len().max(1) as f64,
        stages,
    };
    println!(
        "| stage | clients | wall s (median) | client CPU s (median) | up B (median) | down B (median) |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for s in &report.stages {
        println!(
            "| {} | {} | {:.3} | {:.3} | {} | {} |",
            s.stage,
            s.clients,
            s.wall_s_median,
            s.client_cpu_s_median,
            s.upload_bytes_median,
            s.download_bytes_median
        );
    }
    println!(
        "\n{}: {} of {} clients dropped before {}; round {:.2} s wall; coordinator CPU {}; client CPU {:.3} s (median); {} B up, {} B down per client; aggregate max |error| {}",
        report.outcome,
        report.dropped,
        report.clients,
        report.drop_stage,
        report.round_wall_s,
        report
            .server_cpu_s
            .map_or_else(|| "n/a".to_owned(), |s| format!("{s:.2} s")),
        report.client_cpu_s_median,
        report.upload_bytes_per_client,
        report.download_bytes_per_client,
        report
            .aggregate_max_abs_error
            .map_or_else(|| "n/a".to_owned(), |e| format!("{e:.3e}")),
    );
    Ok(report)
}

/// One client's round; `stop_before` is the stage it drops out before.
fn run_client(
    url: &str,
    status: &RoundStatus,
    update: &[f32],
    seed: u64,
    stop_before: Option<usize>,
) -> anyhow::Result<ClientLog> {
    let (round, model_version) = (status.round, status.model_version);
    let threshold = status.settings.threshold;
    let privacy = status.settings.privacy();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut http = Http::new(url).signing_as(rng.random());
    http.post("/v1/identities", "application/json", b"{}", None)?;
    (http.up, http.down) = (0, 0);
    let mut log = ClientLog::default();
    let step = |log: &mut ClientLog,
                http: &mut Http,
                stage: usize,
                work: &mut dyn FnMut(&mut Http) -> anyhow::Result<()>|
     -> anyhow::Result<bool> {
        if stop_before == Some(stage) {
            return Ok(false);
        }
        let (wall, cpu, up, down) = (Instant::now(), thread_cpu_seconds(), http.up, http.down);
        work(http)?;
        log.stages[stage] = Some((
            wall.elapsed().as_secs_f64(),
            thread_cpu_seconds() - cpu,
            http.up - up,
            http.down - down,
        ));
        Ok(true)
    };

    let mut client: Option<ClientRound> = None;
    let proceed = step(&mut log, &mut http, 0, &mut |http| {
        let RoundJoined { client: id } = serde_json::from_slice(&http.post_json(
            &format!("/v1/rounds/{round}/join"),
            &RoundJoin { model_version },
        )?)?;
        let mut c = ClientRound::new(round, model_version, id, threshold, &mut rng)?;
        if let Some(k) = status.settings.neighbours {
            c = c.sparse(k, status.settings.share_threshold())?;
        }
        http.post_json(
            &format!("/v1/rounds/{round}/keys"),
            &RoundKeysMessage {
                model_version,
                keys: c.advertise(),
            },
        )?;
        client = Some(c);
        Ok(())
    })?;
    let Some(mut client) = client.filter(|_| proceed) else {
        return Ok(log);
    };
    let id = client.client();
    if !step(&mut log, &mut http, 1, &mut |http| {
        let roster: Vec<SignedRoundKeys> = serde_json::from_slice(&http.wait_for(
            &format!("/v1/rounds/{round}/roster"),
            round,
            RoundPhase::ShareKeys,
        )?)?;
        let shares = client.share_keys(&roster, &mut rng)?;
        http.post_json(
            &format!("/v1/rounds/{round}/shares"),
            &RoundSharesMessage {
                model_version,
                client: id,
                shares,
            },
        )?;
        Ok(())
    })? {
        return Ok(log);
    }
    if !step(&mut log, &mut http, 2, &mut |http| {
        let mailbox: Vec<EncryptedShares> = serde_json::from_slice(&http.wait_for(
            &format!("/v1/rounds/{round}/mailbox/{id}"),
            round,
            RoundPhase::MaskedInput,
        )?)?;
        let input = privacy.prepare(update, &mut rng)?;
        let masked = client.masked_input(&mailbox, &input.values)?;
        let bytes: Vec<u8> = masked.iter().flat_map(|v| v.to_le_bytes()).collect();
        http.post(
            &format!("/v1/rounds/{round}/input?client={id}&model_version={model_version}"),
            "application/octet-stream",
            &bytes,
            None,
        )?;
        Ok(())
    })? {
        return Ok(log);
    }
    log.survived = true;
    if !step(&mut log, &mut http, 3, &mut |http| {
        let survivors: BTreeSet<u32> = serde_json::from_slice(&http.wait_for(
            &format!("/v1/rounds/{round}/survivors"),
            round,
            RoundPhase::ConsistencyCheck,
        )?)?;
        let signature = client.consistency_signature(&survivors)?;
        http.post_json(
            &format!("/v1/rounds/{round}/signature"),
            &RoundSignatureMessage {
                model_version,
                signature,
            },
        )?;
        Ok(())
    })? {
        return Ok(log);
    }
    step(&mut log, &mut http, 4, &mut |http| {
        let signatures: Vec<SurvivorSignature> = serde_json::from_slice(&http.wait_for(
            &format!("/v1/rounds/{round}/signatures"),
            round,
            RoundPhase::Unmasking,
        )?)?;
        let shares: UnmaskingShares = client.unmasking_shares(&signatures)?;
        http.post_json(
            &format!("/v1/rounds/{round}/unmask"),
            &RoundUnmaskMessage {
                model_version,
                client: id,
                shares,
            },
        )?;
        Ok(())
    })?;
    Ok(log)
}

/// Where `--json` goes, created with its parent directories.
pub(crate) fn write_json(path: &PathBuf, report: &SimulateReport) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", path.display()))
}

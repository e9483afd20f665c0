//! `mesh simulate-days`: a synthetic population uses the whole coordinator (its HTTP API, in
//! process, with a simulated clock) over simulated days, so the dashboard has real numbers on
//! a fresh machine. People register over the first days, publish taste vectors from the demo
//! population, and on the days they come back ask for suggestions (signed: the running
//! experiment applies), ask some for an introduction, accept or decline what they were asked,
//! write to the people they met, and now and then report or block. Whether someone comes back
//! depends on what discovery gave them lately (an accepted introduction or a conversation), so
//! differences between the experiment's cohorts come out of the mechanism, not a constant.
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, ensure};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use mesh_coordinator::{
    AppConfig, AppState, Clock, DAY_MS, Experiment, RedbStore, Store, current_model, daily_metrics,
    demo_population,
};
use mesh_models::Catalogue;
use mesh_shared::{CandidatesRequest, CandidatesResponse, RequestAuth, UserId};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tower::ServiceExt;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Simulated days.
    #[arg(long, default_value_t = 45)]
    pub(crate) days: u64,
    /// People in the population.
    #[arg(long, default_value_t = 300)]
    pub(crate) people: usize,
    /// A fresh directory for the store (then `mesh serve --data-dir` it).
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// Seed of the population and its choices.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// First simulated day, in days since the Unix epoch (default 20727: 2026-10-01).
    #[arg(long, default_value_t = 20_727)]
    pub(crate) start_day: u64,
}

pub(crate) async fn run(args: Args) -> anyhow::Result<()> {
    simulate_days(&SimulateDaysOptions {
        days: args.days,
        people: args.people,
        data_dir: args.data_dir,
        seed: args.seed,
        start_ms: args.start_day * DAY_MS,
    })
    .await
}

/// What `mesh simulate-days` was asked.
#[derive(Debug, Clone)]
pub(crate) struct SimulateDaysOptions {
    pub(crate) days: u64,
    pub(crate) people: usize,
    pub(crate) data_dir: PathBuf,
    pub(crate) seed: u64,
    /// Unix ms of the first simulated day's midnight.
    pub(crate) start_ms: u64,
}

/// The simulated clock: set by the simulation, read by the coordinator.
#[derive(Debug)]
struct SimClock(AtomicU64);

impl Clock for SimClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl SimClock {
    fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }

    /// A fresh timestamp one millisecond on (signatures need increasing timestamps).
    fn tick(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

struct Person {
    secret: [u8; 32],
    user: UserId,
    registered_day: u64,
    /// Last day something good came of discovery (an accepted introduction, a message).
    last_good_day: Option<u64>,
}

struct Sim {
    router: axum::Router,
    clock: Arc<SimClock>,
    requests: u64,
    refused: HashMap<StatusCode, u64>,
}

impl Sim {
    async fn send(
        &mut self,
        person: &Person,
        method: Method,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let ts = self.clock.tick();
        let signed = RequestAuth::sign(&person.secret, method.as_str(), path, ts, &body);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", signed.authorization)
            .header("content-type", "application/json")
            .body(Body::from(body))?;
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        self.requests += 1;
        if !status.is_success() {
            *self.refused.entry(status).or_default() += 1;
        }
        Ok((status, bytes.to_vec()))
    }
}

/// Runs the simulation into `options.data_dir`; prints a summary.
pub(crate) async fn simulate_days(options: &SimulateDaysOptions) -> anyhow::Result<()> {
    ensure!(options.people >= 10, "--people: at least 10");
    ensure!(options.days >= 2, "--days: at least 2");
    std::fs::create_dir_all(&options.data_dir)
        .with_context(|| format!("creating {}", options.data_dir.display()))?;
    let store = Arc::new(RedbStore::open(&options.data_dir)?);
    ensure!(
        store.events()?.is_empty(),
        "{} already holds events: simulate into a fresh directory",
        options.data_dir.display()
    );
    let model = current_model(store.as_ref())?;
    let clock = Arc::new(SimClock(AtomicU64::new(options.start_ms)));
    let state = AppState::open(store.clone(), clock.clone(), Vec::new())?;
    let experiment = Experiment::discovery();
    let router = mesh_coordinator::app(
        state,
        &AppConfig {
            experiment: Some(experiment.clone()),
            ..AppConfig::default()
        },
    );
    let mut sim = Sim {
        router,
        clock: clock.clone(),
        requests: 0,
        refused: HashMap::new(),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(options.seed);
    let uploads = demo_population(Catalogue::embedded(), &model, options.people, options.seed)?;
    // Half register on day 0, the rest over the first third of the run.
    let joining_days = (options.days / 3).max(1);
    let mut people: Vec<Person> = (0..options.people)
        .map(|i| {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            let user = UserId::from_public_key(&RequestAuth::public_key_from_secret(&secret));
            let registered_day = if i % 2 == 0 {
                0
            } else {
                rng.random_range(0..joining_days)
            };
            Person {
                secret,
                user,
                registered_day,
                last_good_day: None,
            }
        })
        .collect();
    let by_user: HashMap<UserId, usize> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.user.clone(), i))
        .collect();
    // Pending introductions (from, to) and ties with the day they were made.
    let mut pending: Vec<(usize, usize)> = Vec::new();
    let mut ties: HashMap<(usize, usize), u64> = HashMap::new();
    let mut scores: HashMap<(usize, usize), f32> = HashMap::new();
    let mut blocked: HashSet<(usize, usize)> = HashSet::new();

    for day in 0..options.days {
        let midnight = options.start_ms + day * DAY_MS;
        // Morning: newcomers register and publish.
        clock.set(midnight + 8 * 3_600_000);
        for (i, upload) in uploads.iter().enumerate() {
            if people[i].registered_day != day {
                continue;
            }
            let person = &people[i];
            sim.send(person, Method::POST, "/v1/identities", Vec::new())
                .await?;
            let path = format!("/v1/profiles/{}", person.user);
            let body = serde_json::to_vec(&upload.upload)?;
            let (status, text) = sim.send(person, Method::PUT, &path, body).await?;
            ensure!(
                status.is_success(),
                "publishing {}: {status} {}",
                person.user,
                String::from_utf8_lossy(&text)
            );
            // People they already know (not from suggestions): up to two of those already
            // here, introduced and accepted outside discovery.
            let known: Vec<usize> = (0..people.len())
                .filter(|&j| {
                    j != i
                        && people[j].registered_day < day.max(1)
                        && people[j].registered_day <= day
                })
                .collect();
            for _ in 0..rng.random_range(0..3) {
                let Some(&j) = known.get(rng.random_range(0..known.len().max(1))) else {
                    break;
                };
                if ties.contains_key(&(i.min(j), i.max(j))) {
                    continue;
                }
                let body = serde_json::to_vec(&serde_json::json!({ "to": people[j].user }))?;
                let (status, _) = sim
                    .send(&people[i], Method::POST, "/v1/introductions", body)
                    .await?;
                if status.is_success() {
                    let path = format!("/v1/introductions/{}/accept", people[i].user);
                    let (status, _) = sim
                        .send(&people[j], Method::POST, &path, Vec::new())
                        .await?;
                    if status.is_success() {
                        ties.insert((i.min(j), i.max(j)), day);
                    }
                }
            }
        }
        // Evening: who comes back today.
        clock.set(midnight + 19 * 3_600_000);
        let mut order: Vec<usize> = (0..people.len())
            .filter(|&i| people[i].registered_day <= day)
            .collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for i in order {
            let person = &people[i];
            let recently_good = person.last_good_day.is_some_and(|d| day - d <= 7);
            let comes_back = if person.registered_day == day {
                1.0
            } else if recently_good {
                0.75
            } else {
                0.3
            };
            if rng.random::<f64>() >= comes_back {
                continue;
            }
            // Answer the introductions waiting for this person.
            let mine: Vec<(usize, usize)> =
                pending.iter().copied().filter(|&(_, to)| to == i).collect();
            pending.retain(|&(_, to)| to != i);
            for (from, to) in mine {
                let score = scores.get(&(from, to)).copied().unwrap_or(0.0);
                if rng.random::<f64>() < 0.35 + 0.5 * f64::from(score.max(0.0)) {
                    let path = format!("/v1/introductions/{}/accept", people[from].user);
                    let (status, _) = sim
                        .send(&people[to], Method::POST, &path, Vec::new())
                        .await?;
                    if status.is_success() {
                        ties.insert((from.min(to), from.max(to)), day);
                        people[from].last_good_day = Some(day);
                        people[to].last_good_day = Some(day);
                    }
                } else if rng.random::<f64>() < 0.04 {
                    let kind = if rng.random::<bool>() {
                        "/v1/reports"
                    } else {
                        "/v1/blocks"
                    };
                    let body = if kind == "/v1/reports" {
                        serde_json::json!({ "target": people[from].user, "reason": "unwanted introduction" })
                    } else {
                        serde_json::json!({ "target": people[from].user })
                    };
                    sim.send(&people[to], Method::POST, kind, serde_json::to_vec(&body)?)
                        .await?;
                    blocked.insert((from.min(to), from.max(to)));
                }
            }
            // Suggestions, signed: the experiment's cohort decides what is served.
            let request = CandidatesRequest {
                model_version: model.version(),
                taste_vector: uploads[i].upload.taste_vector.clone(),
                k: 10,
                exclude: None,
            };
            let (status, body) = sim
                .send(
                    &people[i],
                    Method::POST,
                    "/v1/discovery/candidates",
                    serde_json::to_vec(&request)?,
                )
                .await?;
            if status.is_success() {
                let response: CandidatesResponse = serde_json::from_slice(&body)?;
                for candidate in response.candidates.iter().take(5) {
                    let Some(&j) = by_user.get(&candidate.user_id) else {
                        continue;
                    };
                    if rng.random::<f64>() < 0.12 + 0.25 * f64::from(candidate.score.max(0.0)) {
                        let body =
                            serde_json::to_vec(&serde_json::json!({ "to": candidate.user_id }))?;
                        let (status, _) = sim
                            .send(&people[i], Method::POST, "/v1/introductions", body)
                            .await?;
                        if status.is_success() {
                            pending.push((i, j));
                            scores.insert((i, j), candidate.score);
                        }
                        break;
                    }
                }
            }
            // Conversations in the first week of each tie.
            let open: Vec<(usize, usize)> = ties
                .iter()
                .filter(|((a, b), since)| {
                    (*a == i || *b == i) && day - **since <= 7 && !blocked.contains(&(*a, *b))
                })
                .map(|(pair, _)| *pair)
                .collect();
            for (a, b) in open {
                let other = if a == i { b } else { a };
                for _ in 0..rng.random_range(0..3) {
                    let body =
                        serde_json::to_vec(&serde_json::json!({ "to": people[other].user }))?;
                    let (status, _) = sim
                        .send(&people[i], Method::POST, "/v1/messages", body)
                        .await?;
                    if status.is_success() {
                        people[i].last_good_day = Some(day);
                    }
                }
            }
        }
    }

    let events = store.events()?;
    let days = daily_metrics(&events, &experiment);
    println!(
        "simulated {} days of {} people: {} requests ({} refused: {:?}), {} events in {}",
        options.days,
        options.people,
        sim.requests,
        sim.refused.values().sum::<u64>(),
        sim.refused,
        events.len(),
        options.data_dir.display()
    );
    println!(
        "| day | pairs suggested | accepted | introductions | depth | retention lift | diversity before → after | incidents /1000 |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let fmt =
        |v: Option<f64>, digits: usize| v.map_or("–".to_owned(), |v| format!("{v:.digits$}"));
    for m in &days {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} → {} | {} |",
            m.day,
            m.pairs_suggested,
            fmt(m.introductions_accepted, 3),
            m.introductions,
            fmt(m.conversation_depth, 2),
            fmt(m.retention_lift, 1),
            fmt(m.diversity_before, 2),
            fmt(m.diversity_after, 2),
            fmt(m.safety_incidents_per_1000, 1)
        );
    }
    Ok(())
}

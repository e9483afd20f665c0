//! `mesh train`: the next model version, trained federatedly with every dataset user a
//! simulated client, saved as the current model of a store.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use mesh_coordinator::{Event, ModelEvent, RedbStore, ServerOptimizer, Store, current_model};
use mesh_lab::{ContentOptions, Dataset, DpOptions, EvalOptions, TrainOptions, train};
use mesh_models::{Catalogue, LocalTrainingOptions};

/// The server optimiser, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Optimizer {
    /// `w += lr · mean update` (lr 1 is plain averaging).
    Fedavg,
    /// Adam on the negated mean update (Reddi et al. 2021).
    Fedadam,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Dataset directory in the interactions.tsv / items.tsv layout.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Store whose current model the trained one replaces (its version + 1).
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// Rounds of subspace iteration.
    #[arg(long, default_value_t = 5)]
    pub(crate) rounds: u32,
    /// Rows of the hashed table.
    #[arg(long, default_value_t = 16_384)]
    pub(crate) buckets: u32,
    /// Leading directions kept (at most 256; fewer suit small datasets).
    #[arg(long, default_value_t = 256)]
    pub(crate) rank: usize,
    /// Per-client L2 clip of the update.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) clip: f32,
    /// Train the central reference (no clipping) instead of the federated model.
    #[arg(long)]
    pub(crate) central: bool,
    /// Leave out the favourites `mesh eval` hides on a dataset without ties (same seed).
    #[arg(long)]
    pub(crate) hold_out: bool,
    /// Rounds of on-device fine-tuning (candle BPR, every client) after the subspace rounds.
    #[arg(long, default_value_t = 0)]
    pub(crate) local_rounds: u32,
    /// Local epochs per fine-tuning round.
    #[arg(long, default_value_t = 1)]
    pub(crate) local_epochs: u32,
    /// Local SGD step size.
    #[arg(long, default_value_t = 0.5)]
    pub(crate) local_lr: f32,
    /// L2 clip of each client's fine-tuning update.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) local_clip: f32,
    /// How the coordinator applies the mean update.
    #[arg(long, value_enum, default_value_t = Optimizer::Fedavg)]
    pub(crate) server_optimizer: Optimizer,
    /// Server learning rate.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) server_lr: f32,
    /// Differential privacy: noise multiplier z of every round's sum (distributed discrete
    /// Gaussian, σ = z × the round's L2 sensitivity); 0 for none.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) dp_noise_multiplier: f64,
    /// δ of the reported (ε, δ).
    #[arg(long, default_value_t = 1e-5)]
    pub(crate) dp_delta: f64,
    /// FedAdam's adaptivity floor τ (about the size of a mean update's coordinates).
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) server_tau: f32,
    /// Content embeddings of the dataset's items (`cargo xtask embed`): fit the content
    /// tower from them in a last round.
    #[arg(long)]
    pub(crate) content: Option<PathBuf>,
    /// Weight of the content half of an item's vector.
    #[arg(long, default_value_t = ContentOptions::default().share)]
    pub(crate) content_share: f32,
    /// Ridge of the content tower's least-squares fit (relative to the mean diagonal).
    #[arg(long, default_value_t = ContentOptions::default().ridge)]
    pub(crate) content_ridge: f64,
    /// Share of the items no client trains on (seeded by item id): the cold-start experiment.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) cold_items: f64,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
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
        server_optimizer: match args.server_optimizer {
            Optimizer::Fedavg => ServerOptimizer::FedAvg {
                learning_rate: args.server_lr,
            },
            Optimizer::Fedadam => ServerOptimizer::FedAdam {
                learning_rate: args.server_lr,
                beta1: 0.9,
                beta2: 0.99,
                tau: args.server_tau,
            },
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
    store.append_event(
        None,
        &Event::from(ModelEvent::ModelVersioned {
            version: report.model.version(),
            at_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis() as u64,
            source: "mesh train".to_owned(),
            figures,
        }),
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

//! `mesh eval`: the reference protocol of `../shared/data/FORMAT.md` on a dataset; setting B
//! runs the served candidate pipeline.
use std::path::PathBuf;

use anyhow::Context;
use mesh_coordinator::{Event, ModelEvent, RedbStore, Store, current_model};
use mesh_lab::{Dataset, EvalOptions, EvalSetting, evaluate};
use mesh_models::Catalogue;

/// The protocol's setting on a dataset with ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Setting {
    /// Taste only.
    A,
    /// 20% of ties hidden, the rest usable.
    B,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Dataset directory in the interactions.tsv / items.tsv / edges.tsv layout.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Score the current model of this store instead of the version-1 model.
    #[arg(long)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Setting of the protocol on a dataset with ties: a (taste only) or b (20% of ties
    /// hidden, the rest usable). Ignored without ties.
    #[arg(long, value_enum, default_value_t = Setting::A)]
    pub(crate) setting: Setting,
    /// Also write the results as JSON to this file: one object per method, keyed by method
    /// (`mesh` is the project's own), each with the metric names as keys.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Also write a Markdown report with SVG plots (beside it) to this file.
    #[arg(long)]
    pub(crate) report: Option<PathBuf>,
    /// Seed of the splits.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Content embeddings of the dataset's items (`cargo xtask embed`), used by a model with a
    /// content tower as the devices would use theirs.
    #[arg(long)]
    pub(crate) content: Option<PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
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
    let setting = match args.setting {
        Setting::A => EvalSetting::A,
        Setting::B => EvalSetting::B,
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
        store.append_event(
            None,
            &Event::from(ModelEvent::ModelEvaluated {
                version: model.version(),
                at_ms: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis() as u64,
                figures,
            }),
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

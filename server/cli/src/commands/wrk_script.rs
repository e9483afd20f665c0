//! `mesh wrk-script`: a wrk Lua script that POSTs discovery queries (taste vectors of fresh
//! demo people under the store's current model) for `cargo xtask loadtest`.
use std::path::PathBuf;

use anyhow::Context;
use mesh_coordinator::{RedbStore, current_model, demo_population};
use mesh_models::Catalogue;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory of the store whose current model the queries use.
    #[arg(long)]
    pub(crate) data_dir: PathBuf,
    /// Distinct queries, sent round-robin.
    #[arg(long, default_value_t = 64)]
    pub(crate) count: usize,
    /// Candidates asked for per query.
    #[arg(long, default_value_t = 20)]
    pub(crate) k: u32,
    /// Where to write the script.
    #[arg(long)]
    pub(crate) out: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
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

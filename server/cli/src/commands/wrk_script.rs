//! `mesh wrk-script`: a wrk Lua script that POSTs discovery queries (taste vectors of fresh
//! demo people under the store's current model) for `cargo xtask loadtest`. Discovery answers
//! registered identities only: each query's person is registered in the store, and its request
//! is signed now (reads are valid while within the coordinator's clock skew, 5 minutes), so the
//! load test runs against the same checks as people.
use std::path::PathBuf;

use anyhow::Context;
use mesh_coordinator::{RedbStore, Store, current_model, demo_population};
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
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nrequests = {\n",
    );
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as u64;
    for (i, person) in people.iter().enumerate() {
        let body = mesh_shared::CandidatesRequest {
            model_version: model.version(),
            taste_vector: person.upload.taste_vector.clone(),
            k: args.k,
            exclude: None,
        };
        let body = serde_json::to_string(&body)?;
        let mut secret = [0x5a_u8; 32];
        secret[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
        let public_key = mesh_shared::RequestAuth::public_key_from_secret(&secret);
        let user = mesh_shared::UserId::from_public_key(&public_key);
        store.register(&user, &public_key, now_ms)?;
        let path = "/v1/discovery/candidates";
        let signed =
            mesh_shared::RequestAuth::sign(&secret, "POST", path, now_ms + 1, body.as_bytes());
        script.push_str(&format!(
            "  {{ [[{}]], [[{body}]] }},\n",
            signed.authorization
        ));
    }
    script.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  local r = requests[(counter % #requests) + 1]\n  return wrk.format(nil, nil, { [\"Authorization\"] = r[1] }, r[2])\nend\n",
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

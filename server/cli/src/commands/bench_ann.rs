//! `mesh bench-ann`: builds the discovery index from raw f32 rows and times single-threaded
//! queries against exact neighbours (the files `../shared/bench/ann_bench.py` writes).
use std::path::PathBuf;

use anyhow::Context;
use mesh_ann::{Hnsw, HnswParams};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Base vectors: little-endian f32 rows of `--dim`.
    #[arg(long)]
    pub(crate) base: PathBuf,
    /// Query vectors: little-endian f32 rows of `--dim`.
    #[arg(long)]
    pub(crate) queries: PathBuf,
    /// Exact neighbours: little-endian i64 rows of 10 base row indices per query.
    #[arg(long)]
    pub(crate) gt: PathBuf,
    /// Values per vector.
    #[arg(long, default_value_t = 256)]
    pub(crate) dim: usize,
    /// Links per node (2M on layer 0).
    #[arg(long, default_value_t = 16)]
    pub(crate) m: usize,
    /// Candidate list size while building.
    #[arg(long, default_value_t = 128)]
    pub(crate) efc: usize,
    /// Candidate list sizes to query with, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    pub(crate) ef: Vec<usize>,
    /// Use only the first N base rows (the ground truth must refer to them).
    #[arg(long)]
    pub(crate) limit: Option<usize>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
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
    let mut index = Hnsw::<u32>::new(HnswParams {
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

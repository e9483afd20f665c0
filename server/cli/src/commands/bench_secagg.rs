//! `mesh bench-secagg`: one secure-aggregation round with simulated clients in process (real
//! keys, shares and masks), clients and coordinator timed apart.
use mesh_lab::simulate_round;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Clients in the round.
    #[arg(long, default_value_t = 100)]
    pub(crate) clients: usize,
    /// Coordinates of each input.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) dimension: usize,
    /// Share of clients that drop out after sharing keys (before sending their input).
    #[arg(long, default_value_t = 0.1)]
    pub(crate) dropout: f64,
    /// Threshold (default: more than half of the clients).
    #[arg(long)]
    pub(crate) threshold: Option<usize>,
    /// Repetitions.
    #[arg(long, default_value_t = 3)]
    pub(crate) reps: u32,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
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

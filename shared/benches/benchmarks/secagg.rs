//! Secure-aggregation arithmetic of one round: masking one client's update against its peers
//! and unmasking the coordinator's sum, for 100 clients and d = 256.
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use mesh_shared::secagg::{
    Quantizer, mask_input, mask_public_key, pairwise_seed, remove_self_masks,
};

const CLIENTS: u32 = 100;
const DIM: usize = 256;

fn secagg(c: &mut Criterion) {
    let mut group = c.benchmark_group("secagg");
    let secrets: Vec<[u8; 32]> = (0..CLIENTS).map(|i| [i as u8 + 1; 32]).collect();
    let publics: Vec<[u8; 32]> = secrets.iter().map(mask_public_key).collect();
    let quantizer = Quantizer::new(1.0, CLIENTS).expect("a valid quantiser");
    let update: Vec<f32> = (0..DIM).map(|i| (i as f32 / DIM as f32) - 0.5).collect();
    let input = quantizer.quantize(&update).values;
    let peers: Vec<(u32, [u8; 32])> = (1..CLIENTS)
        .map(|j| {
            (
                j,
                pairwise_seed(&secrets[0], &publics[j as usize]).expect("contributory"),
            )
        })
        .collect();
    group.throughput(Throughput::Elements(u64::from(CLIENTS - 1)));
    group.bench_function("SecAgg key agreement with 99 peers (one client)", |b| {
        b.iter(|| {
            (1..CLIENTS as usize)
                .map(|j| pairwise_seed(&secrets[0], black_box(&publics[j])))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function(
        "SecAgg masking of a d=256 update against 99 peers (one client)",
        |b| b.iter(|| mask_input(black_box(&input), 0, &[9; 32], &peers, 1)),
    );
    let self_seeds: Vec<[u8; 32]> = (0..CLIENTS).map(|i| [i as u8; 32]).collect();
    group.throughput(Throughput::Elements(u64::from(CLIENTS)));
    group.bench_function(
        "SecAgg removing 100 self masks from a d=256 sum (coordinator)",
        |b| {
            b.iter(|| {
                let mut sum = vec![0u32; DIM];
                remove_self_masks(black_box(&mut sum), &self_seeds, 1);
                sum
            })
        },
    );
    group.finish();
}

criterion_group!(benches, secagg);

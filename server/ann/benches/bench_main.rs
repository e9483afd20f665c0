//! The index's kernels and walk on clustered unit vectors (256-d, the taste vector's size).
#![allow(clippy::expect_used)]
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mesh_ann::{Hnsw, HnswParams, inner_product};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DIM: usize = 256;

fn unit_vectors(n: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> = (0..64)
        .map(|_| (0..DIM).map(|_| rng.random::<f32>() - 0.5).collect())
        .collect();
    (0..n)
        .map(|i| {
            let mut v: Vec<f32> = centres[i % centres.len()]
                .iter()
                .map(|x| x + 0.2 * (rng.random::<f32>() - 0.5))
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

fn kernels(c: &mut Criterion) {
    let vectors = unit_vectors(2, 1);
    let mut group = c.benchmark_group("inner product");
    group.throughput(Throughput::Elements(DIM as u64));
    group.bench_function("256-d taste vectors", |b| {
        b.iter(|| inner_product(std::hint::black_box(&vectors[0]), &vectors[1]))
    });
    group.finish();
}

fn search(c: &mut Criterion) {
    let base = unit_vectors(20_000, 2);
    let queries = unit_vectors(100, 3);
    let mut index = Hnsw::<u32>::new(HnswParams {
        dim: DIM,
        ..HnswParams::default()
    })
    .expect("valid parameters");
    for (i, v) in base.iter().enumerate() {
        index.insert(i as u32, v).expect("a finite 256-d vector");
    }
    let mut group = c.benchmark_group("search 20k people, k = 10");
    group.throughput(Throughput::Elements(queries.len() as u64));
    for ef in [32, 128] {
        group.bench_with_input(BenchmarkId::new("ef", ef), &ef, |b, &ef| {
            b.iter(|| {
                for q in &queries {
                    std::hint::black_box(index.search(q, 10, ef, |_| true).expect("a valid query"));
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, kernels, search);
criterion_main!(benches);

//! Criterion benchmarks of the on-device engine. Run with `cargo bench -p mesh-client`.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_client::DeviceSession;
use mesh_models::LocalTrainingOptions;
use mesh_shared::testing::{content_tower_model, synthetic_content_embeddings, typed_list};

fn taste_vector(c: &mut Criterion) {
    let model = content_tower_model(16_384, 7).encode();
    let list = typed_list(500, 7);
    let mut session = DeviceSession::new(&model).expect("a valid model");
    session.analyse(&list).expect("500 favourites");
    let keys: Vec<String> = session
        .content_requests()
        .into_iter()
        .map(|r| r.key)
        .collect();
    let values = synthetic_content_embeddings(&keys);
    session
        .set_content_embeddings(&keys, &values)
        .expect("unit embeddings");
    c.bench_function(
        "taste vector for 500 favourites with cached content embeddings",
        |b| b.iter(|| session.analyse(black_box(&list)).expect("500 favourites")),
    );
}

fn local_training(c: &mut Criterion) {
    let model = content_tower_model(16_384, 7).encode();
    let list = typed_list(500, 7);
    let mut session = DeviceSession::new(&model).expect("a valid model");
    session.analyse(&list).expect("500 favourites");
    let mut seed = 0;
    c.bench_function(
        "one local training epoch over 500 favourites (candle autograd, 5 folds)",
        |b| {
            b.iter(|| {
                seed += 1;
                let options = LocalTrainingOptions {
                    seed,
                    ..LocalTrainingOptions::default()
                };
                session.train_locally(black_box(&options)).expect("trains")
            })
        },
    );
}

criterion_group!(benches, taste_vector, local_training);
criterion_main!(benches);

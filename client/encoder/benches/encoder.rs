//! Criterion benchmark of the encoder natively, on the same 16 tokens as the Chromium
//! benchmark (`cargo xtask bench`). Needs the pinned files (`cargo xtask fetch-encoder`).
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mesh_encoder::SentenceEncoder;

/// Tokenized and cut to 16 tokens (15 then `[SEP]`), as in `web-demo/bench.html`.
const TITLE: &str =
    "The Lord of the Rings: The Fellowship of the Ring (2001) by Peter Jackson. fantasy, adventure";
const SEP: u32 = 102;

fn content_embedding(c: &mut Criterion) {
    let dir = mesh_encoder::default_encoder_dir().expect("MESH_ENCODER_DIR or HOME");
    let encoder = SentenceEncoder::from_bytes(
        &std::fs::read(dir.join("model.onnx")).expect("model.onnx (cargo xtask fetch-encoder)"),
        &std::fs::read(dir.join("tokenizer.json")).expect("tokenizer.json"),
    )
    .expect("the pinned encoder loads");
    let mut ids = encoder.token_ids(TITLE).expect("tokens");
    ids.truncate(15);
    ids.push(SEP);
    c.bench_function(
        "content embedding of a 16-token title (MiniLM int8, tract)",
        |b| b.iter(|| encoder.embed_token_ids(black_box(&ids)).expect("embeds")),
    );
}

criterion_group!(benches, content_embedding);
criterion_main!(benches);

//! Import + canonicalise + hash of export files of realistic size (the work the device does
//! when a user drops an export; the same work `importAndHash` times in Chromium).
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use mesh_shared::testing::{goodreads_export, spotify_history};
use mesh_shared::{FavouriteHasher, WeightPolicy, import_export};

fn import_and_hash(bytes: &[u8]) -> usize {
    let report =
        import_export(bytes, None, &WeightPolicy::default()).expect("a synthetic export imports");
    let hasher = FavouriteHasher::new(&[0x42; 32]);
    report
        .favourites
        .iter()
        .map(|f| hasher.hash(&f.key))
        .filter(|h| h.0[0] != 0xff)
        .count()
}

fn import(c: &mut Criterion) {
    let mut group = c.benchmark_group("import");
    group.sample_size(20);
    let goodreads = goodreads_export(10_000, 7);
    group.throughput(Throughput::Elements(10_000));
    group.bench_function(
        "import + canonicalise + hash a 10,000-row Goodreads export",
        |b| b.iter(|| import_and_hash(black_box(goodreads.as_bytes()))),
    );
    let spotify = spotify_history(50_000, 7);
    group.throughput(Throughput::Elements(50_000));
    group.bench_function(
        "import + canonicalise + hash a 50,000-listen Spotify history",
        |b| b.iter(|| import_and_hash(black_box(spotify.as_bytes()))),
    );
    group.finish();
}

criterion_group!(benches, import);

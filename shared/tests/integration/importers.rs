//! Every importer against its fixture in `tests/fixtures/exports` (see its README for what
//! each file imitates and the quirks it carries).
use std::path::PathBuf;

use mesh_shared::{
    ExportFormat, ImportReport, ItemKind, WeightPolicy, detect_format, import_export,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import(name: &str) -> ImportReport {
    import_export(&fixture(name), None, &WeightPolicy::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn print_reports() {
    for name in [
        "letterboxd-ratings.csv",
        "letterboxd-watched.csv",
        "letterboxd-diary.csv",
        "goodreads_library_export.csv",
        "spotify-YourLibrary.json",
        "spotify-StreamingHistory_music_0.json",
        "spotify-Streaming_History_Audio_2023.json",
        "listenbrainz-listens.json",
        "listenbrainz-listens-2024-3.jsonl",
        "lastfm-recenttracks.json",
        "github-starred.json",
        "github-starred-with-timestamps.json",
        "movielens-ratings.csv",
        "movielens-ratings.tsv",
        "favourites.txt",
    ] {
        let r = import(name);
        println!(
            "{name}: {:?} rows {} imported {} dup {} fav {} skipped {:?}",
            r.format,
            r.rows,
            r.imported_rows,
            r.duplicates_merged,
            r.favourites.len(),
            r.skipped
        );
        for f in r.favourites.iter().take(40) {
            println!(
                "    {:?} {:?} w={:.2} l={} ext={:?}",
                f.key.kind(),
                f.key.as_str(),
                f.weight,
                f.line,
                f.external_id.as_ref().map(|e| e.as_str())
            );
        }
    }
    let _ = (detect_format(b""), ExportFormat::ALL, ItemKind::Any);
}

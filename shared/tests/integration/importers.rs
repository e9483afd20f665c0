//! Every importer against its fixture in `tests/fixtures/exports` (its README says what each
//! file imitates, which quirks it carries and the counts asserted here).
use std::path::PathBuf;

use mesh_shared::{
    Error, ExportFormat, ImportReport, ItemKind, WeightPolicy, detect_format, import_export,
};
use proptest::prelude::*;
use rstest::rstest;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exports")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn import(name: &str, format: Option<ExportFormat>) -> ImportReport {
    import_export(&fixture(name), format, &WeightPolicy::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_accounted(report: &ImportReport) {
    assert_eq!(
        report.imported_rows + report.skipped.len(),
        report.rows,
        "{report:?}"
    );
    assert!(report.duplicates_merged <= report.imported_rows);
    assert_eq!(
        report.favourites.len(),
        report.imported_rows - report.duplicates_merged
    );
    assert!(
        report
            .favourites
            .iter()
            .all(|f| f.weight.is_finite() && f.weight > 0.0)
    );
}

#[rstest]
#[case::letterboxd_ratings("letterboxd-ratings.csv", ExportFormat::LetterboxdRatings, 21, &[18, 19], 18)]
#[case::letterboxd_watched("letterboxd-watched.csv", ExportFormat::LetterboxdWatched, 16, &[], 16)]
#[case::letterboxd_diary("letterboxd-diary.csv", ExportFormat::LetterboxdDiary, 14, &[], 13)]
#[case::goodreads("goodreads_library_export.csv", ExportFormat::GoodreadsLibrary, 16, &[11, 16], 13)]
#[case::spotify_library("spotify-YourLibrary.json", ExportFormat::SpotifyLibrary, 33, &[143, 151], 30)]
#[case::spotify_history("spotify-StreamingHistory_music_0.json", ExportFormat::SpotifyStreamingHistory, 22, &[14, 38, 50, 68, 92, 128], 12)]
#[case::spotify_extended("spotify-Streaming_History_Audio_2023.json", ExportFormat::SpotifyExtendedHistory, 16, &[27, 77, 152, 202, 227], 10)]
#[case::listenbrainz_array("listenbrainz-listens.json", ExportFormat::ListenBrainzListens, 13, &[84], 11)]
#[case::listenbrainz_lines("listenbrainz-listens-2024-3.jsonl", ExportFormat::ListenBrainzListens, 5, &[], 5)]
#[case::lastfm("lastfm-recenttracks.json", ExportFormat::LastFmRecentTracks, 16, &[4], 13)]
#[case::github("github-starred.json", ExportFormat::GitHubStarred, 9, &[], 9)]
#[case::github_star_json("github-starred-with-timestamps.json", ExportFormat::GitHubStarred, 9, &[], 9)]
#[case::movielens_csv("movielens-ratings.csv", ExportFormat::MovieLensRatings, 24, &[24], 22)]
#[case::movielens_tsv("movielens-ratings.tsv", ExportFormat::MovieLensRatings, 24, &[24], 22)]
#[case::typed_list("favourites.txt", ExportFormat::PlainList, 28, &[34], 26)]
fn each_importer_reads_its_fixture(
    #[case] name: &str,
    #[case] format: ExportFormat,
    #[case] rows: usize,
    #[case] skipped_lines: &[usize],
    #[case] distinct: usize,
) {
    assert_eq!(detect_format(&fixture(name)).unwrap(), format, "{name}");
    let detected = import(name, None);
    let named = import(name, Some(format));
    assert_eq!(detected, named);
    assert_eq!(detected.format, format);
    assert_eq!(detected.rows, rows, "{name}: {:?}", detected.skipped);
    let lines: Vec<usize> = detected.skipped.iter().map(|s| s.line).collect();
    assert_eq!(lines, skipped_lines, "{name}: {:?}", detected.skipped);
    assert_eq!(detected.favourites.len(), distinct, "{name}");
    assert_accounted(&detected);
}

#[test]
fn bad_rows_name_their_line_and_reason() {
    let report = import("letterboxd-ratings.csv", None);
    let reasons: Vec<(usize, &str)> = report
        .skipped
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (18, "Rating \"four\" is not 0.5 to 5 stars"),
            (19, "Name is empty")
        ]
    );
    let listens = import("listenbrainz-listens.json", None);
    assert_eq!(
        listens.skipped[0].reason,
        "track_metadata has no artist_name"
    );
}

#[test]
fn quirks_are_canonicalised() {
    let library = import("spotify-YourLibrary.json", None);
    let bohemian: Vec<_> = library
        .favourites
        .iter()
        .filter(|f| f.key.as_str().starts_with("bohemian rhapsody|"))
        .collect();
    assert_eq!(bohemian.len(), 1, "remaster and Live Aid are one track");
    assert!(library.favourites.iter().any(
        |f| f.key.kind() == ItemKind::Track && f.key.as_str().starts_with("live and let die|")
    ));

    let goodreads = import("goodreads_library_export.csv", None);
    let dune = goodreads
        .favourites
        .iter()
        .find(|f| f.title.starts_with("Dune ("))
        .unwrap();
    assert_eq!(dune.key.as_str(), "dune|herbert f");
    assert_eq!(dune.external_id.as_ref().unwrap().as_str(), "9780441013593");
    let bad_isbn = goodreads.favourites.iter().find(|f| f.line == 10).unwrap();
    assert_eq!(
        bad_isbn.external_id, None,
        "an ISBN with a bad check digit is ignored, the book kept"
    );

    let movielens = import("movielens-ratings.csv", None);
    let matrix = movielens
        .favourites
        .iter()
        .find(|f| f.title == "The Matrix")
        .unwrap();
    assert_eq!(matrix.key.as_str(), "matrix|1999");
    assert_eq!(matrix.external_id.as_ref().unwrap().as_str(), "tt0133093");

    let github = import("github-starred.json", None);
    assert!(
        github.favourites.iter().all(
            |f| f.key.as_str().contains('/') && f.key.as_str() == f.key.as_str().to_lowercase()
        )
    );
}

#[test]
fn listens_add_up_and_recent_plays_weigh_more() {
    let history = import("spotify-StreamingHistory_music_0.json", None);
    let killers = history
        .favourites
        .iter()
        .find(|f| f.key.as_str() == "killers")
        .unwrap();
    let once = history
        .favourites
        .iter()
        .find(|f| f.key.as_str() == "sigur ros")
        .unwrap();
    assert!(
        killers.weight > once.weight,
        "4 plays outweigh 2: {} vs {}",
        killers.weight,
        once.weight
    );
    let now = WeightPolicy {
        now_ms: Some(1_900_000_000_000),
        half_life_days: 30.0,
    };
    let faded = import_export(
        &fixture("spotify-StreamingHistory_music_0.json"),
        None,
        &now,
    )
    .unwrap();
    assert!(
        faded.favourites.iter().all(|f| f.weight < 0.5),
        "years-old plays fade with a 30-day half-life"
    );
}

#[rstest]
#[case(
    "goodreads_library_export.csv",
    ExportFormat::LetterboxdRatings,
    "expected Letterboxd ratings.csv"
)]
#[case(
    "letterboxd-ratings.csv",
    ExportFormat::GoodreadsLibrary,
    "expected Goodreads library export CSV"
)]
#[case(
    "spotify-YourLibrary.json",
    ExportFormat::SpotifyStreamingHistory,
    "expected Spotify StreamingHistory_music JSON"
)]
#[case(
    "favourites.txt",
    ExportFormat::GitHubStarred,
    "expected GitHub starred repositories JSON"
)]
#[case(
    "github-starred.json",
    ExportFormat::PlainList,
    "expected a plain list"
)]
fn a_file_of_another_format_is_refused_naming_the_expected_one(
    #[case] name: &str,
    #[case] asked: ExportFormat,
    #[case] message: &str,
) {
    let err = import_export(&fixture(name), Some(asked), &WeightPolicy::default()).unwrap_err();
    assert!(matches!(err, Error::ImportFormat { .. }), "{err:?}");
    assert!(err.to_string().starts_with(message), "{err}");
}

#[test]
fn a_typed_list_may_look_like_anything() {
    let text = "[REC] (2007)\n{Untitled} (2019)\nBook Id,Title,Author";
    let report = import_export(
        text.as_bytes(),
        Some(ExportFormat::PlainList),
        &WeightPolicy::default(),
    )
    .unwrap();
    assert_eq!((report.rows, report.imported_rows), (3, 3));
}

#[test]
fn broken_files_are_refused_with_a_line() {
    let err = import_export(
        b"[{\"endTime\": \"2024\", \"msPlayed\": 1,\n",
        None,
        &WeightPolicy::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::ImportStructure { line: 2, .. }),
        "{err:?}"
    );
    let err = import_export(&[0x66, 0x6f, 0xff, 0x0a], None, &WeightPolicy::default()).unwrap_err();
    assert_eq!(err.to_string(), "line 1: the file is not UTF-8 text");
    let err = import_export(b"{\"something\": 1}", None, &WeightPolicy::default()).unwrap_err();
    assert!(err.to_string().contains("matches none of them"), "{err}");
}

fn arbitrary_row() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,60}",
        "\\PC{0,40}",
        Just("2024-01-01,\"Dune, Part Two\",2024,https://boxd.it/x,4.5".to_owned()),
        Just("2024-01-01,,abc,https://boxd.it/x,9".to_owned()),
        Just("\"unterminated,quote".to_owned()),
    ]
}

proptest! {
    /// Whatever the rows, every data row is either imported or reported, never lost.
    #[test]
    fn every_row_is_imported_or_reported(rows in proptest::collection::vec(arbitrary_row(), 0..30), format_index in 0usize..12) {
        let format = ExportFormat::ALL[format_index];
        let header = match format {
            ExportFormat::LetterboxdRatings => "Date,Name,Year,Letterboxd URI,Rating",
            ExportFormat::GoodreadsLibrary => "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Exclusive Shelf",
            ExportFormat::MovieLensRatings => "movieId,title,rating,timestamp",
            _ => "",
        };
        let text = format!("{header}\n{}", rows.join("\n"));
        if let Ok(report) = import_export(text.as_bytes(), Some(format), &WeightPolicy::default()) {
            assert_accounted(&report);
        }
    }

    /// Cutting a fixture anywhere never panics, and what imports is fully accounted for.
    #[test]
    fn truncated_fixtures_never_panic(file_index in 0usize..6, cut in 0.0f64..1.0) {
        let names = ["letterboxd-ratings.csv", "goodreads_library_export.csv", "spotify-YourLibrary.json",
                     "spotify-StreamingHistory_music_0.json", "lastfm-recenttracks.json", "movielens-ratings.csv"];
        let bytes = fixture(names[file_index]);
        let cut = (bytes.len() as f64 * cut) as usize;
        if let Ok(report) = import_export(&bytes[..cut], None, &WeightPolicy::default()) {
            assert_accounted(&report);
        }
    }
}

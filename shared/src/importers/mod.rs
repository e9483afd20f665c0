//! Importers for the export files users can download today. Each parses bytes already on the
//! device into an [`ImportReport`]: nothing here does I/O, and nothing leaves the device.
//!
//! Every data row is either imported or skipped with its line number and a reason, so
//! `imported_rows + skipped.len() == rows` always holds. Duplicate rows of one item are
//! imported and merged (the largest weight wins; listens add up).
use std::collections::HashMap;

use serde::Serialize;

use crate::{Error, ExternalId, ItemKey, ItemKind, Result, SignalSource, WeightPolicy};

mod csv_table;
mod github_stars;
mod goodreads;
mod json_records;
mod letterboxd;
mod listens;
mod movielens;
mod plain_list;
mod spotify;

use letterboxd::LetterboxdFile;

/// The export formats the device can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportFormat {
    /// Letterboxd `ratings.csv`.
    LetterboxdRatings,
    /// Letterboxd `watched.csv`.
    LetterboxdWatched,
    /// Letterboxd `diary.csv`.
    LetterboxdDiary,
    /// Goodreads library export CSV.
    GoodreadsLibrary,
    /// Spotify account data `YourLibrary.json`.
    SpotifyLibrary,
    /// Spotify account data `StreamingHistory_music_N.json`.
    SpotifyStreamingHistory,
    /// Spotify extended streaming history `Streaming_History_Audio_*.json`.
    SpotifyExtendedHistory,
    /// ListenBrainz listens export (JSON array or JSON lines).
    #[serde(rename = "listenbrainz_listens")]
    ListenBrainzListens,
    /// Last.fm `user.getRecentTracks` JSON.
    #[serde(rename = "lastfm_recent_tracks")]
    LastFmRecentTracks,
    /// GitHub REST API starred repositories JSON (plain or with `starred_at`).
    #[serde(rename = "github_starred")]
    GitHubStarred,
    /// MovieLens-style CSV or TSV with a `title` column.
    #[serde(rename = "movielens_ratings")]
    MovieLensRatings,
    /// A typed list, one favourite per line.
    PlainList,
}

impl ExportFormat {
    /// Every format, in the order detection tries them.
    pub const ALL: [ExportFormat; 12] = [
        Self::LetterboxdRatings,
        Self::LetterboxdWatched,
        Self::LetterboxdDiary,
        Self::GoodreadsLibrary,
        Self::SpotifyLibrary,
        Self::SpotifyStreamingHistory,
        Self::SpotifyExtendedHistory,
        Self::ListenBrainzListens,
        Self::LastFmRecentTracks,
        Self::GitHubStarred,
        Self::MovieLensRatings,
        Self::PlainList,
    ];

    /// What the format looks like, for people.
    pub fn label(self) -> &'static str {
        match self {
            Self::LetterboxdRatings => {
                "Letterboxd ratings.csv (Date,Name,Year,Letterboxd URI,Rating)"
            }
            Self::LetterboxdWatched => "Letterboxd watched.csv (Date,Name,Year,Letterboxd URI)",
            Self::LetterboxdDiary => "Letterboxd diary.csv (…,Rating,Rewatch,Tags,Watched Date)",
            Self::GoodreadsLibrary => "Goodreads library export CSV (Book Id,Title,Author,…)",
            Self::SpotifyLibrary => {
                "Spotify YourLibrary.json ({\"tracks\": …, \"albums\": …, \"artists\": …})"
            }
            Self::SpotifyStreamingHistory => {
                "Spotify StreamingHistory_music JSON ([{endTime, artistName, trackName, msPlayed}])"
            }
            Self::SpotifyExtendedHistory => {
                "Spotify extended streaming history JSON ([{ts, ms_played, master_metadata_…}])"
            }
            Self::ListenBrainzListens => {
                "ListenBrainz listens JSON ({listened_at, track_metadata})"
            }
            Self::LastFmRecentTracks => {
                "Last.fm recent tracks JSON ({\"recenttracks\": {\"track\": […]}})"
            }
            Self::GitHubStarred => {
                "GitHub starred repositories JSON ([{full_name, …}] or [{starred_at, repo}])"
            }
            Self::MovieLensRatings => {
                "MovieLens-style CSV/TSV with a title column (movieId,title,…,rating,timestamp)"
            }
            Self::PlainList => "a plain list, one `Title (year) — creator` per line",
        }
    }

    /// The source signals from this format carry.
    pub fn source(self) -> SignalSource {
        match self {
            Self::LetterboxdRatings | Self::LetterboxdWatched | Self::LetterboxdDiary => {
                SignalSource::Letterboxd
            }
            Self::GoodreadsLibrary => SignalSource::Goodreads,
            Self::SpotifyLibrary | Self::SpotifyStreamingHistory | Self::SpotifyExtendedHistory => {
                SignalSource::Spotify
            }
            Self::ListenBrainzListens => SignalSource::ListenBrainz,
            Self::LastFmRecentTracks => SignalSource::LastFm,
            Self::GitHubStarred => SignalSource::GitHub,
            Self::MovieLensRatings => SignalSource::MovieLens,
            Self::PlainList => SignalSource::TypedList,
        }
    }
}

/// What an import produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The format read.
    pub format: ExportFormat,
    /// Data rows in the file (CSV records, JSON records, non-blank list lines).
    pub rows: usize,
    /// Rows that became (or were merged into) a favourite.
    pub imported_rows: usize,
    /// Rows merged into a favourite imported earlier in the same file.
    pub duplicates_merged: usize,
    /// Rows not imported, with their line numbers and reasons.
    pub skipped: Vec<SkippedRow>,
    /// The distinct favourites, in first-seen order.
    pub favourites: Vec<ImportedFavourite>,
}

/// A row that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRow {
    /// 1-based line of the row in the file (the header is line 1).
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// One distinct favourite from an import.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportedFavourite {
    /// Its canonical key.
    pub key: ItemKey,
    /// The title as written in the file.
    pub title: String,
    /// Director, author or artist, when given.
    pub creator: Option<String>,
    /// Release year, when given.
    pub year: Option<u16>,
    /// Normalised external id, when given and valid.
    pub external_id: Option<ExternalId>,
    /// Enthusiasm × recency weight.
    pub weight: f32,
    /// Line of its first row.
    pub line: usize,
}

/// Names the format of an export from its content alone: CSV headers, and for JSON the keys in
/// its first 4 KiB. Anything else is a plain list.
///
/// # Errors
/// [`Error::ImportStructure`] when the content is not UTF-8 text; [`Error::ImportFormat`] for
/// JSON that matches no supported export.
pub fn detect_format(bytes: &[u8]) -> Result<ExportFormat> {
    let text = as_text(bytes)?;
    let head: String = text.chars().take(4096).collect();
    let trimmed = head.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let has = |key: &str| head.contains(&format!("\"{key}\""));
        return if has("recenttracks") {
            Ok(ExportFormat::LastFmRecentTracks)
        } else if has("listened_at") {
            Ok(ExportFormat::ListenBrainzListens)
        } else if has("msPlayed") && has("endTime") {
            Ok(ExportFormat::SpotifyStreamingHistory)
        } else if has("ms_played") && has("ts") {
            Ok(ExportFormat::SpotifyExtendedHistory)
        } else if has("full_name") || has("starred_at") {
            Ok(ExportFormat::GitHubStarred)
        } else if trimmed.starts_with('{') && (has("tracks") || has("albums") || has("artists")) {
            Ok(ExportFormat::SpotifyLibrary)
        } else {
            Err(Error::ImportFormat {
                expected: "one of the supported exports".to_owned(),
                found: "JSON that matches none of them".to_owned(),
            })
        };
    }
    let header = trimmed.lines().next().unwrap_or("");
    if header.contains("Letterboxd URI") {
        return Ok(if header.contains("Watched Date") {
            ExportFormat::LetterboxdDiary
        } else if header.contains("Rating") {
            ExportFormat::LetterboxdRatings
        } else {
            ExportFormat::LetterboxdWatched
        });
    }
    if header.starts_with("Book Id,Title,Author") {
        return Ok(ExportFormat::GoodreadsLibrary);
    }
    let lower = header.to_ascii_lowercase();
    let columns: Vec<&str> = lower.split([',', '\t']).map(str::trim).collect();
    if columns.len() > 1
        && columns.contains(&"title")
        && (columns.contains(&"rating") || columns.contains(&"movieid"))
    {
        return Ok(ExportFormat::MovieLensRatings);
    }
    Ok(ExportFormat::PlainList)
}

/// Imports an export. With `format` given, the content must be that format; without, it is
/// detected ([`detect_format`]).
///
/// # Errors
/// [`Error::ImportFormat`] naming the expected format when the content is another one;
/// [`Error::ImportStructure`] when the file as a whole cannot be read (not UTF-8, broken
/// JSON), with the line.
pub fn import_export(
    bytes: &[u8],
    format: Option<ExportFormat>,
    policy: &WeightPolicy,
) -> Result<ImportReport> {
    let detected = detect_format(bytes);
    if format == Some(ExportFormat::PlainList) && detected.is_err() {
        // Text that only looks like JSON ("[REC] (2007)" on the first line) is a typed list.
        return run_importer(as_text(bytes)?, ExportFormat::PlainList, policy);
    }
    let format = match (format, detected) {
        (Some(expected), Ok(found)) if expected != found => {
            return Err(Error::ImportFormat {
                expected: expected.label().to_owned(),
                found: found.label().to_owned(),
            });
        }
        (Some(expected), Err(_)) => {
            return Err(Error::ImportFormat {
                expected: expected.label().to_owned(),
                found: "content of no supported format".to_owned(),
            });
        }
        (Some(expected), Ok(_)) => expected,
        (None, detected) => detected?,
    };
    run_importer(as_text(bytes)?, format, policy)
}

fn run_importer(text: &str, format: ExportFormat, policy: &WeightPolicy) -> Result<ImportReport> {
    let mut collector = Collector::new(format);
    match format {
        ExportFormat::LetterboxdRatings => {
            letterboxd::import(text, LetterboxdFile::Ratings, policy, &mut collector)?;
        }
        ExportFormat::LetterboxdWatched => {
            letterboxd::import(text, LetterboxdFile::Watched, policy, &mut collector)?;
        }
        ExportFormat::LetterboxdDiary => {
            letterboxd::import(text, LetterboxdFile::Diary, policy, &mut collector)?;
        }
        ExportFormat::GoodreadsLibrary => goodreads::import(text, policy, &mut collector)?,
        ExportFormat::SpotifyLibrary => spotify::import_library(text, &mut collector)?,
        ExportFormat::SpotifyStreamingHistory => {
            spotify::import_history(text, policy, &mut collector)?
        }
        ExportFormat::SpotifyExtendedHistory => {
            spotify::import_extended_history(text, policy, &mut collector)?
        }
        ExportFormat::ListenBrainzListens => {
            listens::import_listenbrainz(text, policy, &mut collector)?
        }
        ExportFormat::LastFmRecentTracks => listens::import_lastfm(text, policy, &mut collector)?,
        ExportFormat::GitHubStarred => github_stars::import(text, policy, &mut collector)?,
        ExportFormat::MovieLensRatings => movielens::import(text, policy, &mut collector)?,
        ExportFormat::PlainList => plain_list::import(text, &mut collector),
    }
    Ok(collector.finish())
}

/// Runs one importer on text without detecting the format first, so a fuzzer reaches the
/// parser with any input. Returns the report when the file as a whole could be read.
#[cfg(feature = "fuzzing")]
pub fn import_unchecked(
    text: &str,
    format: ExportFormat,
    policy: &WeightPolicy,
) -> Option<ImportReport> {
    run_importer(text, format, policy).ok()
}

fn as_text(bytes: &[u8]) -> Result<&str> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::ImportStructure {
        line: line_at(bytes, e.valid_up_to()),
        reason: "the file is not UTF-8 text".to_owned(),
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

fn line_at(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// One row's contribution: the favourite and how much it weighs.
pub(crate) struct RowFavourite {
    pub(crate) kind: ItemKind,
    pub(crate) title: String,
    pub(crate) year: Option<u16>,
    pub(crate) creator: Option<String>,
    pub(crate) external_id: Option<ExternalId>,
    pub(crate) enthusiasm: f32,
    pub(crate) event_ms: Option<u64>,
}

/// Counts rows and merges favourites; listens are aggregated into play counts.
pub(crate) struct Collector {
    format: ExportFormat,
    rows: usize,
    imported_rows: usize,
    duplicates_merged: usize,
    skipped: Vec<SkippedRow>,
    favourites: Vec<ImportedFavourite>,
    index: HashMap<ItemKey, usize>,
    /// Per favourite: plays so far and the latest play (listens only).
    plays: Vec<(u32, Option<u64>)>,
}

impl Collector {
    fn new(format: ExportFormat) -> Self {
        Self {
            format,
            rows: 0,
            imported_rows: 0,
            duplicates_merged: 0,
            skipped: Vec::new(),
            favourites: Vec::new(),
            index: HashMap::new(),
            plays: Vec::new(),
        }
    }

    pub(crate) fn skip(&mut self, line: usize, reason: impl Into<String>) {
        self.rows += 1;
        self.skipped.push(SkippedRow {
            line,
            reason: reason.into(),
        });
    }

    /// A rated or listed favourite: duplicates keep the largest weight.
    pub(crate) fn accept(&mut self, line: usize, row: RowFavourite, policy: &WeightPolicy) {
        let weight = policy.weight(row.enthusiasm, row.event_ms);
        let at = self.upsert(line, row, weight);
        let favourite = &mut self.favourites[at];
        favourite.weight = favourite.weight.max(weight);
    }

    /// One listen: favourites weigh `1 + ln(plays)` times the recency of the latest play.
    pub(crate) fn listen(&mut self, line: usize, row: RowFavourite, policy: &WeightPolicy) {
        let event = row.event_ms;
        let at = self.upsert(line, row, 0.0);
        let (plays, latest) = &mut self.plays[at];
        *plays += 1;
        *latest = (*latest).max(event);
        let weight = policy.weight(crate::play_enthusiasm(*plays), *latest);
        self.favourites[at].weight = weight;
    }

    fn upsert(&mut self, line: usize, row: RowFavourite, weight: f32) -> usize {
        self.rows += 1;
        self.imported_rows += 1;
        let key = ItemKey::new(row.kind, &row.title, row.year, row.creator.as_deref());
        if let Some(&at) = self.index.get(&key) {
            self.duplicates_merged += 1;
            let favourite = &mut self.favourites[at];
            if favourite.external_id.is_none() {
                favourite.external_id = row.external_id;
            }
            return at;
        }
        self.index.insert(key.clone(), self.favourites.len());
        self.plays.push((0, None));
        self.favourites.push(ImportedFavourite {
            key,
            title: row.title,
            creator: row.creator,
            year: row.year,
            external_id: row.external_id,
            weight,
            line,
        });
        self.favourites.len() - 1
    }

    fn finish(mut self) -> ImportReport {
        self.skipped.sort_by_key(|s| s.line);
        ImportReport {
            format: self.format,
            rows: self.rows,
            imported_rows: self.imported_rows,
            duplicates_merged: self.duplicates_merged,
            skipped: self.skipped,
            favourites: self.favourites,
        }
    }
}

/// Parses `YYYY-MM-DD` with an optional time (`HH:MM[:SS]`, `T` or space, optional `Z`)
/// into Unix milliseconds (UTC).
pub(crate) fn parse_datetime_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let (y, m, d): (i64, i64, i64) = (
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=2200).contains(&y) {
        return None;
    }
    let rest = text[10..]
        .trim_start_matches(['T', ' '])
        .trim_end_matches('Z');
    let mut clock = rest
        .split(':')
        .map(|p| p.get(..2).unwrap_or(p).parse::<i64>().ok());
    let hours = clock.next().flatten().unwrap_or(0);
    let minutes = clock.next().flatten().unwrap_or(0);
    let seconds = clock.next().flatten().unwrap_or(0);
    let days = days_from_civil(y, m, d);
    let ms = ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
    u64::try_from(ms).ok().map(|s| s * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial() {
        assert_eq!(parse_datetime_ms("1970-01-02"), Some(86_400_000));
        assert_eq!(
            parse_datetime_ms("2024-03-01 21:14"),
            Some(1_709_327_640_000)
        );
        assert_eq!(
            parse_datetime_ms("2023-01-01T12:34:56Z"),
            Some(1_672_576_496_000)
        );
        assert_eq!(parse_datetime_ms("yesterday"), None);
    }
}

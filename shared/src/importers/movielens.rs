//! MovieLens-style ratings: CSV or TSV with a `title` column ("Matrix, The (1999)") and
//! optional `rating` (0.5–5), `timestamp` (Unix seconds) and `imdbId` columns.
use super::csv_table::for_each_row;
use super::{Collector, RowFavourite};
use crate::{ExternalId, ItemKind, Result, WeightPolicy, parse_favourite_line, star_enthusiasm};

pub(super) fn import(text: &str, policy: &WeightPolicy, out: &mut Collector) -> Result<()> {
    let header = text.lines().next().unwrap_or("");
    let delimiter = if header.contains('\t') { b'\t' } else { b',' };
    for_each_row(text, delimiter, &["title"], true, |line, row| {
        let row = match row {
            Ok(row) => row,
            Err(reason) => return out.skip(line, reason),
        };
        let Some(raw_title) = row.get("title") else {
            return out.skip(line, "title is empty");
        };
        let entry = match parse_favourite_line(line, raw_title) {
            Ok(Some(entry)) => entry,
            Ok(None) => return out.skip(line, "title is empty"),
            Err(error) => return out.skip(line, error.to_string()),
        };
        let rating = match row.get("rating") {
            None => None,
            Some(text) => match text.parse::<f32>() {
                Ok(stars) if (0.5..=5.0).contains(&stars) => Some(stars),
                Ok(_) | Err(_) => {
                    return out.skip(line, format!("rating {text:?} is not 0.5 to 5"));
                }
            },
        };
        let imdb = row
            .get("imdbid")
            .or_else(|| row.get("imdb_id"))
            .and_then(|id| {
                let digits = id.trim_start_matches("tt");
                ExternalId::imdb(&format!("tt{digits:0>7}"))
            });
        let favourite = RowFavourite {
            kind: ItemKind::Film,
            title: entry.title,
            year: entry.year,
            creator: None,
            external_id: imdb,
            enthusiasm: star_enthusiasm(rating),
            event_ms: row
                .get("timestamp")
                .and_then(|t| t.parse::<u64>().ok())
                .map(|s| s.saturating_mul(1000)),
        };
        out.accept(line, favourite, policy);
    })
}

//! Letterboxd `ratings.csv`, `watched.csv` and `diary.csv`.
use super::csv_table::for_each_row;
use super::{Collector, RowFavourite, parse_datetime_ms};
use crate::{ItemKind, Result, WeightPolicy, star_enthusiasm};

/// Which of the three Letterboxd files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LetterboxdFile {
    Ratings,
    Watched,
    Diary,
}

pub(super) fn import(
    text: &str,
    file: LetterboxdFile,
    policy: &WeightPolicy,
    out: &mut Collector,
) -> Result<()> {
    let required: &[&str] = match file {
        LetterboxdFile::Ratings => &["Name", "Year", "Letterboxd URI", "Rating"],
        LetterboxdFile::Diary => &["Name", "Year", "Letterboxd URI", "Rating", "Watched Date"],
        LetterboxdFile::Watched => &["Name", "Year", "Letterboxd URI"],
    };
    for_each_row(text, b',', required, false, |line, row| {
        let row = match row {
            Ok(row) => row,
            Err(reason) => return out.skip(line, reason),
        };
        let Some(name) = row.get("Name") else {
            return out.skip(line, "Name is empty");
        };
        let year = match row.get("Year") {
            None => None,
            Some(text) => match text.parse::<u16>() {
                Ok(year) if (1870..=2100).contains(&year) => Some(year),
                Ok(_) | Err(_) => return out.skip(line, format!("Year {text:?} is not a year")),
            },
        };
        let rating = match row.get("Rating") {
            None => None,
            Some(text) => match text.parse::<f32>() {
                Ok(stars) if (0.5..=5.0).contains(&stars) => Some(stars),
                Ok(_) | Err(_) => {
                    return out.skip(line, format!("Rating {text:?} is not 0.5 to 5 stars"));
                }
            },
        };
        let event_ms = row
            .get("Watched Date")
            .or_else(|| row.get("Date"))
            .and_then(parse_datetime_ms);
        let favourite = RowFavourite {
            kind: ItemKind::Film,
            title: name.to_owned(),
            year,
            creator: None,
            external_id: None,
            enthusiasm: star_enthusiasm(rating),
            event_ms,
        };
        out.accept(line, favourite, policy);
    })
}

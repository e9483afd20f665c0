//! The Goodreads library export CSV.
use super::csv_table::for_each_row;
use super::{Collector, RowFavourite, parse_datetime_ms};
use crate::{ExternalId, ItemKind, Result, WeightPolicy, star_enthusiasm};

pub(super) fn import(text: &str, policy: &WeightPolicy, out: &mut Collector) -> Result<()> {
    let required = [
        "Book Id",
        "Title",
        "Author",
        "ISBN",
        "ISBN13",
        "My Rating",
        "Exclusive Shelf",
    ];
    for_each_row(text, b',', &required, false, |line, row| {
        let row = match row {
            Ok(row) => row,
            Err(reason) => return out.skip(line, reason),
        };
        let Some(title) = row.get("Title") else {
            return out.skip(line, "Title is empty");
        };
        if row.get("Exclusive Shelf") == Some("to-read") {
            return out.skip(line, "on the to-read shelf: not read yet");
        }
        let rating = match row.get("My Rating") {
            None | Some("0") => None,
            Some(text) => match text.parse::<f32>() {
                Ok(stars) if (1.0..=5.0).contains(&stars) => Some(stars),
                Ok(_) | Err(_) => {
                    return out.skip(line, format!("My Rating {text:?} is not 0 to 5"));
                }
            },
        };
        let external_id = row
            .get("ISBN13")
            .and_then(ExternalId::isbn)
            .or_else(|| row.get("ISBN").and_then(ExternalId::isbn));
        let year = row
            .get("Original Publication Year")
            .or_else(|| row.get("Year Published"))
            .and_then(|y| y.parse::<u16>().ok());
        let event_ms = row
            .get("Date Read")
            .or_else(|| row.get("Date Added"))
            .and_then(|d| parse_datetime_ms(&d.replace('/', "-")));
        let favourite = RowFavourite {
            kind: ItemKind::Book,
            title: title.to_owned(),
            year,
            creator: row.get("Author").map(str::to_owned),
            external_id,
            enthusiasm: star_enthusiasm(rating),
            event_ms,
        };
        out.accept(line, favourite, policy);
    })
}

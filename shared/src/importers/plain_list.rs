//! A typed list: one `[kind:] Title [(year)] [— creator]` per line; blank lines and `#`
//! comments are not rows.
use super::{Collector, RowFavourite};
use crate::{ItemKind, WeightPolicy, parse_favourite_line};

pub(super) fn import(text: &str, out: &mut Collector) {
    let policy = WeightPolicy::default();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        match parse_favourite_line(line, raw) {
            Ok(None) => {}
            Ok(Some(entry)) => out.accept(
                line,
                RowFavourite {
                    kind: entry.kind.unwrap_or(ItemKind::Any),
                    title: entry.title,
                    year: entry.year,
                    creator: entry.creator,
                    external_id: None,
                    enthusiasm: 1.0,
                    event_ms: None,
                },
                &policy,
            ),
            Err(crate::Error::FavouriteLine { reason, .. }) => out.skip(line, reason),
            Err(other) => out.skip(line, other.to_string()),
        }
    }
}

//! GitHub starred repositories, as `GET /users/{user}/starred` returns them (repository
//! objects, or `{starred_at, repo}` with the `star+json` media type).
use serde::Deserialize;

use super::json_records::{decode, records};
use super::{Collector, RowFavourite, parse_datetime_ms};
use crate::{ExternalId, ItemKind, LIKE_ENTHUSIASM, Result, WeightPolicy};

#[derive(Deserialize)]
struct Star {
    starred_at: Option<String>,
    repo: Option<Repository>,
    full_name: Option<String>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: Option<String>,
}

pub(super) fn import(text: &str, policy: &WeightPolicy, out: &mut Collector) -> Result<()> {
    for (line, raw) in records(text, false)? {
        let star = match decode::<Star>(raw) {
            Ok(star) => star,
            Err(reason) => {
                out.skip(line, reason);
                continue;
            }
        };
        let full_name = star
            .full_name
            .or_else(|| star.repo.and_then(|r| r.full_name));
        let Some(repo) = full_name.as_deref().and_then(ExternalId::github) else {
            out.skip(line, "no valid full_name (owner/name)");
            continue;
        };
        let favourite = RowFavourite {
            kind: ItemKind::Repository,
            title: full_name.unwrap_or_default(),
            year: None,
            creator: None,
            external_id: Some(repo),
            enthusiasm: LIKE_ENTHUSIASM,
            event_ms: star.starred_at.as_deref().and_then(parse_datetime_ms),
        };
        out.accept(line, favourite, policy);
    }
    Ok(())
}

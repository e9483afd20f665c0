//! The canonicaliser: titles, people, artists and external ids. Any input: no panic, and
//! canonical forms are fixed points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::{
    ExternalId, ItemKey, ItemKind, canonical_artist, canonical_person, canonical_title, fold_text,
    parse_favourite_line,
};

const KINDS: [ItemKind; 7] = [
    ItemKind::Film,
    ItemKind::Book,
    ItemKind::Artist,
    ItemKind::Album,
    ItemKind::Track,
    ItemKind::Repository,
    ItemKind::Any,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let kind = KINDS[usize::from(selector) % KINDS.len()];
    let title = canonical_title(text, kind);
    assert_eq!(
        canonical_title(&title, kind),
        title,
        "canonical titles are fixed points"
    );
    let folded = fold_text(text);
    assert_eq!(fold_text(&folded), folded);
    let _ = (canonical_person(text), canonical_artist(text));
    let _ = ItemKey::new(kind, text, Some(1999), Some(text));
    if let Ok(Some(entry)) = parse_favourite_line(1, text) {
        let _ = ItemKey::from_entry(&entry);
    }
    for id in [
        ExternalId::isbn(text),
        ExternalId::imdb(text),
        ExternalId::mbid(text),
        ExternalId::spotify(text),
        ExternalId::github(text),
    ]
    .into_iter()
    .flatten()
    {
        let again = match &id {
            ExternalId::Isbn(s) => ExternalId::isbn(s),
            ExternalId::Imdb(s) => ExternalId::imdb(s),
            ExternalId::Mbid(s) => ExternalId::mbid(s),
            ExternalId::Spotify(s) => ExternalId::spotify(s),
            ExternalId::GitHub(s) => ExternalId::github(s),
            _ => Some(id.clone()),
        };
        assert_eq!(
            again.as_ref(),
            Some(&id),
            "normalised ids parse to themselves"
        );
    }
});

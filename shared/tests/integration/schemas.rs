//! The committed JSON Schemas in `shared/schema/` match the types (drift check), and real
//! values validate against them. `MESH_UPDATE_SCHEMAS=1 cargo test -p mesh-shared` rewrites
//! the committed files after an intended change.
use std::path::PathBuf;

use mesh_shared::{CardTrait, ExplanationInput, ItemHash, PublicCard, explain, wire_schemas};

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema")
}

#[test]
fn committed_schemas_match_the_types() {
    let update = std::env::var_os("MESH_UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (name, schema) in wire_schemas() {
        let path = schema_dir().join(name);
        let generated = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
        if update {
            std::fs::write(&path, &generated).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != generated {
            drifted.push(name);
        }
    }
    assert!(
        drifted.is_empty(),
        "schemas out of date: {drifted:?}; run MESH_UPDATE_SCHEMAS=1 cargo test -p mesh-shared"
    );
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

#[test]
fn traits_cards_and_explanations_validate() {
    let traits = vec![CardTrait {
        label: "sci-fi films".into(),
        strength: 0.5,
    }];
    assert!(validator("card_traits.schema.json").is_valid(&serde_json::to_value(&traits).unwrap()));
    let card = PublicCard {
        activity: None,
        tone: None,
        display_name: "Ada".into(),
        traits: traits.clone(),
        public_favourites: vec!["Alien (1979)".into()],
    };
    assert!(validator("public_card.schema.json").is_valid(&serde_json::to_value(&card).unwrap()));
    let explanation = explain(ExplanationInput {
        my_traits: &traits,
        my_items: &[ItemHash([1; 32])],
        their_traits: &traits,
        their_public_items: &[(ItemHash([1; 32]), "Alien (1979)".into())],
        taste_cosine: 0.7,
    });
    assert!(
        validator("explanation.schema.json").is_valid(&serde_json::to_value(&explanation).unwrap())
    );
    let not_traits = serde_json::json!([{"label": "jazz"}]);
    assert!(
        !validator("card_traits.schema.json").is_valid(&not_traits),
        "strength is required"
    );
    let too_strong = serde_json::json!([{"label": "jazz", "strength": 1.5}]);
    assert!(
        !validator("card_traits.schema.json").is_valid(&too_strong),
        "strength is at most 1"
    );
    let short_vector = serde_json::json!({"schema_version": 1, "model_version": 1, "taste_vector": [1.0], "card": card});
    assert!(
        !validator("profile_upload.schema.json").is_valid(&short_vector),
        "a vector has 256 components"
    );
}

//! The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core)
//! against a real coordinator listening on a loopback port: analyse typed favourites, import
//! export files, audit (prune, prune a source, re-grade), reload, publish, see matches with
//! "Why this match?" chips, opt out. Screenshots go to `target/e2e/`.
//!
//! Needs the wasm package in `web-demo/pkg`, Chromium and `tests/e2e/node_modules`:
//! `cargo xtask test` prepares all three and runs this test.
use std::path::PathBuf;

use mesh_client::DeviceSession;
use mesh_shared::testing::{content_tower_model, synthetic_content_embeddings};

use super::fixtures::{
    built_web_dir, coordinator, favourites, run_e2e_script, serve_on_loopback, workspace_root,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the wasm package, Chromium and npm packages: run `cargo xtask test`"]
async fn browser_demo_publishes_and_shows_explained_matches() {
    let root = workspace_root();
    let web_dir = built_web_dir();
    let dir = tempfile::tempdir().unwrap();
    let state = coordinator(dir.path(), 300);
    let (url, server) = serve_on_loopback(&state, web_dir).await;

    let out_dir = root.join("target").join("e2e");
    let favourites_file = PathBuf::from(mesh_tests::FIXTURES).join("favourites.txt");
    let exports_dir = root
        .join("shared")
        .join("tests")
        .join("fixtures")
        .join("exports");
    let exports = exports_dir.clone();
    let content_model = content_tower_model(4096, 11);
    let content_model_file = dir.path().join("content-model.bin");
    std::fs::write(&content_model_file, content_model.encode()).unwrap();
    let seen = run_e2e_script(
        "demo.mjs",
        vec![
            "--url".into(),
            url.into(),
            "--favourites".into(),
            favourites_file.into(),
            "--exports".into(),
            exports_dir.into(),
            "--out".into(),
            out_dir.into(),
            "--content-model".into(),
            content_model_file.clone().into(),
        ],
    )
    .await;
    server.abort();
    println!("browser saw: {seen:#}");

    let mut native = DeviceSession::new(&state.model_weights().unwrap().encode()).unwrap();
    let native_view = native.analyse(&favourites()).unwrap();
    assert_eq!(
        seen["fingerprint"],
        native_view.vector_fingerprint.as_str(),
        "wasm and native taste vectors differ in their bits"
    );
    assert_eq!(
        seen["hashFingerprint"],
        native_view.hashes_fingerprint.as_str(),
        "wasm and native item hashes differ"
    );

    // The content tower: wasm and native agree bit for bit with the same embeddings, and the
    // embeddings do move the vector (a third of the model's rows are empty).
    let mut towered = DeviceSession::new(&content_model.encode()).unwrap();
    let without_content = towered.analyse(&favourites()).unwrap().vector_fingerprint;
    let keys: Vec<String> = towered
        .content_requests()
        .into_iter()
        .map(|r| r.key)
        .collect();
    let values = synthetic_content_embeddings(&keys);
    towered.set_content_embeddings(&keys, &values).unwrap();
    let with_content = towered.analyse(&favourites()).unwrap().vector_fingerprint;
    assert_ne!(with_content, without_content);
    assert_eq!(seen["contentTower"]["embedded"], keys.len());
    assert_eq!(
        seen["contentTower"]["withoutContent"],
        without_content.as_str()
    );
    assert_eq!(
        seen["contentTower"]["withContent"],
        with_content.as_str(),
        "wasm and native taste vectors with content embeddings differ in their bits"
    );

    // Traits: the same traits natively, from the native encoder's embeddings of the same texts.
    let encoder_dir = std::env::var_os("MESH_ENCODER_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/mesh-discovery/encoder"))
        })
        .unwrap();
    let encoder = mesh_encoder::SentenceEncoder::from_bytes(
        &std::fs::read(encoder_dir.join("model.onnx")).unwrap(),
        &std::fs::read(encoder_dir.join("tokenizer.json")).unwrap(),
    )
    .unwrap();
    let requests = native.content_requests();
    let keys: Vec<String> = requests.iter().map(|r| r.key.clone()).collect();
    let values: Vec<f32> = requests
        .iter()
        .flat_map(|r| encoder.embed(&r.text).unwrap())
        .collect();
    native.set_content_embeddings(&keys, &values).unwrap();
    let native_traits = native.traits_report();
    let seen_inferred = seen["inferred"].as_array().unwrap();
    assert_eq!(
        seen_inferred.len(),
        native_traits.traits.len(),
        "{seen_inferred:?} vs {native_traits:?}"
    );
    for (shown, native_trait) in seen_inferred.iter().zip(&native_traits.traits) {
        assert_eq!(shown["id"], native_trait.id.as_str());
        let percent = format!(
            "{} · {}%",
            native_trait.label,
            (native_trait.score * 100.0).round()
        );
        assert_eq!(shown["text"], percent.as_str());
        assert!(
            shown["explanation"]
                .as_str()
                .unwrap()
                .starts_with(&native_trait.explanation),
            "{shown}"
        );
    }
    let turned_off = seen["turnedOff"].as_str().unwrap();
    let label = &native_traits.traits[0].label;
    assert_eq!(turned_off, native_traits.traits[0].id);
    assert!(
        !seen["inferredSummaryAfterOff"]
            .as_str()
            .unwrap()
            .contains(label.as_str()),
        "a trait turned off leaves the summary: {}",
        seen["inferredSummaryAfterOff"]
    );
    assert!(
        seen["inferredStatus"]
            .as_str()
            .unwrap()
            .contains("encoder loaded"),
        "the first analysis loads the encoder: {}",
        seen["inferredStatus"]
    );
    assert!(
        seen["inferredStatusAfterReload"]
            .as_str()
            .unwrap()
            .contains("encoder not needed (all cached)"),
        "embeddings are cached across reloads: {}",
        seen["inferredStatusAfterReload"]
    );
    for off in seen["turnedOffAfterReload"].as_array().unwrap() {
        assert_eq!(off, true, "a trait turned off stays off after a reload");
    }

    for import in seen["imports"].as_array().unwrap() {
        let file = import["file"].as_str().unwrap();
        let bytes = std::fs::read(exports.join(file)).unwrap();
        let report =
            mesh_shared::import_export(&bytes, None, &mesh_shared::WeightPolicy::default())
                .unwrap();
        assert_eq!(report.imported_rows + report.skipped.len(), report.rows);
        let shown = import["summary"].as_str().unwrap();
        let expected = format!("{} of {} rows imported", report.imported_rows, report.rows);
        assert!(
            shown.contains(&expected),
            "{file}: the page says {shown:?}, expected {expected:?}"
        );
        let skipped: Vec<String> = report
            .skipped
            .iter()
            .map(|s| format!("line {}: {}", s.line, s.reason))
            .collect();
        assert_eq!(import["skipped"], serde_json::json!(skipped), "{file}");
    }
    let wrong = seen["wrongFormat"].as_str().unwrap();
    assert!(
        wrong.starts_with("expected Goodreads library export CSV"),
        "{wrong}"
    );

    let count = |key: &str| -> usize {
        let text = seen[key].as_str().unwrap();
        text.split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap_or_else(|_| panic!("{key}: {text}"))
    };
    assert_eq!(
        count("afterPrune") + 1,
        count("beforePrune"),
        "pruning one signal"
    );
    assert!(
        count("afterSourcePrune") < count("afterPrune"),
        "pruning the Goodreads source"
    );
    assert_eq!(
        count("afterReload"),
        count("afterSourcePrune"),
        "signals survive a reload"
    );
    assert_eq!(
        seen["fingerprintAfterReload"], seen["fingerprintBeforeReload"],
        "the same vector after a reload"
    );
    assert!(
        seen["gradeAfterReload"]
            .as_str()
            .unwrap()
            .contains("badge-private"),
        "grades survive a reload"
    );

    let matches = seen["matches"].as_array().unwrap();
    assert!(!matches.is_empty(), "no matches shown");
    for m in matches {
        let chips = m["chips"].as_array().unwrap();
        assert!(
            !chips.is_empty() && chips.len() <= 2,
            "match without a reason chip: {m}"
        );
    }
    assert!(
        seen["publishStatus"]
            .as_str()
            .unwrap()
            .starts_with("Published as u")
    );
    let published: mesh_shared::UserId = serde_json::from_value(seen["userId"].clone()).unwrap();
    assert!(
        !state.is_discoverable(&published),
        "opt-out left the profile discoverable"
    );
    assert!(
        state.store().profile(&published).unwrap().is_none(),
        "opt-out left the profile stored"
    );
    assert_eq!(
        seen["auditHiddenAfterOptOut"], true,
        "opt-out left signals on the device"
    );
    assert_eq!(
        seen["signalsAfterOptOutReload"], 0,
        "opt-out left signals in IndexedDB"
    );
    for shot in seen["screenshots"].as_array().unwrap() {
        let path = PathBuf::from(shot.as_str().unwrap());
        assert!(
            std::fs::metadata(&path).unwrap().len() > 1000,
            "empty screenshot {}",
            path.display()
        );
    }
}

//! The demo page in real headless Chromium (Debian's `chromium`, driven by playwright-core)
//! against a real coordinator listening on a loopback port: analyse favourites, publish, see
//! matches with "Why this match?" chips, opt out. Screenshots go to `target/e2e/`.
//!
//! Needs the wasm package in `web-demo/pkg`, Chromium and `tests/e2e/node_modules`:
//! `cargo xtask test` prepares all three and runs this test.
use std::path::PathBuf;
use std::process::Command;

use mesh_client::DeviceSession;
use mesh_server::{AppConfig, app};

use super::fixtures::{coordinator, favourites, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the wasm package, Chromium and npm packages: run `cargo xtask test`"]
async fn browser_demo_publishes_and_shows_explained_matches() {
    let root = workspace_root();
    let web_dir = root.join("web-demo");
    assert!(
        web_dir.join("pkg").join("mesh_client_bg.wasm").exists(),
        "web-demo/pkg is missing: run `cargo xtask wasm` (or `cargo xtask test`)"
    );
    let dir = tempfile::tempdir().unwrap();
    let state = coordinator(dir.path(), 300);
    let config = AppConfig {
        web_dir: Some(web_dir),
        ..AppConfig::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, app(state.clone(), &config)).into_future());

    let out_dir = root.join("target").join("e2e");
    let favourites_file = PathBuf::from(mesh_tests::FIXTURES).join("favourites.txt");
    let e2e_dir = root.join("tests").join("e2e");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .current_dir(e2e_dir)
            .args(["demo.mjs", "--url", &url, "--favourites"])
            .arg(&favourites_file)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser walk-through failed:\n{stderr}\n{stdout}"
    );
    let seen: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    println!("browser saw: {seen:#}");

    let mut native = DeviceSession::new(&state.model_weights().unwrap().encode()).unwrap();
    let native_fingerprint = native.analyse(&favourites()).unwrap().vector_fingerprint;
    assert_eq!(
        seen["fingerprint"],
        native_fingerprint.as_str(),
        "wasm and native taste vectors differ in their bits"
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
    for shot in seen["screenshots"].as_array().unwrap() {
        let path = PathBuf::from(shot.as_str().unwrap());
        assert!(
            std::fs::metadata(&path).unwrap().len() > 1000,
            "empty screenshot {}",
            path.display()
        );
    }
}

//! A federated round with secure aggregation between three headless-Chromium tabs (each its
//! own browser context and device key; the wasm `RoundClient` in the demo's Worker) and two
//! native clients (`mesh simulate --join`), against a real coordinator on a loopback port.
//! Every client adds its share of discrete Gaussian noise on its device (z = 1, the device's
//! floor); every message is signed by a registered identity. The round completes, each tab
//! reports what it cost that device (ε) and the model version advances.
//!
//! Needs the wasm package in `web-demo/pkg`, Chromium and `tests/e2e/node_modules`:
//! `cargo xtask test` prepares all three and runs this test.
use std::path::PathBuf;
use std::process::Command;

use mesh_coordinator::{RoundOutcome, RoundSettings, current_model};

use super::fixtures::{
    built_web_dir, coordinator, mesh_binary, run_e2e_script, serve_on_loopback, workspace_root,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the wasm package, Chromium and npm packages: run `cargo xtask test`"]
async fn browser_tabs_and_native_clients_complete_a_round() {
    let root = workspace_root();
    let web_dir = built_web_dir();
    let mesh = mesh_binary();

    let dir = tempfile::tempdir().unwrap();
    let state = coordinator(dir.path(), 0);
    let version = state.model_version();
    let settings = RoundSettings {
        phase_ms: 120_000,
        noise_multiplier: 1.0,
        // The tabs and native clients register just before the round.
        min_account_age_ms: 0,
        ..RoundSettings::new(256 * 256, 3, 5)
    };
    let round = state
        .rounds()
        .start(settings, &state.model_weights().unwrap())
        .unwrap()
        .round;
    let (url, server) = serve_on_loopback(&state, web_dir).await;

    let out_dir = root.join("target").join("e2e");
    let native_report = out_dir.join("round-native.json");
    std::fs::create_dir_all(&out_dir).unwrap();
    let native = Command::new(&mesh)
        .args([
            "simulate",
            "--coordinator",
            &url,
            "--join",
            "--clients",
            "2",
        ])
        .arg("--json")
        .arg(&native_report)
        .spawn()
        .unwrap();
    let favourites_file = PathBuf::from(mesh_tests::FIXTURES).join("favourites.txt");
    let seen = run_e2e_script(
        "round.mjs",
        vec![
            "--url".into(),
            url.clone().into(),
            "--tabs".into(),
            "3".into(),
            "--favourites".into(),
            favourites_file.into(),
            "--out".into(),
            out_dir.clone().into(),
        ],
    )
    .await;
    let native = tokio::task::spawn_blocking(move || native.wait_with_output().unwrap())
        .await
        .unwrap();
    server.abort();
    assert!(native.status.success(), "the native clients failed");
    println!("browser tabs saw: {seen:#}");
    let statuses = seen["statuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 3);
    for tab in statuses {
        // The federated panel: progress, model version, what left the device, ε.
        assert_eq!(tab["progress"], 1.0, "{tab}");
        let facts = tab["facts"].as_array().unwrap();
        assert_eq!(
            facts[0].as_str().unwrap(),
            format!("v{version} → v{}", version + 1),
            "{tab}"
        );
        assert!(facts[1].as_str().unwrap().contains("bytes up"), "{tab}");
        assert!(
            facts[2]
                .as_str()
                .unwrap()
                .contains("this round for this device"),
            "{tab}"
        );
        let status = tab["status"].as_str().unwrap();
        assert!(
            status.starts_with(&format!(
                "Round {round}: applied, model v{version} → v{}",
                version + 1
            )),
            "{status}"
        );
        assert!(
            status.contains("noised on this device (z = 1): ε = "),
            "{status}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&native_report).unwrap()).unwrap();
    assert_eq!(report["completed"], true, "{report:#}");

    let outcome = state.rounds().status().unwrap().outcome;
    assert!(
        matches!(outcome, Some(RoundOutcome::Applied { clients: 5, new_model_version, .. }) if new_model_version == version + 1),
        "{outcome:?}"
    );
    assert_eq!(
        current_model(state.store()).unwrap().version(),
        version + 1,
        "the store holds the next model version"
    );
}

//! The operator dashboard in headless Chromium after `mesh simulate-days` filled a store:
//! every chart has points, the experiment's arms are compared, alerts (or the all-clear) are
//! shown, axe-core finds no serious or critical violation, no horizontal scrolling at 390x844
//! and 1280x900; screenshots in `target/e2e/dashboard/`.
use std::process::Command;
use std::sync::Arc;

use mesh_coordinator::{AppConfig, AppState, Experiment, RedbStore, SystemClock};

use super::fixtures::{mesh_binary, run_e2e_script, serve_with, workspace_root};

const TOKEN: &str = "dashboard-test-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium and npm packages: run `cargo xtask test`"]
async fn browser_dashboard_shows_every_metric_after_simulated_days() {
    let root = workspace_root();
    let dir = tempfile::tempdir().unwrap();
    let simulated = Command::new(mesh_binary())
        .args([
            "simulate-days",
            "--days",
            "33",
            "--people",
            "50",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&simulated.stdout);
    assert!(
        simulated.status.success(),
        "simulate-days failed: {summary}{}",
        String::from_utf8_lossy(&simulated.stderr)
    );
    println!("{}", summary.lines().next().unwrap_or_default());

    let store = Arc::new(RedbStore::open(dir.path()).unwrap());
    let state = AppState::open(store, Arc::new(SystemClock), Vec::new()).unwrap();
    let config = AppConfig {
        operator_token: Some(TOKEN.to_owned()),
        experiment: Some(Experiment::discovery()),
        ..AppConfig::default()
    };
    let (url, server) = serve_with(&state, &config).await;
    let out_dir = root.join("target").join("e2e").join("dashboard");
    let seen = run_e2e_script(
        "dashboard.mjs",
        vec![
            "--url".into(),
            url.into(),
            "--token".into(),
            TOKEN.into(),
            "--out".into(),
            out_dir.into(),
        ],
    )
    .await;
    server.abort();
    println!("dashboard: {}", seen["status"]);

    let charts = seen["charts"].as_array().unwrap();
    assert_eq!(charts.len(), 7, "{charts:?}");
    for chart in charts {
        assert!(
            chart["points"].as_u64().unwrap() > 0,
            "an empty chart: {chart}"
        );
    }
    // Each metric chart draws everyone and the three cohorts.
    let intros = charts
        .iter()
        .find(|c| c["metric"] == "introductions_accepted")
        .unwrap();
    assert_eq!(
        intros["series"],
        serde_json::json!(["all", "holdout", "mmr-0.20", "mmr-0.35"]),
        "{intros}"
    );
    let arms = seen["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 3, "{arms:?}");
    assert_eq!(arms[0][0], "holdout");
    assert!(!seen["alerts"].as_array().unwrap().is_empty());
    let serious: Vec<&serde_json::Value> = seen["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "axe-core: {serious:#?}");
    for viewport in ["webview", "desktop"] {
        assert_eq!(seen["overflow"][viewport], 0, "{viewport} scrolls sideways");
    }
    for shot in seen["screenshots"].as_array().unwrap() {
        let size = std::fs::metadata(shot.as_str().unwrap()).unwrap().len();
        assert!(size > 1000, "{shot}");
    }
}

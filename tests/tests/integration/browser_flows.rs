//! The demo page's flows for two people in real headless Chromium against a real coordinator
//! (see `tests/e2e/flows.mjs`): intent onboarding, matches with swipe-to-tune and snooze, a
//! live room, mutual favourites by private set intersection, a reload, opt-out. Every screen
//! passes axe-core without serious or critical violations and has no horizontal scrolling at
//! 390x844 and 1280x900; screenshots go to `target/e2e/flows/`.
//!
//! Needs the wasm package in `web-demo/pkg`, Chromium and `tests/e2e/node_modules`:
//! `cargo xtask test` prepares all three and runs this test.
use std::path::PathBuf;

use mesh_shared::UserId;

use super::fixtures::{
    built_web_dir, coordinator, run_e2e_script, serve_on_loopback, workspace_root,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the wasm package, Chromium and npm packages: run `cargo xtask test`"]
async fn browser_flows_of_two_people_meet_tune_and_opt_out() {
    let root = workspace_root();
    let web_dir = built_web_dir();
    let dir = tempfile::tempdir().unwrap();
    let state = coordinator(dir.path(), 300);
    let (url, server) = serve_on_loopback(&state, web_dir).await;
    let out_dir = root.join("target").join("e2e").join("flows");
    let fixtures = PathBuf::from(mesh_tests::FIXTURES);
    let seen = run_e2e_script(
        "flows.mjs",
        vec![
            "--url".into(),
            url.into(),
            "--alice".into(),
            fixtures.join("alice.txt").into(),
            "--bob".into(),
            fixtures.join("bob.txt").into(),
            "--out".into(),
            out_dir.into(),
        ],
    )
    .await;
    server.abort();

    let intents = seen["intentsStatus"].as_str().unwrap();
    assert!(
        intents.contains("looking for collaborators")
            && intents.contains("wanting feedback on a project"),
        "{intents}"
    );
    assert!(seen["matchCount"].as_u64().unwrap() > 0, "no matches");
    let chips = seen["firstCard"]["chips"].as_array().unwrap();
    assert!((1..=2).contains(&chips.len()), "{chips:?}");
    assert!(
        seen["lessStatus"]
            .as_str()
            .unwrap()
            .starts_with("Noted: less like")
    );
    assert!(
        seen["moreStatus"]
            .as_str()
            .unwrap()
            .starts_with("Noted: more like")
    );
    if let Some(snoozed) = seen["snoozeStatus"].as_str() {
        assert!(snoozed.contains("for 30 days"), "{snoozed}");
    }

    let alice = seen["aliceId"].as_str().unwrap();
    let bob = seen["bobId"].as_str().unwrap();
    assert_eq!(seen["aliceRoom"], serde_json::json!([bob]), "alice's room");
    assert_eq!(seen["bobRoom"], serde_json::json!([alice]), "bob's room");

    // Exactly the intersection, each in its own words, and nothing of the rest.
    for (who, side) in [("alice", &seen["aliceMutual"]), ("bob", &seen["bobMutual"])] {
        let text = side["text"].as_str().unwrap();
        assert!(text.starts_with("You both like: "), "{who}: {text}");
        let titles: Vec<&str> = text
            .trim_start_matches("You both like: ")
            .trim_end_matches('.')
            .split(", ")
            .collect();
        assert_eq!(titles.len(), 3, "{who}: {titles:?}");
        for expected in ["Alien", "Radiohead", "The Matrix"] {
            assert!(
                titles.iter().any(|t| t.starts_with(expected)),
                "{who}: {titles:?}"
            );
        }
        for absent in [
            "Dune",
            "Blade Runner",
            "Heat",
            "Neuromancer",
            "Daft",
            "Massive",
        ] {
            assert!(!text.contains(absent), "{who} learned {absent}: {text}");
        }
        let bytes = side["bytes"].as_u64().unwrap();
        // Six favourites each: 2 messages out and 2 in of 6 points (64 hex characters each).
        assert!(
            (4 * 6 * 64..4 * 6 * 64 + 400).contains(&bytes),
            "{who}: {bytes} bytes"
        );
        println!("PSI {who}: {} ({bytes} bytes exchanged)", side["detail"]);
    }

    let behaviour = &seen["bobBehaviour"];
    let rows = behaviour["rows"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r.as_str().unwrap().starts_with("Usually online")),
        "{behaviour}"
    );
    assert!(
        rows.iter()
            .any(|r| r.as_str().unwrap().starts_with("Tone of your posts")),
        "{behaviour}"
    );
    assert_eq!(seen["aliceTonePruned"], true);
    let bob_id: UserId = serde_json::from_value(seen["bobId"].clone()).unwrap();
    let bob_card = state.store().profile(&bob_id).unwrap().unwrap().upload.card;
    let activity = bob_card.activity.expect("bob published his usual hours");
    assert_ne!(activity.active_hours_utc, 0);
    activity.validate().unwrap();
    let tone = bob_card.tone.expect("bob published his tone");
    assert_eq!(tone.tenths.iter().map(|&t| u32::from(t)).sum::<u32>(), 10);
    println!("bob's published summaries: {activity:?}, {tone:?}");

    let reload = &seen["afterReload"];
    assert_eq!(reload["fingerprint"], seen["fingerprint"]);
    assert_eq!(reload["userId"], alice);
    assert_eq!(
        reload["intents"],
        serde_json::json!(["collaborators", "project_feedback"])
    );

    let after = &seen["afterOptOut"];
    assert_eq!(after["signals"], 0);
    assert_eq!(after["intents"], 0);
    assert_ne!(after["userId"], alice, "a new device key after opt-out");
    assert_eq!(
        after["databases"],
        serde_json::json!({ "device": ["device-secret"], "embeddings": 0 }),
        "opt-out left data in IndexedDB"
    );
    let alice: UserId = serde_json::from_value(seen["aliceId"].clone()).unwrap();
    let bob: UserId = serde_json::from_value(seen["bobId"].clone()).unwrap();
    assert!(state.store().profile(&alice).unwrap().is_none());
    assert!(!state.is_discoverable(&alice));
    let events = state.store().events().unwrap();
    assert!(
        events.iter().all(|e| e.actor() != Some(&alice)),
        "opt-out left alice's events at the coordinator"
    );
    assert!(
        events.iter().any(|e| e.actor() == Some(&bob)),
        "bob's events should remain"
    );

    for screen in seen["screens"].as_array().unwrap() {
        let name = screen["name"].as_str().unwrap();
        let serious: Vec<&serde_json::Value> = screen["violations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(serious.is_empty(), "{name}: axe-core found {serious:#?}");
        for viewport in ["webview", "desktop"] {
            assert_eq!(
                screen["overflow"][viewport], 0,
                "{name} scrolls horizontally at the {viewport} viewport"
            );
        }
        for shot in screen["screenshots"].as_array().unwrap() {
            let path = PathBuf::from(shot.as_str().unwrap());
            assert!(
                std::fs::metadata(&path).unwrap().len() > 1000,
                "{}",
                path.display()
            );
        }
    }
}

//! The crate graph is the architecture (ARCHITECTURE.md): `shared` ← `models` ← the client and
//! the server crates, which never depend on each other; the coordinator and the engines it
//! uses never link the lab; `shared`, `models`, `mesh-ann` and `mesh-ranking` have no I/O.
use std::collections::BTreeMap;
use std::process::Command;

use super::fixtures::workspace_root;

fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (package["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// The lab: evaluation, simulation and benchmarks, on the server side (`mesh-lab`) and on the
/// device side (`mesh-dataset-embedder`, the device's encoder run over a dataset). Production
/// crates never link it.
const LAB: &[&str] = &["mesh-lab", "mesh-dataset-embedder"];
/// The server side: the coordinator and the engines it is built on.
const SERVER: &[&str] = &[
    "mesh-ann",
    "mesh-ranking",
    "mesh-coordinator",
    "mesh-lab",
    "mesh-cli",
];
/// The device side.
const CLIENT: &[&str] = &["mesh-client", "mesh-encoder", "mesh-dataset-embedder"];

#[test]
fn the_crate_graph_matches_architecture_md() {
    let deps = workspace_dependencies();
    let ours = |crate_name: &str| -> Vec<String> {
        let mut ours: Vec<String> = deps[crate_name]
            .iter()
            .filter(|d| d.starts_with("mesh-"))
            .cloned()
            .collect();
        ours.sort();
        ours
    };
    assert_eq!(ours("mesh-shared"), Vec::<String>::new());
    assert_eq!(ours("mesh-models"), ["mesh-shared"]);
    assert_eq!(ours("mesh-client"), ["mesh-models", "mesh-shared"]);
    assert_eq!(ours("mesh-encoder"), Vec::<String>::new());
    assert_eq!(
        ours("mesh-dataset-embedder"),
        ["mesh-encoder", "mesh-models", "mesh-shared"]
    );
    assert_eq!(ours("mesh-ann"), ["mesh-shared"]);
    assert_eq!(ours("mesh-ranking"), ["mesh-ann"]);
    assert_eq!(
        ours("mesh-coordinator"),
        ["mesh-ann", "mesh-models", "mesh-ranking", "mesh-shared"]
    );
    assert_eq!(
        ours("mesh-lab"),
        [
            "mesh-ann",
            "mesh-coordinator",
            "mesh-models",
            "mesh-ranking",
            "mesh-shared"
        ]
    );
    assert_eq!(
        ours("mesh-cli"),
        [
            "mesh-ann",
            "mesh-coordinator",
            "mesh-lab",
            "mesh-models",
            "mesh-shared"
        ]
    );
    assert_eq!(ours("xtask"), ["mesh-shared"]);
}

/// Every path through the graph, not only direct edges: what a crate links.
fn reaches(deps: &BTreeMap<String, Vec<String>>, from: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut stack = vec![from.to_owned()];
    while let Some(next) = stack.pop() {
        for dep in deps.get(&next).into_iter().flatten() {
            if dep.starts_with("mesh-") && !seen.contains(dep) {
                seen.push(dep.clone());
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn client_and_server_never_meet_and_production_never_links_the_lab() {
    let deps = workspace_dependencies();
    for client in CLIENT {
        let linked = reaches(&deps, client);
        for server in SERVER {
            assert!(
                !linked.iter().any(|d| d == server),
                "{client} links {server}"
            );
        }
    }
    for server in SERVER {
        let linked = reaches(&deps, server);
        for client in CLIENT {
            assert!(
                !linked.iter().any(|d| d == client),
                "{server} links {client}"
            );
        }
    }
    for production in [
        "mesh-client",
        "mesh-encoder",
        "mesh-ann",
        "mesh-ranking",
        "mesh-coordinator",
    ] {
        let linked = reaches(&deps, production);
        for lab in LAB {
            assert!(
                !linked.iter().any(|d| d == lab),
                "{production} links the lab ({lab})"
            );
        }
    }
}

#[test]
fn the_shared_crates_stay_free_of_io_and_the_encoder_stays_apart() {
    let deps = workspace_dependencies();
    for tract in ["tract-onnx", "tokenizers"] {
        for lean in [
            "mesh-shared",
            "mesh-models",
            "mesh-client",
            "mesh-ann",
            "mesh-ranking",
            "mesh-coordinator",
            "mesh-lab",
            "mesh-cli",
        ] {
            assert!(
                !deps[lean].contains(&tract.to_owned()),
                "{lean} depends on {tract}: the encoder lives in its own module"
            );
        }
    }
    let io = [
        "axum",
        "tokio",
        "redb",
        "postgres",
        "ureq",
        "tower",
        "tower-http",
        "wasm-bindgen",
        "js-sys",
        "anyhow",
        "tempfile",
    ];
    for lean in ["mesh-shared", "mesh-models", "mesh-ann", "mesh-ranking"] {
        for forbidden in io {
            assert!(
                !deps[lean].contains(&forbidden.to_owned()),
                "{lean} depends on {forbidden}"
            );
        }
    }
    for forbidden in ["axum", "tokio", "redb", "anyhow"] {
        assert!(
            !deps["mesh-client"].contains(&forbidden.to_owned()),
            "mesh-client depends on {forbidden}"
        );
    }
    // anyhow and ureq only in binaries; tempfile only in tests.
    for library in [
        "mesh-coordinator",
        "mesh-lab",
        "mesh-client",
        "mesh-encoder",
    ] {
        for forbidden in ["anyhow", "ureq", "tempfile"] {
            assert!(
                !deps[library].contains(&forbidden.to_owned()),
                "the library {library} depends on {forbidden}"
            );
        }
    }
}

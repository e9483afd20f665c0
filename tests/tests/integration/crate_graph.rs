//! The crate graph is the architecture (ARCHITECTURE.md): `shared` ← `models` ← `client` and
//! `server`, which never depend on each other; `shared` has no I/O or web stack.
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
    assert_eq!(ours("mesh-server"), ["mesh-models", "mesh-shared"]);
    assert_eq!(ours("xtask"), ["mesh-shared"]);
    assert_eq!(ours("mesh-encoder"), Vec::<String>::new());
    for tract in ["tract-onnx", "tokenizers"] {
        for lean in ["mesh-shared", "mesh-models", "mesh-client", "mesh-server"] {
            assert!(
                !deps[lean].contains(&tract.to_owned()),
                "{lean} depends on {tract}: the encoder lives in its own module"
            );
        }
    }
    for forbidden in ["axum", "tokio", "redb", "wasm-bindgen", "js-sys", "anyhow"] {
        assert!(
            !deps["mesh-shared"].contains(&forbidden.to_owned()),
            "mesh-shared depends on {forbidden}"
        );
        assert!(
            !deps["mesh-models"].contains(&forbidden.to_owned()),
            "mesh-models depends on {forbidden}"
        );
    }
    for forbidden in ["axum", "tokio", "redb", "anyhow"] {
        assert!(
            !deps["mesh-client"].contains(&forbidden.to_owned()),
            "mesh-client depends on {forbidden}"
        );
    }
}

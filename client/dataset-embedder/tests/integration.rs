//! `mesh-embed` as `cargo xtask embed` runs it: on a small `items.tsv`, the table holds the
//! device encoder's embedding of the device's item text; a bad file is named with its line.
//! The encoder's pinned files come from `cargo xtask fetch-encoder` in `$MESH_ENCODER_DIR`, by
//! default `~/.cache/mesh-discovery/encoder`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mesh_encoder::SentenceEncoder;

fn encoder_dir() -> PathBuf {
    mesh_encoder::default_encoder_dir().expect("MESH_ENCODER_DIR or HOME")
}

fn mesh_embed(items: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mesh-embed"))
        .args(["--items".as_ref(), items.as_os_str()])
        .args(["--out".as_ref(), out.as_os_str()])
        .args(["--encoder-dir".as_ref(), encoder_dir().as_os_str()])
        .args(["--threads", "2"])
        .output()
        .unwrap()
}

#[test]
fn mesh_embed_writes_a_content_table_of_the_favourite_texts() {
    let dir = std::env::temp_dir().join(format!("mesh-embed-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let items = dir.join("items.tsv");
    std::fs::write(
        &items,
        "item\ttitle\ttags\n7\tRadiohead\talternative|british\nx\t\t\n9\tBjörk\t\n",
    )
    .unwrap();
    let out = dir.join("content.bin");
    let output = mesh_embed(&items, &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let table = mesh_shared::ContentTable::decode(&std::fs::read(&out).unwrap()).unwrap();
    let entries: Vec<(&str, &[f32])> = table.iter().collect();
    assert_eq!(
        entries.len(),
        2,
        "the item without title or tags is skipped"
    );
    let read = |name: &str| std::fs::read(encoder_dir().join(name)).unwrap();
    let encoder =
        SentenceEncoder::from_bytes(&read("model.onnx"), &read("tokenizer.json")).unwrap();
    let expected = [("7", "Radiohead. alternative, british"), ("9", "Björk")];
    for ((key, values), (expected_key, text)) in entries.iter().zip(expected) {
        assert_eq!(*key, expected_key);
        assert_eq!(*values, encoder.embed(text).unwrap().as_slice());
    }

    std::fs::write(&items, "item\ttitle\n1\tx\n").unwrap();
    let output = mesh_embed(&items, &out);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("items.tsv:1: expected the header"),
        "{stderr}"
    );
    std::fs::write(&items, "item\ttitle\ttags\n1\tx\ty\n2\tz\n").unwrap();
    let stderr = String::from_utf8_lossy(&mesh_embed(&items, &out).stderr).into_owned();
    assert!(
        stderr.contains("items.tsv:3: expected 3 tab-separated fields"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

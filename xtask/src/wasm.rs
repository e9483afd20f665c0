//! The two wasm modules and their package: `cargo xtask wasm` (into `web-demo/pkg`, with the
//! TypeScript drift check) and `cargo xtask package` (the installable npm package).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::encoder::{encoder_pins, fetch_encoder};
use crate::{WASM_TARGET, cargo, ensure_wasm_target, gzip_size, run, target_dir};

/// Builds the two wasm modules into `web-demo/pkg` with wasm-bindgen (`--target web`, with
/// TypeScript declarations): the core (`mesh-client`, `wasm` profile) and the encoder
/// (`mesh-encoder`, `wasm-encoder` profile with SIMD, its own target dir so the different
/// flags do not rebuild the core), and copies the encoder's pinned files next to them.
pub(crate) fn build_wasm(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    let out_dir = root.join("web-demo").join("pkg");
    build_core_wasm(root, &out_dir)?;
    build_encoder_wasm(root, &out_dir)?;
    copy_js_wrapper(root, &out_dir)
}

/// The main-thread API and its Worker (`client/js/`), beside the generated modules.
pub(crate) const JS_WRAPPER: [&str; 3] = ["mesh.js", "mesh.d.ts", "mesh-worker.js"];

pub(crate) fn copy_js_wrapper(root: &Path, out_dir: &Path) -> Result<()> {
    for file in JS_WRAPPER {
        std::fs::copy(root.join("client/js").join(file), out_dir.join(file))
            .with_context(|| format!("copying client/js/{file}"))?;
    }
    Ok(())
}

/// `cargo xtask package`: `target/package/mesh-client/` as a web developer installs it (`npm
/// install ./target/package/mesh-client`): the `--target web` modules with the Worker
/// wrapper and the encoder files at the root, a bundler build of the core module in
/// `bundler/`, `package.json` and the README. Writes the sizes (raw and gzip -9) to
/// `target/package/SIZES.md`.
pub(crate) fn package(root: &Path) -> Result<()> {
    build_wasm(root)?;
    let pkg = root.join("web-demo/pkg");
    let out = root.join("target/package/mesh-client");
    if out.exists() {
        std::fs::remove_dir_all(&out)?;
    }
    std::fs::create_dir_all(out.join("encoder"))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&pkg)? {
        let path = entry?.path();
        if path.is_file() && path.file_name().is_some_and(|n| n != ".gitignore") {
            files.push(path);
        }
    }
    for entry in std::fs::read_dir(pkg.join("encoder"))? {
        files.push(entry?.path());
    }
    for file in &files {
        let relative = file.strip_prefix(&pkg)?;
        std::fs::copy(file, out.join(relative))?;
    }
    let wasm = target_dir(root)
        .join(WASM_TARGET)
        .join("wasm")
        .join("mesh_client.wasm");
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(&wasm)
        .bundler(true)?
        .typescript(true)
        .out_name("mesh_client");
    bindgen
        .generate(out.join("bundler"))
        .context("wasm-bindgen --target bundler")?;
    std::fs::copy(root.join("client/README.md"), out.join("README.md"))?;
    std::fs::copy(
        root.join("client/js/package.json"),
        out.join("package.json"),
    )?;

    let mut table = String::from(
        "# mesh-client package sizes\n\n| file | bytes | gzip -9 bytes |\n|---|---:|---:|\n",
    );
    let mut listed: Vec<PathBuf> = walk(&out)?;
    listed.sort();
    let (mut total, mut total_gzip) = (0u64, 0u64);
    for file in listed {
        let contents = std::fs::read(&file)?;
        let bytes = contents.len() as u64;
        let gzip = gzip_size(&contents)? as u64;
        total += bytes;
        total_gzip += gzip;
        table.push_str(&format!(
            "| {} | {bytes} | {gzip} |\n",
            file.strip_prefix(&out)?.display()
        ));
    }
    table.push_str(&format!("| **all** | {total} | {total_gzip} |\n"));
    std::fs::write(root.join("target/package/SIZES.md"), &table)?;
    println!("{table}\nxtask: the package is in {}", out.display());
    Ok(())
}

pub(crate) fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

pub(crate) fn build_encoder_wasm(root: &Path, out_dir: &Path) -> Result<()> {
    let encoder_files = fetch_encoder(root)?;
    let encoder_target = target_dir(root).join("wasm-encoder");
    run(cargo()
        .current_dir(root)
        .env("CARGO_TARGET_DIR", &encoder_target)
        .env("RUSTFLAGS", "-C target-feature=+simd128")
        .args([
            "build",
            "-p",
            "mesh-encoder",
            "--lib",
            "--target",
            WASM_TARGET,
        ])
        .args(["--profile", "wasm-encoder"]))?;
    let wasm = encoder_target
        .join(WASM_TARGET)
        .join("wasm-encoder")
        .join("mesh_encoder.wasm");
    // The name section alone is 3.4 MB of the encoder module.
    bindgen_web(root, &wasm, out_dir, "mesh_encoder", true)?;
    let files_dir = out_dir.join("encoder");
    std::fs::create_dir_all(&files_dir)?;
    for pin in encoder_pins(root)? {
        std::fs::copy(encoder_files.join(&pin.file), files_dir.join(&pin.file))?;
    }
    Ok(())
}

pub(crate) fn build_core_wasm(root: &Path, out_dir: &Path) -> Result<()> {
    run(cargo().current_dir(root).args([
        "build",
        "-p",
        "mesh-client",
        "--lib",
        "--target",
        WASM_TARGET,
        "--profile",
        "wasm",
    ]))?;
    let wasm = target_dir(root)
        .join(WASM_TARGET)
        .join("wasm")
        .join("mesh_client.wasm");
    bindgen_web(root, &wasm, out_dir, "mesh_client", false)
}

/// Runs wasm-bindgen (`--target web`, TypeScript declarations) on `wasm` into `out_dir` as
/// `name`, optionally without the name and producers sections; with `MESH_UPDATE_TYPES` set,
/// refreshes the committed declarations in `client/types/`.
pub(crate) fn bindgen_web(
    root: &Path,
    wasm: &Path,
    out_dir: &Path,
    name: &str,
    strip: bool,
) -> Result<()> {
    let mut bindgen = wasm_bindgen_cli_support::Bindgen::new();
    bindgen
        .input_path(wasm)
        .web(true)?
        .typescript(true)
        .omit_default_module_path(false)
        .remove_name_section(strip)
        .remove_producers_section(strip)
        .out_name(name);
    bindgen
        .generate(out_dir)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;
    if std::env::var_os("MESH_UPDATE_TYPES").is_some() {
        let types = root.join("client/types");
        std::fs::create_dir_all(&types)?;
        std::fs::copy(
            out_dir.join(format!("{name}.d.ts")),
            types.join(format!("{name}.d.ts")),
        )?;
    }
    let size = std::fs::metadata(out_dir.join(format!("{name}_bg.wasm")))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "xtask: wrote {name} into {} ({size} bytes of wasm)",
        out_dir.display()
    );
    Ok(())
}

/// The committed TypeScript declarations of the wasm package (`client/types/`) must equal the
/// generated ones; `MESH_UPDATE_TYPES=1 cargo xtask wasm` refreshes the committed copy.
pub(crate) fn check_typescript_drift(root: &Path) -> Result<()> {
    for module in ["mesh_client", "mesh_encoder"] {
        let generated = std::fs::read_to_string(root.join(format!("web-demo/pkg/{module}.d.ts")))?;
        let committed_path = root.join(format!("client/types/{module}.d.ts"));
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        if generated != committed {
            bail!(
                "{} is out of date with the wasm bindings: run `MESH_UPDATE_TYPES=1 cargo xtask wasm` and commit it",
                committed_path.display()
            );
        }
    }
    Ok(())
}

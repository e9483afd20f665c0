//! Project automation, run as `cargo xtask <command>`:
//!
//! - `wasm`: build the client to WebAssembly and generate the JS package in `web-demo/pkg`;
//! - `package`: the installable npm package in `target/package/mesh-client` (`--target web`
//!   with the Worker wrapper, and a bundler build), with its sizes in `SIZES.md`;
//! - `demo [serve args…]`: `wasm`, then run `mesh serve` with the demo page on 127.0.0.1:8080;
//! - `test`: every gate: fmt, clippy, rustdoc, `cargo deny`, the workspace tests, the wasm
//!   build, the headless Chromium end-to-end tests and the PostgreSQL store suite;
//! - `bench`: the import benchmarks, natively (criterion) and in headless Chromium on the same
//!   synthetic files, as a table (also written to `target/bench-report.md`);
//! - `loadtest`, `embed`, `fetch-encoder`: see their modules.
//!
//! Missing tools are installed on first use: the wasm32 target (rustup), Chromium and
//! PostgreSQL (apt-get), the end-to-end test's npm packages (`npm ci`) and cargo-deny (built
//! from crates.io into the cache). wasm-bindgen runs as a library pinned to the same version
//! as the `wasm-bindgen` crate, so no separate CLI is installed.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod encoder;
mod loadtest;
mod test_gates;
mod wasm;

use bench::bench;
use encoder::{embed_dataset, fetch_encoder};
use loadtest::loadtest;
use test_gates::test;
use wasm::{build_wasm, package};

pub(crate) const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root()?;
    match args.first().map(String::as_str) {
        Some("wasm") => build_wasm(&root),
        Some("package") => package(&root),
        Some("fetch-encoder") => fetch_encoder(&root).map(|_| ()),
        Some("demo") => {
            build_wasm(&root)?;
            // `cargo xtask demo -- --addr …` hands xtask the `--` too.
            let serve_args = args[1..]
                .strip_prefix(&["--".to_owned()])
                .unwrap_or(&args[1..]);
            demo(&root, serve_args)
        }
        Some("test") => test(&root),
        Some("bench") => bench(&root),
        Some("loadtest") => loadtest(&root, &args[1..]),
        Some("embed") => match args.get(1..) {
            Some([flag, data]) if flag == "--data" => {
                embed_dataset(&root, Path::new(data)).map(|path| println!("{}", path.display()))
            }
            _ => bail!("usage: cargo xtask embed --data DIR"),
        },
        Some(other) => {
            bail!(
                "unknown command `{other}`: expected wasm, fetch-encoder, demo, test, bench, loadtest or embed"
            )
        }
        None => bail!("usage: cargo xtask <wasm|fetch-encoder|demo|test|bench|loadtest|embed>"),
    }
}

pub(crate) fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask lives one level below the workspace root")
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

pub(crate) fn run(command: &mut Command) -> Result<()> {
    println!("xtask: {command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

pub(crate) fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out)
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET) =>
        {
            Ok(())
        }
        Ok(_) => run(Command::new("rustup").args(["target", "add", WASM_TARGET])),
        Err(err) => {
            println!(
                "xtask: rustup not found ({err}); assuming the {WASM_TARGET} target is installed"
            );
            Ok(())
        }
    }
}

fn demo(root: &Path, serve_args: &[String]) -> Result<()> {
    let mut command = cargo();
    command
        .current_dir(root)
        .args(["run", "-p", "mesh-cli", "--bin", "mesh", "--", "serve"]);
    if serve_args.is_empty() {
        command.args([
            "--addr",
            "127.0.0.1:8080",
            "--data-dir",
            ".mesh-data",
            "--web-dir",
            "web-demo",
        ]);
    } else {
        command.args(serve_args);
    }
    run(&mut command)
}

pub(crate) fn ensure_chromium() -> Result<()> {
    ensure_debian_package(CHROMIUM, "chromium")
}

/// Installs Debian's `package` unless `binary` exists.
pub(crate) fn ensure_debian_package(binary: &str, package: &str) -> Result<()> {
    if Path::new(binary).exists() {
        return Ok(());
    }
    println!("xtask: {binary} is missing; installing Debian's {package}");
    let sudo = if is_root() { None } else { Some("sudo") };
    let apt = |args: &[&str]| {
        let mut command = Command::new(sudo.unwrap_or("apt-get"));
        if sudo.is_some() {
            command.arg("apt-get");
        }
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    run(&mut apt(&["update", "-qq"]))?;
    run(&mut apt(&[
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
        package,
    ]))
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub(crate) fn ensure_npm_packages(root: &Path) -> Result<()> {
    let e2e = root.join("tests").join("e2e");
    if ["playwright-core", "axe-core"]
        .iter()
        .all(|package| e2e.join("node_modules").join(package).exists())
    {
        return Ok(());
    }
    run(Command::new("npm")
        .current_dir(&e2e)
        .args(["ci", "--no-audit", "--no-fund"]))
}

/// Size after `gzip -9` (Debian's gzip, present on every machine here).
pub(crate) fn gzip_size(bytes: &[u8]) -> Result<usize> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("starting gzip")?;
    let mut stdin = child.stdin.take().context("gzip stdin")?;
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output()?;
    writer
        .join()
        .map_err(|_| anyhow::anyhow!("the gzip writer panicked"))??;
    Ok(output.stdout.len())
}

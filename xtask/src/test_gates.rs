//! `cargo xtask test`: every gate, and the throwaway PostgreSQL cluster the store suite runs on.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::encoder::fetch_encoder;
use crate::wasm::{build_wasm, check_typescript_drift};
use crate::{cargo, ensure_chromium, ensure_debian_package, ensure_npm_packages, is_root, run};

/// The cargo-deny release `cargo xtask test` runs.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// `cargo-deny`: from `PATH` when present, else built once from crates.io (pinned, `--locked`)
/// into `~/.cache/mesh-discovery/tools` (outside the clone, so a CI cache keeps it).
fn ensure_cargo_deny(root: &Path) -> Result<PathBuf> {
    let on_path = Command::new("cargo-deny").arg("--version").output();
    if on_path.is_ok_and(|out| out.status.success()) {
        return Ok(PathBuf::from("cargo-deny"));
    }
    let tools = match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/mesh-discovery/tools"),
        None => crate::target_dir(root).join("tools"),
    };
    let binary = tools.join("bin/cargo-deny");
    if !binary.exists() {
        println!(
            "xtask: installing cargo-deny {CARGO_DENY_VERSION} into {}",
            tools.display()
        );
        run(cargo()
            .args(["install", "cargo-deny", "--locked", "--version"])
            .arg(CARGO_DENY_VERSION)
            .arg("--root")
            .arg(&tools))?;
    }
    Ok(binary)
}

pub(crate) fn test(root: &Path) -> Result<()> {
    run(cargo().current_dir(root).args(["fmt", "--all", "--check"]))?;
    run(cargo().current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo()
        .current_dir(root)
        .env("RUSTDOCFLAGS", "-D warnings")
        .args(["doc", "--no-deps", "--workspace"]))?;
    run(Command::new(ensure_cargo_deny(root)?)
        .current_dir(root)
        .args(["deny", "check", "bans", "licenses", "sources"]))?;
    let encoder_files = fetch_encoder(root)?;
    run(cargo()
        .current_dir(root)
        .env("MESH_ENCODER_DIR", &encoder_files)
        .args(["test", "--workspace"]))?;
    build_wasm(root)?;
    check_typescript_drift(root)?;
    ensure_chromium()?;
    ensure_npm_packages(root)?;
    // `--workspace` (not `-p mesh-tests`) keeps the feature set of the run above, so nothing
    // is rebuilt; only the ignored browser test matches the filter.
    run(cargo()
        .current_dir(root)
        .env("MESH_ENCODER_DIR", &encoder_files)
        .args([
            "test",
            "--workspace",
            "--test",
            "integration",
            "--",
            "--ignored",
            "--nocapture",
            "browser",
        ]))?;
    // The store suite and the two-replica test on a real PostgreSQL.
    let postgres = TestPostgres::start()?;
    let outcome = run(cargo()
        .current_dir(root)
        .env("MESH_ENCODER_DIR", &encoder_files)
        .env("MESH_TEST_POSTGRES_URL", &postgres.url)
        .args([
            "test",
            "--workspace",
            "--test",
            "integration",
            "--",
            "--ignored",
            "postgres",
        ]));
    postgres.stop();
    outcome
}

/// A PostgreSQL server for the tests: Debian's package (installed when missing), a cluster in
/// the target directory with trust authentication, listening on 127.0.0.1 only.
pub(crate) struct TestPostgres {
    bin: PathBuf,
    data: PathBuf,
    url: String,
}

impl TestPostgres {
    const PORT: u16 = 55_439;

    fn bin_dir() -> Option<PathBuf> {
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    }

    /// A command running `program` as the `postgres` user when this is root (PostgreSQL
    /// refuses to run as root).
    fn as_postgres(program: &Path) -> Command {
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn start() -> Result<Self> {
        if Self::bin_dir().is_none() {
            ensure_debian_package("/usr/lib/postgresql/.missing", "postgresql")?;
        }
        let bin = Self::bin_dir().context("PostgreSQL's initdb not found after installing it")?;
        // Outside the target directory: that may sit in root's home, which the postgres user
        // cannot enter.
        let data = std::env::temp_dir().join("mesh-test-postgres");
        if !data.join("PG_VERSION").exists() {
            std::fs::create_dir_all(&data)?;
            if is_root() {
                run(Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&data))?;
            }
            run(Self::as_postgres(&bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-A", "trust", "-U", "postgres", "--no-sync"]))?;
        }
        let running = Self::as_postgres(&bin.join("pg_ctl"))
            .arg("status")
            .arg("-D")
            .arg(&data)
            .output()
            .is_ok_and(|o| o.status.success());
        if !running {
            run(Self::as_postgres(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-o")
                .arg(format!(
                    "-p {} -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off",
                    Self::PORT
                ))
                .arg("-l")
                .arg(data.join("server.log"))
                .args(["-w", "start"]))?;
        }
        Ok(Self {
            bin,
            data,
            url: format!("postgres://postgres@127.0.0.1:{}/postgres", Self::PORT),
        })
    }

    fn stop(&self) {
        let _ = Self::as_postgres(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "stop"])
            .status();
    }
}

//! `cargo xtask loadtest`: wrk against `mesh serve` over loopback.
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo, ensure_debian_package, run};

/// `cargo xtask loadtest [--users N] [--seconds S] [--connections 8,16,32]`: serves N demo people
/// (1,000,000 by default; the HNSW graph is built once and kept as a snapshot in
/// `target/loadtest/`), then drives `POST /v1/discovery/candidates` (k = 20, the full v2
/// pipeline) with wrk over loopback and writes the figures to `target/loadtest/report.md`.
pub(crate) fn loadtest(root: &Path, args: &[String]) -> Result<()> {
    let flag = |name: &str, default: u64| -> Result<u64> {
        match args.iter().position(|a| a == name) {
            Some(i) => args
                .get(i + 1)
                .context(format!("{name} needs a value"))?
                .parse()
                .with_context(|| format!("{name} takes a whole number")),
            None => Ok(default),
        }
    };
    let users = flag("--users", 1_000_000)?;
    let seconds = flag("--seconds", 30)?;
    let connection_levels: Vec<u64> = match args.iter().position(|a| a == "--connections") {
        Some(i) => args
            .get(i + 1)
            .context("--connections needs a value such as 8,16,32")?
            .split(',')
            .map(|level| {
                level
                    .trim()
                    .parse()
                    .with_context(|| format!("--connections: {level:?} is not a whole number"))
            })
            .collect::<Result<_>>()?,
        None => vec![8, 16, 32],
    };
    ensure_debian_package("/usr/bin/wrk", "wrk")?;
    run(cargo()
        .current_dir(root)
        .args(["build", "--release", "-p", "mesh-cli", "--bin", "mesh"]))?;
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let mesh = target.join("release/mesh");
    let out = root.join("target/loadtest");
    let data = out.join(format!("data-{users}"));
    std::fs::create_dir_all(&data)?;
    let script = out.join("candidates.lua");
    run(Command::new(&mesh).args([
        "wrk-script".as_ref(),
        "--data-dir".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        script.as_os_str(),
    ]))?;
    let addr = "127.0.0.1:18087";
    let started = std::time::Instant::now();
    let mut server = Command::new(&mesh)
        .args(["serve", "--addr", addr, "--demo-users", &users.to_string()])
        // wrk repeats 64 signed queries from one address: their identities' daily budget and
        // the per-address rate limit are lifted.
        .args(["--discovery-queries-per-day", "4000000000"])
        .args(["--requests-per-ip-per-second", "0"])
        .arg("--data-dir")
        .arg(&data)
        .arg("--web-dir")
        .arg(root.join("web-demo"))
        .env("RUST_LOG", "warn")
        .spawn()
        .context("starting mesh serve")?;
    let outcome = (|| -> Result<String> {
        wait_for_health(addr, &mut server)?;
        let ready = started.elapsed().as_secs_f64();
        println!("xtask: {users} people served after {ready:.0} s; warming up");
        let url = format!("http://{addr}/v1/discovery/candidates");
        let script = script.to_string_lossy().into_owned();
        let wrk = |connections: u64, duration: u64| {
            Command::new("wrk")
                .args(["-t2", "-c"])
                .arg(connections.to_string())
                .arg(format!("-d{duration}s"))
                .args(["--latency", "-s", &script, &url])
                .output()
                .context("running wrk")
        };
        wrk(connection_levels[0], 5)?;
        let mut report = format!(
            "# Load test: POST /v1/discovery/candidates (k = 20, v2 pipeline)\n\n{users} people indexed (ready after {ready:.0} s), wrk -t2 -d{seconds}s over loopback at each concurrency below, 2 cores shared by wrk and the coordinator.\n"
        );
        for &connections in &connection_levels {
            let measured = wrk(connections, seconds)?;
            let text = String::from_utf8_lossy(&measured.stdout).into_owned();
            if !measured.status.success() {
                bail!(
                    "wrk failed: {text}{}",
                    String::from_utf8_lossy(&measured.stderr)
                );
            }
            report.push_str(&format!(
                "\n## {connections} connections\n\n```\n{text}```\n"
            ));
        }
        Ok(report)
    })();
    // SIGINT lets the coordinator save its index snapshot for the next run.
    let _ = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let report = outcome?;
    std::fs::write(out.join("report.md"), &report)?;
    println!("{report}");
    Ok(())
}

/// Polls `GET /v1/health` until it answers (building a large index takes minutes).
pub(crate) fn wait_for_health(addr: &str, server: &mut std::process::Child) -> Result<()> {
    use std::io::{Read, Write};
    loop {
        if let Some(status) = server.try_wait()? {
            bail!("mesh serve exited early: {status}");
        }
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let _ = stream
                .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
}

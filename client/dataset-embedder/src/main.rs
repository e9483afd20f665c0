//! `mesh-embed --items ITEMS.tsv --out FILE [--encoder-dir DIR] [--threads N]`: the content
//! embedding of every item of an evaluation dataset, as each simulated device would compute it
//! for its own favourites, written as a [`mesh_shared::ContentTable`] for `mesh train --content`
//! and `mesh eval --content` (`cargo xtask embed` runs it and caches the table).
//!
//! A lab tool on the device side: it runs the device's encoder (`mesh-encoder`) on the device's
//! item text ([`mesh_models::content_text`], without a creator: the datasets have none) and
//! writes the table with the one encoder of the format ([`mesh_shared::encode_content_table`]).
//! Items with neither title nor tags are skipped.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use mesh_encoder::SentenceEncoder;

/// Embeds a dataset's items with the pinned sentence encoder.
#[derive(Parser)]
#[command(name = "mesh-embed")]
struct Args {
    /// The dataset's `items.tsv` (`item\ttitle\ttags`, tags separated by `|`).
    #[arg(long)]
    items: PathBuf,
    /// Where to write the content table (written to `FILE.partial`, then renamed).
    #[arg(long)]
    out: PathBuf,
    /// The encoder's pinned files (`model.onnx`, `tokenizer.json`); defaults to
    /// `$MESH_ENCODER_DIR`, then `~/.cache/mesh-discovery/encoder`.
    #[arg(long)]
    encoder_dir: Option<PathBuf>,
    /// Encoder threads (1–16); defaults to the machine's cores.
    #[arg(long)]
    threads: Option<usize>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let encoder_dir = match args.encoder_dir {
        Some(dir) => dir,
        None => match std::env::var_os("MESH_ENCODER_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                PathBuf::from(std::env::var_os("HOME").context("set MESH_ENCODER_DIR or HOME")?)
                    .join(".cache/mesh-discovery/encoder")
            }
        },
    };
    let texts = read_item_texts(&args.items)?;
    let read = |name: &str| {
        let path = encoder_dir.join(name);
        std::fs::read(&path)
            .with_context(|| format!("{} (run `cargo xtask fetch-encoder` first)", path.display()))
    };
    let (onnx, tokenizer) = (read("model.onnx")?, read("tokenizer.json")?);
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
        .clamp(1, 16);

    let start = Instant::now();
    let embeddings = embed_all(&texts, &onnx, &tokenizer, threads, start)?;
    let entries = texts
        .iter()
        .zip(&embeddings)
        .map(|((key, _), embedding)| (key.as_str(), embedding.as_slice()));
    let bytes = mesh_shared::encode_content_table(entries)
        .with_context(|| format!("encoding the table of {}", args.items.display()))?;
    write_atomically(&args.out, &bytes)?;
    eprintln!(
        "embedded {} items in {:.1} s with {threads} threads into {}",
        texts.len(),
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}

/// The embeddings of `texts`, in order, spread over `threads` encoders.
fn embed_all(
    texts: &[(String, String)],
    onnx: &[u8],
    tokenizer: &[u8],
    threads: usize,
    start: Instant,
) -> Result<Vec<Vec<f32>>> {
    let chunk = texts.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = texts
            .chunks(chunk)
            .enumerate()
            .map(|(worker, part)| {
                scope.spawn(move || -> Result<Vec<Vec<f32>>> {
                    let encoder = SentenceEncoder::from_bytes(onnx, tokenizer)?;
                    let mut done = Vec::with_capacity(part.len());
                    for (i, (key, text)) in part.iter().enumerate() {
                        done.push(
                            encoder
                                .embed(text)
                                .with_context(|| format!("embedding item {key}"))?,
                        );
                        if worker == 0 && (i + 1) % 1000 == 0 {
                            eprintln!(
                                "embedded {} of {} items ({:.0} s)",
                                (i + 1) * threads,
                                texts.len(),
                                start.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(texts.len());
        for worker in workers {
            all.extend(
                worker
                    .join()
                    .map_err(|_| anyhow!("an encoder thread panicked"))??,
            );
        }
        Ok(all)
    })
}

fn write_atomically(out: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = out.with_extension("partial");
    std::fs::File::create(&temporary)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, out).with_context(|| format!("writing {}", out.display()))
}

/// `(item id, text)` of every item with a title or tags, from an `items.tsv`.
fn read_item_texts(path: &Path) -> Result<Vec<(String, String)>> {
    let content =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = content.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.split('\t').take(3).eq(["item", "title", "tags"]) => {}
        _ => bail!(
            "{}:1: expected the header `item\\ttitle\\ttags`",
            path.display()
        ),
    }
    let mut texts = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [item, title, tags] = fields.as_slice() else {
            bail!(
                "{}:{}: expected 3 tab-separated fields (item, title, tags), found {}",
                path.display(),
                index + 1,
                fields.len()
            );
        };
        if item.is_empty() {
            bail!("{}:{}: field `item` is empty", path.display(), index + 1);
        }
        let tags: Vec<String> = tags
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let text = mesh_models::content_text(title, None, &tags);
        if !text.trim().is_empty() {
            texts.push(((*item).to_owned(), text));
        }
    }
    Ok(texts)
}

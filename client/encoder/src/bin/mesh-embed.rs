//! `mesh-embed --items ITEMS.tsv --out FILE [--encoder-dir DIR] [--threads N]`: the content
//! embedding of every item of a dataset, as each simulated device would compute it for its own
//! favourites, written as a content table (`mesh_shared::ContentTable`'s byte format) for
//! `mesh train --content` and `mesh eval --content`.
//!
//! An item's text is `title. tag, tag, ...` (the text `mesh_models::content_text` builds for a
//! favourite without a creator); items with neither title nor tags are skipped.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mesh_encoder::{EMBEDDING_DIM, SentenceEncoder};

type BoxResult<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const TABLE_MAGIC: &[u8; 8] = b"MESHCEM1";

fn main() {
    if let Err(error) = run() {
        eprintln!("Error: {error}");
        std::process::exit(1);
    }
}

fn run() -> BoxResult<()> {
    let mut items = None;
    let mut out = None;
    let mut encoder_dir = std::env::var_os("MESH_ENCODER_DIR").map(PathBuf::from);
    let mut threads = std::thread::available_parallelism().map_or(1, usize::from);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--items" => items = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--encoder-dir" => encoder_dir = Some(PathBuf::from(value()?)),
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let items = items.ok_or("--items ITEMS.tsv is required")?;
    let out = out.ok_or("--out FILE is required")?;
    let encoder_dir = match encoder_dir {
        Some(dir) => dir,
        None => PathBuf::from(std::env::var_os("HOME").ok_or("set MESH_ENCODER_DIR or HOME")?)
            .join(".cache/mesh-discovery/encoder"),
    };
    let texts = read_item_texts(&items)?;
    let read = |name: &str| {
        let path = encoder_dir.join(name);
        std::fs::read(&path).map_err(|e| {
            format!(
                "{}: {e} (run `cargo xtask fetch-encoder` first)",
                path.display()
            )
        })
    };
    let (onnx, tokenizer) = (read("model.onnx")?, read("tokenizer.json")?);

    let start = Instant::now();
    let threads = threads.clamp(1, 16);
    let chunk = texts.len().div_ceil(threads).max(1);
    let total = texts.len();
    let embeddings: Vec<Vec<f32>> = std::thread::scope(|scope| -> BoxResult<Vec<Vec<f32>>> {
        let workers: Vec<_> = texts
            .chunks(chunk)
            .enumerate()
            .map(|(worker, part)| {
                let (onnx, tokenizer) = (&onnx, &tokenizer);
                scope.spawn(move || -> BoxResult<Vec<Vec<f32>>> {
                    let encoder = SentenceEncoder::from_bytes(onnx, tokenizer)?;
                    let mut done = Vec::with_capacity(part.len());
                    for (i, (_, text)) in part.iter().enumerate() {
                        done.push(encoder.embed(text)?);
                        if worker == 0 && (i + 1) % 1000 == 0 {
                            eprintln!(
                                "embedded {} of {} items ({:.0} s)",
                                (i + 1) * threads,
                                total,
                                start.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(total);
        for worker in workers {
            all.extend(worker.join().map_err(|_| "an encoder thread panicked")??);
        }
        Ok(all)
    })?;

    let mut bytes = Vec::with_capacity(16 + texts.len() * (EMBEDDING_DIM * 4 + 12));
    bytes.extend_from_slice(TABLE_MAGIC);
    bytes.extend_from_slice(&(EMBEDDING_DIM as u32).to_le_bytes());
    bytes.extend_from_slice(&(texts.len() as u32).to_le_bytes());
    for ((key, _), embedding) in texts.iter().zip(&embeddings) {
        let key_len = u16::try_from(key.len()).map_err(|_| format!("item id {key} is too long"))?;
        bytes.extend_from_slice(&key_len.to_le_bytes());
        bytes.extend_from_slice(key.as_bytes());
        for x in embedding {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    let temporary = out.with_extension("partial");
    std::fs::File::create(&temporary)
        .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
        .map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, &out).map_err(|e| format!("{}: {e}", out.display()))?;
    eprintln!(
        "embedded {} items in {:.1} s with {threads} threads into {}",
        texts.len(),
        start.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

/// `(item id, text)` of every item with a title or tags, from an `items.tsv`.
fn read_item_texts(path: &Path) -> BoxResult<Vec<(String, String)>> {
    let content = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = content.lines().enumerate();
    match lines.next() {
        Some((_, header)) if header.split('\t').take(3).eq(["item", "title", "tags"]) => {}
        _ => {
            return Err(format!(
                "{}:1: expected the header `item\\ttitle\\ttags`",
                path.display()
            )
            .into());
        }
    }
    let mut texts = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != 3 || fields[0].is_empty() {
            return Err(format!(
                "{}:{}: expected 3 tab-separated fields (item, title, tags) with an item id",
                path.display(),
                index + 1
            )
            .into());
        }
        let tags: Vec<String> = fields[2]
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        let text = item_text(fields[1], &tags);
        if !text.trim().is_empty() {
            texts.push((fields[0].to_owned(), text));
        }
    }
    Ok(texts)
}

/// `title. tag, tag`: `mesh_models::content_text` without a creator (a test in
/// `tests/encoder.rs` keeps the two equal).
fn item_text(title: &str, tags: &[String]) -> String {
    let mut text = title.trim().to_owned();
    if !tags.is_empty() {
        text.push_str(". ");
        text.push_str(&tags.join(", "));
    }
    text
}

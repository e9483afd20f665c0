//! Synthetic export files for benchmarks and fuzz seeds (feature `testing`): realistic shape
//! and size, deterministic for a seed. Not part of the default public API.

const WORDS: &[&str] = &[
    "night", "river", "glass", "empire", "silent", "garden", "winter", "machine", "shadow", "city",
    "ocean", "letter", "stone", "fire", "paper", "storm", "north", "golden", "broken", "song",
    "house", "wolf", "star", "crown", "secret", "summer", "iron", "dream", "forest", "mirror",
];
const NAMES: &[&str] = &[
    "Ada", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ingrid", "José",
    "Kofi", "Lena", "Mateo", "Nadia", "Olu", "Petra", "Ravi", "Sofia", "Tomás", "Yara",
];
const SURNAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Novák",
    "García",
    "Haddad",
    "Kowalski",
    "Mbeki",
    "O'Neill",
    "Rossi",
    "Schmidt",
    "Silva",
    "Yilmaz",
    "Zhang",
    "Dubois",
    "Ivanova",
    "Kim",
];

/// A deterministic pseudo-random sequence (SplitMix64) for test data only.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// Roughly Zipf-distributed index in `0..n`: a few items get most of the draws.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0).floor() as usize % n.max(1)
    }
}

fn title(seq: &mut Sequence, words: usize) -> String {
    let mut parts: Vec<String> = (0..words).map(|_| seq.pick(WORDS).to_owned()).collect();
    if let Some(first) = parts.first_mut() {
        let mut chars = first.chars();
        if let Some(c) = chars.next() {
            *first = c.to_uppercase().chain(chars).collect();
        }
    }
    parts.join(" ")
}

fn isbn13(seq: &mut Sequence) -> String {
    let mut digits: Vec<u32> = vec![9, 7, 8];
    digits.extend((0..9).map(|_| seq.below(10) as u32));
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from(b'0' + *d as u8)).collect()
}

/// A Goodreads library export with `rows` books (header included), with the export's
/// quoting, `="…"` ISBNs, unrated books and to-read shelves.
pub fn goodreads_export(rows: usize, seed: u64) -> String {
    let mut seq = Sequence(seed);
    let mut out = String::from(
        "Book Id,Title,Author,Author l-f,Additional Authors,ISBN,ISBN13,My Rating,Average Rating,Publisher,Binding,Number of Pages,Year Published,Original Publication Year,Date Read,Date Added,Bookshelves,Bookshelves with positions,Exclusive Shelf,My Review,Spoiler,Private Notes,Read Count,Owned Copies\n",
    );
    for id in 0..rows {
        let (first, last) = (seq.pick(NAMES), seq.pick(SURNAMES));
        let words = 1 + seq.below(4);
        let book = title(&mut seq, words);
        let series = if seq.below(5) == 0 {
            format!(" ({} #{})", title(&mut seq, 2), 1 + seq.below(6))
        } else {
            String::new()
        };
        let rating = seq.below(6);
        let shelf = ["read", "read", "read", "to-read", "currently-reading"][seq.below(5)];
        let year = 1900 + seq.below(125);
        let isbn = isbn13(&mut seq);
        let review = if seq.below(8) == 0 {
            "\"Loved it, \"\"truly\"\", a classic.\""
        } else {
            ""
        };
        out.push_str(&format!(
            "{},\"{book}{series}\",{first} {last},\"{last}, {first}\",,=\"\",=\"{isbn}\",{rating},3.9{},Publisher,Paperback,{},{year},{year},2023/0{}/1{},2022/11/0{},{shelf},{shelf} (#{id}),{shelf},{review},,,1,0\n",
            100_000 + id,
            seq.below(10),
            100 + seq.below(600),
            1 + seq.below(9),
            seq.below(10),
            1 + seq.below(9),
        ));
    }
    out
}

/// A Spotify `StreamingHistory_music_0.json` with `listens` plays over a few hundred artists,
/// skewed like real listening, with skips under 30 s.
pub fn spotify_history(listens: usize, seed: u64) -> String {
    let mut seq = Sequence(seed);
    let artists: Vec<String> = (0..600)
        .map(|_| {
            let words = 1 + seq.below(3);
            title(&mut seq, words)
        })
        .collect();
    let mut out = String::from("[\n");
    for i in 0..listens {
        let artist = &artists[seq.skewed(artists.len())];
        let words = 1 + seq.below(3);
        let track = title(&mut seq, words);
        let ms = if seq.below(6) == 0 {
            seq.below(29_000)
        } else {
            30_000 + seq.below(300_000)
        };
        let minute = i % 60;
        let day = 1 + i / 2000 % 28;
        out.push_str(&format!(
            "  {{\n    \"endTime\" : \"2024-0{}-{day:02} {:02}:{minute:02}\",\n    \"artistName\" : \"{artist}\",\n    \"trackName\" : \"{track}\",\n    \"msPlayed\" : {ms}\n  }}{}\n",
            1 + seq.below(9),
            seq.below(24),
            if i + 1 == listens { "" } else { "," },
        ));
    }
    out.push(']');
    out
}

/// A typed favourites list of `lines` distinct films, books and artists (`Title (year)`,
/// `book: Title — Author`, `artist: Name`).
pub fn typed_list(lines: usize, seed: u64) -> String {
    let mut seq = Sequence(seed);
    (0..lines)
        .map(|i| {
            let words = 1 + seq.below(3);
            let title = format!("{} {i}", title(&mut seq, words));
            match i % 3 {
                0 => format!("{title} ({})", 1950 + seq.below(75)),
                1 => format!("book: {title} — {} {}", seq.pick(NAMES), seq.pick(SURNAMES)),
                _ => format!("artist: {title}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A deterministic model of `buckets` rows with pseudo-random weights, for benchmarks.
pub fn benchmark_model(buckets: u32, seed: u64) -> crate::ModelWeights {
    let mut seq = Sequence(seed);
    let weights = (0..buckets as usize * crate::TASTE_DIM)
        .map(|_| (seq.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        .collect();
    // Finite weights of the right count: the constructor cannot refuse them.
    #[allow(clippy::expect_used)]
    crate::ModelWeights::new(1, [seed as u8; 32], buckets, weights)
        .expect("a well-formed benchmark model")
}

/// A [`benchmark_model`] shaped like a trained one: every third row zero (no client had those
/// buckets) and a pseudo-random [`ContentTower`](crate::ContentTower) with share 1, so favourites
/// in zero rows are placed by their content embeddings.
pub fn content_tower_model(buckets: u32, seed: u64) -> crate::ModelWeights {
    let model = benchmark_model(buckets, seed);
    let mut weights = model.weights().to_vec();
    for row in weights.chunks_exact_mut(crate::TASTE_DIM).step_by(3) {
        row.fill(0.0);
    }
    let mut seq = Sequence(seed ^ 0x5eed);
    let projection = (0..crate::CONTENT_DIM * crate::TASTE_DIM)
        .map(|_| ((seq.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) / 8.0)
        .collect();
    // Finite values of the right counts: the constructors cannot refuse them.
    #[allow(clippy::expect_used)]
    let tower = crate::ContentTower::new(projection, 1.0).expect("a well-formed tower");
    #[allow(clippy::expect_used)]
    crate::ModelWeights::new(2, [seed as u8; 32], buckets, weights)
        .expect("a well-formed benchmark model")
        .with_content_tower(Some(tower))
}

/// A deterministic unit "content embedding" for a cache key, reproducible bit for bit in
/// JavaScript (`web-demo/bench-support.js`): a 32-bit LCG seeded by the key's
/// first 8 hex digits, centred, normalised in f64, rounded to f32.
pub fn synthetic_content_embedding(key: &str) -> Vec<f32> {
    let mut state = key
        .get(..8)
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .unwrap_or(1);
    let values: Vec<f64> = (0..crate::CONTENT_DIM)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f64::from(state) / 4_294_967_296.0 - 0.5
        })
        .collect();
    let norm = values.iter().map(|x| x * x).sum::<f64>().sqrt();
    values.iter().map(|x| (x / norm) as f32).collect()
}

/// [`synthetic_content_embedding`] of every key, concatenated (as `set_content_embeddings`
/// takes them).
pub fn synthetic_content_embeddings(keys: &[String]) -> Vec<f32> {
    keys.iter()
        .flat_map(|k| synthetic_content_embedding(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExportFormat, WeightPolicy, import_export};

    #[test]
    fn synthetic_exports_import_completely() {
        let goodreads = import_export(
            goodreads_export(500, 1).as_bytes(),
            None,
            &WeightPolicy::default(),
        )
        .unwrap();
        assert_eq!(goodreads.format, ExportFormat::GoodreadsLibrary);
        assert_eq!(goodreads.rows, 500);
        assert_eq!(goodreads.imported_rows + goodreads.skipped.len(), 500);
        assert!(
            goodreads
                .skipped
                .iter()
                .all(|s| s.reason.contains("to-read")),
            "{:?}",
            &goodreads.skipped[..3]
        );
        let spotify = import_export(
            spotify_history(2000, 2).as_bytes(),
            None,
            &WeightPolicy::default(),
        )
        .unwrap();
        assert_eq!(spotify.format, ExportFormat::SpotifyStreamingHistory);
        assert_eq!(spotify.rows, 2000);
        assert!(spotify.favourites.len() > 100);
        let list = import_export(
            typed_list(500, 3).as_bytes(),
            Some(ExportFormat::PlainList),
            &WeightPolicy::default(),
        )
        .unwrap();
        assert_eq!((list.rows, list.favourites.len()), (500, 500));
        let model = benchmark_model(64, 1);
        assert_eq!(crate::ModelWeights::decode(&model.encode()).unwrap(), model);
    }
}

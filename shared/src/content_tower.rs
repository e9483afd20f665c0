//! The content half of the item tower: a learned linear map from an item's text embedding
//! (all-MiniLM-L6-v2, 384-d, computed on the device) into the 256-d taste space, and the table
//! format in which simulated devices' embeddings are handed to the coordinator's tools.
use crate::{Error, Result, TASTE_DIM};

/// Size of a content embedding (the sentence encoder's output).
pub const CONTENT_DIM: usize = 384;

/// First bytes of an encoded [`ContentTable`].
pub const CONTENT_TABLE_MAGIC: &[u8; 8] = b"MESHCEM1";

/// How far from 1 the L2 norm of a content embedding may be.
const UNIT_TOLERANCE: f32 = 1e-3;

/// A `384 × 256` projection `P` (row-major) and the weight `share` of its output: an item no
/// client had during training (a zero row in the table) counts as `share · Pᵀ c`, where `c` is
/// its content embedding. `P` is fitted federatedly so that `Pᵀ c` predicts an item's learned
/// row from its text, so a new item lands near the items its text resembles.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentTower {
    projection: Vec<f32>,
    share: f32,
}

impl ContentTower {
    /// A tower from its projection (`384 × 256` values, row-major) and share.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] for a projection of another size, a non-finite value, or a share
    /// that is not a finite number ≥ 0.
    pub fn new(projection: Vec<f32>, share: f32) -> Result<Self> {
        if projection.len() != CONTENT_DIM * TASTE_DIM {
            return Err(Error::InvalidModel(format!(
                "content projection of {} values, expected {}",
                projection.len(),
                CONTENT_DIM * TASTE_DIM
            )));
        }
        if let Some(index) = projection.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidModel(format!(
                "content projection value {index} is not finite"
            )));
        }
        if !(share.is_finite() && share >= 0.0) {
            return Err(Error::InvalidModel(format!(
                "content share {share} is not a finite number >= 0"
            )));
        }
        Ok(Self { projection, share })
    }

    /// The projection, row-major `384 × 256`.
    pub fn projection(&self) -> &[f32] {
        &self.projection
    }

    /// The weight of the content half.
    pub fn share(&self) -> f32 {
        self.share
    }

    /// The same projection with another share.
    ///
    /// # Errors
    /// As [`ContentTower::new`] for the share.
    pub fn with_share(&self, share: f32) -> Result<Self> {
        Self::new(self.projection.clone(), share)
    }

    /// `Pᵀ content`: 256 values, accumulated in a fixed order (bit-identical on every target).
    /// `content` must hold [`CONTENT_DIM`] values.
    pub fn project(&self, content: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; TASTE_DIM];
        for (c, row) in content.iter().zip(self.projection.chunks_exact(TASTE_DIM)) {
            for (o, p) in out.iter_mut().zip(row) {
                *o += c * p;
            }
        }
        out
    }
}

/// Checks that `values` is a unit content embedding.
///
/// # Errors
/// [`Error::InvalidField`] on `field` for another length, a non-finite value or a norm away
/// from 1.
pub fn check_content_embedding(field: &str, values: &[f32]) -> Result<()> {
    if values.len() != CONTENT_DIM {
        return Err(Error::field(
            field,
            format!("{} values, expected {CONTENT_DIM}", values.len()),
        ));
    }
    let norm = values.iter().map(|x| x * x).sum::<f32>().sqrt();
    if !norm.is_finite() || (norm - 1.0).abs() > UNIT_TOLERANCE {
        return Err(Error::field(field, format!("norm {norm}, expected 1")));
    }
    Ok(())
}

/// Content embeddings keyed by item id, as `mesh-embed` writes them for a dataset: what every
/// simulated device would compute for its own favourites.
///
/// Byte format (little-endian): `MESHCEM1`, dimension `u32` (= 384), count `u32`, then per
/// entry a key length `u16`, the key's UTF-8 bytes and 384 `f32`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentTable {
    keys: Vec<String>,
    values: Vec<f32>,
}

impl ContentTable {
    /// Decodes and checks a table.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the entry (`entry N`) and what is wrong: magic,
    /// dimension, truncation, a key that is not UTF-8 or repeats, an embedding that is not a
    /// unit vector, or trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut reader = Reader { bytes, at: 0 };
        if reader.take(8, "magic")? != CONTENT_TABLE_MAGIC {
            return Err(Error::field(
                "content table",
                "not a content table (bad magic)",
            ));
        }
        let dim = reader.u32("dimension")?;
        if dim as usize != CONTENT_DIM {
            return Err(Error::field(
                "content table",
                format!("dimension {dim}, expected {CONTENT_DIM}"),
            ));
        }
        let count = reader.u32("count")? as usize;
        let mut table = Self::default();
        let mut seen = std::collections::HashSet::new();
        for entry in 0..count {
            let field = format!("content table entry {entry}");
            let key_len = u16::from_le_bytes(
                reader
                    .take(2, &field)?
                    .try_into()
                    .map_err(|_| Error::field(&field, "truncated"))?,
            );
            let key = std::str::from_utf8(reader.take(key_len.into(), &field)?)
                .map_err(|_| Error::field(&field, "the key is not UTF-8"))?;
            if !seen.insert(key.to_owned()) {
                return Err(Error::field(&field, format!("key {key:?} repeats")));
            }
            let values: Vec<f32> = reader
                .take(CONTENT_DIM * 4, &field)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            check_content_embedding(&field, &values)?;
            table.keys.push(key.to_owned());
            table.values.extend(values);
        }
        if reader.at != bytes.len() {
            return Err(Error::field(
                "content table",
                format!("{} trailing bytes", bytes.len() - reader.at),
            ));
        }
        Ok(table)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// `(key, embedding)` of every entry, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[f32])> {
        self.keys
            .iter()
            .map(String::as_str)
            .zip(self.values.chunks_exact(CONTENT_DIM))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| {
            Error::field(field, format!("truncated at byte {}", self.bytes.len()))
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self, field: &str) -> Result<u32> {
        let bytes = self.take(4, field)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

/// Encodes `(key, embedding)` entries in the [`ContentTable`] byte format (what `mesh-embed`
/// writes for a dataset, and what [`ContentTable::decode`] reads back).
///
/// # Errors
/// [`Error::InvalidField`] naming the entry when its key is longer than 65,535 bytes or its
/// embedding does not have [`CONTENT_DIM`] values. Unit norm is the decoder's check.
pub fn encode_content_table<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [f32])>,
) -> Result<Vec<u8>> {
    let entries: Vec<_> = entries.into_iter().collect();
    let count = u32::try_from(entries.len())
        .map_err(|_| Error::field("content table", "more than 2^32 entries"))?;
    let mut out = Vec::with_capacity(16 + entries.len() * (CONTENT_DIM * 4 + 8));
    out.extend_from_slice(CONTENT_TABLE_MAGIC);
    out.extend_from_slice(&(CONTENT_DIM as u32).to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    for (index, (key, values)) in entries.into_iter().enumerate() {
        let field = || format!("content table entry {index}");
        let key_len = u16::try_from(key.len())
            .map_err(|_| Error::field(field(), format!("key of {} bytes", key.len())))?;
        if values.len() != CONTENT_DIM {
            return Err(Error::field(
                field(),
                format!("{} values, expected {CONTENT_DIM}", values.len()),
            ));
        }
        out.extend_from_slice(&key_len.to_le_bytes());
        out.extend_from_slice(key.as_bytes());
        for x in values {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unit(seed: usize) -> Vec<f32> {
        let mut v: Vec<f32> = (0..CONTENT_DIM)
            .map(|i| ((i * 7 + seed * 13) % 11) as f32 - 5.0)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter_mut().for_each(|x| *x /= norm);
        v
    }

    #[test]
    fn a_table_round_trips() {
        let (a, b) = (unit(1), unit(2));
        let bytes = encode_content_table([("1", a.as_slice()), ("zwei", b.as_slice())]).unwrap();
        let table = ContentTable::decode(&bytes).unwrap();
        let entries: Vec<_> = table.iter().collect();
        assert_eq!(entries, [("1", a.as_slice()), ("zwei", b.as_slice())]);
    }

    #[test]
    fn a_bad_table_names_the_entry() {
        let (a, mut b) = (unit(1), unit(2));
        b[0] += 0.5;
        let bytes = encode_content_table([("1", a.as_slice()), ("2", b.as_slice())]).unwrap();
        let err = ContentTable::decode(&bytes).unwrap_err().to_string();
        assert!(err.starts_with("content table entry 1: norm"), "{err}");
        let twice = encode_content_table([("1", a.as_slice()), ("1", a.as_slice())]).unwrap();
        let err = ContentTable::decode(&twice).unwrap_err().to_string();
        assert!(err.contains("repeats"), "{err}");
        let bytes = encode_content_table([("1", a.as_slice())]).unwrap();
        let err = ContentTable::decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 0: truncated"), "{err}");
        let long_key = "k".repeat(70_000);
        let err = encode_content_table([(long_key.as_str(), a.as_slice())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 0: key of 70000 bytes"), "{err}");
        let err = encode_content_table([("1", a.as_slice()), ("2", &a[1..])])
            .unwrap_err()
            .to_string();
        assert!(err.contains("entry 1: 383 values"), "{err}");
    }

    #[test]
    fn the_projection_is_a_matrix_product() {
        let mut projection = vec![0.0; CONTENT_DIM * TASTE_DIM];
        projection[5 * TASTE_DIM + 7] = 2.0;
        let tower = ContentTower::new(projection, 1.0).unwrap();
        let mut content = vec![0.0; CONTENT_DIM];
        content[5] = 0.5;
        let out = tower.project(&content);
        assert_eq!(out[7], 1.0);
        assert_eq!(out.iter().filter(|x| **x != 0.0).count(), 1);
        assert!(ContentTower::new(vec![0.0; 3], 1.0).is_err());
        assert!(ContentTower::new(vec![0.0; CONTENT_DIM * TASTE_DIM], f32::NAN).is_err());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = ContentTable::decode(&bytes);
        }
    }
}

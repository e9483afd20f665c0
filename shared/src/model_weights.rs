use crate::{CONTENT_DIM, ContentTower, Error, FavouriteHasher, Result, TASTE_DIM};

/// First bytes of an encoded model without a content tower.
pub const MODEL_MAGIC: &[u8; 8] = b"MESHMDL1";
/// First bytes of an encoded model with a content tower.
pub const MODEL_MAGIC_WITH_CONTENT: &[u8; 8] = b"MESHMDL2";

/// Largest embedding table a client accepts, in rows.
const MAX_BUCKETS: u32 = 1 << 18;
const HEADER_LEN: usize = 8 + 4 + 4 + 4 + 32;
const CHECKSUM_LEN: usize = 32;

/// The served taste model: a versioned hashed-embedding table of `buckets × 256` `f32` rows,
/// the salt that keys favourite hashing, and optionally a [`ContentTower`].
///
/// Byte format (all integers little-endian): `MESHMDL1` (or `MESHMDL2` with a content tower),
/// version `u32`, buckets `u32`, dim `u32` (= 256), salt `[u8; 32]`, `buckets × dim` `f32`;
/// with a content tower, then content dim `u32` (= 384), share `f32` and `384 × 256` `f32`;
/// then the BLAKE3 hash of all preceding bytes.
#[derive(Clone, PartialEq)]
pub struct ModelWeights {
    version: u32,
    salt: [u8; 32],
    buckets: u32,
    weights: Vec<f32>,
    content: Option<ContentTower>,
}

impl std::fmt::Debug for ModelWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelWeights")
            .field("version", &self.version)
            .field("buckets", &self.buckets)
            .field("content_tower", &self.content.is_some())
            .finish_non_exhaustive()
    }
}

impl ModelWeights {
    /// Builds a model from its parts.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] when `weights` is not `buckets × 256` finite numbers or
    /// `buckets` is 0 or above 2^18.
    pub fn new(version: u32, salt: [u8; 32], buckets: u32, weights: Vec<f32>) -> Result<Self> {
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(Error::InvalidModel(format!(
                "{buckets} buckets, expected 1..={MAX_BUCKETS}"
            )));
        }
        let expected = buckets as usize * TASTE_DIM;
        if weights.len() != expected {
            return Err(Error::InvalidModel(format!(
                "{} weights, expected {expected}",
                weights.len()
            )));
        }
        if let Some(index) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::InvalidModel(format!("weight {index} is not finite")));
        }
        Ok(Self {
            version,
            salt,
            buckets,
            weights,
            content: None,
        })
    }

    /// The same model with `tower` as its content half (or none).
    pub fn with_content_tower(mut self, tower: Option<ContentTower>) -> Self {
        self.content = tower;
        self
    }

    /// The content half of the item tower, when the model has one.
    pub fn content_tower(&self) -> Option<&ContentTower> {
        self.content.as_ref()
    }

    /// Decodes and checks model bytes as served by `GET /v1/model`.
    ///
    /// # Errors
    /// [`Error::InvalidModel`] naming the first problem: magic, truncation, dimension, size,
    /// checksum or a non-finite weight.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let fail = |what: String| Error::InvalidModel(what);
        if bytes.len() < HEADER_LEN + CHECKSUM_LEN {
            return Err(fail(format!(
                "{} bytes is shorter than the header",
                bytes.len()
            )));
        }
        let (body, checksum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if blake3::hash(body).as_bytes() != checksum {
            return Err(fail(
                "checksum mismatch: the bytes are truncated or corrupt".to_owned(),
            ));
        }
        let with_content = match &body[..8] {
            magic if magic == MODEL_MAGIC => false,
            magic if magic == MODEL_MAGIC_WITH_CONTENT => true,
            _ => return Err(fail("not a Mesh model (bad magic)".to_owned())),
        };
        let read_u32 = |at: usize| {
            let mut word = [0u8; 4];
            word.copy_from_slice(&body[at..at + 4]);
            u32::from_le_bytes(word)
        };
        let (version, buckets, dim) = (read_u32(8), read_u32(12), read_u32(16));
        if dim as usize != TASTE_DIM {
            return Err(fail(format!("dimension {dim}, expected {TASTE_DIM}")));
        }
        if buckets == 0 || buckets > MAX_BUCKETS {
            return Err(fail(format!(
                "{buckets} buckets, expected 1..={MAX_BUCKETS}"
            )));
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&body[20..HEADER_LEN]);
        let table_bytes = buckets as usize * TASTE_DIM * 4;
        let content_bytes = if with_content {
            8 + CONTENT_DIM * TASTE_DIM * 4
        } else {
            0
        };
        let payload = &body[HEADER_LEN..];
        if payload.len() != table_bytes + content_bytes {
            return Err(fail(format!(
                "{} weight bytes for {buckets} buckets{}, expected {}",
                payload.len(),
                if with_content {
                    " and a content tower"
                } else {
                    ""
                },
                table_bytes + content_bytes
            )));
        }
        let floats = |bytes: &[u8]| -> Vec<f32> {
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let model = Self::new(version, salt, buckets, floats(&payload[..table_bytes]))?;
        if !with_content {
            return Ok(model);
        }
        let content = &payload[table_bytes..];
        let content_dim = read_u32(HEADER_LEN + table_bytes);
        if content_dim as usize != CONTENT_DIM {
            return Err(fail(format!(
                "content dimension {content_dim}, expected {CONTENT_DIM}"
            )));
        }
        let share = f32::from_le_bytes([content[4], content[5], content[6], content[7]]);
        let tower = ContentTower::new(floats(&content[8..]), share)?;
        Ok(model.with_content_tower(Some(tower)))
    }

    /// Encodes the model in the byte format above.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.weights.len() * 4 + CHECKSUM_LEN);
        out.extend_from_slice(if self.content.is_some() {
            MODEL_MAGIC_WITH_CONTENT
        } else {
            MODEL_MAGIC
        });
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&self.buckets.to_le_bytes());
        out.extend_from_slice(&(TASTE_DIM as u32).to_le_bytes());
        out.extend_from_slice(&self.salt);
        for w in &self.weights {
            out.extend_from_slice(&w.to_le_bytes());
        }
        if let Some(tower) = &self.content {
            out.extend_from_slice(&(CONTENT_DIM as u32).to_le_bytes());
            out.extend_from_slice(&tower.share().to_le_bytes());
            for w in tower.projection() {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        out
    }

    /// The model version; every profile and query names the version its vector came from.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Number of rows in the embedding table.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// The hasher keyed by this model's salt.
    pub fn hasher(&self) -> FavouriteHasher {
        FavouriteHasher::new(&self.salt)
    }

    /// Row `bucket` of the table; `bucket` is reduced modulo the row count.
    pub fn row(&self, bucket: u32) -> &[f32] {
        let start = (bucket % self.buckets) as usize * TASTE_DIM;
        &self.weights[start..start + TASTE_DIM]
    }

    /// The whole table, row-major `buckets × 256`.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The salt favourites are hashed under for this model.
    pub fn salt(&self) -> [u8; 32] {
        self.salt
    }

    #[cfg(test)]
    pub(crate) fn seeded_for_tests(seed: u64, buckets: u32) -> Self {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let weights = (0..buckets as usize * TASTE_DIM)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        Self::new(seed as u32, [seed as u8; 32], buckets, weights).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        let model = ModelWeights::seeded_for_tests(1, 4);
        assert_eq!(ModelWeights::decode(&model.encode()).unwrap(), model);
    }

    #[test]
    fn a_content_tower_round_trips() {
        let projection = (0..CONTENT_DIM * TASTE_DIM)
            .map(|i| (i % 17) as f32 / 17.0)
            .collect();
        let tower = ContentTower::new(projection, 0.75).unwrap();
        let model = ModelWeights::seeded_for_tests(1, 4).with_content_tower(Some(tower));
        let bytes = model.encode();
        assert_eq!(&bytes[..8], MODEL_MAGIC_WITH_CONTENT);
        assert_eq!(ModelWeights::decode(&bytes).unwrap(), model);
    }

    #[test]
    fn names_what_is_wrong() {
        let mut bytes = ModelWeights::seeded_for_tests(1, 4).encode();
        let err = ModelWeights::decode(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        bytes[0] = b'X';
        let body_len = bytes.len() - CHECKSUM_LEN;
        let checksum = blake3::hash(&bytes[..body_len]);
        bytes[body_len..].copy_from_slice(checksum.as_bytes());
        assert!(
            ModelWeights::decode(&bytes)
                .unwrap_err()
                .to_string()
                .contains("bad magic")
        );
        assert!(
            ModelWeights::decode(b"short")
                .unwrap_err()
                .to_string()
                .contains("shorter")
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ModelWeights::decode(&bytes);
        }
    }
}

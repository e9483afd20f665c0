use serde::{Deserialize, Serialize};

use crate::{CONTENT_DIM, Error, ItemHash, ModelWeights, Result, check_content_embedding};

/// Dimension of every taste vector.
pub const TASTE_DIM: usize = 256;

/// How far from 1 the L2 norm of a received vector may be.
const NORM_TOLERANCE: f32 = 1e-3;

/// An L2-normalised 256-d taste vector: finite components, norm 1 within `1e-3`.
///
/// Computed on the device; it leaves the device only when the user opts in to be discoverable.
/// Deserialising one validates it, so a malformed vector never gets past the wire boundary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f32>", into = "Vec<f32>")]
pub struct TasteVector(Vec<f32>);

impl TasteVector {
    /// The components.
    pub fn as_slice(&self) -> &[f32] {
        &self.0
    }

    /// The exact bits of every component as lower-case hex of their little-endian bytes: two
    /// vectors print the same only when they are bit-identical.
    pub fn bits_hex(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().flat_map(|x| x.to_le_bytes()).collect();
        hex::encode(bytes)
    }

    /// A short fingerprint of the exact bits: BLAKE3 of the little-endian bytes, as 64 hex
    /// digits. Equal fingerprints mean bit-identical vectors.
    pub fn fingerprint(&self) -> String {
        let mut hasher = blake3::Hasher::new();
        for x in &self.0 {
            hasher.update(&x.to_le_bytes());
        }
        hasher.finalize().to_hex().to_string()
    }
}

impl schemars::JsonSchema for TasteVector {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TasteVector".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "array",
            "items": { "type": "number" },
            "minItems": TASTE_DIM,
            "maxItems": TASTE_DIM,
            "description": "An L2-normalised 256-d taste vector: finite components, norm 1 within 1e-3."
        })
    }
}

impl TryFrom<Vec<f32>> for TasteVector {
    type Error = Error;

    fn try_from(values: Vec<f32>) -> Result<Self> {
        if values.len() != TASTE_DIM {
            return Err(Error::InvalidTasteVector(format!(
                "expected {TASTE_DIM} components, got {}",
                values.len()
            )));
        }
        if let Some(index) = values.iter().position(|x| !x.is_finite()) {
            return Err(Error::InvalidTasteVector(format!(
                "component {index} is not a finite number"
            )));
        }
        let norm = l2_norm(&values);
        if norm == 0.0 {
            return Err(Error::InvalidTasteVector(
                "all components are zero (was the favourites list empty?)".to_owned(),
            ));
        }
        if (norm - 1.0).abs() > NORM_TOLERANCE {
            return Err(Error::InvalidTasteVector(format!(
                "not L2-normalised: norm is {norm}, expected 1"
            )));
        }
        Ok(Self(values))
    }
}

impl From<TasteVector> for Vec<f32> {
    fn from(vector: TasteVector) -> Self {
        vector.0
    }
}

/// One hashed favourite with its weight (enthusiasm; 1.0 for a typed favourite) and, when the
/// device has computed it, its content embedding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightedItem<'a> {
    /// The item's keyed hash.
    pub hash: ItemHash,
    /// A finite weight > 0.
    pub weight: f32,
    /// The item's unit content embedding ([`CONTENT_DIM`] values), if known.
    pub content: Option<&'a [f32]>,
}

impl WeightedItem<'_> {
    /// An item known by its hash only.
    pub fn new(hash: ItemHash, weight: f32) -> Self {
        Self {
            hash,
            weight,
            content: None,
        }
    }
}

/// The user tower: the taste vector of a set of favourites, the L2-normalised weighted mean of
/// their item vectors. An item's vector is its learned row in `model`'s table; an item without
/// one (a zero row: no client had it when the model was trained) is placed by its content
/// embedding when it has one and the model a [`ContentTower`](crate::ContentTower):
/// `share · Pᵀ content`, computed once as `Pᵀ` of the weighted sum of those embeddings.
/// Behaviour enters through the weights (enthusiasm, recency, replays).
///
/// The result does not depend on the order of `items`; an item listed twice counts once, with
/// its largest weight. Every step is plain IEEE-754 `f32` arithmetic in a fixed order, so the
/// native and wasm32 builds give bit-identical vectors.
///
/// # Errors
/// [`Error::EmptyFavourites`] for no items; [`Error::InvalidField`] for a weight that is not a
/// finite number > 0 or a content embedding that is not a unit vector of [`CONTENT_DIM`]
/// values.
pub fn taste_vector(model: &ModelWeights, items: &[WeightedItem<'_>]) -> Result<TasteVector> {
    user_taste_vector(model, items, &[])
}

/// A zero-party intent while it is active ("looking for collaborators"): the embedding of its
/// text and the weight it carries, like a favourite's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intent<'a> {
    /// The unit content embedding of the intent's text ([`CONTENT_DIM`] values).
    pub content: &'a [f32],
    /// A finite weight > 0.
    pub weight: f32,
}

/// [`taste_vector`] with the user's active intents: each enters the weighted mean like an item
/// without a row, through the model's content tower (`share · Pᵀ content`). Without a content
/// tower, intents do not move the vector.
///
/// # Errors
/// As [`taste_vector`]; an intent's weight and embedding are checked like an item's.
pub fn user_taste_vector(
    model: &ModelWeights,
    items: &[WeightedItem<'_>],
    intents: &[Intent<'_>],
) -> Result<TasteVector> {
    for intent in intents {
        if !(intent.weight.is_finite() && intent.weight > 0.0) {
            return Err(Error::field(
                "intent.weight",
                format!("{} is not a finite number > 0", intent.weight),
            ));
        }
        check_content_embedding("intent.content", intent.content)?;
    }
    if items.is_empty() {
        return Err(Error::EmptyFavourites);
    }
    if let Some(bad) = items
        .iter()
        .find(|i| !(i.weight.is_finite() && i.weight > 0.0))
    {
        return Err(Error::field(
            "weight",
            format!("{} is not a finite number > 0", bad.weight),
        ));
    }
    for item in items {
        if let Some(content) = item.content {
            check_content_embedding("content", content)?;
        }
    }
    let mut sorted = items.to_vec();
    sorted.sort_by(|a, b| a.hash.cmp(&b.hash).then(b.weight.total_cmp(&a.weight)));
    sorted.dedup_by_key(|item| item.hash);

    let mut sum = vec![0.0f32; TASTE_DIM];
    let mut total_weight = 0.0f32;
    for item in &sorted {
        let row = model.row(item.hash.bucket(model.buckets()));
        for (acc, x) in sum.iter_mut().zip(row) {
            *acc += item.weight * x;
        }
        total_weight += item.weight;
    }
    if let Some(tower) = model.content_tower().filter(|t| t.share() > 0.0) {
        let mut content_sum = vec![0.0f32; CONTENT_DIM];
        let mut any_content = !intents.is_empty();
        for intent in intents {
            for (acc, x) in content_sum.iter_mut().zip(intent.content) {
                *acc += intent.weight * x;
            }
            total_weight += intent.weight;
        }
        for item in &sorted {
            let row = model.row(item.hash.bucket(model.buckets()));
            if let Some(content) = item.content.filter(|_| row.iter().all(|x| *x == 0.0)) {
                any_content = true;
                for (acc, x) in content_sum.iter_mut().zip(content) {
                    *acc += item.weight * x;
                }
            }
        }
        if any_content {
            for (acc, x) in sum.iter_mut().zip(tower.project(&content_sum)) {
                *acc += tower.share() * x;
            }
        }
    }
    for acc in &mut sum {
        *acc /= total_weight;
    }
    let norm = l2_norm(&sum);
    if norm == 0.0 || !norm.is_finite() {
        return Err(Error::InvalidTasteVector(format!(
            "the weighted mean has norm {norm}"
        )));
    }
    for acc in &mut sum {
        *acc /= norm;
    }
    TasteVector::try_from(sum)
}

/// Cosine similarity of two vectors of equal length; 0 when either is zero.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = l2_norm(a) * l2_norm(b);
    if norms == 0.0 { 0.0 } else { dot / norms }
}

fn l2_norm(values: &[f32]) -> f32 {
    values.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model() -> ModelWeights {
        ModelWeights::seeded_for_tests(3, 64)
    }

    fn item(byte: u8, weight: f32) -> WeightedItem<'static> {
        WeightedItem::new(ItemHash([byte; 32]), weight)
    }

    fn unit_content(seed: u8) -> Vec<f32> {
        let v: Vec<f32> = (0..CONTENT_DIM)
            .map(|i| ((i * 31 + usize::from(seed) * 7) % 13) as f32 - 6.0)
            .collect();
        let norm = l2_norm(&v);
        v.iter().map(|x| x / norm).collect()
    }

    /// A tower whose projection keeps the first 256 content components.
    fn identity_tower(share: f32) -> crate::ContentTower {
        let mut projection = vec![0.0; CONTENT_DIM * TASTE_DIM];
        projection
            .iter_mut()
            .step_by(TASTE_DIM + 1)
            .take(TASTE_DIM)
            .for_each(|p| *p = 1.0);
        crate::ContentTower::new(projection, share).unwrap()
    }

    #[test]
    fn an_active_intent_moves_the_vector_towards_its_text() {
        let tower = identity_tower(1.0);
        let towered = model().with_content_tower(Some(tower));
        let intent_text = unit_content(9);
        let plain = user_taste_vector(&towered, &[item(1, 1.0)], &[]).unwrap();
        let intent = Intent {
            content: &intent_text,
            weight: 1.0,
        };
        let with = user_taste_vector(&towered, &[item(1, 1.0)], &[intent]).unwrap();
        let direction = &intent_text[..TASTE_DIM];
        assert!(cosine(with.as_slice(), direction) > cosine(plain.as_slice(), direction));
        // No tower: intents do not move the vector; bad intents are refused either way.
        assert_eq!(
            user_taste_vector(&model(), &[item(1, 1.0)], &[intent]).unwrap(),
            taste_vector(&model(), &[item(1, 1.0)]).unwrap()
        );
        let heavy = Intent {
            weight: f32::INFINITY,
            ..intent
        };
        assert!(user_taste_vector(&model(), &[item(1, 1.0)], &[heavy]).is_err());
    }

    #[test]
    fn content_places_only_items_without_a_row() {
        let content = unit_content(1);
        let with = WeightedItem {
            content: Some(&content),
            ..item(1, 1.0)
        };
        let plain = taste_vector(&model(), &[item(1, 1.0)]).unwrap();
        assert_eq!(taste_vector(&model(), &[with]).unwrap(), plain);

        let tower = identity_tower(0.5);
        let towered = model().with_content_tower(Some(tower));
        // A learned row stands; the content embedding is not needed.
        assert_eq!(taste_vector(&towered, &[with]).unwrap(), plain);
        // A zero row (an item nobody had in training) is placed by its content alone.
        let mut weights = model().weights().to_vec();
        let bucket = ItemHash([2; 32]).bucket(64) as usize;
        weights[bucket * TASTE_DIM..(bucket + 1) * TASTE_DIM].fill(0.0);
        let cold_model = ModelWeights::new(1, [0; 32], 64, weights)
            .unwrap()
            .with_content_tower(towered.content_tower().cloned());
        let cold_item = WeightedItem {
            content: Some(&content),
            ..item(2, 1.0)
        };
        let cold = taste_vector(&cold_model, &[cold_item]).unwrap();
        assert!(cosine(cold.as_slice(), &content[..TASTE_DIM]) > 0.9999);
        // Without its embedding, an item with a zero row adds nothing.
        let mixed = taste_vector(&cold_model, &[item(1, 1.0), item(2, 1.0)]).unwrap();
        assert_eq!(mixed, plain);
        let moved = taste_vector(&cold_model, &[item(1, 1.0), cold_item]).unwrap();
        assert_ne!(moved, plain);

        let short = [0.5f32; 3];
        let bad = WeightedItem {
            content: Some(&short),
            ..item(1, 1.0)
        };
        assert_eq!(
            taste_vector(&towered, &[bad]).unwrap_err().to_string(),
            "content: 3 values, expected 384"
        );
    }

    #[test]
    fn trivial() {
        let model = model();
        let v = taste_vector(&model, &[item(1, 1.0)]).unwrap();
        let row = model.row(ItemHash([1; 32]).bucket(64));
        let expected: Vec<f32> = row.iter().map(|x| x / l2_norm(row)).collect();
        assert_eq!(v.as_slice(), expected.as_slice());
    }

    #[test]
    fn rejects_empty_and_bad_weights() {
        assert_eq!(
            taste_vector(&model(), &[]).unwrap_err(),
            Error::EmptyFavourites
        );
        assert!(taste_vector(&model(), &[item(1, f32::NAN)]).is_err());
        assert!(taste_vector(&model(), &[item(1, 0.0)]).is_err());
    }

    #[test]
    fn validates_received_vectors() {
        let short = TasteVector::try_from(vec![1.0]).unwrap_err();
        assert_eq!(
            short.to_string(),
            "taste_vector: expected 256 components, got 1"
        );
        let mut nan = vec![0.0; TASTE_DIM];
        nan[3] = f32::NAN;
        assert!(
            TasteVector::try_from(nan)
                .unwrap_err()
                .to_string()
                .contains("component 3")
        );
        let zeros = TasteVector::try_from(vec![0.0; TASTE_DIM]).unwrap_err();
        assert!(zeros.to_string().contains("all components are zero"));
        let long = TasteVector::try_from(vec![1.0; TASTE_DIM]).unwrap_err();
        assert!(long.to_string().contains("not L2-normalised: norm is 16"));
    }

    proptest! {
        #[test]
        fn order_and_duplicates_do_not_matter(
            bytes in proptest::collection::vec(any::<u8>(), 1..20),
            weights in proptest::collection::vec(0.1f32..10.0, 20),
        ) {
            let model = model();
            let items: Vec<_> = bytes.iter().zip(&weights).map(|(b, w)| item(*b, *w)).collect();
            let mut reversed = items.clone();
            reversed.reverse();
            let a = taste_vector(&model, &items).unwrap();
            let b = taste_vector(&model, &reversed).unwrap();
            prop_assert_eq!(a.bits_hex(), b.bits_hex());
            let norm = l2_norm(a.as_slice());
            prop_assert!((norm - 1.0).abs() < 1e-5);
        }

        #[test]
        fn cosine_is_bounded_and_symmetric(
            a in proptest::collection::vec(-1.0f32..1.0, 8),
            b in proptest::collection::vec(-1.0f32..1.0, 8),
        ) {
            let ab = cosine(&a, &b);
            prop_assert!((-1.0001..=1.0001).contains(&ab));
            prop_assert_eq!(ab, cosine(&b, &a));
        }
    }
}

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use mesh_shared::{DiscoveryCandidate, PublicCard, TasteVector, UserId};

/// The searchable set of discoverable people: an exact cosine scan over all taste vectors.
///
/// Vectors are unit length, so cosine similarity is the dot product. Ties are broken by user id
/// so results are deterministic.
#[derive(Debug, Default)]
pub struct DiscoveryIndex {
    entries: RwLock<HashMap<UserId, IndexedProfile>>,
}

#[derive(Debug, Clone)]
struct IndexedProfile {
    vector: TasteVector,
    card: PublicCard,
}

impl DiscoveryIndex {
    /// Adds or replaces a person.
    pub fn upsert(&self, user: UserId, vector: TasteVector, card: PublicCard) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user, IndexedProfile { vector, card });
    }

    /// Removes a person; returns whether they were present.
    pub fn remove(&self, user: &UserId) -> bool {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(user)
            .is_some()
    }

    /// Number of people in the index.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `user` is in the index.
    pub fn contains(&self, user: &UserId) -> bool {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(user)
    }

    /// The `k` people most similar to `query`, best first, leaving out `exclude`.
    pub fn top_k(
        &self,
        query: &TasteVector,
        k: usize,
        exclude: Option<&UserId>,
    ) -> Vec<DiscoveryCandidate> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mut scored: Vec<(f32, &UserId, &IndexedProfile)> = entries
            .iter()
            .filter(|(id, _)| Some(*id) != exclude)
            .map(|(id, p)| (dot(query.as_slice(), p.vector.as_slice()), id, p))
            .collect();
        let by_rank = |a: &(f32, &UserId, &IndexedProfile), b: &(f32, &UserId, &IndexedProfile)| {
            b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1))
        };
        if scored.len() > k && k > 0 {
            scored.select_nth_unstable_by(k - 1, by_rank);
            scored.truncate(k);
        }
        scored.sort_by(by_rank);
        scored.truncate(k);
        scored
            .into_iter()
            .map(|(score, id, p)| DiscoveryCandidate {
                user_id: id.clone(),
                score,
                card: p.card.clone(),
            })
            .collect()
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::TASTE_DIM;

    fn axis(i: usize, j: usize, w: f32) -> TasteVector {
        let mut v = vec![0.0; TASTE_DIM];
        v[i] = 1.0;
        v[j] += w;
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        TasteVector::try_from(v.into_iter().map(|x| x / n).collect::<Vec<_>>()).unwrap()
    }

    fn card(name: &str) -> PublicCard {
        PublicCard {
            display_name: name.into(),
            traits: vec![],
            public_favourites: vec![],
        }
    }

    fn id(s: &str) -> UserId {
        UserId::try_from(s.to_owned()).unwrap()
    }

    #[test]
    fn returns_nearest_first_and_excludes() {
        let index = DiscoveryIndex::default();
        index.upsert(id("near"), axis(0, 1, 0.1), card("near"));
        index.upsert(id("mid"), axis(0, 1, 1.0), card("mid"));
        index.upsert(id("far"), axis(2, 3, 0.0), card("far"));
        index.upsert(id("me"), axis(0, 0, 0.0), card("me"));
        let names: Vec<_> = index
            .top_k(&axis(0, 0, 0.0), 2, Some(&id("me")))
            .into_iter()
            .map(|c| c.user_id.to_string())
            .collect();
        assert_eq!(names, ["near", "mid"]);
        assert!(index.remove(&id("near")));
        assert_eq!(index.top_k(&axis(0, 0, 0.0), 10, None).len(), 3);
    }
}

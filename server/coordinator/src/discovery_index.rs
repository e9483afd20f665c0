use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use mesh_shared::{DiscoveryCandidate, PublicCard, TasteVector, UserId};

use mesh_ann::inner_product as dot;
use mesh_ann::{Hnsw, HnswParams};

/// Up to this many people, a query scans every vector exactly (about a millisecond at 256-d,
/// and deterministic); beyond it, the HNSW graph answers.
pub(crate) const EXACT_SCAN_LIMIT: usize = 20_000;

/// The searchable set of discoverable people: their taste vectors and public cards, searched by
/// an exact cosine scan while small and through an HNSW graph (kept up to date on every
/// change) once larger than the scan limit.
///
/// Vectors are unit length, so cosine similarity is the dot product. Exact results break ties
/// by user id, so they are deterministic.
#[derive(Debug)]
pub struct DiscoveryIndex {
    entries: RwLock<Entries>,
    exact_scan_limit: usize,
}

#[derive(Debug)]
struct Entries {
    profiles: HashMap<UserId, IndexedProfile>,
    graph: Hnsw<UserId>,
    /// Public favourite hash → people whose card lists it (the v1 baseline's index).
    postings: HashMap<u64, Vec<UserId>>,
}

impl Entries {
    fn unpost(&mut self, user: &UserId) {
        let Some(old) = self.profiles.get(user) else {
            return;
        };
        for title in &old.card.public_favourites {
            let hash = favourite_hash(title);
            if let Some(list) = self.postings.get_mut(&hash) {
                list.retain(|u| u != user);
                if list.is_empty() {
                    self.postings.remove(&hash);
                }
            }
        }
    }

    fn post(&mut self, user: &UserId, card: &PublicCard) {
        let mut hashes: Vec<u64> = card
            .public_favourites
            .iter()
            .map(|t| favourite_hash(t))
            .collect();
        hashes.sort_unstable();
        hashes.dedup();
        for hash in hashes {
            self.postings.entry(hash).or_default().push(user.clone());
        }
    }
}

impl Default for DiscoveryIndex {
    fn default() -> Self {
        Self::with_exact_scan_limit(EXACT_SCAN_LIMIT)
    }
}

#[derive(Debug, Clone)]
struct IndexedProfile {
    vector: TasteVector,
    card: PublicCard,
}

impl DiscoveryIndex {
    /// An empty index that scans exactly up to `exact_scan_limit` people.
    pub fn with_exact_scan_limit(exact_scan_limit: usize) -> Self {
        #[allow(clippy::expect_used)] // the default parameters are in range
        let graph = Hnsw::new(HnswParams::default()).expect("valid HNSW parameters");
        Self {
            entries: RwLock::new(Entries {
                profiles: HashMap::new(),
                graph,
                postings: HashMap::new(),
            }),
            exact_scan_limit,
        }
    }

    /// An empty index whose HNSW graph starts from a snapshot ([`DiscoveryIndex::snapshot`]).
    /// Profiles are added as usual; a profile whose vector the graph already holds is not
    /// re-linked, so a restart does not rebuild the graph. Call
    /// [`DiscoveryIndex::forget_unlisted`] once every profile is in.
    ///
    /// # Errors
    /// [`Error::AnnDecode`](crate::Error) for a snapshot that does not decode.
    pub fn from_snapshot(snapshot: &[u8]) -> crate::Result<Self> {
        Ok(Self {
            entries: RwLock::new(Entries {
                profiles: HashMap::new(),
                graph: Hnsw::decode(snapshot)?,
                postings: HashMap::new(),
            }),
            exact_scan_limit: EXACT_SCAN_LIMIT,
        })
    }

    /// The HNSW graph's bytes, to reload with [`DiscoveryIndex::from_snapshot`].
    pub fn snapshot(&self) -> Vec<u8> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .graph
            .encode()
    }

    /// Removes from the graph everyone who has no profile (people who left while the snapshot
    /// was on disk); returns how many.
    pub fn forget_unlisted(&self) -> usize {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let unlisted: Vec<UserId> = entries
            .graph
            .keys()
            .filter(|user| !entries.profiles.contains_key(*user))
            .cloned()
            .collect();
        for user in &unlisted {
            entries.graph.remove(user);
        }
        unlisted.len()
    }

    /// Adds or replaces a person.
    pub fn upsert(&self, user: UserId, vector: TasteVector, card: PublicCard) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        let unchanged = entries.graph.vector_of(&user) == Some(vector.as_slice());
        let linked = if unchanged {
            Ok(())
        } else if entries.graph.contains(&user) {
            entries.graph.update(&user, vector.as_slice())
        } else {
            entries.graph.insert(user.clone(), vector.as_slice())
        };
        // A validated taste vector always fits the graph; should it not, the exact scan still
        // finds the person while the index is small.
        if let Err(error) = linked {
            tracing::error!(%error, %user, "the HNSW graph refused a taste vector");
        }
        entries.unpost(&user);
        entries.post(&user, &card);
        entries
            .profiles
            .insert(user, IndexedProfile { vector, card });
    }

    /// Removes a person; returns whether they were present.
    pub fn remove(&self, user: &UserId) -> bool {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.graph.remove(user);
        entries.unpost(user);
        entries.profiles.remove(user).is_some()
    }

    /// Number of people in the index.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .profiles
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
            .profiles
            .contains_key(user)
    }

    /// The `k` people most similar to `query`, best first, leaving out `exclude`.
    pub fn top_k(
        &self,
        query: &TasteVector,
        k: usize,
        exclude: Option<&UserId>,
    ) -> Vec<DiscoveryCandidate> {
        self.top_k_where(query.as_slice(), k, |id| Some(id) != exclude, None)
    }

    /// The `k` people most similar to `query` (a unit vector of the index's dimension) that
    /// `keep(user, card)` accepts, best first. Beyond the scan limit the filter is applied
    /// during the graph walk, so rejected people cost routing only.
    pub fn top_k_where(
        &self,
        query: &[f32],
        k: usize,
        keep: impl Fn(&UserId) -> bool,
        keep_card: Option<&dyn Fn(&PublicCard) -> bool>,
    ) -> Vec<DiscoveryCandidate> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let accept = |id: &UserId| {
            keep(id)
                && keep_card.is_none_or(|f| entries.profiles.get(id).is_some_and(|p| f(&p.card)))
        };
        if entries.profiles.len() > self.exact_scan_limit {
            let ef = (k + k / 2).max(64);
            let found = entries
                .graph
                .search(query, k, ef, accept)
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "HNSW search failed");
                    Vec::new()
                });
            return found
                .into_iter()
                .filter_map(|(user_id, score)| {
                    let card = entries.profiles.get(&user_id)?.card.clone();
                    Some(DiscoveryCandidate {
                        user_id,
                        score,
                        card,
                    })
                })
                .collect();
        }
        let scored: Vec<(f32, &UserId, &IndexedProfile)> = entries
            .profiles
            .iter()
            .filter(|(id, p)| keep(id) && keep_card.is_none_or(|f| f(&p.card)))
            .map(|(id, p)| (dot(query, p.vector.as_slice()), id, p))
            .collect();
        best_first(scored, k)
    }

    /// The taste vector and card of `user`, if indexed.
    pub fn profile_of(&self, user: &UserId) -> Option<(TasteVector, PublicCard)> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .profiles
            .get(user)
            .map(|p| (p.vector.clone(), p.card.clone()))
    }

    /// The `k` of `users` most similar to `query`, best first (an exact scan over that set only:
    /// for small sets such as the people present in a room).
    pub fn top_k_among<'a>(
        &self,
        query: &[f32],
        users: impl Iterator<Item = &'a UserId>,
        k: usize,
    ) -> Vec<DiscoveryCandidate> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let scored: Vec<(f32, &UserId, &IndexedProfile)> = users
            .filter_map(|u| {
                let (id, p) = entries.profiles.get_key_value(u)?;
                Some((dot(query, p.vector.as_slice()), id, p))
            })
            .collect();
        best_first(scored, k)
    }

    /// The taste vectors of `users`, in order (`None` for someone not indexed), under one lock.
    pub fn vectors_of<'a>(&self, users: impl Iterator<Item = &'a UserId>) -> Vec<Option<Vec<f32>>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        users
            .map(|u| {
                entries
                    .profiles
                    .get(u)
                    .map(|p| p.vector.as_slice().to_vec())
            })
            .collect()
    }

    /// The v1 baseline: the `k` people whose cards share the most public favourites with
    /// `favourites` (Jaccard of the hashed, case-folded titles), best first, among those `keep`
    /// accepts; people sharing none are not returned.
    pub fn top_k_by_favourites(
        &self,
        favourites: &[String],
        k: usize,
        keep: impl Fn(&UserId, &PublicCard) -> bool,
    ) -> Vec<DiscoveryCandidate> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mine: std::collections::HashSet<u64> =
            favourites.iter().map(|f| favourite_hash(f)).collect();
        let mut overlap: HashMap<&UserId, usize> = HashMap::new();
        for hash in &mine {
            for user in entries.postings.get(hash).into_iter().flatten() {
                *overlap.entry(user).or_default() += 1;
            }
        }
        let scored: Vec<(f32, &UserId, &IndexedProfile)> = overlap
            .into_iter()
            .filter_map(|(user, common)| {
                let p = entries.profiles.get(user)?;
                if !keep(user, &p.card) {
                    return None;
                }
                let theirs = p.card.public_favourites.len();
                let union = mine.len() + theirs - common;
                Some((common as f32 / union.max(1) as f32, user, p))
            })
            .collect();
        best_first(scored, k)
    }
}

/// The `k` best of `scored` (score, user, profile), best first, ties by user id, each user
/// once.
fn best_first(
    mut scored: Vec<(f32, &UserId, &IndexedProfile)>,
    k: usize,
) -> Vec<DiscoveryCandidate> {
    let by_rank = |a: &(f32, &UserId, &IndexedProfile), b: &(f32, &UserId, &IndexedProfile)| {
        b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1))
    };
    if scored.len() > k && k > 0 {
        scored.select_nth_unstable_by(k - 1, by_rank);
        scored.truncate(k);
    }
    scored.sort_by(by_rank);
    scored.dedup_by(|a, b| a.1 == b.1);
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

/// The v1 key of a public favourite: its trimmed, lower-cased title, hashed.
fn favourite_hash(title: &str) -> u64 {
    let folded = title.trim().to_lowercase();
    let digest = blake3::hash(folded.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_bytes()[..8]);
    u64::from_le_bytes(first)
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
            activity: None,
            tone: None,
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

    #[test]
    fn v1_ranks_by_shared_public_favourites() {
        let index = DiscoveryIndex::default();
        let with = |name: &str, favourites: &[&str]| PublicCard {
            activity: None,
            tone: None,
            public_favourites: favourites.iter().map(|f| (*f).to_owned()).collect(),
            ..card(name)
        };
        index.upsert(
            id("two"),
            axis(0, 1, 0.0),
            with("two", &["Alien", "Dune", "Heat"]),
        );
        index.upsert(id("one"), axis(0, 1, 0.0), with("one", &["alien ", "Up"]));
        index.upsert(id("none"), axis(0, 1, 0.0), with("none", &["Up"]));
        let mine = ["Alien".to_owned(), "Dune".to_owned()];
        let found = index.top_k_by_favourites(&mine, 10, |_, _| true);
        let names: Vec<_> = found.iter().map(|c| c.user_id.to_string()).collect();
        assert_eq!(names, ["two", "one"]);
        assert!((found[0].score - 2.0 / 3.0).abs() < 1e-6);
        // A replaced card is re-posted; a removed person is gone.
        index.upsert(id("one"), axis(0, 1, 0.0), with("one", &["Up"]));
        assert!(index.remove(&id("two")));
        assert!(index.top_k_by_favourites(&mine, 10, |_, _| true).is_empty());
    }

    #[test]
    fn a_snapshot_spares_the_rebuild_and_catches_up() {
        let index = DiscoveryIndex::default();
        for i in 0..200usize {
            index.upsert(
                id(&format!("u{i}")),
                axis(i % 50, (i * 3) % 70, 0.2),
                card("x"),
            );
        }
        let snapshot = index.snapshot();
        let restored = DiscoveryIndex::from_snapshot(&snapshot).unwrap();
        for i in 1..200usize {
            restored.upsert(
                id(&format!("u{i}")),
                axis(i % 50, (i * 3) % 70, 0.2),
                card("x"),
            );
        }
        // Nothing was re-linked; the person who left is forgotten.
        assert_eq!(restored.snapshot(), snapshot);
        assert_eq!(restored.forget_unlisted(), 1);
        assert_eq!(restored.len(), 199);
        assert!(DiscoveryIndex::from_snapshot(&snapshot[..100]).is_err());
    }

    #[test]
    fn beyond_the_scan_limit_the_graph_answers_like_the_scan() {
        let graph_index = DiscoveryIndex::with_exact_scan_limit(100);
        let exact = DiscoveryIndex::with_exact_scan_limit(usize::MAX);
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut random_unit = |centre: usize| {
            let v: Vec<f32> = (0..TASTE_DIM)
                .map(|d| if d == centre { 1.0 } else { 0.0 } + (rng.random::<f32>() - 0.5) * 0.3)
                .collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            TasteVector::try_from(v.into_iter().map(|x| x / n).collect::<Vec<_>>()).unwrap()
        };
        let vectors: Vec<TasteVector> = (0..1540).map(|i| random_unit(i % 50)).collect();
        for (i, vector) in vectors.iter().take(1500).enumerate() {
            let vector = vector.clone();
            let user = id(&format!("u{i}"));
            graph_index.upsert(user.clone(), vector.clone(), card("x"));
            exact.upsert(user, vector, card("x"));
        }
        // Moved and removed people are reflected at once.
        graph_index.upsert(id("u3"), axis(200, 201, 0.0), card("moved"));
        exact.upsert(id("u3"), axis(200, 201, 0.0), card("moved"));
        assert!(graph_index.remove(&id("u4")) && exact.remove(&id("u4")));
        let (mut found, mut total) = (0, 0);
        for q in 0..40usize {
            let query = vectors[1500 + q].clone();
            let me = id(&format!("u{q}"));
            let approx = graph_index.top_k(&query, 10, Some(&me));
            assert!(
                approx
                    .iter()
                    .all(|c| c.user_id != me && c.user_id.as_str() != "u4")
            );
            let truth: Vec<f32> = exact
                .top_k(&query, 10, Some(&me))
                .iter()
                .map(|c| c.score)
                .collect();
            let cutoff = truth.last().copied().unwrap_or(f32::MIN);
            found += approx.iter().filter(|c| c.score >= cutoff - 1e-6).count();
            total += truth.len();
        }
        assert!(found as f64 / total as f64 >= 0.95, "{found} of {total}");
        let moved = graph_index.top_k(&axis(200, 201, 0.0), 1, None);
        assert_eq!(moved[0].card.display_name, "moved");
    }
}

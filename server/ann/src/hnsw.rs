//! The HNSW graph: one block per node (layer-0 links and the 8-bit code, cache-line
//! aligned), higher layers apart, soft deletes with re-linking, and the checksummed snapshot.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use mesh_shared::UserId;

use crate::error::{Error, Result};
use crate::kernels::{LINE_WORDS, Query, inner_product, quantize, touch};

/// Largest layer a node can be drawn on; with `M ≥ 2` a higher draw has probability < 2⁻³².
const MAX_LEVEL: usize = 32;
const MAGIC: &[u8; 8] = b"MESHHNSW";
const FORMAT_VERSION: u32 = 1;
const CHECKSUM_LEN: usize = 32;
const NO_ENTRY: u32 = u32::MAX;
const MAX_DIM: usize = 1 << 16;
const MAX_M: usize = 1024;
/// An empty link slot: link lists end at the first one (or fill their block).
const NO_LINK: u32 = u32::MAX;

/// A key the index can store and persist: how it is written into [`Hnsw::encode`].
pub trait HnswKey: Clone + Eq + Hash {
    /// Appends the key's bytes to `out`.
    fn write_bytes(&self, out: &mut Vec<u8>);
    /// The key written as `bytes`; `None` if they are not a valid key.
    fn from_bytes(bytes: &[u8]) -> Option<Self>;
}

impl HnswKey for u32 {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl HnswKey for u64 {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }
}

impl HnswKey for UserId {
    fn write_bytes(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_str().as_bytes());
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        UserId::try_from(text.to_owned()).ok()
    }
}

/// Build parameters of an [`Hnsw`] index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Length of every vector (1 to 65 536).
    pub dim: usize,
    /// Links per node on the upper layers; layer 0 keeps up to `2 * m` (2 to 1024).
    pub m: usize,
    /// Candidate list size while linking a new or moved node (at least `m`, raised if lower).
    pub ef_construction: usize,
    /// Seed of the level draws: the same seed and the same operations build the same graph.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            dim: mesh_shared::TASTE_DIM,
            m: 16,
            ef_construction: 128,
            seed: 0,
        }
    }
}

/// An HNSW approximate-nearest-neighbour index over unit vectors, scored by inner product.
///
/// Callers pass L2-normalised vectors (the index only checks length and finiteness), so the
/// score is the cosine similarity; results are best (highest score) first.
///
/// Removal marks a node deleted: it stays in the graph as a routing node (searches still walk
/// through it, so the graph stays as navigable as before) and is never returned. What the
/// removed key was leaves the index at once, in memory and in every later
/// [`encode`](Self::encode): its key, and its exact vector, which is replaced by the mean of its
/// live layer-0 neighbours' vectors for routing. A later
/// [`insert`](Self::insert) of a new key reuses a deleted node's slot, re-linking it like an
/// update, so the node count never exceeds the most keys held at once.
///
/// [`update`](Self::update) moves a node in place: it overwrites the vector and re-links the
/// node on each of its layers from a fresh search, adding reverse links with the same pruning
/// as an insert. Links that pointed at the old position stay as (longer) routing links.
///
/// Searches take `&self` and may run concurrently; each borrows a visited set from a pool, so a
/// search allocates nothing per visited node.
///
/// A search is bound by memory latency, so the walk reads a quarter of the bytes a vector
/// holds: each node keeps an 8-bit code of its vector (per vector: `x[i] ≈ low + step *
/// code[i]`) in one block with its layer-0 links, and the walk scores the exact query against
/// the codes. The `ef` nodes the walk ends with are then re-scored with the exact vectors, so
/// results and their scores are exact inner products; only which nodes the walk visits
/// depends on the codes. Inserts link a node by the same walk and re-scored candidates.
pub struct Hnsw<K: HnswKey> {
    params: HnswParams,
    /// One block per node, so that a search finds a node's code and its layer-0 links in
    /// adjacent cache lines: node `i` owns `level0[start0 + i * stride0..][..stride0]`: `low`
    /// and `step` (as `f32` bits), the code (`dim` bytes in `code_words` words), then `2m`
    /// layer-0 link slots, then padding to a whole number of cache lines. `start0` puts the
    /// first block on a 64-byte boundary.
    level0: Vec<u32>,
    start0: usize,
    stride0: usize,
    code_words: usize,
    /// The exact vectors, node `i` at `vectors[i * dim..][..dim]`.
    vectors: Vec<f32>,
    /// Upper-layer links of node `i`: `levels[i]` runs of `m` slots, layer 1 first.
    upper: Vec<Vec<u32>>,
    levels: Vec<u8>,
    /// The key of each node; `None` once it is removed.
    keys: Vec<Option<K>>,
    deleted: Vec<bool>,
    /// Live keys to their node; deleted nodes are absent.
    slots: HashMap<K, u32>,
    /// Deleted nodes, reused by inserts; empty when no node is deleted.
    free: Vec<u32>,
    entry: u32,
    max_level: usize,
    level_draws: u64,
    scratch: Mutex<Vec<Scratch>>,
}

/// Invariants kept by every method and checked by [`Hnsw::decode`]: every link target is a
/// node index below `len`, a node's links on a layer are its slots up to the first `NO_LINK`,
/// `entry` is a node on `max_level` (or `NO_ENTRY` when there are no nodes), `slots` maps each
/// live key to its node and `free` holds exactly the deleted nodes.
impl<K: HnswKey> Hnsw<K> {
    /// An empty index.
    ///
    /// Errors with [`Error::Params`] if `dim` or `m` is out of range.
    pub fn new(mut params: HnswParams) -> Result<Self> {
        if params.dim == 0 || params.dim > MAX_DIM {
            return Err(Error::Params(format!(
                "dimension {} is not in 1..={MAX_DIM}",
                params.dim
            )));
        }
        if params.m < 2 || params.m > MAX_M {
            return Err(Error::Params(format!(
                "M {} is not in 2..={MAX_M}",
                params.m
            )));
        }
        params.ef_construction = params.ef_construction.max(params.m);
        Ok(Self {
            params,
            level0: Vec::new(),
            start0: 0,
            stride0: (2 + params.dim.div_ceil(4) + 2 * params.m).next_multiple_of(LINE_WORDS),
            code_words: params.dim.div_ceil(4),
            vectors: Vec::new(),
            upper: Vec::new(),
            levels: Vec::new(),
            keys: Vec::new(),
            deleted: Vec::new(),
            slots: HashMap::new(),
            free: Vec::new(),
            entry: NO_ENTRY,
            max_level: 0,
            level_draws: 0,
            scratch: Mutex::new(Vec::new()),
        })
    }

    /// Makes room for `additional` more nodes, so a bulk load allocates once.
    pub fn reserve(&mut self, additional: usize) {
        self.reserve_blocks(self.keys.len() + additional);
        self.vectors
            .reserve_exact(additional.saturating_mul(self.params.dim));
        self.upper.reserve_exact(additional);
        self.levels.reserve_exact(additional);
        self.keys.reserve_exact(additional);
        self.deleted.reserve_exact(additional);
        self.slots.reserve(additional);
    }

    /// The build parameters.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Number of live (not removed) keys.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no live key is left.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The vector stored for `key`, if it is in the index.
    pub fn vector_of(&self, key: &K) -> Option<&[f32]> {
        let node = *self.slots.get(key)?;
        Some(self.vector(node))
    }

    /// The keys in the index, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.slots.keys()
    }

    /// Whether `key` is live in the index.
    pub fn contains(&self, key: &K) -> bool {
        self.slots.contains_key(key)
    }

    /// Adds `key` with `vector`.
    ///
    /// Errors with [`Error::Vector`] if the vector is not a finite `dim`-vector and with
    /// [`Error::DuplicateKey`] if `key` is already live (use [`update`](Self::update)).
    pub fn insert(&mut self, key: K, vector: &[f32]) -> Result<()> {
        self.check_vector(vector)?;
        if self.slots.contains_key(&key) {
            return Err(Error::DuplicateKey);
        }
        if let Some(node) = self.free.pop() {
            self.slots.insert(key.clone(), node);
            let i = node as usize;
            if let Some(slot) = self.keys.get_mut(i) {
                *slot = Some(key);
            }
            if let Some(flag) = self.deleted.get_mut(i) {
                *flag = false;
            }
            self.relink(node, vector);
            return Ok(());
        }
        let node = u32::try_from(self.keys.len())
            .ok()
            .filter(|&n| n != NO_ENTRY)
            .ok_or(Error::Full)?;
        let level = self.draw_level();
        if self.level0.len() + self.stride0 > self.level0.capacity() {
            self.reserve_blocks((2 * self.keys.len()).max(self.keys.len() + 1));
        }
        self.push_block(vector, &[]);
        self.upper.push(vec![NO_LINK; level * self.params.m]);
        // `draw_level` caps the level at MAX_LEVEL < 256.
        self.levels.push(level as u8);
        self.keys.push(Some(key.clone()));
        self.deleted.push(false);
        self.slots.insert(key, node);
        self.link_new(node, level);
        Ok(())
    }

    /// Moves live `key` to `vector`.
    ///
    /// Errors with [`Error::Vector`] for a bad vector and [`Error::UnknownKey`] if `key`
    /// is not live.
    pub fn update(&mut self, key: &K, vector: &[f32]) -> Result<()> {
        self.check_vector(vector)?;
        let node = *self.slots.get(key).ok_or(Error::UnknownKey)?;
        self.relink(node, vector);
        Ok(())
    }

    /// Removes `key` from results; returns whether it was live. Its node keeps routing searches
    /// until an insert reuses it.
    pub fn remove(&mut self, key: &K) -> bool {
        let Some(node) = self.slots.remove(key) else {
            return false;
        };
        if let Some(flag) = self.deleted.get_mut(node as usize) {
            *flag = true;
        }
        if let Some(slot) = self.keys.get_mut(node as usize) {
            *slot = None;
        }
        let surrogate = self.live_neighbour_mean(node);
        self.write_code(node, &surrogate);
        self.free.push(node);
        true
    }

    /// The mean of `node`'s live layer-0 neighbours' vectors (zeros when it has none): what a
    /// removed node routes with instead of its own vector.
    fn live_neighbour_mean(&self, node: u32) -> Vec<f32> {
        let mut mean = vec![0.0f32; self.params.dim];
        let mut count = 0usize;
        for neighbour in self.links(node, 0) {
            if self.is_deleted(neighbour) {
                continue;
            }
            for (m, x) in mean.iter_mut().zip(self.vector(neighbour)) {
                *m += x;
            }
            count += 1;
        }
        if count > 0 {
            mean.iter_mut().for_each(|m| *m /= count as f32);
        }
        mean
    }

    /// The `k` live keys with the highest inner product with `query` among those `filter`
    /// accepts, best first, as `(key, score)`.
    ///
    /// `ef` (raised to `k`) is the candidate list size: higher is slower and more exact.
    /// `filter` is applied during the walk: rejected and removed nodes are still traversed for
    /// routing but never returned, so fewer than `k` results come back only when fewer than
    /// `k` reachable keys pass it. Errors with [`Error::Vector`] for a bad query.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: impl Fn(&K) -> bool,
    ) -> Result<Vec<(K, f32)>> {
        self.check_vector(query)?;
        if k == 0 || self.entry == NO_ENTRY {
            return Ok(Vec::new());
        }
        let mut scratch = self
            .scratch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let query = Query::new(query);
        let entry = self.greedy_descend(&query, self.entry, self.max_level, 0);
        // Skips a lookup per accepted node while nothing is deleted.
        let any_deleted = !self.free.is_empty();
        self.search_layer(
            &query,
            entry,
            ef.max(k),
            0,
            &mut scratch,
            |node| {
                (!any_deleted || !self.is_deleted(node))
                    && self
                        .keys
                        .get(node as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(&filter)
            },
            true,
        );
        let found = self.rescore(&query, &mut scratch);
        let results = found
            .into_iter()
            .take(k)
            .filter_map(|(score, node)| {
                Some((self.keys.get(node as usize)?.as_ref()?.clone(), score.0))
            })
            .collect();
        self.scratch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scratch);
        Ok(results)
    }

    /// Bytes held by vectors, links and keys (an estimate: allocator overhead and the key map's
    /// buckets are approximated).
    pub fn memory_bytes(&self) -> usize {
        let u = std::mem::size_of::<u32>();
        let per_node = std::mem::size_of::<Vec<u32>>() + 2 + std::mem::size_of::<K>();
        let map = self.slots.capacity() * (std::mem::size_of::<K>() + u + 1);
        self.level0.capacity() * u
            + self.vectors.capacity() * u
            + self.upper.iter().map(|l| l.capacity() * u).sum::<usize>()
            + self.keys.len() * per_node
            + map
    }

    /// The index in a versioned binary format ending in a BLAKE3 checksum of everything before
    /// it; [`decode`](Self::decode) reads it back.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.level0.len() * 4 + 64);
        out.extend_from_slice(MAGIC);
        put_u32(&mut out, FORMAT_VERSION);
        put_u32(&mut out, self.params.dim as u32);
        put_u32(&mut out, self.params.m as u32);
        put_u32(
            &mut out,
            self.params.ef_construction.min(u32::MAX as usize) as u32,
        );
        out.extend_from_slice(&self.params.seed.to_le_bytes());
        out.extend_from_slice(&self.level_draws.to_le_bytes());
        put_u32(&mut out, self.entry);
        put_u32(&mut out, self.keys.len() as u32);
        let mut key_bytes = Vec::new();
        for node in 0..self.keys.len() {
            let level = self.levels.get(node).copied().unwrap_or(0);
            out.push(level);
            out.push(u8::from(self.is_deleted(node as u32)));
            key_bytes.clear();
            if let Some(Some(key)) = self.keys.get(node) {
                key.write_bytes(&mut key_bytes);
            }
            put_u32(&mut out, key_bytes.len() as u32);
            out.extend_from_slice(&key_bytes);
            for x in self.vector(node as u32) {
                out.extend_from_slice(&x.to_le_bytes());
            }
            for layer in 0..=usize::from(level) {
                let count = self.links(node as u32, layer).count();
                put_u32(&mut out, count as u32);
                for l in self.links(node as u32, layer) {
                    put_u32(&mut out, l);
                }
            }
        }
        let checksum = blake3::hash(&out);
        out.extend_from_slice(checksum.as_bytes());
        out
    }

    /// Reads an index written by [`encode`](Self::encode).
    ///
    /// Errors with [`Error::Decode`] (never panics) if the bytes are truncated, fail the
    /// checksum, have another format version, or describe an invalid graph: parameters out of
    /// range, a link to a missing node or over capacity, a bad entry point, a non-finite value,
    /// an invalid or duplicate live key.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let body_len = bytes
            .len()
            .checked_sub(CHECKSUM_LEN)
            .ok_or_else(|| decode_error("shorter than a checksum"))?;
        let (body, checksum) = bytes.split_at(body_len);
        if blake3::hash(body).as_bytes() != checksum {
            return Err(decode_error("checksum mismatch"));
        }
        let mut r = Reader(body);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(decode_error("not an HNSW index"));
        }
        let version = r.u32()?;
        if version != FORMAT_VERSION {
            return Err(decode_error(format!(
                "format version {version}, expected {FORMAT_VERSION}"
            )));
        }
        let params = HnswParams {
            dim: r.u32()? as usize,
            m: r.u32()? as usize,
            ef_construction: r.u32()? as usize,
            seed: r.u64()?,
        };
        let mut index = Self::new(params).map_err(|e| decode_error(e.to_string()))?;
        index.level_draws = r.u64()?;
        let entry = r.u32()?;
        let n = r.u32()? as usize;
        let dim = index.params.dim;
        let min_node_bytes = 2 + 4 + dim * 4 + 4;
        if n > r.0.len() / min_node_bytes {
            return Err(decode_error(format!("{n} nodes do not fit the input")));
        }
        index.reserve_blocks(n);
        index.vectors.reserve_exact(n * dim);
        let m = index.params.m;
        let mut vector: Vec<f32> = Vec::with_capacity(dim);
        let mut links0 = Vec::with_capacity(2 * m);
        for node in 0..n {
            let level = usize::from(r.u8()?);
            if level > MAX_LEVEL {
                return Err(decode_error(format!("node {node}: level {level}")));
            }
            let deleted = match r.u8()? {
                0 => false,
                1 => true,
                other => return Err(decode_error(format!("node {node}: flag {other}"))),
            };
            let key_len = r.u32()? as usize;
            let key_bytes = r.take(key_len)?;
            // A removed node has no key (a snapshot of an older version may still carry one:
            // it is dropped here).
            let key = if deleted {
                None
            } else {
                Some(
                    K::from_bytes(key_bytes)
                        .ok_or_else(|| decode_error(format!("node {node}: invalid key")))?,
                )
            };
            vector.clear();
            for _ in 0..dim {
                let x = f32::from_le_bytes(r.array()?);
                if !x.is_finite() {
                    return Err(decode_error(format!("node {node}: non-finite value")));
                }
                vector.push(x);
            }
            let mut upper = vec![NO_LINK; level * m];
            for layer in 0..=level {
                let count = r.u32()? as usize;
                let cap = index.cap(layer);
                if count > cap {
                    return Err(decode_error(format!(
                        "node {node} layer {layer}: {count} links, at most {cap}"
                    )));
                }
                let slots = if layer == 0 {
                    links0.clear();
                    links0.resize(cap, NO_LINK);
                    links0.as_mut_slice()
                } else {
                    upper
                        .get_mut((layer - 1) * m..layer * m)
                        .ok_or_else(|| decode_error("internal layout"))?
                };
                for slot in slots.iter_mut().take(count) {
                    let target = r.u32()?;
                    if target as usize >= n {
                        return Err(decode_error(format!(
                            "node {node} layer {layer}: link to missing node {target}"
                        )));
                    }
                    *slot = target;
                }
            }
            index.push_block(&vector, &links0);
            index.upper.push(upper);
            index.levels.push(level as u8);
            match &key {
                None => index.free.push(node as u32),
                Some(key) => {
                    if index.slots.insert(key.clone(), node as u32).is_some() {
                        return Err(decode_error(format!("node {node}: duplicate key")));
                    }
                }
            }
            index.keys.push(key);
            index.deleted.push(deleted);
        }
        if !r.0.is_empty() {
            return Err(decode_error("trailing bytes"));
        }
        if n == 0 {
            if entry != NO_ENTRY {
                return Err(decode_error("entry point in an empty index"));
            }
        } else {
            let entry_level = index
                .levels
                .get(entry as usize)
                .ok_or_else(|| decode_error(format!("entry point {entry} is not a node")))?;
            let max_level = index.levels.iter().copied().max().unwrap_or(0);
            if *entry_level != max_level {
                return Err(decode_error("entry point is not on the top layer"));
            }
            index.entry = entry;
            index.max_level = usize::from(max_level);
        }
        Ok(index)
    }

    fn check_vector(&self, vector: &[f32]) -> Result<()> {
        if vector.len() != self.params.dim || !vector.iter().all(|x| x.is_finite()) {
            return Err(Error::Vector {
                expected: self.params.dim,
                got: vector.len(),
            });
        }
        Ok(())
    }

    /// Makes room in `level0` for `nodes` blocks in all, moving the blocks to a new
    /// allocation whose first block starts on a cache line if the current one is too small.
    fn reserve_blocks(&mut self, nodes: usize) {
        let words = nodes.saturating_mul(self.stride0);
        if self.start0.saturating_add(words) <= self.level0.capacity() {
            return;
        }
        let mut fresh: Vec<u32> = Vec::with_capacity(words.saturating_add(LINE_WORDS - 1));
        // `align_offset` may decline (usize::MAX); the blocks are then merely unaligned.
        let start = match fresh.as_ptr().align_offset(LINE_WORDS * 4) {
            start if start < LINE_WORDS => start,
            _ => 0,
        };
        fresh.resize(start, 0);
        fresh.extend_from_slice(self.level0.get(self.start0..).unwrap_or(&[]));
        self.level0 = fresh;
        self.start0 = start;
    }

    /// Appends a node: its exact `vector`, and its layer-0 block with the vector's code,
    /// `links` and empty slots up to `2m` links.
    fn push_block(&mut self, vector: &[f32], links: &[u32]) {
        let start = self.level0.len();
        self.level0.resize(start + self.stride0, 0);
        self.vectors.extend_from_slice(vector);
        let node = (start - self.start0) / self.stride0;
        self.write_code(node as u32, vector);
        let links_at = start + self.links_at();
        if let Some(slots) = self.level0.get_mut(links_at..links_at + 2 * self.params.m) {
            slots.fill(NO_LINK);
            for (slot, &link) in slots.iter_mut().zip(links) {
                *slot = link;
            }
        }
    }

    /// Stores `vector` as node `node`'s exact vector (which must exist) and code.
    fn write_code(&mut self, node: u32, vector: &[f32]) {
        let dim = self.params.dim;
        if let Some(exact) = self
            .vectors
            .get_mut(node as usize * dim..(node as usize + 1) * dim)
        {
            exact.copy_from_slice(vector);
        }
        let start = self.block(node);
        let Some(words) = self.level0.get_mut(start..start + 2 + self.code_words) else {
            return;
        };
        let (scale, code) = words.split_at_mut(2);
        let code: &mut [u8] = bytemuck::cast_slice_mut(code);
        let (low, step) = quantize(vector, code);
        scale[0] = low.to_bits();
        scale[1] = step.to_bits();
    }

    /// Offset of the layer-0 link slots in a block.
    #[inline]
    fn links_at(&self) -> usize {
        2 + self.code_words
    }

    /// Where node `node`'s block starts in `level0`.
    #[inline]
    fn block(&self, node: u32) -> usize {
        self.start0 + node as usize * self.stride0
    }

    fn cap(&self, layer: usize) -> usize {
        if layer == 0 {
            2 * self.params.m
        } else {
            self.params.m
        }
    }

    fn draw_level(&mut self) -> usize {
        self.level_draws += 1;
        let bits = splitmix64(self.params.seed ^ splitmix64(self.level_draws));
        // 53 random bits in (0, 1].
        let u = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let level = -u.ln() / (self.params.m as f64).ln();
        (level as usize).min(MAX_LEVEL)
    }

    fn is_deleted(&self, node: u32) -> bool {
        self.deleted.get(node as usize).copied().unwrap_or(true)
    }

    fn level(&self, node: u32) -> usize {
        usize::from(self.levels.get(node as usize).copied().unwrap_or(0))
    }

    #[inline]
    fn vector(&self, node: u32) -> &[f32] {
        let dim = self.params.dim;
        let start = node as usize * dim;
        self.vectors.get(start..start + dim).unwrap_or(&[])
    }

    /// The walk's score of `node`: the query's inner product with the node's decoded code.
    #[inline]
    fn approx(&self, query: &Query, node: u32) -> f32 {
        let start = self.block(node);
        let Some(words) = self.level0.get(start..start + 2 + self.code_words) else {
            return f32::NEG_INFINITY;
        };
        let (scale, code) = words.split_at(2);
        let code: &[u8] = bytemuck::cast_slice(code);
        let low = f32::from_bits(scale[0]);
        let step = f32::from_bits(scale[1]);
        low * query.sum + step * query.code_product(code)
    }

    /// Starts loading the cache lines of `node`'s code (see [`touch`]).
    #[inline]
    fn touch_code(&self, node: u32) {
        let start = self.block(node);
        if let Some(words) = self.level0.get(start..start + 2 + self.code_words) {
            touch(words);
        }
    }

    /// Drains the walk's nodes from `scratch.top`, re-scored exactly against `query`, best
    /// first.
    fn rescore(&self, query: &Query, scratch: &mut Scratch) -> Vec<(Score, u32)> {
        scratch.batch.clear();
        scratch
            .batch
            .extend(scratch.top.drain().map(|Reverse((_, node))| node));
        for &node in &scratch.batch {
            touch(bytemuck::cast_slice(self.vector(node)));
        }
        let mut found: Vec<(Score, u32)> = scratch
            .batch
            .iter()
            .map(|&node| {
                let vector = self.vector(node);
                (Score(query.inner_product(vector)), node)
            })
            .collect();
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
    }

    /// The `cap(layer)` link slots of `node` on `layer` (empty if it has no such layer).
    #[inline]
    fn slots(&self, node: u32, layer: usize) -> &[u32] {
        let m = self.params.m;
        if layer == 0 {
            let start = self.block(node) + self.links_at();
            self.level0.get(start..start + 2 * m)
        } else {
            self.upper
                .get(node as usize)
                .and_then(|u| u.get((layer - 1) * m..layer * m))
        }
        .unwrap_or(&[])
    }

    fn slots_mut(&mut self, node: u32, layer: usize) -> &mut [u32] {
        let m = self.params.m;
        if layer == 0 {
            let start = self.block(node) + self.links_at();
            self.level0.get_mut(start..start + 2 * m)
        } else {
            self.upper
                .get_mut(node as usize)
                .and_then(|u| u.get_mut((layer - 1) * m..layer * m))
        }
        .unwrap_or(&mut [])
    }

    /// The links of `node` on `layer`.
    #[inline]
    fn links(&self, node: u32, layer: usize) -> impl Iterator<Item = u32> + '_ {
        self.slots(node, layer)
            .iter()
            .copied()
            .take_while(|&l| l != NO_LINK)
    }

    fn set_links(&mut self, node: u32, layer: usize, links: &[u32]) {
        let slots = self.slots_mut(node, layer);
        let n = links.len().min(slots.len());
        let (used, empty) = slots.split_at_mut(n);
        used.copy_from_slice(&links[..n]);
        empty.fill(NO_LINK);
    }

    /// Greedy walk from `node` on each layer from `from` down to `to + 1`; the closest node
    /// found.
    fn greedy_descend(&self, query: &Query, mut node: u32, from: usize, to: usize) -> u32 {
        let mut best = self.approx(query, node);
        for layer in (to + 1..=from).rev() {
            loop {
                let mut changed = false;
                for next in self.links(node, layer) {
                    self.touch_code(next);
                }
                for next in self.links(node, layer) {
                    let s = self.approx(query, next);
                    if s > best {
                        best = s;
                        node = next;
                        changed = true;
                    }
                }
                if !changed {
                    break;
                }
            }
        }
        node
    }

    /// Best-first search of one layer from `entry`, leaving up to `ef` accepted nodes in
    /// `scratch.top`. With `until_full`, the walk goes on past the usual stopping point while
    /// fewer than `ef` nodes were accepted.
    #[allow(clippy::too_many_arguments)]
    fn search_layer(
        &self,
        query: &Query,
        entry: u32,
        ef: usize,
        layer: usize,
        scratch: &mut Scratch,
        accept: impl Fn(u32) -> bool,
        until_full: bool,
    ) {
        scratch.start(self.keys.len());
        let Scratch {
            visited,
            candidates,
            top,
            batch,
            ..
        } = scratch;
        let s = Score(self.approx(query, entry));
        visited.insert(entry);
        candidates.push((s, entry));
        if accept(entry) {
            top.push(Reverse((s, entry)));
        }
        let mut lower = top.peek().map_or(f32::NEG_INFINITY, |Reverse((s, _))| s.0);
        while let Some((Score(s), node)) = candidates.pop() {
            if s < lower && (top.len() >= ef || !until_full) {
                break;
            }
            // Loading every line of every new neighbour before the first dot product keeps many
            // cache misses in flight (on 1M vectors: 2x the queries per second of no touch,
            // more than touching a few neighbours ahead or only the first line of each).
            batch.clear();
            batch.extend(self.links(node, layer).filter(|&next| visited.insert(next)));
            for &next in batch.iter() {
                self.touch_code(next);
            }
            for &next in batch.iter() {
                let d = self.approx(query, next);
                if top.len() < ef || d > lower {
                    candidates.push((Score(d), next));
                    if accept(next) {
                        top.push(Reverse((Score(d), next)));
                        if top.len() > ef {
                            top.pop();
                        }
                    }
                    if let Some(Reverse((worst, _))) = top.peek() {
                        lower = worst.0;
                    }
                }
            }
        }
    }

    fn with_scratch<T>(&mut self, f: impl FnOnce(&mut Self, &mut Scratch) -> T) -> T {
        let mut scratch = self
            .scratch
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        let out = f(self, &mut scratch);
        self.scratch
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .push(scratch);
        out
    }

    fn link_new(&mut self, node: u32, level: usize) {
        if self.entry == NO_ENTRY {
            self.entry = node;
            self.max_level = level;
            return;
        }
        self.connect(node, level);
        if level > self.max_level {
            self.entry = node;
            self.max_level = level;
        }
    }

    fn relink(&mut self, node: u32, vector: &[f32]) {
        self.write_code(node, vector);
        let level = self.level(node);
        if self.keys.len() > 1 {
            self.connect(node, level);
        }
    }

    /// Links `node` (its vector already stored) on layers `0..=level` from a search that starts
    /// at the entry point.
    fn connect(&mut self, node: u32, level: usize) {
        self.with_scratch(|index, scratch| {
            let exact = index.vector(node).to_vec();
            let query = Query::new(&exact);
            let mut ep = index.entry;
            if level < index.max_level {
                ep = index.greedy_descend(&query, ep, index.max_level, level);
            }
            for layer in (0..=level.min(index.max_level)).rev() {
                index.search_layer(
                    &query,
                    ep,
                    index.params.ef_construction,
                    layer,
                    scratch,
                    |n| n != node,
                    false,
                );
                let found = index.rescore(&query, scratch);
                match found.first() {
                    Some(&(_, best)) => ep = best,
                    None => continue,
                }
                let chosen = index.select(&found, index.params.m);
                index.set_links(node, layer, &chosen);
                for &neighbour in &chosen {
                    index.add_link(neighbour, node, layer, &mut scratch.pairs);
                }
            }
        });
    }

    /// The heuristic of the HNSW paper: walking `sorted` best first, keeps a candidate only if
    /// it is closer to the query than to every candidate kept so far, up to `m`.
    fn select(&self, sorted: &[(Score, u32)], m: usize) -> Vec<u32> {
        let mut chosen: Vec<u32> = Vec::with_capacity(m);
        for &(Score(s), candidate) in sorted {
            if chosen.len() >= m {
                break;
            }
            let v = self.vector(candidate);
            if chosen.iter().all(|&c| inner_product(v, self.vector(c)) < s) {
                chosen.push(candidate);
            }
        }
        chosen
    }

    fn add_link(&mut self, from: u32, to: u32, layer: usize, pairs: &mut Vec<(Score, u32)>) {
        let slots = self.slots(from, layer);
        let count = slots
            .iter()
            .position(|&l| l == NO_LINK)
            .unwrap_or(slots.len());
        if slots[..count].contains(&to) {
            return;
        }
        if count < slots.len() {
            if let Some(slot) = self.slots_mut(from, layer).get_mut(count) {
                *slot = to;
            }
            return;
        }
        let cap = self.cap(layer);
        let v = self.vector(from);
        pairs.clear();
        pairs.extend(
            slots
                .iter()
                .chain([&to])
                .map(|&l| (Score(inner_product(v, self.vector(l))), l)),
        );
        pairs.sort_unstable_by(|a, b| b.cmp(a));
        let chosen = self.select(pairs, cap);
        self.set_links(from, layer, &chosen);
    }
}

impl<K: HnswKey> std::fmt::Debug for Hnsw<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hnsw")
            .field("params", &self.params)
            .field("live", &self.slots.len())
            .field("nodes", &self.keys.len())
            .field("max_level", &self.max_level)
            .finish_non_exhaustive()
    }
}

/// A similarity ordered by `f32::total_cmp`, so it can sit in a heap.
#[derive(Debug, Clone, Copy)]
struct Score(f32);

impl PartialEq for Score {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Per-search buffers, kept between searches.
#[derive(Debug, Default)]
struct Scratch {
    visited: Visited,
    candidates: BinaryHeap<(Score, u32)>,
    top: BinaryHeap<Reverse<(Score, u32)>>,
    pairs: Vec<(Score, u32)>,
    batch: Vec<u32>,
}

impl Scratch {
    fn start(&mut self, nodes: usize) {
        self.visited.reset(nodes);
        self.candidates.clear();
        self.top.clear();
    }
}

/// A visited set cleared by bumping a generation. One byte per node keeps it in cache (1 MB at
/// a million nodes, ~10% more queries per second there than four bytes) at the price of a full
/// clear every 255 searches.
#[derive(Debug, Default)]
struct Visited {
    marks: Vec<u8>,
    generation: u8,
}

impl Visited {
    #[inline]
    fn reset(&mut self, nodes: usize) {
        if self.marks.len() < nodes {
            self.marks.resize(nodes, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `node`; whether it was unmarked. Nodes beyond the reset size count as visited.
    #[inline]
    fn insert(&mut self, node: u32) -> bool {
        match self.marks.get_mut(node as usize) {
            Some(mark) if *mark != self.generation => {
                *mark = self.generation;
                true
            }
            Some(_) | None => false,
        }
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn put_u32(out: &mut Vec<u8>, x: u32) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn decode_error(reason: impl Into<String>) -> Error {
    Error::Decode(reason.into())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(decode_error("truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| decode_error("truncated"))
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::{dot, dot_code};
    use proptest::prelude::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    type Keyed = Vec<(u32, Vec<f32>)>;

    fn normalise(mut v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        v.iter_mut().for_each(|x| *x /= n);
        v
    }

    fn gaussian(rng: &mut ChaCha8Rng) -> f32 {
        let u: f32 = rng.random::<f32>().max(1e-7);
        let v: f32 = rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }

    /// `n` unit vectors around `clusters` random centres.
    fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<Vec<f32>> = (0..clusters)
            .map(|_| normalise((0..dim).map(|_| gaussian(&mut rng)).collect()))
            .collect();
        (0..n)
            .map(|i| {
                let c = &centres[i % clusters];
                normalise(c.iter().map(|x| x + 0.12 * gaussian(&mut rng)).collect())
            })
            .collect()
    }

    fn exact(
        data: &[(u32, Vec<f32>)],
        q: &[f32],
        k: usize,
        keep: impl Fn(u32) -> bool,
    ) -> Vec<u32> {
        let mut scored: Vec<(f32, u32)> = data
            .iter()
            .filter(|(key, _)| keep(*key))
            .map(|(key, v)| (dot(q, v), *key))
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.into_iter().take(k).map(|(_, key)| key).collect()
    }

    fn recall(index: &Hnsw<u32>, data: &[(u32, Vec<f32>)], queries: &[Vec<f32>], ef: usize) -> f64 {
        let mut hits = 0;
        for q in queries {
            let truth = exact(data, q, 10, |_| true);
            let got = index.search(q, 10, ef, |_| true).unwrap();
            hits += got.iter().filter(|(key, _)| truth.contains(key)).count();
        }
        hits as f64 / (queries.len() * 10) as f64
    }

    fn build(data: &[(u32, Vec<f32>)], dim: usize) -> Hnsw<u32> {
        let mut index = Hnsw::new(HnswParams {
            dim,
            m: 12,
            ef_construction: 100,
            seed: 7,
        })
        .unwrap();
        for (key, v) in data {
            index.insert(*key, v).unwrap();
        }
        index
    }

    fn dataset(n: usize, dim: usize) -> (Keyed, Vec<Vec<f32>>) {
        let all = clustered(n + 100, dim, 40, 1);
        let data = all[..n]
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u32 * 3 + 1, v.clone()))
            .collect();
        (data, all[n..].to_vec())
    }

    #[test]
    fn trivial() {
        let mut index = Hnsw::<u32>::new(HnswParams {
            dim: 2,
            ..HnswParams::default()
        })
        .unwrap();
        assert!(
            index
                .search(&[1.0, 0.0], 3, 10, |_| true)
                .unwrap()
                .is_empty()
        );
        index.insert(1, &[1.0, 0.0]).unwrap();
        index.insert(2, &[0.0, 1.0]).unwrap();
        index.insert(3, &[0.6, 0.8]).unwrap();
        let got = index.search(&[1.0, 0.0], 2, 10, |_| true).unwrap();
        assert_eq!(got, vec![(1, 1.0), (3, 0.6)]);
        assert!(matches!(
            index.insert(1, &[1.0, 0.0]),
            Err(Error::DuplicateKey)
        ));
        assert!(matches!(index.insert(9, &[1.0]), Err(Error::Vector { .. })));
        assert!(matches!(
            index.search(&[f32::NAN, 0.0], 1, 1, |_| true),
            Err(Error::Vector { .. })
        ));
        assert!(matches!(
            index.update(&9, &[1.0, 0.0]),
            Err(Error::UnknownKey)
        ));
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn recall_against_brute_force() {
        let (data, queries) = dataset(3000, 64);
        let index = build(&data, 64);
        let r = recall(&index, &data, &queries, 64);
        assert!(r >= 0.95, "recall@10 {r}");
    }

    #[test]
    fn same_seed_builds_the_same_graph() {
        let (data, _) = dataset(300, 16);
        assert_eq!(build(&data, 16).encode(), build(&data, 16).encode());
    }

    #[test]
    fn filter_is_applied_during_the_search() {
        let (data, queries) = dataset(2000, 32);
        let index = build(&data, 32);
        let keep = |key: &u32| key.is_multiple_of(7);
        let mut hits = 0;
        for q in &queries {
            let got = index.search(q, 10, 64, keep).unwrap();
            assert_eq!(got.len(), 10);
            assert!(got.iter().all(|(key, _)| keep(key)));
            assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
            let truth = exact(&data, q, 10, |key| keep(&key));
            hits += got.iter().filter(|(key, _)| truth.contains(key)).count();
        }
        assert!(hits as f64 / (queries.len() * 10) as f64 >= 0.9);
        assert!(
            index
                .search(&queries[0], 10, 16, |_| false)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn removed_keys_are_never_returned_and_recall_holds() {
        let (mut data, queries) = dataset(3000, 64);
        let mut index = build(&data, 64);
        let removed: Vec<u32> = data.iter().step_by(10).map(|(key, _)| *key).collect();
        for key in &removed {
            assert!(index.remove(key));
            assert!(!index.remove(key));
        }
        data.retain(|(key, _)| !removed.contains(key));
        assert_eq!(index.len(), data.len());
        for q in &queries {
            let got = index.search(q, 10, 64, |_| true).unwrap();
            assert!(got.iter().all(|(key, _)| !removed.contains(key)));
        }
        let r = recall(&index, &data, &queries, 64);
        assert!(r >= 0.95, "recall@10 after removals {r}");

        let fresh = clustered(300, 64, 40, 99);
        for (i, v) in fresh.iter().enumerate() {
            let key = 100_000 + i as u32;
            index.insert(key, v).unwrap();
            data.push((key, v.clone()));
        }
        assert_eq!(index.keys.len(), 3000, "inserts reuse removed slots");
        let r = recall(&index, &data, &queries, 64);
        assert!(r >= 0.95, "recall@10 after reuse {r}");
    }

    #[test]
    fn update_moves_a_key() {
        let (data, queries) = dataset(2000, 32);
        let mut index = build(&data, 32);
        let target = queries[0].clone();
        let moved = data[1234].0;
        assert!(
            !index
                .search(&target, 1, 64, |_| true)
                .unwrap()
                .iter()
                .any(|r| r.0 == moved)
        );
        index.update(&moved, &target).unwrap();
        let got = index.search(&target, 1, 64, |_| true).unwrap();
        assert_eq!(got[0].0, moved);
        assert!((got[0].1 - 1.0).abs() < 1e-5);
        let old = &data[1234].1;
        let near_old = index.search(old, 10, 64, |_| true).unwrap();
        assert!(
            near_old
                .iter()
                .all(|(key, score)| *key != moved || *score < 0.99)
        );
        assert_eq!(index.len(), 2000);
    }

    #[test]
    fn blocks_survive_reallocation() {
        let (data, queries) = dataset(700, 24);
        let grown = build(&data, 24);
        let mut reserved = Hnsw::new(grown.params()).unwrap();
        reserved.reserve(data.len());
        for (key, v) in &data {
            reserved.insert(*key, v).unwrap();
        }
        assert_eq!(grown.encode(), reserved.encode());
        for (key, v) in &data {
            assert_eq!(grown.vector_of(key), Some(v.as_slice()));
        }
        for q in &queries[..10] {
            let got = grown.search(q, 10, 64, |_| true).unwrap();
            assert_eq!(got.len(), 10);
            for (key, score) in got {
                let v = &data.iter().find(|(k, _)| *k == key).unwrap().1;
                assert!((dot(q, v) - score).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn encode_round_trips() {
        let (data, queries) = dataset(500, 16);
        let mut index = build(&data, 16);
        index.remove(&data[3].0);
        let bytes = index.encode();
        let decoded = Hnsw::<u32>::decode(&bytes).unwrap();
        assert_eq!(decoded.encode(), bytes);
        assert_eq!(decoded.len(), index.len());
        for q in &queries[..20] {
            assert_eq!(
                decoded.search(q, 10, 32, |_| true).unwrap(),
                index.search(q, 10, 32, |_| true).unwrap()
            );
        }
        let mut corrupt = bytes.clone();
        corrupt[20] ^= 1;
        assert!(matches!(
            Hnsw::<u32>::decode(&corrupt),
            Err(Error::Decode(_))
        ));
        assert!(Hnsw::<u32>::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn user_id_keys_round_trip() {
        let mut index = Hnsw::<UserId>::new(HnswParams {
            dim: 2,
            ..HnswParams::default()
        })
        .unwrap();
        let id = UserId::try_from("u0af".to_owned()).unwrap();
        index.insert(id.clone(), &[0.0, 1.0]).unwrap();
        let decoded = Hnsw::<UserId>::decode(&index.encode()).unwrap();
        assert!(decoded.contains(&id));
    }

    #[test]
    fn a_removed_key_and_its_vector_leave_the_encoding() {
        let (data, queries) = dataset(300, 8);
        let mut index = Hnsw::<UserId>::new(HnswParams {
            dim: 8,
            ..HnswParams::default()
        })
        .unwrap();
        let id = |i: usize| UserId::try_from(format!("person-{i:04}-left")).unwrap();
        for (i, (_, vector)) in data.iter().enumerate() {
            index.insert(id(i), vector).unwrap();
        }
        assert!(index.remove(&id(7)));
        let bytes = index.encode();
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !contains(id(7).as_str().as_bytes()),
            "the removed id is in the snapshot"
        );
        assert!(contains(id(8).as_str().as_bytes()));
        let exact: Vec<u8> = data[7].1.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert!(!contains(&exact), "the removed vector is in the snapshot");
        // Still navigable, and the removed key never comes back.
        let decoded = Hnsw::<UserId>::decode(&bytes).unwrap();
        assert_eq!(decoded.len(), 299);
        for q in &queries[..20] {
            let found = decoded.search(q, 10, 64, |_| true).unwrap();
            assert_eq!(found.len(), 10);
            assert!(found.iter().all(|(key, _)| *key != id(7)));
        }
    }

    fn resealed(mut body: Vec<u8>) -> Vec<u8> {
        let checksum = blake3::hash(&body);
        body.extend_from_slice(checksum.as_bytes());
        body
    }

    proptest! {
        #[test]
        fn decode_of_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Hnsw::<u32>::decode(&bytes);
            let _ = Hnsw::<u32>::decode(&resealed(bytes));
        }

        #[test]
        fn decode_of_mutated_encodings_never_panics(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
            cut in any::<usize>(),
        ) {
            let (data, queries) = dataset(40, 4);
            let index = build(&data, 4);
            let bytes = index.encode();
            let mut body = bytes[..bytes.len() - CHECKSUM_LEN].to_vec();
            for (at, value) in edits {
                let i = at % body.len();
                body[i] = value;
            }
            body.truncate(body.len() - cut % 8);
            if let Ok(decoded) = Hnsw::<u32>::decode(&resealed(body)) {
                let _ = decoded.search(&queries[0], 5, 16, |_| true);
            }
        }

        #[test]
        fn codes_decode_within_half_a_step(
            vector in proptest::collection::vec(-1e3f32..1e3, 1..70),
            query in proptest::collection::vec(-10f32..10.0, 70),
        ) {
            let mut code = vec![7u8; vector.len().div_ceil(4) * 4];
            let (low, step) = quantize(&vector, &mut code);
            for (&x, &c) in vector.iter().zip(&code) {
                prop_assert!((low + step * f32::from(c) - x).abs() <= step * 0.5 + 1e-3 * x.abs().max(1.0));
            }
            prop_assert!(code[vector.len()..].iter().all(|&c| c == 0));
            let query = &query[..vector.len()];
            let walk = low * query.iter().sum::<f32>() + step * dot_code(query, &code);
            let decoded: Vec<f32> = code.iter().take(vector.len()).map(|&c| low + step * f32::from(c)).collect();
            let bound = 1e-3 * query.iter().zip(&decoded).map(|(q, x)| (q * x).abs()).sum::<f32>().max(1.0);
            prop_assert!((walk - dot(query, &decoded)).abs() <= bound);
        }

        #[test]
        fn results_are_sorted_and_scores_are_inner_products(seed in any::<u64>()) {
            let data: Vec<(u32, Vec<f32>)> = clustered(200, 8, 5, seed)
                .into_iter()
                .enumerate()
                .map(|(i, v)| (i as u32, v))
                .collect();
            let index = build(&data, 8);
            let q = &data[0].1;
            let got = index.search(q, 10, 32, |_| true).unwrap();
            prop_assert_eq!(got.len(), 10);
            prop_assert!(got.windows(2).all(|w| w[0].1 >= w[1].1));
            for (key, score) in got {
                prop_assert!((dot(q, &data[key as usize].1) - score).abs() < 1e-6);
            }
        }
    }
}

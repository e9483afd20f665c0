//! The known social graph (accepted introductions and imported ties) as dense adjacency lists,
//! with the per-person statistics the re-ranker reads: degree, ego-network density, brokerage
//! and a community label.
use std::collections::HashMap;

/// An undirected graph over people numbered `0..people`.
#[derive(Debug, Clone, Default)]
pub struct SocialGraph {
    neighbours: Vec<Vec<u32>>,
    density: Vec<f32>,
    community: Vec<u32>,
}

/// Friends-of-friends of one person with their path statistics.
#[derive(Debug, Clone, Default)]
pub struct TwoHop {
    /// Per reachable person: (mutual ties, Adamic-Adar, resource allocation).
    pub(crate) reach: HashMap<u32, (u32, f32, f32)>,
}

impl SocialGraph {
    /// The graph of `ties` over `people` people (ties naming people outside the range, self
    /// ties and repeats are ignored).
    pub fn from_ties(people: usize, ties: &[(usize, usize)]) -> Self {
        let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); people];
        for &(a, b) in ties {
            if a != b && a < people && b < people {
                neighbours[a].push(b as u32);
                neighbours[b].push(a as u32);
            }
        }
        for list in &mut neighbours {
            list.sort_unstable();
            list.dedup();
        }
        let density = (0..people).map(|u| ego_density(&neighbours, u)).collect();
        let community = label_propagation(&neighbours);
        Self {
            neighbours,
            density,
            community,
        }
    }

    /// Adds the tie `a`–`b` (growing the graph to hold both), updating the ego-network
    /// densities it changes. Community labels are kept until
    /// [`SocialGraph::refresh_communities`]; a newcomer starts as their own community.
    pub fn add_tie(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let needed = a.max(b) + 1;
        while self.neighbours.len() < needed {
            self.community.push(self.neighbours.len() as u32);
            self.neighbours.push(Vec::new());
            self.density.push(0.0);
        }
        for (from, to) in [(a, b), (b, a)] {
            let list = &mut self.neighbours[from];
            match list.binary_search(&(to as u32)) {
                Ok(_) => return,
                Err(at) => list.insert(at, to as u32),
            }
        }
        let common: Vec<u32> = self.neighbours[a]
            .iter()
            .copied()
            .filter(|w| self.neighbours[b].binary_search(w).is_ok())
            .collect();
        for u in [a, b].into_iter().chain(common.iter().map(|&w| w as usize)) {
            self.density[u] = ego_density(&self.neighbours, u);
        }
    }

    /// Recomputes the community labels from the current ties.
    pub fn refresh_communities(&mut self) {
        self.community = label_propagation(&self.neighbours);
    }

    /// People in the graph.
    pub fn people(&self) -> usize {
        self.neighbours.len()
    }

    /// The ties of `u`, sorted (empty for someone outside the graph).
    pub fn neighbours(&self, u: usize) -> &[u32] {
        self.neighbours.get(u).map_or(&[], Vec::as_slice)
    }

    /// Number of ties of `u`.
    pub fn degree(&self, u: usize) -> usize {
        self.neighbours(u).len()
    }

    /// Whether `u` and `v` are tied.
    pub fn connected(&self, u: usize, v: usize) -> bool {
        self.neighbours(u).binary_search(&(v as u32)).is_ok()
    }

    /// The share of pairs of `u`'s ties that are tied themselves (0 below two ties).
    pub fn ego_density(&self, u: usize) -> f32 {
        self.density.get(u).copied().unwrap_or(0.0)
    }

    /// Burt's effective size of `u`'s ego network: ties minus the redundancy among them,
    /// `degree - (degree - 1) · density`; a broker between otherwise separate groups scores
    /// close to its degree.
    pub fn brokerage(&self, u: usize) -> f32 {
        let degree = self.degree(u) as f32;
        if degree == 0.0 {
            return 0.0;
        }
        degree - (degree - 1.0) * self.ego_density(u)
    }

    /// The community label of `u` (label propagation on the graph; an isolated person is
    /// their own community).
    pub fn community(&self, u: usize) -> u32 {
        self.community.get(u).copied().unwrap_or(u as u32)
    }

    /// Everyone two ties away from `u` (excluding `u`), with mutual-tie counts, Adamic-Adar
    /// (`Σ 1 / ln degree(w)`) and resource allocation (`Σ 1 / degree(w)`) over the common
    /// ties `w`.
    pub fn two_hop(&self, u: usize) -> TwoHop {
        let mut reach: HashMap<u32, (u32, f32, f32)> = HashMap::new();
        for &w in self.neighbours(u) {
            let degree = self.degree(w as usize) as f32;
            let adamic_adar = if degree > 1.0 { 1.0 / degree.ln() } else { 0.0 };
            for &v in self.neighbours(w as usize) {
                if v as usize == u {
                    continue;
                }
                let entry = reach.entry(v).or_default();
                entry.0 += 1;
                entry.1 += adamic_adar;
                entry.2 += 1.0 / degree;
            }
        }
        TwoHop { reach }
    }
}

impl TwoHop {
    /// (mutual ties, Adamic-Adar, resource allocation) of `v`; zeros when `v` is not two ties
    /// away.
    pub fn of(&self, v: usize) -> (u32, f32, f32) {
        self.reach.get(&(v as u32)).copied().unwrap_or_default()
    }

    /// Paths of length three from the owner to `v`: `Σ_{x ∈ ties(v)} mutual(x)`.
    pub fn paths_of_three(&self, graph: &SocialGraph, v: usize) -> u32 {
        graph
            .neighbours(v)
            .iter()
            .map(|&x| self.reach.get(&x).map_or(0, |e| e.0))
            .sum()
    }

    /// The largest Adamic-Adar to someone two ties away who is not a tie of `owner`.
    pub fn best_adamic_adar(&self, graph: &SocialGraph, owner: usize) -> f32 {
        self.reach
            .iter()
            .filter(|(v, _)| !graph.connected(owner, **v as usize))
            .map(|(_, e)| e.1)
            .fold(0.0, f32::max)
    }

    /// The `limit` people two ties away with the largest Adamic-Adar, best first (ties by id).
    pub fn best(&self, limit: usize) -> Vec<u32> {
        let mut all: Vec<(u32, f32)> = self.reach.iter().map(|(&v, e)| (v, e.1)).collect();
        all.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(limit);
        all.into_iter().map(|(v, _)| v).collect()
    }
}

fn ego_density(neighbours: &[Vec<u32>], u: usize) -> f32 {
    let ties = &neighbours[u];
    let degree = ties.len();
    if degree < 2 {
        return 0.0;
    }
    let mut closed = 0usize;
    for &w in ties {
        closed += neighbours[w as usize]
            .iter()
            .filter(|x| ties.binary_search(x).is_ok())
            .count();
    }
    // Each tie among neighbours was counted from both ends.
    closed as f32 / (degree * (degree - 1)) as f32
}

/// Label propagation (Raghavan et al. 2007): sweeps in a seeded random order, each person
/// taking the label most of their ties carry (keeping their own when it is among the most
/// common, else a seeded random pick of those), until no label changes (at most 100 sweeps).
fn label_propagation(neighbours: &[Vec<u32>]) -> Vec<u32> {
    use rand::SeedableRng;
    use rand::seq::{IndexedRandom, SliceRandom};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x4c50_4131);
    let mut labels: Vec<u32> = (0..neighbours.len() as u32).collect();
    let mut order: Vec<usize> = (0..neighbours.len()).collect();
    let mut counts: HashMap<u32, usize> = HashMap::new();
    let mut best: Vec<u32> = Vec::new();
    for _ in 0..100 {
        order.shuffle(&mut rng);
        let mut changed = false;
        for &u in &order {
            counts.clear();
            for &v in &neighbours[u] {
                *counts.entry(labels[v as usize]).or_default() += 1;
            }
            let Some(&most) = counts.values().max() else {
                continue;
            };
            if counts.get(&labels[u]) == Some(&most) {
                continue;
            }
            best.clear();
            best.extend(counts.iter().filter(|e| *e.1 == most).map(|e| *e.0));
            best.sort_unstable();
            if let Some(&label) = best.choose(&mut rng) {
                labels[u] = label;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two triangles {0,1,2} and {3,4,5} bridged by 2–3.
    fn bridged_triangles() -> SocialGraph {
        SocialGraph::from_ties(
            6,
            &[
                (0, 1),
                (1, 2),
                (0, 2),
                (3, 4),
                (4, 5),
                (3, 5),
                (2, 3),
                (2, 3),
                (4, 4),
            ],
        )
    }

    #[test]
    fn statistics_of_a_known_graph() {
        let g = bridged_triangles();
        assert_eq!(g.neighbours(2), &[0, 1, 3]);
        assert_eq!(g.degree(4), 2, "self ties and repeats are ignored");
        assert!(g.connected(2, 3) && !g.connected(0, 3));
        // Node 2: ties 0, 1, 3; only 0–1 is closed among its 3 pairs.
        assert!((g.ego_density(2) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(g.ego_density(0), 1.0);
        assert!((g.brokerage(2) - (3.0 - 2.0 / 3.0)).abs() < 1e-6);
        assert_eq!(g.community(0), g.community(1));
        assert_eq!(g.community(4), g.community(5));
        assert_ne!(g.community(0), g.community(5));
    }

    #[test]
    fn ties_added_one_by_one_match_the_batch_build() {
        let ties = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)];
        let batch = SocialGraph::from_ties(6, &ties);
        let mut live = SocialGraph::default();
        for &(a, b) in &ties {
            live.add_tie(a, b);
        }
        live.add_tie(2, 3);
        live.add_tie(1, 1);
        for u in 0..6 {
            assert_eq!(live.neighbours(u), batch.neighbours(u));
            assert_eq!(live.ego_density(u), batch.ego_density(u));
        }
        live.refresh_communities();
        assert_eq!(live.community(0), live.community(1));
        assert_ne!(live.community(0), live.community(5));
    }

    #[test]
    fn two_hop_counts_and_paths() {
        let g = bridged_triangles();
        let from0 = g.two_hop(0);
        // 0 reaches 3 only through 2 (degree 3).
        let (mutual, aa, ra) = from0.of(3);
        assert_eq!(mutual, 1);
        assert!((aa - 1.0 / 3f32.ln()).abs() < 1e-6);
        assert!((ra - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(from0.of(5), (0, 0.0, 0.0));
        // Paths 0→x→y→4 with y a tie of 4: 0-2-3-4 only.
        assert_eq!(from0.paths_of_three(&g, 4), 1);
        // Direct ties count too (callers drop them): 2 via 1 (degree 2) beats 1 via 2.
        assert_eq!(from0.best(1), vec![2]);
    }
}

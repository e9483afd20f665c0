//! Who exchanges shares and masks with whom in a round: every pair (the complete graph of
//! Bonawitz et al. 2017) or, as in SecAgg+ (Bell et al. 2020), each client with `k` neighbours
//! on a ring whose order is a pseudo-random permutation of the roster, keyed by the round and
//! the roster itself, so the coordinator and every client derive the same graph.
use std::collections::{BTreeMap, BTreeSet};

/// Neighbours of each client of `clients` in round `round`: all others when `neighbours` is
/// `None` or at least `clients.len() − 1`, else `neighbours` (rounded up to even) nearest on
/// the permuted ring, `neighbours / 2` on each side. The relation is symmetric.
pub fn round_graph(
    round: u64,
    clients: &BTreeSet<u32>,
    neighbours: Option<usize>,
) -> BTreeMap<u32, BTreeSet<u32>> {
    let n = clients.len();
    let complete = neighbours.is_none_or(|k| k + 1 >= n);
    if complete {
        return clients
            .iter()
            .map(|c| (*c, clients.iter().copied().filter(|o| o != c).collect()))
            .collect();
    }
    let half = neighbours.unwrap_or(0).div_ceil(2).max(1);
    let mut hasher = blake3::Hasher::new_derive_key("mesh-discovery 2026-11 secagg graph v1");
    hasher.update(&round.to_le_bytes());
    for client in clients {
        hasher.update(&client.to_le_bytes());
    }
    // Fisher-Yates driven by the BLAKE3 output stream.
    let mut stream = hasher.finalize_xof();
    let mut ring: Vec<u32> = clients.iter().copied().collect();
    for i in (1..n).rev() {
        let mut word = [0u8; 8];
        stream.fill(&mut word);
        let j = ((u128::from(u64::from_le_bytes(word)) * (i as u128 + 1)) >> 64) as usize;
        ring.swap(i, j);
    }
    let mut graph: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (at, client) in ring.iter().enumerate() {
        let near = graph.entry(*client).or_default();
        for step in 1..=half {
            near.insert(ring[(at + step) % n]);
            near.insert(ring[(at + n - step) % n]);
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_graph_is_symmetric_regular_and_the_same_for_everyone(
            n in 2u32..60,
            k in 1usize..20,
            round in any::<u64>(),
        ) {
            let clients: BTreeSet<u32> = (1..=n).map(|c| c * 3).collect();
            let graph = round_graph(round, &clients, Some(k));
            prop_assert_eq!(&graph, &round_graph(round, &clients, Some(k)));
            let expected = if k + 1 >= n as usize { n as usize - 1 } else { (2 * k.div_ceil(2)).min(n as usize - 1) };
            for (client, near) in &graph {
                prop_assert!(!near.contains(client));
                prop_assert_eq!(near.len(), expected, "client {} of {}", client, n);
                for other in near {
                    prop_assert!(graph[other].contains(client));
                }
            }
        }
    }

    #[test]
    fn none_is_the_complete_graph() {
        let clients: BTreeSet<u32> = (1..=5).collect();
        let graph = round_graph(1, &clients, None);
        assert!(graph.values().all(|near| near.len() == 4));
        assert_ne!(
            round_graph(1, &(1..=40).collect(), Some(4)),
            round_graph(2, &(1..=40).collect(), Some(4))
        );
    }
}

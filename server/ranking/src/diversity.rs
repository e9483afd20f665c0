//! Maximal marginal relevance (Carbonell & Goldstein 1998) over a scored pool.

/// Maximal marginal relevance: picks `k` of `pool` (candidate, score) greedily, each time the
/// one maximising `(1 − diversity) · relevance − diversity · max similarity to those picked`,
/// relevance being the score min-max scaled over the pool. `diversity` 0 keeps score order.
/// Returns the picks in order, then the rest of the pool in score order.
pub fn diversify(
    pool: &[(usize, f32)],
    k: usize,
    diversity: f32,
    similarity: impl Fn(usize, usize) -> f32,
) -> Vec<usize> {
    let mut rest: Vec<(usize, f32)> = pool.to_vec();
    rest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    if diversity <= 0.0 || rest.len() <= 1 {
        return rest.into_iter().map(|(c, _)| c).collect();
    }
    let (low, high) = rest
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), e| {
            (l.min(e.1), h.max(e.1))
        });
    let span = if high > low { high - low } else { 1.0 };
    let mut picked: Vec<usize> = Vec::with_capacity(k);
    let mut max_similarity = vec![0.0f32; rest.len()];
    while picked.len() < k && !rest.is_empty() {
        let (best, _) = rest
            .iter()
            .enumerate()
            .map(|(i, &(_, score))| {
                let relevance = (score - low) / span;
                let penalty = if picked.is_empty() {
                    0.0
                } else {
                    max_similarity[i]
                };
                (i, (1.0 - diversity) * relevance - diversity * penalty)
            })
            .fold(
                (0, f32::NEG_INFINITY),
                |best, e| {
                    if e.1 > best.1 { e } else { best }
                },
            );
        let (chosen, _) = rest.remove(best);
        max_similarity.remove(best);
        for (m, &(c, _)) in max_similarity.iter_mut().zip(&rest) {
            *m = m.max(similarity(chosen, c));
        }
        picked.push(chosen);
    }
    picked.extend(rest.into_iter().map(|(c, _)| c));
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diversify_spreads_over_groups() {
        // Candidates 0..4 in group A with top scores, 5 in group B slightly lower.
        let pool: Vec<(usize, f32)> = vec![(0, 1.0), (1, 0.99), (2, 0.98), (3, 0.97), (5, 0.9)];
        let group = |c: usize| usize::from(c == 5);
        let same = |a: usize, b: usize| f32::from(u8::from(group(a) == group(b)));
        assert_eq!(diversify(&pool, 2, 0.0, same), vec![0, 1, 2, 3, 5]);
        let spread = diversify(&pool, 2, 0.5, same);
        assert_eq!(&spread[..2], &[0, 5]);
        assert_eq!(spread.len(), 5, "the rest follow in score order");
        assert_eq!(&spread[2..], &[1, 2, 3]);
    }
}

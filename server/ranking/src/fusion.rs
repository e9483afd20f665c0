//! Reciprocal fusion: a match is good when both people want it.

/// Fuses the re-ranker's margins in both directions into one score: the weighted sum of the
/// log-probabilities that the viewer wants the candidate (`forward`) and that the candidate
/// wants the viewer (`backward`). `backward_weight` 0 ignores the candidate's side, 0.5 is the
/// geometric mean of the two probabilities.
pub fn fuse_reciprocal(forward: f32, backward: f32, backward_weight: f32) -> f32 {
    (1.0 - backward_weight) * log_sigmoid(forward) + backward_weight * log_sigmoid(backward)
}

/// `ln σ(x)` without overflow for large |x|.
fn log_sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_is_the_weighted_log_probability() {
        let p = |x: f32| 1.0 / (1.0 + (-x).exp());
        let fused = fuse_reciprocal(1.0, -2.0, 0.5);
        let expected = 0.5 * p(1.0).ln() + 0.5 * p(-2.0).ln();
        assert!((fused - expected).abs() < 1e-5, "{fused} vs {expected}");
        assert!((fuse_reciprocal(3.0, -50.0, 0.0) - p(3.0).ln()).abs() < 1e-5);
        assert!(fuse_reciprocal(80.0, 80.0, 0.5).is_finite());
        assert!(fuse_reciprocal(-80.0, -80.0, 0.5).is_finite());
        // Both sides wanting each other beats one side wanting strongly.
        assert!(fuse_reciprocal(2.0, 2.0, 0.5) > fuse_reciprocal(5.0, -3.0, 0.5));
    }
}

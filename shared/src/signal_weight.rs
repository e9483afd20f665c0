//! Signal weights: enthusiasm (stars, likes, play counts) times recency.
//!
//! - A star rating `r` on a 0.5–5 scale weighs `r / 3` (3 stars is neutral, 5 stars 1.67,
//!   half a star 0.17); no rating weighs 1.
//! - An explicit like (a saved Spotify track, album or followed artist, a GitHub star) weighs
//!   [`LIKE_ENTHUSIASM`]; a plain mention (a typed favourite, a watched film) weighs 1.
//! - `n` plays weigh `1 + ln n` (log damping: the 100th play adds far less than the 2nd).
//! - Recency multiplies by `2^(-age / half_life)` (half-life 2 years by default: film and book
//!   tastes last), age measured from the event to the caller's `now`; no timestamp or no `now` means no decay, a future timestamp counts as now.
//! - Every weight is at least [`MIN_WEIGHT`].

/// The smallest weight a signal can have.
pub const MIN_WEIGHT: f32 = 0.01;
/// Enthusiasm of an explicit like (saved, followed, starred).
pub const LIKE_ENTHUSIASM: f32 = 1.5;
/// Default recency half-life, in days.
pub const DEFAULT_HALF_LIFE_DAYS: f32 = 730.0;

const MS_PER_DAY: f64 = 86_400_000.0;

/// When "now" is and how fast interest fades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeightPolicy {
    /// Unix milliseconds of now, from the caller's clock; `None` disables recency.
    pub now_ms: Option<u64>,
    /// Half-life of interest, in days (> 0).
    pub half_life_days: f32,
}

impl Default for WeightPolicy {
    fn default() -> Self {
        Self {
            now_ms: None,
            half_life_days: DEFAULT_HALF_LIFE_DAYS,
        }
    }
}

impl WeightPolicy {
    /// The weight of an item with `enthusiasm` last seen at `event_ms`.
    pub fn weight(&self, enthusiasm: f32, event_ms: Option<u64>) -> f32 {
        let recency = match (self.now_ms, event_ms) {
            (Some(now), Some(at)) if self.half_life_days > 0.0 => {
                let age_days = now.saturating_sub(at) as f64 / MS_PER_DAY;
                (-age_days / f64::from(self.half_life_days)).exp2() as f32
            }
            (_, _) => 1.0,
        };
        let weight = enthusiasm * recency;
        if weight.is_finite() {
            weight.max(MIN_WEIGHT)
        } else {
            MIN_WEIGHT
        }
    }
}

/// Enthusiasm of a star rating on a 0.5–5 scale; `None` (unrated) is neutral.
pub fn star_enthusiasm(stars: Option<f32>) -> f32 {
    match stars {
        Some(r) if r.is_finite() && r > 0.0 => (r.min(5.0) / 3.0).max(MIN_WEIGHT),
        Some(_) | None => 1.0,
    }
}

/// Enthusiasm of `plays` plays (at least 1).
pub fn play_enthusiasm(plays: u32) -> f32 {
    1.0 + (plays.max(1) as f32).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        assert_eq!(star_enthusiasm(Some(3.0)), 1.0);
        assert_eq!(star_enthusiasm(None), 1.0);
        assert_eq!(play_enthusiasm(1), 1.0);
        let policy = WeightPolicy {
            now_ms: Some(365 * 86_400_000),
            half_life_days: 365.0,
        };
        assert!((policy.weight(1.0, Some(0)) - 0.5).abs() < 1e-6);
        assert_eq!(policy.weight(1.0, None), 1.0);
    }

    proptest! {
        #[test]
        fn weights_are_positive_and_decay_with_age(enthusiasm in 0.0f32..5.0, age_a in 0u64..10_000, extra in 0u64..10_000) {
            let now = 20_000 * 86_400_000u64;
            let policy = WeightPolicy { now_ms: Some(now), half_life_days: 90.0 };
            let newer = policy.weight(enthusiasm, Some(now - age_a * 86_400_000));
            let older = policy.weight(enthusiasm, Some(now - (age_a + extra) * 86_400_000));
            prop_assert!(newer >= MIN_WEIGHT && older >= MIN_WEIGHT);
            prop_assert!(older <= newer);
        }

        #[test]
        fn more_plays_weigh_more(a in 1u32..100_000, b in 1u32..100_000) {
            if a <= b {
                prop_assert!(play_enthusiasm(a) <= play_enthusiasm(b));
            }
        }
    }
}

//! Behavioural and conversational signals, summarised on the device: when a person is usually
//! online, their time zone, and the tone of what they write. Raw interactions and texts never
//! leave the device; a public card may carry only the coarse summaries here, each one the
//! person can see and remove in the audit screen.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Hours are published in blocks of this many (an hour of activity sets its whole block).
pub const ACTIVE_HOURS_BLOCK: u32 = 2;

/// When a person is usually online, as published: coarse and in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityCard {
    /// Bit `h` set when the person is usually active in hour `h` (UTC), in whole 2-hour blocks;
    /// below `1 << 24`.
    pub active_hours_utc: u32,
    /// Offset of the person's time zone from UTC, in whole hours (−12 to 14).
    #[schemars(range(min = -12, max = 14))]
    pub utc_offset_hours: i8,
}

impl ActivityCard {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming `card.activity.active_hours_utc` or `…utc_offset_hours`.
    pub fn validate(&self) -> Result<()> {
        if self.active_hours_utc >= 1 << 24 {
            return Err(field(
                "card.activity.active_hours_utc",
                "a 24-bit mask of hours",
            ));
        }
        if self.active_hours_utc != coarsen_hours(self.active_hours_utc) {
            return Err(field(
                "card.activity.active_hours_utc",
                format!("hours come in whole blocks of {ACTIVE_HOURS_BLOCK}"),
            ));
        }
        if !(-12..=14).contains(&self.utc_offset_hours) {
            return Err(field(
                "card.activity.utc_offset_hours",
                format!("{} is not in -12..=14", self.utc_offset_hours),
            ));
        }
        Ok(())
    }
}

/// The tones scored, in the order of [`ToneCard::scores`].
pub const TONES: [&str; 3] = ["supportive", "humorous", "analytical"];

/// The tone of a person's own posts, as published: one share per tone in [`TONES`], in
/// tenths, summing to about 1 (the full 384-number embedding stays on the device).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToneCard {
    /// Tenths (0–10) for supportive, humorous and analytical.
    pub tenths: [u8; 3],
}

impl ToneCard {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming `card.tone.tenths`.
    pub fn validate(&self) -> Result<()> {
        let sum: u32 = self.tenths.iter().map(|&t| u32::from(t)).sum();
        if self.tenths.iter().any(|&t| t > 10) || !(9..=11).contains(&sum) {
            return Err(field(
                "card.tone.tenths",
                "three tenths from 0 to 10 that sum to 10 (±1)",
            ));
        }
        Ok(())
    }

    /// The shares as fractions.
    pub fn scores(&self) -> [f32; 3] {
        self.tenths.map(|t| f32::from(t) / 10.0)
    }
}

fn field(name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidField {
        field: name.to_owned(),
        reason: reason.into(),
    }
}

/// `hours` (a 24-bit mask) with every 2-hour block that has an hour set filled.
pub fn coarsen_hours(hours: u32) -> u32 {
    let mut out = 0;
    for block in 0..24 / ACTIVE_HOURS_BLOCK {
        let mask = ((1 << ACTIVE_HOURS_BLOCK) - 1) << (block * ACTIVE_HOURS_BLOCK);
        if hours & mask != 0 {
            out |= mask;
        }
    }
    out & ((1 << 24) - 1)
}

/// The hours that hold `share` of the activity in `counts` (by UTC hour), most active first,
/// as a coarsened mask; 0 without activity.
pub fn usual_hours(counts: &[u32; 24], share: f32) -> u32 {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return 0;
    }
    let mut hours: Vec<usize> = (0..24).filter(|&h| counts[h] > 0).collect();
    hours.sort_by(|&a, &b| counts[b].cmp(&counts[a]).then(a.cmp(&b)));
    let target = (total as f64 * f64::from(share.clamp(0.0, 1.0))).ceil() as u64;
    let mut covered = 0u64;
    let mut mask = 0u32;
    for h in hours {
        if covered >= target {
            break;
        }
        covered += u64::from(counts[h]);
        mask |= 1 << h;
    }
    coarsen_hours(mask)
}

/// Tenths of each tone from the mean embedding of a person's posts and the mean embedding of
/// each tone's prototype sentences: a softmax over the cosine similarities (temperature
/// `0.05`, so a clear tone dominates), rounded to tenths that sum to 10. `None` without posts
/// or when a prototype is missing.
pub fn tone_tenths(posts_mean: &[f32], prototypes: &[Vec<f32>]) -> Option<ToneCard> {
    if prototypes.len() != TONES.len() || posts_mean.iter().all(|&x| x == 0.0) {
        return None;
    }
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let post_norm = norm(posts_mean);
    let cosines: Vec<f32> = prototypes
        .iter()
        .map(|p| {
            let dot: f32 = p.iter().zip(posts_mean).map(|(a, b)| a * b).sum();
            dot / (norm(p) * post_norm)
        })
        .collect();
    let max = cosines.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f32> = cosines.iter().map(|c| ((c - max) / 0.05).exp()).collect();
    let total: f32 = weights.iter().sum();
    let mut tenths = [0u8; 3];
    // Largest remainder, so the tenths sum to exactly 10.
    let raw: Vec<f32> = weights.iter().map(|w| w / total * 10.0).collect();
    let mut given = 0u8;
    for (t, r) in tenths.iter_mut().zip(&raw) {
        *t = r.floor() as u8;
        given += *t;
    }
    let mut order: Vec<usize> = (0..3).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    for &i in order.iter().take(usize::from(10u8.saturating_sub(given))) {
        tenths[i] += 1;
    }
    Some(ToneCard { tenths })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn usual_hours_cover_the_busy_evening_in_blocks() {
        let mut counts = [0u32; 24];
        counts[19] = 10;
        counts[20] = 8;
        counts[21] = 5;
        counts[3] = 1;
        let mask = usual_hours(&counts, 0.8);
        // 19 and 20 hold 18 of 24 (75%), 21 lifts it past 80%; blocks 18–19, 20–21.
        assert_eq!(mask, 0b1111 << 18);
        assert_eq!(usual_hours(&[0; 24], 0.8), 0);
    }

    #[test]
    fn tone_follows_the_nearest_prototype() {
        let prototypes = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        let card = tone_tenths(&[0.9, 0.1, 0.2], &prototypes).unwrap();
        assert!(card.tenths[0] >= 8, "{card:?}");
        assert_eq!(card.tenths.iter().map(|&t| u32::from(t)).sum::<u32>(), 10);
        card.validate().unwrap();
        assert!(tone_tenths(&[0.0; 3], &prototypes).is_none());
    }

    #[test]
    fn cards_are_checked() {
        let ok = ActivityCard {
            active_hours_utc: 0b11 << 18,
            utc_offset_hours: 1,
        };
        ok.validate().unwrap();
        let half_block = ActivityCard {
            active_hours_utc: 1 << 18,
            ..ok
        };
        assert!(half_block.validate().is_err());
        let far = ActivityCard {
            utc_offset_hours: 15,
            ..ok
        };
        assert!(
            far.validate()
                .unwrap_err()
                .to_string()
                .starts_with("card.activity.utc_offset_hours")
        );
        assert!(ToneCard { tenths: [5, 5, 5] }.validate().is_err());
    }

    proptest! {
        #[test]
        fn usual_hours_are_coarse_and_cover_the_share(
            counts in proptest::array::uniform24(0u32..50),
            share in 0.1f32..1.0,
        ) {
            let mask = usual_hours(&counts, share);
            prop_assert_eq!(mask, coarsen_hours(mask));
            let total: u32 = counts.iter().sum();
            let covered: u32 = (0..24).filter(|h| mask & (1 << h) != 0).map(|h| counts[h]).sum();
            prop_assert!(total == 0 || covered as f32 >= total as f32 * share - 1e-3);
        }

        #[test]
        fn tone_tenths_sum_to_ten(
            post in proptest::collection::vec(-1f32..1.0, 4),
            a in proptest::collection::vec(-1f32..1.0, 4),
            b in proptest::collection::vec(-1f32..1.0, 4),
            c in proptest::collection::vec(-1f32..1.0, 4),
        ) {
            if let Some(card) = tone_tenths(&post, &[a, b, c]) {
                prop_assert_eq!(card.tenths.iter().map(|&t| u32::from(t)).sum::<u32>(), 10);
                prop_assert!(card.validate().is_ok());
            }
        }
    }
}

//! Behavioural and conversational signals kept on the device: micro-interactions (dwell time,
//! scroll pauses, replays, time in rooms), when they happen, and the tone of the person's own
//! posts. Only the coarse summaries ([`ActivityCard`], [`ToneCard`]) may be published, each
//! only when graded public; the counts, the texts and their embeddings never leave.
use std::collections::{BTreeMap, BTreeSet};

use mesh_shared::{ActivityCard, PrivacyGrade, TONES, ToneCard, tone_tenths, usual_hours};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Share of the activity the published hours cover.
const USUAL_SHARE: f32 = 0.8;
/// Interactions needed before hours are inferred at all.
const MIN_INTERACTIONS: u32 = 5;
const MS_PER_HOUR: f64 = 3_600_000.0;
const MS_PER_DAY: f64 = 86_400_000.0;

/// Example sentences per tone (in [`TONES`] order): the encoder embeds them and the posts on
/// the device, and the posts' tone is their nearest prototype.
pub const TONE_PROTOTYPES: [&[&str]; 3] = [
    &[
        "That sounds great, I'm really happy for you!",
        "You've got this, keep going, I believe in you.",
        "Thanks so much for sharing, this helped me a lot.",
        "Sorry you're going through that, let me know if I can help.",
    ],
    &[
        "Haha, that's the funniest thing I've read all week.",
        "My cat has more followers than me and honestly she deserves it.",
        "I came for the soundtrack and stayed for the chaos, lol.",
        "Plot twist: the sequel was the friends we made along the way.",
    ],
    &[
        "The pacing drops in the second act because the stakes are never restated.",
        "If you compare the two releases, the remaster compresses the dynamic range.",
        "The argument rests on a sample that is too small to generalise from.",
        "Structurally, the book alternates between three timelines to build tension.",
    ],
];

/// A micro-interaction reported by the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    /// Time spent looking at a card or screen.
    Dwell,
    /// The person stopped scrolling on something.
    ScrollPause,
    /// A preview played again.
    Replay,
    /// Time spent in a live room.
    Room,
}

/// Which published summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryKind {
    /// Usual online hours and time zone.
    ActivityWindows,
    /// Tone of the person's posts.
    Tone,
}

/// What the audit screen shows about the behavioural signals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityView {
    /// Interactions recorded.
    pub interactions: u32,
    /// Distinct days with an interaction.
    pub active_days: usize,
    /// The hours card as it would be published, once there are enough interactions.
    pub activity: Option<ActivityCard>,
    /// Its grade: only `public` publishes it.
    pub activity_grade: PrivacyGrade,
    /// Engagement features (never published): mean dwell in seconds, scroll pauses and
    /// replays per active day, minutes in rooms.
    pub mean_dwell_s: f32,
    /// Scroll pauses per active day.
    pub scroll_pauses_per_day: f32,
    /// Replays per active day.
    pub replays_per_day: f32,
    /// Minutes spent in live rooms.
    pub room_minutes: f32,
    /// Posts whose tone was scored.
    pub posts_scored: u32,
    /// The tone card, once posts were scored, with labels in [`TONES`] order.
    pub tone: Option<ToneCard>,
    /// Its grade.
    pub tone_grade: PrivacyGrade,
}

/// The behavioural log of one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityLog {
    hour_counts: [u32; 24],
    /// Reported offsets from UTC (minutes) and how often each was seen.
    offsets: BTreeMap<i32, u32>,
    days: BTreeSet<u32>,
    interactions: u32,
    dwell_ms: u64,
    dwell_count: u32,
    scroll_pauses: u32,
    replays: u32,
    room_ms: u64,
    tone: Option<ToneCard>,
    posts_scored: u32,
    activity_grade: PrivacyGrade,
    tone_grade: PrivacyGrade,
}

impl Default for ActivityLog {
    fn default() -> Self {
        Self {
            hour_counts: [0; 24],
            offsets: BTreeMap::new(),
            days: BTreeSet::new(),
            interactions: 0,
            dwell_ms: 0,
            dwell_count: 0,
            scroll_pauses: 0,
            replays: 0,
            room_ms: 0,
            tone: None,
            posts_scored: 0,
            // Nothing is published until the person grades it public.
            activity_grade: PrivacyGrade::Limited,
            tone_grade: PrivacyGrade::Limited,
        }
    }
}

impl ActivityLog {
    /// Records one interaction at `at_ms` (Unix ms) lasting `duration_ms` (for dwell and room
    /// time), seen with the device's `utc_offset_minutes` (east positive).
    ///
    /// # Errors
    /// [`Error::Json`] for a time or offset out of range (the log is unchanged).
    pub fn record(
        &mut self,
        kind: InteractionKind,
        duration_ms: f64,
        at_ms: f64,
        utc_offset_minutes: i32,
    ) -> Result<()> {
        let bad = |reason: String| Error::Json {
            what: "interaction",
            reason,
        };
        if !at_ms.is_finite() || at_ms < 0.0 {
            return Err(bad(format!("at_ms: {at_ms} is not a time")));
        }
        if !duration_ms.is_finite() || !(0.0..=MS_PER_DAY).contains(&duration_ms) {
            return Err(bad(format!(
                "duration_ms: {duration_ms} is not within a day"
            )));
        }
        if !(-12 * 60..=14 * 60).contains(&utc_offset_minutes) {
            return Err(bad(format!(
                "utc_offset_minutes: {utc_offset_minutes} is not in -720..=840"
            )));
        }
        let hour = ((at_ms / MS_PER_HOUR).floor() as u64 % 24) as usize;
        self.hour_counts[hour] += 1;
        *self.offsets.entry(utc_offset_minutes).or_default() += 1;
        self.days.insert((at_ms / MS_PER_DAY) as u32);
        self.interactions += 1;
        match kind {
            InteractionKind::Dwell => {
                self.dwell_ms += duration_ms as u64;
                self.dwell_count += 1;
            }
            InteractionKind::ScrollPause => self.scroll_pauses += 1,
            InteractionKind::Replay => self.replays += 1,
            InteractionKind::Room => self.room_ms += duration_ms as u64,
        }
        Ok(())
    }

    /// Sets the tone from the mean embedding of `posts` posts and the mean embedding of each
    /// tone's prototypes ([`TONE_PROTOTYPES`], in [`TONES`] order).
    ///
    /// # Errors
    /// [`Error::ContentEmbedding`] if the prototypes are not three or the dimensions differ.
    pub fn set_tone(
        &mut self,
        posts_mean: &[f32],
        prototypes: &[Vec<f32>],
        posts: u32,
    ) -> Result<()> {
        if prototypes.len() != TONES.len() || prototypes.iter().any(|p| p.len() != posts_mean.len())
        {
            return Err(Error::ContentEmbedding(format!(
                "tone needs {} prototype embeddings of the posts' dimension {}",
                TONES.len(),
                posts_mean.len()
            )));
        }
        self.tone = tone_tenths(posts_mean, prototypes);
        self.posts_scored = if self.tone.is_some() { posts } else { 0 };
        Ok(())
    }

    /// The published hours card, once enough interactions were seen.
    pub fn activity_card(&self) -> Option<ActivityCard> {
        if self.interactions < MIN_INTERACTIONS {
            return None;
        }
        let minutes = self
            .offsets
            .iter()
            .max_by_key(|(minutes, count)| (**count, -**minutes))
            .map_or(0, |(minutes, _)| *minutes);
        Some(ActivityCard {
            active_hours_utc: usual_hours(&self.hour_counts, USUAL_SHARE),
            utc_offset_hours: (f64::from(minutes) / 60.0).round().clamp(-12.0, 14.0) as i8,
        })
    }

    /// What goes on the public card: each summary graded public, if there is one.
    pub fn published(&self) -> (Option<ActivityCard>, Option<ToneCard>) {
        (
            self.activity_card()
                .filter(|_| self.activity_grade == PrivacyGrade::Public),
            self.tone
                .filter(|_| self.tone_grade == PrivacyGrade::Public),
        )
    }

    /// Grades a summary.
    pub fn set_grade(&mut self, kind: SummaryKind, grade: PrivacyGrade) {
        match kind {
            SummaryKind::ActivityWindows => self.activity_grade = grade,
            SummaryKind::Tone => self.tone_grade = grade,
        }
    }

    /// Forgets a summary and what it was computed from.
    pub fn prune(&mut self, kind: SummaryKind) {
        match kind {
            SummaryKind::ActivityWindows => {
                let tone = (self.tone, self.posts_scored, self.tone_grade);
                *self = Self::default();
                (self.tone, self.posts_scored, self.tone_grade) = tone;
            }
            SummaryKind::Tone => {
                self.tone = None;
                self.posts_scored = 0;
            }
        }
    }

    /// The audit view.
    pub fn view(&self) -> ActivityView {
        let days = self.days.len().max(1) as f32;
        ActivityView {
            interactions: self.interactions,
            active_days: self.days.len(),
            activity: self.activity_card(),
            activity_grade: self.activity_grade,
            mean_dwell_s: if self.dwell_count == 0 {
                0.0
            } else {
                self.dwell_ms as f32 / self.dwell_count as f32 / 1000.0
            },
            scroll_pauses_per_day: self.scroll_pauses as f32 / days,
            replays_per_day: self.replays as f32 / days,
            room_minutes: self.room_ms as f32 / 60_000.0,
            posts_scored: self.posts_scored,
            tone: self.tone,
            tone_grade: self.tone_grade,
        }
    }

    /// The log as bytes for this device's storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads bytes written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`Error::Json`] naming the field that does not decode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| Error::Json {
            what: "stored activity log",
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = MS_PER_HOUR;

    #[test]
    fn evenings_in_paris_become_a_coarse_card() {
        let mut log = ActivityLog::default();
        // Five evenings, 19:xx and 20:xx UTC, reported at UTC+1.
        for day in 0..5 {
            let base = f64::from(day) * MS_PER_DAY;
            log.record(InteractionKind::Dwell, 4000.0, base + 19.5 * HOUR, 60)
                .unwrap();
            log.record(InteractionKind::ScrollPause, 0.0, base + 20.2 * HOUR, 60)
                .unwrap();
        }
        log.record(InteractionKind::Replay, 0.0, 3.0 * HOUR, 60)
            .unwrap();
        let card = log.activity_card().unwrap();
        assert_eq!(card.active_hours_utc, 0b1111 << 18);
        assert_eq!(card.utc_offset_hours, 1);
        card.validate().unwrap();
        let view = log.view();
        assert_eq!(view.active_days, 5);
        assert!((view.mean_dwell_s - 4.0).abs() < 1e-6);
        assert!((view.scroll_pauses_per_day - 1.0).abs() < 1e-6);
        // Limited by default: nothing is published until graded public.
        assert_eq!(log.published(), (None, None));
        log.set_grade(SummaryKind::ActivityWindows, PrivacyGrade::Public);
        assert_eq!(log.published().0, Some(card));
        let restored = ActivityLog::from_bytes(&log.to_bytes()).unwrap();
        assert_eq!(restored, log);
        log.prune(SummaryKind::ActivityWindows);
        assert_eq!(log.view().interactions, 0);
        assert_eq!(log.published(), (None, None));
    }

    #[test]
    fn bad_interactions_are_refused_and_change_nothing() {
        let mut log = ActivityLog::default();
        assert!(log.record(InteractionKind::Dwell, -1.0, 0.0, 0).is_err());
        assert!(
            log.record(InteractionKind::Dwell, 1.0, f64::NAN, 0)
                .is_err()
        );
        let error = log
            .record(InteractionKind::Dwell, 1.0, 0.0, 900)
            .unwrap_err()
            .to_string();
        assert!(error.contains("utc_offset_minutes"), "{error}");
        assert_eq!(log, ActivityLog::default());
    }

    #[test]
    fn tone_is_published_only_when_graded_public() {
        let mut log = ActivityLog::default();
        let prototypes = vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![-1.0, 0.0]];
        log.set_tone(&[0.1, 1.0], &prototypes, 3).unwrap();
        let tone = log.view().tone.unwrap();
        assert!(tone.tenths[1] >= 8, "{tone:?}");
        assert_eq!(log.published().1, None);
        log.set_grade(SummaryKind::Tone, PrivacyGrade::Public);
        assert_eq!(log.published().1, Some(tone));
        assert!(log.set_tone(&[0.1, 1.0], &prototypes[..2], 3).is_err());
        log.prune(SummaryKind::Tone);
        assert_eq!(log.published().1, None);
    }
}

//! What each person asked for: snoozed categories, intent flags, swipes, and the outcomes queued
//! for the re-ranker.
use std::collections::HashMap;

use mesh_shared::{IntentTopic, SNOOZE_DAYS, UserId};

use super::{DAY_MS, TrainingExample};
use crate::events::SocialEvent;

#[derive(Debug, Default)]
pub(super) struct Preferences {
    pub(super) snoozes: HashMap<u32, Vec<(String, u64)>>,
    pub(super) intents: HashMap<u32, Vec<(IntentTopic, u64)>>,
    pub(super) feedback: HashMap<u32, Vec<(u32, bool)>>,
    pub(super) training: Vec<TrainingExample>,
}

impl super::SocialState {
    /// Whether `category` is snoozed by `viewer` at `now_ms`.
    pub fn snoozed(&self, viewer: u32, category: &str, now_ms: u64) -> bool {
        self.preferences.snoozes.get(&viewer).is_some_and(|list| {
            list.iter()
                .any(|(c, until)| *until > now_ms && c.eq_ignore_ascii_case(category))
        })
    }

    /// The categories `viewer` has snoozed at `now_ms`.
    pub fn snoozed_categories(&self, viewer: u32, now_ms: u64) -> Vec<String> {
        self.preferences
            .snoozes
            .get(&viewer)
            .map(|list| {
                list.iter()
                    .filter(|(_, until)| *until > now_ms)
                    .map(|(c, _)| c.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The intent flags of `user` still active at `now_ms`, as a bit mask.
    pub fn active_intents(&self, user: u32, now_ms: u64) -> u32 {
        self.preferences.intents.get(&user).map_or(0, |flags| {
            flags
                .iter()
                .filter(|(_, expires)| *expires > now_ms)
                .fold(0, |mask, (topic, _)| mask | topic.bit())
        })
    }

    /// `viewer`'s swipe-to-tune feedback: (suggestion, more like this).
    pub fn feedback_of(&self, viewer: u32) -> &[(u32, bool)] {
        self.preferences
            .feedback
            .get(&viewer)
            .map_or(&[], Vec::as_slice)
    }

    /// The outcomes queued for the re-ranker's next training.
    pub fn training_examples(&self) -> &[TrainingExample] {
        &self.preferences.training
    }

    /// The event a snooze of `category` by `by` at `now_ms` appends.
    pub fn snooze_event(by: UserId, category: &str, now_ms: u64) -> SocialEvent {
        SocialEvent::Snoozed {
            by,
            category: category.trim().to_lowercase(),
            until_ms: now_ms + SNOOZE_DAYS * DAY_MS,
        }
    }
}

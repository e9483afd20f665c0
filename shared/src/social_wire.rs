//! Wire types of the discovery controls and live rooms: blocks, reports, snoozes, intent
//! flags, swipe-to-tune feedback, introductions, presence, and the operator's feature flags.
//! Every request naming a person is signed by the acting user's device key.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, TasteVector, UserId};

/// Days a snoozed suggestion category stays away.
pub const SNOOZE_DAYS: u64 = 30;
/// Longest lifetime of an intent flag, in hours (30 days).
pub const MAX_INTENT_TTL_HOURS: u32 = 720;
/// A person counts as present in a live room for this long after their last heartbeat.
pub const PRESENCE_WINDOW_MS: u64 = 60_000;
const MAX_CATEGORY_CHARS: usize = 40;
const MAX_REASON_CHARS: usize = 500;
const MAX_ROOM_ID_CHARS: usize = 64;

/// `POST /v1/blocks`: the signer never sees `target` again, nor `target` the signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    /// The person blocked.
    pub target: UserId,
}

/// `POST /v1/reports`: reports `target` for harassment or abuse (feeds the safety score).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// The person reported.
    pub target: UserId,
    /// 1–500 characters.
    #[schemars(length(min = 1, max = 500))]
    pub reason: String,
}

impl ReportRequest {
    /// Checks the reason's length.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for `reason`.
    pub fn validate(&self) -> Result<()> {
        check_chars("reason", &self.reason, MAX_REASON_CHARS)
    }
}

/// `POST /v1/snoozes`: no suggestion of this category (a card's first trait label, as shown
/// on the card) for [`SNOOZE_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    /// 1–40 characters; compared case-insensitively.
    #[schemars(length(min = 1, max = 40))]
    pub category: String,
}

impl SnoozeRequest {
    /// Checks the category's length.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for `category`.
    pub fn validate(&self) -> Result<()> {
        check_chars("category", &self.category, MAX_CATEGORY_CHARS)
    }
}

/// What a person is looking for right now (zero-party intent flags).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum IntentTopic {
    /// "Looking for collaborators?"
    Collaborators,
    /// "Want feedback on a project?"
    ProjectFeedback,
    /// New friends with the same taste.
    Friends,
    /// Mentoring or being mentored.
    Mentoring,
}

impl IntentTopic {
    /// The topic's bit in an intent mask.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// One intent flag and how long it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentFlag {
    /// The topic.
    pub topic: IntentTopic,
    /// Lifetime in hours, 1..=[`MAX_INTENT_TTL_HOURS`].
    #[schemars(range(min = 1, max = 720))]
    pub ttl_hours: u32,
}

/// `PUT /v1/intents`: replaces the signer's intent flags (an empty list clears them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentsRequest {
    /// At most one flag per topic.
    pub flags: Vec<IntentFlag>,
}

impl IntentsRequest {
    /// Checks the lifetimes and that no topic repeats.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the flag, e.g. `flags[1].ttl_hours`.
    pub fn validate(&self) -> Result<()> {
        for (i, flag) in self.flags.iter().enumerate() {
            if flag.ttl_hours == 0 || flag.ttl_hours > MAX_INTENT_TTL_HOURS {
                return Err(Error::field(
                    format!("flags[{i}].ttl_hours"),
                    format!(
                        "{} is not within 1..={MAX_INTENT_TTL_HOURS}",
                        flag.ttl_hours
                    ),
                ));
            }
            if self.flags[..i].iter().any(|f| f.topic == flag.topic) {
                return Err(Error::field(
                    format!("flags[{i}].topic"),
                    "the topic is already flagged earlier in the list",
                ));
            }
        }
        Ok(())
    }
}

/// `POST /v1/feedback`: swipe-to-tune on a suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// The suggested person.
    pub target: UserId,
    /// `true`: more like this (swipe right); `false`: less like this (swipe left).
    pub more_like_this: bool,
}

/// `POST /v1/introductions`: asks `to` for an introduction (a new chat). Rate-limited per day
/// by account age and positive-reply ratio; `429` with the limit when exceeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntroductionRequest {
    /// The person asked.
    pub to: UserId,
}

/// `POST /v1/messages`: records that the signer wrote to `to`, someone they are tied to (an
/// accepted introduction). Metadata for the conversation-depth metric: the text of a message
/// never reaches the coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageRequest {
    /// The person written to.
    pub to: UserId,
}

/// Answer to [`IntroductionRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntroductionSent {
    /// New introductions the sender may still send in the current 24-hour window.
    pub remaining_today: u32,
}

/// `POST /v1/rooms/{room}/candidates`: people present in the room now (heartbeat within
/// [`PRESENCE_WINDOW_MS`]), nearest to the room's topical vector first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomCandidatesRequest {
    /// Must be the coordinator's current model version.
    pub model_version: u32,
    /// The room's topic in taste space.
    pub topic_vector: TasteVector,
    /// How many people, 1..=100.
    #[schemars(range(min = 1, max = 100))]
    pub k: u32,
}

impl RoomCandidatesRequest {
    /// Checks `k`.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for `k` outside 1..=100.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.k > crate::MAX_CANDIDATES {
            return Err(Error::field(
                "k",
                format!("{} is not within 1..={}", self.k, crate::MAX_CANDIDATES),
            ));
        }
        Ok(())
    }
}

/// Checks a room id from a path: 1–64 of `[A-Za-z0-9_-]`.
///
/// # Errors
/// [`Error::InvalidField`] for `room`.
pub fn check_room_id(room: &str) -> Result<()> {
    let ok = !room.is_empty()
        && room.len() <= MAX_ROOM_ID_CHARS
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::field(
            "room",
            "a room id is 1–64 letters, digits, '_' or '-'",
        ))
    }
}

/// Which ranking answers `POST /v1/discovery/candidates`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RankingVersion {
    /// The baseline: overlap of the hashed public favourites of the two cards.
    V1,
    /// Taste vectors, the known graph and the re-ranker.
    V2,
}

/// `GET /v1/admin/fairness` (operator token): exposure of groups of accounts in everything
/// shown so far, against their share of the suggestions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FairnessReport {
    /// One entry per group (new and established accounts).
    pub groups: Vec<FairnessGroup>,
}

/// One group of [`FairnessReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FairnessGroup {
    /// The group's name.
    pub group: String,
    /// Its share of the people suggested.
    pub share_of_suggestions: f64,
    /// Its share of the DCG-weighted exposure.
    pub share_of_exposure: f64,
    /// Exposure share over suggestion share (1 is proportional).
    pub exposure_ratio: f64,
}

/// `POST /v1/admin/ranker/train` (operator token): the re-ranker now served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RankerTrained {
    /// Trees in the fitted model.
    pub trees: usize,
}

/// `GET`/`PUT /v1/admin/flags` (operator token): switched at runtime, no restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryFlags {
    /// The ranking in use.
    pub ranking: RankingVersion,
    /// The kill switch: `false` answers every discovery request with `503`.
    pub discovery_enabled: bool,
}

impl Default for DiscoveryFlags {
    fn default() -> Self {
        Self {
            ranking: RankingVersion::V2,
            discovery_enabled: true,
        }
    }
}

fn check_chars(field: &str, text: &str, max: usize) -> Result<()> {
    let chars = text.trim().chars().count();
    if chars == 0 || chars > max || text.chars().any(char::is_control) {
        return Err(Error::field(
            field,
            format!("must be 1–{max} characters without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_are_checked_with_their_position() {
        let flag = |topic, ttl_hours| IntentFlag { topic, ttl_hours };
        let ok = IntentsRequest {
            flags: vec![
                flag(IntentTopic::Collaborators, 24),
                flag(IntentTopic::Friends, 720),
            ],
        };
        assert!(ok.validate().is_ok());
        let zero = IntentsRequest {
            flags: vec![
                flag(IntentTopic::Friends, 24),
                flag(IntentTopic::Mentoring, 0),
            ],
        };
        assert!(
            zero.validate()
                .unwrap_err()
                .to_string()
                .contains("flags[1].ttl_hours")
        );
        let twice = IntentsRequest {
            flags: vec![flag(IntentTopic::Friends, 1), flag(IntentTopic::Friends, 2)],
        };
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("flags[1].topic")
        );
        assert_ne!(IntentTopic::Friends.bit(), IntentTopic::Mentoring.bit());
    }

    #[test]
    fn room_ids_and_texts() {
        assert!(check_room_id("jazz-night_1").is_ok());
        assert!(check_room_id("").is_err());
        assert!(check_room_id("a/b").is_err());
        assert!(check_room_id(&"x".repeat(65)).is_err());
        let report = |reason: &str| ReportRequest {
            target: UserId::from_public_key(&[1; 32]),
            reason: reason.to_owned(),
        };
        assert!(report("spam").validate().is_ok());
        assert!(report("  ").validate().is_err());
        assert!(report("a\u{7}").validate().is_err());
    }
}

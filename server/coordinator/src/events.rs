//! The coordinator's event log, by concern. Every durable fact is an [`Event`]: what people do
//! ([`SocialEvent`]: registrations, blocks, reports, snoozes, intents, swipes, introductions,
//! impressions, messages), what the operator switches ([`OperatorEvent`]) and what happens to
//! the model ([`ModelEvent`]: versions, evaluations, re-ranker refits). Each is appended to
//! the store before it applies and is replayed on start.
//!
//! Stored as JSON objects tagged by `kind` (`{"kind": "blocked", …}`): the concern is not
//! written, so the log of every earlier version reads as is (`tests/fixtures/store-b1540fd`).
use mesh_shared::{DiscoveryFlags, IntentTopic, PrivacyGrade, UserId};
use serde::{Deserialize, Serialize};

/// One durable fact of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Event {
    /// Something a person did.
    Social(SocialEvent),
    /// Something the operator switched.
    Operator(OperatorEvent),
    /// Something that happened to the model.
    Model(ModelEvent),
}

/// What people do, as the coordinator keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SocialEvent {
    /// A key registered a new user id (the account's age starts here).
    Registered {
        /// The new user.
        user: UserId,
        /// When.
        at_ms: u64,
    },
    /// `by` blocked `target`.
    Blocked {
        /// Who blocked.
        by: UserId,
        /// Who is blocked.
        target: UserId,
        /// When.
        at_ms: u64,
    },
    /// `by` reported `target`.
    Reported {
        /// Who reported.
        by: UserId,
        /// Who is reported.
        target: UserId,
        /// When.
        at_ms: u64,
    },
    /// `by` snoozed a suggestion category.
    Snoozed {
        /// Who snoozed.
        by: UserId,
        /// The category, lower-cased.
        category: String,
        /// Until when.
        until_ms: u64,
    },
    /// `user` replaced their intent flags.
    IntentsSet {
        /// Whose flags.
        user: UserId,
        /// Each flag with its expiry.
        flags: Vec<(IntentTopic, u64)>,
    },
    /// Swipe-to-tune on a suggestion.
    Feedback {
        /// Who swiped.
        by: UserId,
        /// The suggestion.
        target: UserId,
        /// More like this (`true`) or less (`false`).
        more: bool,
        /// When.
        at_ms: u64,
    },
    /// `from` asked `to` for an introduction.
    IntroductionSent {
        /// The sender.
        from: UserId,
        /// The recipient.
        to: UserId,
        /// When.
        at_ms: u64,
    },
    /// `to` accepted `from`'s introduction: the two are now tied.
    IntroductionAccepted {
        /// The original sender.
        from: UserId,
        /// The recipient who accepted.
        to: UserId,
        /// When.
        at_ms: u64,
    },
    /// Suggestions shown to a signed viewer, in the order shown (one event per query).
    SuggestionsShown {
        /// Who saw them.
        viewer: UserId,
        /// The people suggested, best first.
        shown: Vec<UserId>,
        /// When.
        at_ms: u64,
    },
    /// A message between two people, as metadata: who wrote to whom and when, never its text.
    MessageSent {
        /// The writer.
        from: UserId,
        /// The reader.
        to: UserId,
        /// When.
        at_ms: u64,
    },
}

/// What the operator switches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OperatorEvent {
    /// The operator changed the discovery flags.
    FlagsSet {
        /// The new flags.
        flags: DiscoveryFlags,
    },
}

/// What happens to the model: the operator's model history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelEvent {
    /// A new taste-model version was saved (the operator's model history).
    ModelVersioned {
        /// The version.
        version: u32,
        /// When.
        at_ms: u64,
        /// What made it: `initial`, `federated round N`, `mesh train`.
        source: String,
        /// Its figures (clients, ε, evaluation scores, …), by name.
        figures: std::collections::BTreeMap<String, f64>,
    },
    /// A model version was evaluated (`mesh eval`): its figures on a dataset.
    ModelEvaluated {
        /// The version evaluated.
        version: u32,
        /// When.
        at_ms: u64,
        /// `setting:method:metric` → value, e.g. `B:mesh:ndcg@10`.
        figures: std::collections::BTreeMap<String, f64>,
    },
    /// The re-ranker was refitted on the queued outcomes.
    RankerTrained {
        /// When.
        at_ms: u64,
        /// Trees in the model.
        trees: u32,
        /// Positive outcomes it was fitted on.
        positives: u32,
        /// Negative outcomes.
        negatives: u32,
        /// `operator` or `scheduled`.
        trigger: String,
    },
}

impl Event {
    /// The person who acted, if a person did (their events go with them at opt-out).
    pub fn actor(&self) -> Option<&UserId> {
        match self {
            Self::Social(event) => Some(event.actor()),
            Self::Operator(_) | Self::Model(_) => None,
        }
    }

    /// When the event happened, for the events that say (snoozes, intents and flags do not).
    pub fn at_ms(&self) -> Option<u64> {
        match self {
            Self::Social(event) => event.at_ms(),
            Self::Model(event) => Some(event.at_ms()),
            Self::Operator(OperatorEvent::FlagsSet { .. }) => None,
        }
    }

    /// The person's event, if this is one.
    pub fn social(&self) -> Option<&SocialEvent> {
        match self {
            Self::Social(event) => Some(event),
            Self::Operator(_) | Self::Model(_) => None,
        }
    }

    /// The model's event, if this is one.
    pub fn model(&self) -> Option<&ModelEvent> {
        match self {
            Self::Model(event) => Some(event),
            Self::Social(_) | Self::Operator(_) => None,
        }
    }

    /// The privacy grade of the event as the coordinator keeps it: `limited` for every kind.
    /// A person's events are pair-level metadata that only the operator's aggregates read,
    /// never shown to other people and deleted when their actor opts out; the operator's own
    /// (flags, model versions, refits) name no one. The daily metrics computed from them are
    /// aggregates over many people.
    pub fn privacy_grade(&self) -> PrivacyGrade {
        PrivacyGrade::Limited
    }
}

/// What an event becomes when a person opts out (see [`Event::after_opt_out_of`]).
#[derive(Debug, Clone, PartialEq)]
pub enum AfterOptOut {
    /// The event does not name the person, or is kept on purpose.
    Kept,
    /// The event is deleted.
    Removed,
    /// The event is rewritten without the person.
    Rewritten(Event),
}

impl Event {
    /// What opting out does to this event, for the person `user`. Removed: everything they
    /// did, and everything others did that is about them (swipes on them, introductions and
    /// messages either way). Rewritten: suggestion lists that showed them, without them.
    /// Kept on purpose: blocks and reports by others that name them, which protect the
    /// blocker and feed the operator's review. A user id is derived from the device key, so a
    /// key that returns gets the same id, and the blocks and reports still hold; they go when
    /// their author opts out.
    pub fn after_opt_out_of(&self, user: &UserId) -> AfterOptOut {
        let Self::Social(event) = self else {
            return AfterOptOut::Kept;
        };
        if event.actor() == user {
            return AfterOptOut::Removed;
        }
        let removed_if = |names: bool| {
            if names {
                AfterOptOut::Removed
            } else {
                AfterOptOut::Kept
            }
        };
        match event {
            SocialEvent::Feedback { target, .. } => removed_if(target == user),
            SocialEvent::IntroductionSent { from, to, .. }
            | SocialEvent::IntroductionAccepted { from, to, .. }
            | SocialEvent::MessageSent { from, to, .. } => removed_if(from == user || to == user),
            SocialEvent::SuggestionsShown {
                viewer,
                shown,
                at_ms,
            } => {
                if !shown.contains(user) {
                    return AfterOptOut::Kept;
                }
                let shown: Vec<UserId> = shown.iter().filter(|c| *c != user).cloned().collect();
                if shown.is_empty() {
                    AfterOptOut::Removed
                } else {
                    AfterOptOut::Rewritten(Self::Social(SocialEvent::SuggestionsShown {
                        viewer: viewer.clone(),
                        shown,
                        at_ms: *at_ms,
                    }))
                }
            }
            // On purpose: they protect the blocker and feed the operator's review.
            SocialEvent::Blocked { .. } | SocialEvent::Reported { .. } => AfterOptOut::Kept,
            // They name their actor only.
            SocialEvent::Registered { .. }
            | SocialEvent::Snoozed { .. }
            | SocialEvent::IntentsSet { .. } => AfterOptOut::Kept,
        }
    }
}

impl From<SocialEvent> for Event {
    fn from(event: SocialEvent) -> Self {
        Self::Social(event)
    }
}

impl From<OperatorEvent> for Event {
    fn from(event: OperatorEvent) -> Self {
        Self::Operator(event)
    }
}

impl From<ModelEvent> for Event {
    fn from(event: ModelEvent) -> Self {
        Self::Model(event)
    }
}

impl SocialEvent {
    /// The person who acted (their events go with them at opt-out).
    pub fn actor(&self) -> &UserId {
        match self {
            Self::Registered { user, .. } | Self::IntentsSet { user, .. } => user,
            Self::Blocked { by, .. }
            | Self::Reported { by, .. }
            | Self::Snoozed { by, .. }
            | Self::Feedback { by, .. } => by,
            Self::IntroductionSent { from, .. } | Self::MessageSent { from, .. } => from,
            Self::IntroductionAccepted { to, .. } => to,
            Self::SuggestionsShown { viewer, .. } => viewer,
        }
    }

    /// When it happened (snoozes and intents say until when instead).
    pub fn at_ms(&self) -> Option<u64> {
        match self {
            Self::Registered { at_ms, .. }
            | Self::Blocked { at_ms, .. }
            | Self::Reported { at_ms, .. }
            | Self::Feedback { at_ms, .. }
            | Self::IntroductionSent { at_ms, .. }
            | Self::IntroductionAccepted { at_ms, .. }
            | Self::SuggestionsShown { at_ms, .. }
            | Self::MessageSent { at_ms, .. } => Some(*at_ms),
            Self::Snoozed { .. } | Self::IntentsSet { .. } => None,
        }
    }
}

impl ModelEvent {
    /// When it happened.
    pub fn at_ms(&self) -> u64 {
        match self {
            Self::ModelVersioned { at_ms, .. }
            | Self::ModelEvaluated { at_ms, .. }
            | Self::RankerTrained { at_ms, .. } => *at_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_concern_keeps_the_stored_shape() {
        let user = UserId::from_public_key(&[7; 32]);
        let events = [
            Event::from(SocialEvent::Blocked {
                by: user.clone(),
                target: user.clone(),
                at_ms: 5,
            }),
            Event::from(OperatorEvent::FlagsSet {
                flags: DiscoveryFlags::default(),
            }),
            Event::from(ModelEvent::RankerTrained {
                at_ms: 9,
                trees: 3,
                positives: 1,
                negatives: 2,
                trigger: "operator".to_owned(),
            }),
        ];
        for event in &events {
            let json = serde_json::to_value(event).unwrap();
            assert!(json["kind"].is_string(), "{json}");
            let back: Event = serde_json::from_value(json).unwrap();
            assert_eq!(&back, event);
        }
        let blocked = serde_json::to_string(&events[0]).unwrap();
        assert!(blocked.starts_with("{\"kind\":\"blocked\""), "{blocked}");
    }
}

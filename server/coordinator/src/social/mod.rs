//! What the coordinator knows between people: accepted introductions (the known graph),
//! blocks, reports, snoozed categories, intent flags, swipe-to-tune feedback, outreach,
//! impressions and presence in live rooms. Every durable fact arrives as a [`SocialEvent`],
//! appended to the store before it is applied, and replayed on start; impressions and
//! presence are soft, in-memory signals.
use std::collections::HashMap;

use mesh_shared::{DiscoveryFlags, RankingVersion, UserId};

use crate::events::{OperatorEvent, SocialEvent};

mod people;
mod preferences;
mod presence;
mod safety;
mod ties;

use people::People;
use preferences::Preferences;
use presence::Presence;
use safety::Safety;
use ties::Ties;

use mesh_ranking::SocialGraph;

const DAY_MS: u64 = 24 * 60 * 60 * 1000;

/// Daily caps on new introductions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutreachPolicy {
    /// Cap of accounts younger than `young_days`.
    pub new_account_cap: u32,
    /// Age in days below which an account is new.
    pub young_days: u64,
    /// Cap of established accounts.
    pub established_cap: u32,
    /// Introductions sent before the reply ratio counts.
    pub ratio_after: u32,
    /// Below this share of accepted introductions, the cap is halved.
    pub low_reply_ratio: f32,
}

impl Default for OutreachPolicy {
    fn default() -> Self {
        Self {
            new_account_cap: 5,
            young_days: 7,
            established_cap: 20,
            ratio_after: 10,
            low_reply_ratio: 0.2,
        }
    }
}

/// Why an introduction is refused.
#[derive(Debug, Clone, PartialEq)]
pub enum OutreachRefusal {
    /// The daily cap is reached.
    Limited {
        /// The cap that applies.
        cap: u32,
        /// The account's age in days.
        account_age_days: u64,
        /// Accepted share of the introductions sent so far.
        reply_ratio: f32,
        /// When the oldest introduction in the window leaves it (Unix ms).
        retry_at_ms: u64,
    },
    /// One of the two blocked the other.
    Blocked,
    /// Asking oneself.
    Oneself,
    /// Already tied.
    AlreadyConnected,
}

/// The social state, dense-indexed for the graph features: one part per concern (the
/// modules beside this one), all folded from the event log by [`SocialState::apply`].
#[derive(Debug, Default)]
pub struct SocialState {
    people: People,
    ties: Ties,
    safety: Safety,
    preferences: Preferences,
    presence: Presence,
    impressions: HashMap<(u32, u32), u32>,
    flags: DiscoveryFlags,
}

/// Harassment risk above which a person is never suggested.
pub(crate) const MAX_HARASSMENT_RISK: f32 = 0.75;

/// An outcome the re-ranker learns from: a directed pair and whether it went well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainingExample {
    /// The person who saw the suggestion.
    pub viewer: u32,
    /// The suggestion.
    pub candidate: u32,
    /// Accepted, replied or "more like this" (`true`); "less like this" (`false`).
    pub positive: bool,
}

impl SocialState {
    /// The dense index of `user`, adding them if new.
    pub fn index_of(&mut self, user: &UserId) -> u32 {
        if let Some(&i) = self.people.ids.get(user) {
            return i;
        }
        let i = self.people.users.len() as u32;
        self.people.ids.insert(user.clone(), i);
        self.people.users.push(user.clone());
        i
    }

    /// The dense index of `user`, if known.
    pub fn find(&self, user: &UserId) -> Option<u32> {
        self.people.ids.get(user).copied()
    }

    /// When `user` registered (Unix milliseconds); `None` if they are not registered (or
    /// opted out).
    pub fn registered_at(&self, user: &UserId) -> Option<u64> {
        let index = self.find(user)?;
        self.people.registered_at.get(&index).copied()
    }

    /// The user of a dense index.
    pub fn user(&self, index: u32) -> Option<&UserId> {
        self.people.users.get(index as usize)
    }

    /// The known graph.
    pub fn graph(&self) -> &SocialGraph {
        &self.ties.graph
    }

    /// The discovery flags.
    pub fn flags(&self) -> DiscoveryFlags {
        self.flags
    }

    /// Recomputes the community labels of the known graph (after a replay).
    pub fn refresh_communities(&mut self) {
        self.ties.graph.refresh_communities();
        self.ties.ties_since_communities = 0;
    }

    /// Applies one event (live or replayed).
    pub fn apply(&mut self, event: &SocialEvent) {
        self.apply_facts(event);
        // The people whose risk the event may move: the target of a report or block, the
        // sender of an introduction, both ends of a new tie.
        let moved: Vec<&UserId> = match event {
            SocialEvent::Blocked { target, .. } | SocialEvent::Reported { target, .. } => {
                vec![target]
            }
            SocialEvent::IntroductionSent { from, .. } => vec![from],
            SocialEvent::IntroductionAccepted { from, to, .. } => vec![from, to],
            SocialEvent::Registered { .. }
            | SocialEvent::Snoozed { .. }
            | SocialEvent::IntentsSet { .. }
            | SocialEvent::Feedback { .. }
            | SocialEvent::SuggestionsShown { .. }
            | SocialEvent::MessageSent { .. } => Vec::new(),
        };
        let moved: Vec<u32> = moved.into_iter().filter_map(|u| self.find(u)).collect();
        for u in moved {
            self.update_risky(u);
        }
    }

    fn apply_facts(&mut self, event: &SocialEvent) {
        match event {
            SocialEvent::Registered { user, at_ms } => {
                let u = self.index_of(user);
                self.people.registered_at.entry(u).or_insert(*at_ms);
            }
            SocialEvent::Blocked { by, target, .. } => {
                let (b, t) = (self.index_of(by), self.index_of(target));
                if self.safety.blocks.insert((b, t)) {
                    *self.safety.blocks_received.entry(t).or_default() += 1;
                }
            }
            SocialEvent::Reported { by, target, at_ms } => {
                let (b, t) = (self.index_of(by), self.index_of(target));
                self.record_report(b, t, *at_ms);
            }
            SocialEvent::Snoozed {
                by,
                category,
                until_ms,
            } => {
                let b = self.index_of(by);
                let list = self.preferences.snoozes.entry(b).or_default();
                list.retain(|(c, _)| c != category);
                list.push((category.clone(), *until_ms));
            }
            SocialEvent::IntentsSet { user, flags } => {
                let u = self.index_of(user);
                self.preferences.intents.insert(u, flags.clone());
            }
            SocialEvent::Feedback {
                by, target, more, ..
            } => {
                let (b, t) = (self.index_of(by), self.index_of(target));
                let list = self.preferences.feedback.entry(b).or_default();
                list.retain(|(c, _)| *c != t);
                list.push((t, *more));
                self.preferences.training.push(TrainingExample {
                    viewer: b,
                    candidate: t,
                    positive: *more,
                });
            }
            SocialEvent::IntroductionSent { from, to, at_ms } => {
                let (f, t) = (self.index_of(from), self.index_of(to));
                self.ties.sent.entry(f).or_default().push(*at_ms);
                *self.ties.sent_total.entry(f).or_default() += 1;
                self.ties.pending.insert((f, t));
            }
            SocialEvent::IntroductionAccepted { from, to, at_ms } => {
                let (f, t) = (self.index_of(from), self.index_of(to));
                if self.ties.pending.remove(&(f, t)) {
                    *self.ties.accepted_total.entry(f).or_default() += 1;
                }
                self.ties.recent_accepts.entry(t).or_default().push(*at_ms);
                self.ties.graph.add_tie(f as usize, t as usize);
                self.ties.ties_since_communities += 1;
                if self.ties.ties_since_communities > self.ties.graph.people() / 100 {
                    self.ties.graph.refresh_communities();
                    self.ties.ties_since_communities = 0;
                }
                self.preferences.training.extend([
                    TrainingExample {
                        viewer: f,
                        candidate: t,
                        positive: true,
                    },
                    TrainingExample {
                        viewer: t,
                        candidate: f,
                        positive: true,
                    },
                ]);
            }
            SocialEvent::SuggestionsShown { viewer, shown, .. } => {
                let v = self.index_of(viewer);
                let shown: Vec<u32> = shown.iter().map(|c| self.index_of(c)).collect();
                self.record_impressions(v, &shown);
            }
            SocialEvent::MessageSent { from, to, .. } => {
                self.index_of(from);
                self.index_of(to);
            }
        }
    }

    /// Applies one of the operator's switches (live or replayed).
    pub fn apply_operator(&mut self, event: &OperatorEvent) {
        match event {
            OperatorEvent::FlagsSet { flags } => self.flags = *flags,
        }
    }

    /// Applies any event of the log: a person's to the social state, the operator's to the
    /// flags; the model's history is not part of it.
    pub fn apply_event(&mut self, event: &crate::Event) {
        match event {
            crate::Event::Social(event) => self.apply(event),
            crate::Event::Operator(event) => self.apply_operator(event),
            crate::Event::Model(_) => {}
        }
    }

    /// Counts one more showing of each of `shown` to `viewer`.
    pub fn record_impressions(&mut self, viewer: u32, shown: &[u32]) {
        for &c in shown {
            *self.impressions.entry((viewer, c)).or_default() += 1;
        }
    }

    /// How often `candidate` was shown to `viewer`.
    pub fn impressions(&self, viewer: u32, candidate: u32) -> u32 {
        self.impressions
            .get(&(viewer, candidate))
            .copied()
            .unwrap_or(0)
    }

    /// The ranking in use, or `None` when the kill switch is off.
    pub fn ranking(&self) -> Option<RankingVersion> {
        self.flags.discovery_enabled.then_some(self.flags.ranking)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::IntentTopic;

    fn user(n: u8) -> UserId {
        UserId::from_public_key(&[n; 32])
    }

    /// The state folded from `log` after `gone` opted out, as the stores rewrite it.
    fn folded_after_opt_out(log: &[SocialEvent], gone: &UserId) -> SocialState {
        let mut s = SocialState::default();
        for event in log {
            match crate::Event::Social(event.clone()).after_opt_out_of(gone) {
                crate::AfterOptOut::Kept => s.apply(event),
                crate::AfterOptOut::Removed => {}
                crate::AfterOptOut::Rewritten(event) => s.apply_event(&event),
            }
        }
        s
    }

    #[test]
    fn blocks_are_mutual_go_with_the_blocker_and_stay_when_the_blocked_leaves() {
        let log = [SocialEvent::Blocked {
            by: user(1),
            target: user(2),
            at_ms: 0,
        }];
        let s = folded_after_opt_out(&log, &user(9));
        let (a, b) = (s.find(&user(1)).unwrap(), s.find(&user(2)).unwrap());
        assert!(s.blocked_pair(a, b) && s.blocked_pair(b, a));
        assert!(s.harassment_risk(b) > s.harassment_risk(a));
        let s = folded_after_opt_out(&log, &user(1));
        assert_eq!(s.find(&user(1)), None);
        let s = folded_after_opt_out(&log, &user(2));
        let (a, b) = (s.find(&user(1)).unwrap(), s.find(&user(2)).unwrap());
        assert!(
            s.blocked_pair(a, b),
            "the blocker stays protected from a returning key"
        );
    }

    #[test]
    fn ties_swipes_and_impressions_about_someone_go_when_they_leave() {
        let log = [
            SocialEvent::IntroductionSent {
                from: user(1),
                to: user(2),
                at_ms: 1,
            },
            SocialEvent::IntroductionAccepted {
                from: user(1),
                to: user(2),
                at_ms: 2,
            },
            SocialEvent::Feedback {
                by: user(3),
                target: user(2),
                more: true,
                at_ms: 3,
            },
            SocialEvent::SuggestionsShown {
                viewer: user(3),
                shown: vec![user(2), user(1)],
                at_ms: 4,
            },
        ];
        let s = folded_after_opt_out(&log, &user(9));
        let (a, b, c) = (
            s.find(&user(1)).unwrap(),
            s.find(&user(2)).unwrap(),
            s.find(&user(3)).unwrap(),
        );
        assert!(s.ties.graph.connected(a as usize, b as usize));
        assert_eq!(s.impressions.get(&(c, b)), Some(&1));
        let s = folded_after_opt_out(&log, &user(2));
        assert_eq!(s.find(&user(2)), None, "no event names them any more");
        let (a, c) = (s.find(&user(1)).unwrap(), s.find(&user(3)).unwrap());
        assert_eq!(s.ties.graph.degree(a as usize), 0);
        assert_eq!(
            s.impressions.get(&(c, a)),
            Some(&1),
            "the rest of the list stays"
        );
        assert!(s.preferences.training.is_empty());
    }

    #[test]
    fn snoozes_last_thirty_days_and_intents_expire() {
        let mut s = SocialState::default();
        let day = DAY_MS;
        s.apply(&SocialState::snooze_event(user(1), " Jazz ", 0));
        let u = s.find(&user(1)).unwrap();
        assert!(s.snoozed(u, "jazz", 29 * day));
        assert!(s.snoozed(u, "JAZZ", 30 * day - 1));
        assert!(!s.snoozed(u, "jazz", 30 * day));
        assert!(!s.snoozed(u, "rock", day));
        s.apply(&SocialEvent::IntentsSet {
            user: user(1),
            flags: vec![(IntentTopic::Collaborators, 10), (IntentTopic::Friends, 20)],
        });
        assert_eq!(
            s.active_intents(u, 5),
            IntentTopic::Collaborators.bit() | IntentTopic::Friends.bit()
        );
        assert_eq!(s.active_intents(u, 15), IntentTopic::Friends.bit());
        assert_eq!(s.active_intents(u, 20), 0);
    }

    #[test]
    fn outreach_caps_by_age_and_reply_ratio() {
        let policy = OutreachPolicy::default();
        let mut s = SocialState::default();
        s.apply(&SocialEvent::Registered {
            user: user(1),
            at_ms: 0,
        });
        let from = s.find(&user(1)).unwrap();
        let targets: Vec<u32> = (10..40).map(|n| s.index_of(&user(n))).collect();
        // A new account: 5 a day.
        for (i, &to) in targets.iter().take(5).enumerate() {
            assert_eq!(
                s.outreach_allowance(from, to, 1000, &policy),
                Ok(4 - i as u32)
            );
            s.apply(&SocialEvent::IntroductionSent {
                from: user(1),
                to: s.user(to).unwrap().clone(),
                at_ms: 1000,
            });
        }
        match s.outreach_allowance(from, targets[5], 2000, &policy) {
            Err(OutreachRefusal::Limited {
                cap, retry_at_ms, ..
            }) => assert_eq!((cap, retry_at_ms), (5, 1000 + DAY_MS)),
            other => panic!("expected the limit, got {other:?}"),
        }
        // A day later the window is empty again.
        assert!(
            s.outreach_allowance(from, targets[5], 1000 + DAY_MS, &policy)
                .is_ok()
        );
        // Established (8 days), but with 10 ignored introductions the cap of 20 halves.
        let later = 8 * DAY_MS;
        for &to in &targets[5..10] {
            s.apply(&SocialEvent::IntroductionSent {
                from: user(1),
                to: s.user(to).unwrap().clone(),
                at_ms: later,
            });
        }
        assert_eq!(
            s.outreach_allowance(from, targets[10], later, &policy),
            Ok(4)
        );
        assert_eq!(
            s.outreach_allowance(from, from, later, &policy),
            Err(OutreachRefusal::Oneself)
        );
    }

    #[test]
    fn accepted_introductions_tie_people_and_teach_the_ranker() {
        let mut s = SocialState::default();
        s.apply(&SocialEvent::IntroductionSent {
            from: user(1),
            to: user(2),
            at_ms: 5,
        });
        let (a, b) = (s.find(&user(1)).unwrap(), s.find(&user(2)).unwrap());
        assert!(s.has_pending(a, b));
        s.apply(&SocialEvent::IntroductionAccepted {
            from: user(1),
            to: user(2),
            at_ms: 6,
        });
        assert!(s.graph().connected(a as usize, b as usize));
        assert!(!s.has_pending(a, b));
        assert_eq!(s.recent_accepts(b, 7), 1);
        assert_eq!(s.training_examples().len(), 2);
        assert_eq!(
            s.outreach_allowance(a, b, 7, &OutreachPolicy::default()),
            Err(OutreachRefusal::AlreadyConnected)
        );
    }

    #[test]
    fn presence_expires_after_the_window() {
        let mut s = SocialState::default();
        let u = s.index_of(&user(1));
        let v = s.index_of(&user(2));
        s.mark_present(u, Some("jazz"), 0);
        s.mark_present(v, Some("rock"), 30_000);
        assert_eq!(s.present_in("jazz", 59_999), vec![u]);
        assert!(s.is_present(u, 59_999));
        assert_eq!(s.present_in("jazz", 60_000), Vec::<u32>::new());
        assert_eq!(s.present_in("rock", 60_000), vec![v]);
    }
}

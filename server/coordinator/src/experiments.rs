//! Shadow A/B flighting: deterministic cohorts (a hash of the experiment and the user id, so a
//! person stays in one arm across restarts and replicas without storing anything), a hold-out
//! cohort, and arms compared on session depth and reply rate with 95% confidence intervals.
use std::collections::HashMap;

use mesh_shared::{ArmReport, Estimate, UserId};

use crate::{DAY_MS, Event, SocialEvent};

/// A gap longer than this starts a new session.
pub(crate) const SESSION_GAP_MS: u64 = 30 * 60 * 1000;

/// One experiment: a hold-out share and equally weighted arms.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// The name, part of the hash: another experiment reshuffles everyone.
    pub name: String,
    /// Share of people in the hold-out (0–1).
    pub holdout: f64,
    /// The arms' names.
    pub arms: Vec<String>,
}

/// Where a person falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cohort {
    /// The hold-out: served the baseline (v1), the control for retention.
    Holdout,
    /// Arm `i` of [`Experiment::arms`].
    Arm(usize),
}

impl Experiment {
    /// An experiment with `holdout` (clamped to 0–1) and `arms` (at least one).
    pub fn new(name: &str, holdout: f64, arms: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            holdout: holdout.clamp(0.0, 1.0),
            arms: if arms.is_empty() {
                vec!["default".to_owned()]
            } else {
                arms.iter().map(|a| (*a).to_owned()).collect()
            },
        }
    }

    /// The running discovery experiment: 10% hold-out, two MMR diversity weights.
    pub fn discovery() -> Self {
        Self::new("discovery-2026-11", 0.1, &["mmr-0.20", "mmr-0.35"])
    }

    /// The MMR diversity weight an arm serves (the hold-out is served v1).
    pub fn diversity_of(&self, arm: usize) -> f32 {
        self.arms
            .get(arm)
            .and_then(|name| name.strip_prefix("mmr-"))
            .and_then(|w| w.parse().ok())
            .unwrap_or(0.2)
    }

    /// `user`'s cohort: the first 8 bytes of BLAKE3(name, 0, user id) as a fraction.
    pub fn assign(&self, user: &UserId) -> Cohort {
        let mut hasher = blake3::Hasher::new();
        hasher.update(self.name.as_bytes());
        hasher.update(&[0]);
        hasher.update(user.as_str().as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hasher.finalize().as_bytes()[..8]);
        let u = (u64::from_le_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.holdout {
            return Cohort::Holdout;
        }
        let within = (u - self.holdout) / (1.0 - self.holdout).max(f64::MIN_POSITIVE);
        Cohort::Arm(((within * self.arms.len() as f64) as usize).min(self.arms.len() - 1))
    }

    /// The cohort's name.
    pub fn cohort_name(&self, cohort: Cohort) -> &str {
        match cohort {
            Cohort::Holdout => "holdout",
            Cohort::Arm(i) => self.arms.get(i).map_or("?", String::as_str),
        }
    }
}

/// The mean of `values` with its 95% interval `mean ± 1.96 · sd / √n` (normal
/// approximation); `None` without values.
fn estimate(values: &[f64]) -> Option<Estimate> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let half = 1.96 * (variance(values) / n as f64).sqrt();
    Some(Estimate {
        n,
        mean,
        low: mean - half,
        high: mean + half,
    })
}

/// `a − b` with the Welch interval; `None` unless both have values.
fn difference(a: &[f64], b: &[f64]) -> Option<Estimate> {
    let (ea, eb) = (estimate(a)?, estimate(b)?);
    let half = 1.96 * (variance(a) / ea.n as f64 + variance(b) / eb.n as f64).sqrt();
    let mean = ea.mean - eb.mean;
    Some(Estimate {
        n: ea.n + eb.n,
        mean,
        low: mean - half,
        high: mean + half,
    })
}

fn variance(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
}

/// The experiment's cohorts compared on session depth and reply rate over the events in
/// `[from_day, to_day]`: the hold-out first, then each arm with its difference from it.
pub(crate) fn compare_arms(
    events: &[Event],
    experiment: &Experiment,
    from_day: u64,
    to_day: u64,
) -> Vec<ArmReport> {
    let window = from_day * DAY_MS..(to_day + 1) * DAY_MS;
    let mut times: HashMap<&UserId, Vec<u64>> = HashMap::new();
    let mut received: HashMap<&UserId, (u32, u32)> = HashMap::new();
    for event in events.iter().filter_map(Event::social) {
        let Some(at) = event.at_ms().filter(|t| window.contains(t)) else {
            continue;
        };
        times.entry(event.actor()).or_default().push(at);
        match event {
            SocialEvent::IntroductionSent { to, .. } => received.entry(to).or_default().1 += 1,
            SocialEvent::IntroductionAccepted { to, .. } => received.entry(to).or_default().0 += 1,
            SocialEvent::Registered { .. }
            | SocialEvent::Blocked { .. }
            | SocialEvent::Reported { .. }
            | SocialEvent::Snoozed { .. }
            | SocialEvent::IntentsSet { .. }
            | SocialEvent::Feedback { .. }
            | SocialEvent::SuggestionsShown { .. }
            | SocialEvent::MessageSent { .. } => {}
        }
    }
    let mut depth: HashMap<Cohort, Vec<f64>> = HashMap::new();
    let mut replies: HashMap<Cohort, Vec<f64>> = HashMap::new();
    let mut people: HashMap<Cohort, usize> = HashMap::new();
    for (user, mut at) in times {
        at.sort_unstable();
        let sessions = 1 + at
            .windows(2)
            .filter(|w| w[1] - w[0] > SESSION_GAP_MS)
            .count();
        let cohort = experiment.assign(user);
        *people.entry(cohort).or_default() += 1;
        depth
            .entry(cohort)
            .or_default()
            .push(at.len() as f64 / sessions as f64);
    }
    for (user, (accepted, sent)) in received {
        if sent > 0 {
            replies
                .entry(experiment.assign(user))
                .or_default()
                .push(f64::from(accepted.min(sent)) / f64::from(sent));
        }
    }
    let empty = Vec::new();
    let holdout_depth = depth.get(&Cohort::Holdout).unwrap_or(&empty);
    let holdout_replies = replies.get(&Cohort::Holdout).unwrap_or(&empty);
    std::iter::once(Cohort::Holdout)
        .chain((0..experiment.arms.len()).map(Cohort::Arm))
        .map(|cohort| {
            let d = depth.get(&cohort).unwrap_or(&empty);
            let r = replies.get(&cohort).unwrap_or(&empty);
            let is_arm = cohort != Cohort::Holdout;
            ArmReport {
                cohort: experiment.cohort_name(cohort).to_owned(),
                people: people.get(&cohort).copied().unwrap_or(0),
                session_depth: estimate(d),
                reply_rate: estimate(r),
                session_depth_vs_holdout: if is_arm {
                    difference(d, holdout_depth)
                } else {
                    None
                },
                reply_rate_vs_holdout: if is_arm {
                    difference(r, holdout_replies)
                } else {
                    None
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// People's events as the store's log holds them.
    fn logged(events: Vec<SocialEvent>) -> Vec<Event> {
        events.into_iter().map(Event::from).collect()
    }
    use proptest::prelude::*;

    fn user(n: u32) -> UserId {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&n.to_le_bytes());
        UserId::from_public_key(&key)
    }

    #[test]
    fn cohorts_are_stable_and_follow_the_shares() {
        let experiment = Experiment::new("e1", 0.1, &["a", "b"]);
        let mut counts: HashMap<Cohort, usize> = HashMap::new();
        for n in 0..20_000 {
            let cohort = experiment.assign(&user(n));
            assert_eq!(cohort, experiment.assign(&user(n)));
            *counts.entry(cohort).or_default() += 1;
        }
        let share = |c| counts[&c] as f64 / 20_000.0;
        assert!((share(Cohort::Holdout) - 0.1).abs() < 0.01, "{counts:?}");
        assert!((share(Cohort::Arm(0)) - 0.45).abs() < 0.015, "{counts:?}");
        // Another experiment reshuffles: about 10% of the first hold-out stays in the second.
        let other = Experiment::new("e2", 0.1, &["a", "b"]);
        let both = (0..20_000)
            .filter(|&n| {
                experiment.assign(&user(n)) == Cohort::Holdout
                    && other.assign(&user(n)) == Cohort::Holdout
            })
            .count();
        assert!(both < 400, "{both}");
        assert_eq!(Experiment::discovery().diversity_of(1), 0.35);
    }

    #[test]
    fn arms_are_compared_with_known_answers() {
        let experiment = Experiment::new("cmp", 0.5, &["arm"]);
        let holdout: Vec<u32> = (0..200)
            .filter(|&n| experiment.assign(&user(n)) == Cohort::Holdout)
            .take(2)
            .collect();
        let arm: Vec<u32> = (0..200)
            .filter(|&n| experiment.assign(&user(n)) == Cohort::Arm(0))
            .take(2)
            .collect();
        let day = 20_000 * DAY_MS;
        let mut events = Vec::new();
        let act = |n: u32, at: u64| SocialEvent::Feedback {
            by: user(n),
            target: user(999),
            more: true,
            at_ms: at,
        };
        // Hold-out people: 2 events in one session each. Arm people: 4 events in one
        // session, and 2 sessions of 2 (depth 2).
        for &n in &holdout {
            events.extend([act(n, day), act(n, day + 60_000)]);
        }
        events.extend((0..4).map(|i| act(arm[0], day + i * 60_000)));
        events.extend([
            act(arm[1], day),
            act(arm[1], day + 1000),
            act(arm[1], day + 2 * SESSION_GAP_MS),
            act(arm[1], day + 2 * SESSION_GAP_MS + 1000),
        ]);
        // arm[1] introduces: arm[0] received 2 introductions and accepted 1; holdout[0]
        // received 1 and accepted none.
        for (to, accepted) in [(arm[0], true), (arm[0], false), (holdout[0], false)] {
            events.push(SocialEvent::IntroductionSent {
                from: user(arm[1]),
                to: user(to),
                at_ms: day + 10,
            });
            if accepted {
                events.push(SocialEvent::IntroductionAccepted {
                    from: user(arm[1]),
                    to: user(to),
                    at_ms: day + 20,
                });
            }
        }
        let reports = compare_arms(&logged(events), &experiment, 20_000, 20_000);
        assert_eq!(reports[0].cohort, "holdout");
        let holdout_depth = reports[0].session_depth.unwrap();
        assert_eq!((holdout_depth.n, holdout_depth.mean), (2, 2.0));
        let arm_report = &reports[1];
        // arm[0]: 4 events and an acceptance in one session (5); arm[1]: 4 events and 3
        // introductions sent in 2 sessions (3.5).
        let d = arm_report.session_depth.unwrap();
        assert_eq!(d.mean, (5.0 + 3.5) / 2.0);
        assert!(d.low < d.mean && d.mean < d.high);
        assert_eq!(arm_report.reply_rate.unwrap().mean, 0.5);
        assert_eq!(reports[0].reply_rate.unwrap().mean, 0.0);
        let diff = arm_report.reply_rate_vs_holdout.unwrap();
        assert_eq!(diff.mean, 0.5);
        let depth_diff = arm_report.session_depth_vs_holdout.unwrap();
        assert!((depth_diff.mean - 2.25).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn every_user_lands_in_a_valid_cohort(n in any::<u32>(), holdout in 0.0f64..1.0, arms in 1usize..5) {
            let names: Vec<String> = (0..arms).map(|i| format!("a{i}")).collect();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let experiment = Experiment::new("p", holdout, &refs);
            match experiment.assign(&user(n)) {
                Cohort::Holdout => {}
                Cohort::Arm(i) => prop_assert!(i < arms),
            }
        }
    }
}

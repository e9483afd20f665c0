//! The seeds' outcome metrics, computed per day (UTC) from the social event log:
//!
//! - **introductions accepted**: of the (viewer, person) pairs first suggested that day, the
//!   share that became a mutual follow (an accepted introduction either way) within 7 days;
//! - **conversation depth**: for the introductions accepted that day, the mean number of
//!   back-and-forth turns (runs of messages by the same writer) in their first 7 days;
//! - **retention**: of the people who registered that day, the share who acted again 30 or
//!   more days later, for the experiment's arms (discovery) and its hold-out (control), and
//!   the lift (arms minus hold-out, in points); only for days at least 30 days old;
//! - **diversity**: the mean entropy (bits) of the communities among a person's ties, without
//!   the ties made from suggestions ("before") and with them ("after"), on the graph up to
//!   that day;
//! - **safety incidents**: reports and blocks made that day against someone the actor was
//!   suggested, per 1,000 connections made from suggestions so far.
//!
//! Each is `None` when its denominator is empty. Inputs are events in store order.
use std::collections::{BTreeMap, HashMap, HashSet};

use mesh_shared::{DailyMetrics, UserId};

use crate::experiments::{Cohort, Experiment};
use crate::{DAY_MS, Event, SocialEvent};
use mesh_ranking::SocialGraph;

const WEEK_MS: u64 = 7 * DAY_MS;
const RETENTION_DAYS: u64 = 30;

/// Metrics for each day from the first to the last event's, in order.
pub fn daily_metrics(events: &[Event], experiment: &Experiment) -> Vec<DailyMetrics> {
    let Some((first, last)) = day_span(events) else {
        return Vec::new();
    };
    let log = Log::new(events);
    (first..=last)
        .map(|day| log.metrics(day, last, experiment))
        .collect()
}

/// The first and last day people acted (the operator's own events do not extend it).
fn day_span(events: &[Event]) -> Option<(u64, u64)> {
    let times = events
        .iter()
        .filter_map(Event::social)
        .filter_map(SocialEvent::at_ms);
    let (lo, hi) = times.fold((u64::MAX, 0), |(lo, hi), t| (lo.min(t), hi.max(t)));
    (lo <= hi).then_some((lo / DAY_MS, hi / DAY_MS))
}

type Pair = (UserId, UserId);

fn unordered(a: &UserId, b: &UserId) -> Pair {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

/// The event log indexed for the metrics.
struct Log<'a> {
    /// First time each directed (viewer, person) pair was suggested.
    first_suggested: HashMap<Pair, u64>,
    /// First acceptance time per unordered pair.
    accepted: HashMap<Pair, u64>,
    /// Acceptances in order: (time, from, to).
    accepts: Vec<(u64, &'a UserId, &'a UserId)>,
    /// Messages per unordered pair: (time, writer).
    messages: HashMap<Pair, Vec<(u64, &'a UserId)>>,
    registered: Vec<(u64, &'a UserId)>,
    /// Times each person acted.
    acted: HashMap<&'a UserId, Vec<u64>>,
    /// Reports and blocks: (time, by, target).
    incidents: Vec<(u64, &'a UserId, &'a UserId)>,
}

impl<'a> Log<'a> {
    fn new(events: &'a [Event]) -> Self {
        let mut log = Self {
            first_suggested: HashMap::new(),
            accepted: HashMap::new(),
            accepts: Vec::new(),
            messages: HashMap::new(),
            registered: Vec::new(),
            acted: HashMap::new(),
            incidents: Vec::new(),
        };
        for event in events.iter().filter_map(Event::social) {
            if let Some(at) = event.at_ms() {
                log.acted.entry(event.actor()).or_default().push(at);
            }
            match event {
                SocialEvent::SuggestionsShown {
                    viewer,
                    shown,
                    at_ms,
                } => {
                    for person in shown {
                        log.first_suggested
                            .entry((viewer.clone(), person.clone()))
                            .or_insert(*at_ms);
                    }
                }
                SocialEvent::IntroductionAccepted { from, to, at_ms } => {
                    log.accepted.entry(unordered(from, to)).or_insert(*at_ms);
                    log.accepts.push((*at_ms, from, to));
                }
                SocialEvent::MessageSent { from, to, at_ms } => {
                    log.messages
                        .entry(unordered(from, to))
                        .or_default()
                        .push((*at_ms, from));
                }
                SocialEvent::Registered { user, at_ms } => log.registered.push((*at_ms, user)),
                SocialEvent::Reported { by, target, at_ms }
                | SocialEvent::Blocked { by, target, at_ms } => {
                    log.incidents.push((*at_ms, by, target));
                }
                SocialEvent::Snoozed { .. }
                | SocialEvent::IntentsSet { .. }
                | SocialEvent::Feedback { .. }
                | SocialEvent::IntroductionSent { .. } => {}
            }
        }
        log
    }

    fn suggested_before(&self, a: &UserId, b: &UserId, at: u64) -> bool {
        [(a, b), (b, a)].iter().any(|(x, y)| {
            self.first_suggested
                .get(&((*x).clone(), (*y).clone()))
                .is_some_and(|&t| t <= at)
        })
    }

    fn metrics(&self, day: u64, last_day: u64, experiment: &Experiment) -> DailyMetrics {
        let (start, end) = (day * DAY_MS, (day + 1) * DAY_MS);
        let in_day = |t: u64| (start..end).contains(&t);

        let suggested: Vec<(&Pair, u64)> = self
            .first_suggested
            .iter()
            .filter(|(_, t)| in_day(**t))
            .map(|(p, t)| (p, *t))
            .collect();
        let converted = suggested
            .iter()
            .filter(|((a, b), t)| {
                self.accepted
                    .get(&unordered(a, b))
                    .is_some_and(|&at| at >= *t && at < t + WEEK_MS)
            })
            .count();

        let accepted_today: Vec<&(u64, &UserId, &UserId)> =
            self.accepts.iter().filter(|(t, _, _)| in_day(*t)).collect();
        let depths: Vec<f64> = accepted_today
            .iter()
            .map(|(t, a, b)| {
                let mut writers: Vec<(u64, &UserId)> = self
                    .messages
                    .get(&unordered(a, b))
                    .map(|m| {
                        m.iter()
                            .filter(|(at, _)| *at >= *t && *at < t + WEEK_MS)
                            .copied()
                            .collect()
                    })
                    .unwrap_or_default();
                writers.sort_by_key(|(at, _)| *at);
                let turns = writers.windows(2).filter(|w| w[0].1 != w[1].1).count();
                if writers.is_empty() {
                    0.0
                } else {
                    (turns + 1) as f64
                }
            })
            .collect();

        let (mut retention, mut control) = ((0u64, 0u64), (0u64, 0u64));
        if day + RETENTION_DAYS <= last_day {
            for (t, user) in self.registered.iter().filter(|(t, _)| in_day(*t)) {
                let came_back = self
                    .acted
                    .get(user)
                    .is_some_and(|times| times.iter().any(|&a| a >= t + RETENTION_DAYS * DAY_MS));
                let bucket = match experiment.assign(user) {
                    Cohort::Holdout => &mut control,
                    Cohort::Arm(_) => &mut retention,
                };
                bucket.0 += u64::from(came_back);
                bucket.1 += 1;
            }
        }
        let share = |(hits, n): (u64, u64)| (n > 0).then(|| hits as f64 / n as f64);
        let (retention_discovery, retention_control) = (share(retention), share(control));

        let (diversity_before, diversity_after) = self.diversity(end);

        let recommended_connections = self
            .accepted
            .iter()
            .filter(|((a, b), t)| **t < end && self.suggested_before(a, b, **t))
            .count();
        let incidents = self
            .incidents
            .iter()
            .filter(|(t, by, target)| {
                in_day(*t)
                    && self
                        .first_suggested
                        .get(&((*by).clone(), (*target).clone()))
                        .is_some_and(|&s| s <= *t)
            })
            .count();

        DailyMetrics {
            day,
            pairs_suggested: suggested.len() as u64,
            introductions_accepted: (!suggested.is_empty())
                .then(|| converted as f64 / suggested.len() as f64),
            introductions: accepted_today.len() as u64,
            conversation_depth: (!depths.is_empty())
                .then(|| depths.iter().sum::<f64>() / depths.len() as f64),
            retention_discovery,
            retention_control,
            retention_lift: retention_discovery
                .zip(retention_control)
                .map(|(d, c)| 100.0 * (d - c)),
            diversity_before,
            diversity_after,
            safety_incidents_per_1000: (recommended_connections > 0)
                .then(|| 1000.0 * incidents as f64 / recommended_connections as f64),
        }
    }

    /// Mean community entropy of people's ties made before `end`: without and with the ties
    /// made from suggestions. Communities: label propagation on all those ties.
    fn diversity(&self, end: u64) -> (Option<f64>, Option<f64>) {
        let ties: Vec<(&Pair, bool)> = self
            .accepted
            .iter()
            .filter(|(_, t)| **t < end)
            .map(|(pair, t)| (pair, self.suggested_before(&pair.0, &pair.1, *t)))
            .collect();
        if ties.is_empty() {
            return (None, None);
        }
        let mut ids: HashMap<&UserId, usize> = HashMap::new();
        for ((a, b), _) in &ties {
            for person in [a, b] {
                let next = ids.len();
                ids.entry(person).or_insert(next);
            }
        }
        let edges: Vec<(usize, usize)> = ties.iter().map(|((a, b), _)| (ids[a], ids[b])).collect();
        let graph = SocialGraph::from_ties(ids.len(), &edges);
        let mean_entropy = |with_suggested: bool| {
            let mut by_person: HashMap<usize, BTreeMap<u32, u32>> = HashMap::new();
            for ((a, b), from_suggestion) in &ties {
                if *from_suggestion && !with_suggested {
                    continue;
                }
                let (x, y) = (ids[a], ids[b]);
                *by_person
                    .entry(x)
                    .or_default()
                    .entry(graph.community(y))
                    .or_default() += 1;
                *by_person
                    .entry(y)
                    .or_default()
                    .entry(graph.community(x))
                    .or_default() += 1;
            }
            let entropies: Vec<f64> = by_person.values().map(entropy_bits).collect();
            (!entropies.is_empty()).then(|| entropies.iter().sum::<f64>() / entropies.len() as f64)
        };
        (mean_entropy(false), mean_entropy(true))
    }
}

fn entropy_bits(counts: &BTreeMap<u32, u32>) -> f64 {
    let total: u32 = counts.values().sum();
    counts
        .values()
        .map(|&c| {
            let p = f64::from(c) / f64::from(total);
            -p * p.log2()
        })
        .sum()
}

/// `day` (days since the Unix epoch) as `YYYY-MM-DD` (proleptic Gregorian, UTC).
pub(crate) fn iso_date(day: u64) -> String {
    // Howard Hinnant's civil-from-days, shifted to eras starting on 1 March.
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The people who acted on `day` (for the dashboard's daily actives).
pub(crate) fn active_people(events: &[Event], day: u64) -> usize {
    let range = day * DAY_MS..(day + 1) * DAY_MS;
    events
        .iter()
        .filter_map(Event::social)
        .filter(|e| e.at_ms().is_some_and(|t| range.contains(&t)))
        .map(SocialEvent::actor)
        .collect::<HashSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// People's events as the store's log holds them.
    fn logged(events: Vec<SocialEvent>) -> Vec<Event> {
        events.into_iter().map(Event::from).collect()
    }

    fn user(n: u8) -> UserId {
        UserId::from_public_key(&[n; 32])
    }

    const D0: u64 = 20_000 * DAY_MS;

    fn shown(viewer: u8, people: &[u8], at_ms: u64) -> SocialEvent {
        SocialEvent::SuggestionsShown {
            viewer: user(viewer),
            shown: people.iter().map(|&p| user(p)).collect(),
            at_ms,
        }
    }

    fn accepted(from: u8, to: u8, at_ms: u64) -> SocialEvent {
        SocialEvent::IntroductionAccepted {
            from: user(from),
            to: user(to),
            at_ms,
        }
    }

    fn message(from: u8, to: u8, at_ms: u64) -> SocialEvent {
        SocialEvent::MessageSent {
            from: user(from),
            to: user(to),
            at_ms,
        }
    }

    fn no_holdout() -> Experiment {
        Experiment::new("test", 0.0, &["only"])
    }

    #[test]
    fn introductions_accepted_and_conversation_depth_have_known_answers() {
        let events = vec![
            // Day 0: 1 is shown 2, 3, 4; 2 is shown 1 (a fifth pair).
            shown(1, &[2, 3, 4], D0 + 1000),
            shown(2, &[1], D0 + 2000),
            // 1–2 accepted on day 1 (counts for both directions' pairs), 1–3 after 8 days
            // (too late), 1–4 never.
            accepted(1, 2, D0 + DAY_MS + 10),
            accepted(3, 1, D0 + 8 * DAY_MS + 10),
            // 1–2 write 1, 1, 2, 1 (3 turns) in their first week and once more after it.
            message(1, 2, D0 + DAY_MS + 20),
            message(1, 2, D0 + DAY_MS + 30),
            message(2, 1, D0 + DAY_MS + 40),
            message(1, 2, D0 + 2 * DAY_MS),
            message(2, 1, D0 + 9 * DAY_MS),
        ];
        let days = daily_metrics(&logged(events), &no_holdout());
        assert_eq!(days.len(), 10);
        let day0 = &days[0];
        assert_eq!(day0.pairs_suggested, 4);
        // (1,2) and (2,1) converted, (1,3) too late, (1,4) never: 2 of 4.
        assert_eq!(day0.introductions_accepted, Some(0.5));
        assert_eq!(days[1].introductions, 1);
        assert_eq!(days[1].conversation_depth, Some(3.0));
        // 1–3 on day 8: no message in its week.
        assert_eq!(days[8].conversation_depth, Some(0.0));
        assert_eq!(days[2].conversation_depth, None);
        assert_eq!(days[1].introductions_accepted, None);
    }

    #[test]
    fn retention_lift_compares_arms_with_the_holdout() {
        let experiment = Experiment::new("retention", 0.5, &["discovery"]);
        let (mut arm, mut holdout) = (Vec::new(), Vec::new());
        for n in 1..=60u8 {
            match experiment.assign(&user(n)) {
                Cohort::Holdout => holdout.push(n),
                Cohort::Arm(_) => arm.push(n),
            }
        }
        assert!(arm.len() >= 4 && holdout.len() >= 4, "{arm:?} {holdout:?}");
        let (arm, holdout) = (&arm[..4], &holdout[..4]);
        let mut events = Vec::new();
        for &n in arm.iter().chain(holdout) {
            events.push(SocialEvent::Registered {
                user: user(n),
                at_ms: D0 + 100,
            });
        }
        // 3 of 4 in the arm come back after 30 days, 1 of 4 in the hold-out; one comes back
        // on day 29 only (not retained).
        for &n in &arm[..3] {
            events.push(shown(n, &[], D0 + 31 * DAY_MS));
        }
        events.push(shown(holdout[0], &[], D0 + 30 * DAY_MS + 100));
        events.push(shown(holdout[1], &[], D0 + 29 * DAY_MS));
        let days = daily_metrics(&logged(events), &experiment);
        let day0 = &days[0];
        assert_eq!(day0.retention_discovery, Some(0.75));
        assert_eq!(day0.retention_control, Some(0.25));
        assert!((day0.retention_lift.unwrap() - 50.0).abs() < 1e-9);
        // Too recent to say on the last day.
        assert_eq!(days.last().unwrap().retention_discovery, None);
    }

    #[test]
    fn diversity_and_safety_incidents_have_known_answers() {
        // Two triangles {1,2,3} and {4,5,6} (their own ties, not suggested), and a
        // suggested tie 1–4 across them.
        let mut events = vec![shown(1, &[4], D0)];
        for (a, b) in [(1, 2), (2, 3), (1, 3), (4, 5), (5, 6), (4, 6)] {
            events.push(accepted(a, b, D0 + 10));
        }
        events.push(accepted(4, 1, D0 + 20));
        // Day 1: 1 reports 4 (suggested to them) and blocks 2 (never suggested).
        events.push(SocialEvent::Reported {
            by: user(1),
            target: user(4),
            at_ms: D0 + DAY_MS,
        });
        events.push(SocialEvent::Blocked {
            by: user(1),
            target: user(2),
            at_ms: D0 + DAY_MS + 5,
        });
        let days = daily_metrics(&logged(events), &no_holdout());
        let day0 = &days[0];
        // Without the suggested tie everyone's ties are in their own community: 0 bits.
        assert_eq!(day0.diversity_before, Some(0.0));
        // With it, 1 and 4 have ties in two communities (2 of 3 and 1 of 3): H = 0.918 bits
        // each; the other four stay at 0: mean 2 · 0.918 / 6.
        let h = -(2.0f64 / 3.0) * (2.0f64 / 3.0).log2() - (1.0f64 / 3.0) * (1.0f64 / 3.0).log2();
        assert!((day0.diversity_after.unwrap() - 2.0 * h / 6.0).abs() < 1e-9);
        // One incident against a suggested person, one connection from suggestions.
        assert_eq!(days[1].safety_incidents_per_1000, Some(1000.0));
        assert_eq!(day0.safety_incidents_per_1000, Some(0.0));
    }

    #[test]
    fn days_are_dates() {
        assert_eq!(iso_date(0), "1970-01-01");
        assert_eq!(iso_date(20_727), "2026-10-01");
        assert_eq!(iso_date(11_016), "2000-02-29");
    }

    #[test]
    fn an_empty_log_has_no_days() {
        assert!(daily_metrics(&[], &no_holdout()).is_empty());
    }
}

//! What the operator watches: the daily outcome metrics overall and per experiment cohort, the
//! arms compared, and alerts when a metric crosses its threshold (each alert is also a log
//! event at `warn` on the `mesh::alert` target).
use mesh_shared::{
    Alert, CohortSeries, DailyMetrics, Drift, ExperimentSettings, ModelEntry, ModelReport,
    OperationsReport, RankerEntry, Threshold, VersionSummary,
};

use crate::{
    Cohort, Event, Experiment, ModelEvent, OperatorEvent, SocialEvent, active_people, compare_arms,
    daily_metrics,
};

/// Days of events the arms are compared over (ending at the last day).
pub(crate) const COMPARE_DAYS: u64 = 14;

/// A threshold on a daily metric ([`Threshold`] as the report carries it).
#[derive(Debug, Clone, Copy, PartialEq)]
struct ThresholdRule {
    /// The metric's field name in [`DailyMetrics`].
    metric: &'static str,
    /// Alert when the value is above (`true`) or below (`false`) the limit.
    above: bool,
    /// The limit.
    limit: f64,
    /// What it means.
    meaning: &'static str,
}

/// The alert thresholds.
const THRESHOLDS: [ThresholdRule; 3] = [
    ThresholdRule {
        metric: "safety_incidents_per_1000",
        above: true,
        limit: 50.0,
        meaning: "reports and blocks against suggested people per 1,000 connections from suggestions",
    },
    ThresholdRule {
        metric: "introductions_accepted",
        above: false,
        limit: 0.01,
        meaning: "share of suggested pairs that become mutual follows within 7 days",
    },
    ThresholdRule {
        metric: "retention_lift",
        above: false,
        limit: 0.0,
        meaning: "30-day retention of discovery users minus the hold-out's, in points",
    },
];

fn value_of(metrics: &DailyMetrics, name: &str) -> Option<f64> {
    match name {
        "safety_incidents_per_1000" => metrics.safety_incidents_per_1000,
        "introductions_accepted" => metrics.introductions_accepted,
        "retention_lift" => metrics.retention_lift,
        "conversation_depth" => metrics.conversation_depth,
        "diversity_after" => metrics.diversity_after,
        _ => None,
    }
}

/// The alerts of `days` against [`THRESHOLDS`].
pub(crate) fn alerts(days: &[DailyMetrics]) -> Vec<Alert> {
    let mut out = Vec::new();
    for metrics in days {
        for t in &THRESHOLDS {
            let Some(value) = value_of(metrics, t.metric) else {
                continue;
            };
            let crossed = if t.above {
                value > t.limit
            } else {
                value < t.limit
            };
            if crossed {
                out.push(Alert {
                    day: metrics.day,
                    metric: t.metric.to_owned(),
                    value,
                    limit: t.limit,
                    message: format!(
                        "{} is {value:.3} on {}, {} the threshold {} ({})",
                        t.metric,
                        crate::outcome_metrics::iso_date(metrics.day),
                        if t.above { "above" } else { "below" },
                        t.limit,
                        t.meaning
                    ),
                });
            }
        }
    }
    out
}

/// The metrics per day over everyone (retention compares the experiment's arms with its
/// hold-out; without an experiment there is no hold-out).
pub(crate) fn overall_metrics(
    events: &[Event],
    experiment: Option<&Experiment>,
) -> Vec<DailyMetrics> {
    let everyone = Experiment::new("everyone", 0.0, &["all"]);
    daily_metrics(events, experiment.unwrap_or(&everyone))
}

/// The report over `events` (in store order); logs the alerts of the last day.
pub(crate) fn operations_report(
    events: &[Event],
    experiment: Option<&Experiment>,
) -> OperationsReport {
    let all_days = overall_metrics(events, experiment);
    let mut series = vec![CohortSeries {
        cohort: "all".to_owned(),
        days: all_days.clone(),
    }];
    let (mut arms, mut active) = (Vec::new(), Vec::new());
    if let (Some(first), Some(last)) = (all_days.first(), all_days.last()) {
        active = (first.day..=last.day)
            .map(|day| (day, active_people(events, day)))
            .collect();
        if let Some(e) = experiment {
            let cohorts =
                std::iter::once(Cohort::Holdout).chain((0..e.arms.len()).map(Cohort::Arm));
            for cohort in cohorts {
                let own: Vec<Event> = events
                    .iter()
                    .filter(|ev| ev.actor().is_some_and(|a| e.assign(a) == cohort))
                    .cloned()
                    .collect();
                series.push(CohortSeries {
                    cohort: e.cohort_name(cohort).to_owned(),
                    days: daily_metrics(&own, e),
                });
            }
            arms = compare_arms(
                events,
                e,
                last.day.saturating_sub(COMPARE_DAYS - 1),
                last.day,
            );
        }
    }
    let alerts = alerts(&all_days);
    let last_day = all_days.last().map(|m| m.day);
    for alert in alerts.iter().filter(|a| Some(a.day) == last_day) {
        tracing::warn!(target: "mesh::alert", metric = alert.metric.as_str(), value = alert.value, limit = alert.limit, "{}", alert.message);
    }
    OperationsReport {
        experiment: experiment.map(|e| ExperimentSettings {
            name: e.name.clone(),
            holdout: e.holdout,
            arms: e.arms.clone(),
        }),
        series,
        active,
        arms,
        thresholds: THRESHOLDS
            .iter()
            .map(|t| Threshold {
                metric: t.metric.to_owned(),
                above: t.above,
                limit: t.limit,
                meaning: t.meaning.to_owned(),
            })
            .collect(),
        alerts,
    }
}

/// Prometheus text exposition of the coordinator's state and the last day's metrics, from the
/// overall metrics per day ([`overall_metrics`]).
pub(crate) fn prometheus_text(
    days: &[DailyMetrics],
    events: &[Event],
    profiles_indexed: usize,
    model_version: u32,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    gauge(
        "mesh_profiles_indexed",
        "Discoverable profiles in the index.",
        &[(String::new(), profiles_indexed as f64)],
    );
    gauge(
        "mesh_model_version",
        "The model version served.",
        &[(String::new(), f64::from(model_version))],
    );
    let mut kinds: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for event in events {
        *kinds.entry(event_kind(event)).or_default() += 1;
    }
    let samples: Vec<(String, f64)> = kinds
        .iter()
        .map(|(k, n)| (format!("{{kind=\"{k}\"}}"), *n as f64))
        .collect();
    gauge(
        "mesh_social_events",
        "Social and outcome events in the store, by kind.",
        &samples,
    );
    if let Some(last) = days.last() {
        let metrics: [(&str, &str, Option<f64>); 6] = [
            (
                "mesh_introductions_accepted_ratio",
                "Share of pairs suggested on the last day that became mutual follows.",
                last.introductions_accepted,
            ),
            (
                "mesh_conversation_depth",
                "Mean back-and-forth turns of the last day's introductions.",
                last.conversation_depth,
            ),
            (
                "mesh_safety_incidents_per_1000",
                "Reports and blocks against suggested people per 1,000 connections from suggestions.",
                last.safety_incidents_per_1000,
            ),
            (
                "mesh_diversity_before_bits",
                "Mean community entropy of ties without those from suggestions.",
                last.diversity_before,
            ),
            (
                "mesh_diversity_after_bits",
                "Mean community entropy of ties with those from suggestions.",
                last.diversity_after,
            ),
            (
                "mesh_retention_lift_points",
                "30-day retention of discovery users minus the hold-out's (latest day that has one).",
                days.iter().rev().find_map(|d| d.retention_lift),
            ),
        ];
        for (name, help, value) in metrics {
            if let Some(value) = value {
                gauge(name, help, &[(String::new(), value)]);
            }
        }
        let active = alerts(std::slice::from_ref(last)).len();
        gauge(
            "mesh_alerts_active",
            "Metrics past their threshold on the last day.",
            &[(String::new(), active as f64)],
        );
    }
    out
}

/// Alert when the centroid of the published taste vectors moves more than this between model
/// versions (`1 − cos` of the two centroids).
pub(crate) const DRIFT_SHIFT_LIMIT: f64 = 0.2;
/// Alert when the mean cosine to the centroid (how tight the population is) changes by more.
pub(crate) const DRIFT_DISPERSION_LIMIT: f64 = 0.15;

/// The report from the event log and the published `(model version, taste vector)` pairs;
/// drift alerts are also logged at `warn` on `mesh::alert`.
pub fn model_report(events: &[Event], published: &[(u32, &[f32])]) -> ModelReport {
    let date = |at_ms: u64| crate::outcome_metrics::iso_date(at_ms / crate::DAY_MS);
    let mut history = Vec::new();
    let mut rankers = Vec::new();
    for event in events.iter().filter_map(Event::model) {
        match event {
            ModelEvent::ModelVersioned {
                version,
                at_ms,
                source,
                figures,
            } => history.push(ModelEntry {
                version: *version,
                date: date(*at_ms),
                source: source.clone(),
                figures: figures.clone(),
            }),
            ModelEvent::ModelEvaluated {
                version,
                at_ms,
                figures,
            } => {
                // Evaluation figures join the version's entry (the first version, made at
                // start, has none of its own).
                if let Some(entry) = history.iter_mut().rev().find(|e| e.version == *version) {
                    entry.figures.extend(figures.clone());
                } else {
                    history.push(ModelEntry {
                        version: *version,
                        date: date(*at_ms),
                        source: "initial".to_owned(),
                        figures: figures.clone(),
                    });
                }
            }
            ModelEvent::RankerTrained {
                at_ms,
                trees,
                positives,
                negatives,
                trigger,
            } => rankers.push(RankerEntry {
                date: date(*at_ms),
                trees: *trees,
                positives: *positives,
                negatives: *negatives,
                trigger: trigger.clone(),
            }),
        }
    }
    let mut by_version: std::collections::BTreeMap<u32, Vec<&[f32]>> = Default::default();
    for (version, vector) in published {
        by_version.entry(*version).or_default().push(vector);
    }
    let centroids: Vec<(u32, Vec<f64>, VersionSummary)> = by_version
        .into_iter()
        .map(|(version, vectors)| {
            let dim = vectors.first().map_or(0, |v| v.len());
            let mut centroid = vec![0.0f64; dim];
            for v in &vectors {
                for (c, x) in centroid.iter_mut().zip(v.iter()) {
                    *c += f64::from(*x);
                }
            }
            let norm = centroid
                .iter()
                .map(|c| c * c)
                .sum::<f64>()
                .sqrt()
                .max(1e-12);
            centroid.iter_mut().for_each(|c| *c /= norm);
            let dispersion = vectors.iter().map(|v| cosine(&centroid, v)).sum::<f64>()
                / vectors.len().max(1) as f64;
            let summary = VersionSummary {
                version,
                profiles: vectors.len(),
                dispersion,
            };
            (version, centroid, summary)
        })
        .collect();
    let drift: Vec<Drift> = centroids
        .windows(2)
        .map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            let shift = 1.0 - a.1.iter().zip(&b.1).map(|(x, y)| x * y).sum::<f64>();
            let dispersion_change = b.2.dispersion - a.2.dispersion;
            let alert = if shift > DRIFT_SHIFT_LIMIT {
                Some(format!("the published taste vectors moved {shift:.3} (1 − cos of the centroids) from model v{} to v{}, above {DRIFT_SHIFT_LIMIT}", a.0, b.0))
            } else if dispersion_change.abs() > DRIFT_DISPERSION_LIMIT {
                Some(format!("the spread of the published taste vectors changed by {dispersion_change:+.3} from model v{} to v{}, beyond ±{DRIFT_DISPERSION_LIMIT}", a.0, b.0))
            } else {
                None
            };
            if let Some(message) = &alert {
                tracing::warn!(target: "mesh::alert", from = a.0, to = b.0, "{message}");
            }
            Drift {
                from: a.0,
                to: b.0,
                centroid_shift: shift,
                dispersion_change,
                alert,
            }
        })
        .collect();
    ModelReport {
        history,
        rankers,
        versions: centroids.into_iter().map(|(_, _, s)| s).collect(),
        drift,
    }
}

fn cosine(unit: &[f64], v: &[f32]) -> f64 {
    let dot: f64 = unit.iter().zip(v).map(|(a, b)| a * f64::from(*b)).sum();
    let norm = v
        .iter()
        .map(|x| f64::from(*x).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(1e-12);
    dot / norm
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Social(event) => match event {
            SocialEvent::Registered { .. } => "registered",
            SocialEvent::Blocked { .. } => "blocked",
            SocialEvent::Reported { .. } => "reported",
            SocialEvent::Snoozed { .. } => "snoozed",
            SocialEvent::IntentsSet { .. } => "intents_set",
            SocialEvent::Feedback { .. } => "feedback",
            SocialEvent::IntroductionSent { .. } => "introduction_sent",
            SocialEvent::IntroductionAccepted { .. } => "introduction_accepted",
            SocialEvent::SuggestionsShown { .. } => "suggestions_shown",
            SocialEvent::MessageSent { .. } => "message_sent",
        },
        Event::Operator(OperatorEvent::FlagsSet { .. }) => "flags_set",
        Event::Model(event) => match event {
            ModelEvent::ModelVersioned { .. } => "model_versioned",
            ModelEvent::ModelEvaluated { .. } => "model_evaluated",
            ModelEvent::RankerTrained { .. } => "ranker_trained",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u64, safety: Option<f64>, accepted: Option<f64>) -> DailyMetrics {
        DailyMetrics {
            day: n,
            pairs_suggested: 10,
            introductions_accepted: accepted,
            introductions: 1,
            conversation_depth: None,
            retention_discovery: None,
            retention_control: None,
            retention_lift: None,
            diversity_before: None,
            diversity_after: None,
            safety_incidents_per_1000: safety,
        }
    }

    #[test]
    fn drift_between_versions_has_a_known_answer() {
        // v1: everyone along axis 0; v2: half along axis 0, half along axis 1. The v2
        // centroid is at 45°: shift 1 − cos 45° = 0.293, above the limit; v3 the same as v2.
        let (x, y) = ([1.0f32, 0.0], [0.0f32, 1.0]);
        let published: Vec<(u32, &[f32])> =
            vec![(1, &x), (1, &x), (2, &x), (2, &y), (3, &y), (3, &x)];
        let events = vec![
            Event::from(ModelEvent::ModelEvaluated {
                version: 1,
                at_ms: 0,
                figures: [("B:mesh:ndcg@10".to_owned(), 0.18)].into_iter().collect(),
            }),
            Event::from(ModelEvent::ModelVersioned {
                version: 2,
                at_ms: 0,
                source: "federated round 1".to_owned(),
                figures: [("clients".to_owned(), 5.0)].into_iter().collect(),
            }),
            Event::from(ModelEvent::ModelEvaluated {
                version: 2,
                at_ms: 1,
                figures: [("B:mesh:ndcg@10".to_owned(), 0.2)].into_iter().collect(),
            }),
        ];
        let report = model_report(&events, &published);
        assert_eq!(report.history.len(), 2);
        assert_eq!(report.history[0].source, "initial");
        assert_eq!(report.history[1].date, "1970-01-01");
        assert_eq!(report.history[1].figures.len(), 2);
        assert_eq!(report.history[1].figures["B:mesh:ndcg@10"], 0.2);
        assert_eq!(report.versions.len(), 3);
        assert!((report.versions[0].dispersion - 1.0).abs() < 1e-9);
        assert!((report.versions[1].dispersion - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
        let first = &report.drift[0];
        assert!((first.centroid_shift - (1.0 - std::f64::consts::FRAC_1_SQRT_2)).abs() < 1e-9);
        assert!(first.alert.as_deref().unwrap().contains("v1 to v2"));
        assert!(report.drift[1].centroid_shift.abs() < 1e-9);
        assert!(report.drift[1].alert.is_none());
    }

    #[test]
    fn thresholds_raise_alerts_only_when_crossed() {
        let days = [
            day(1, Some(10.0), Some(0.2)),
            day(2, Some(80.0), Some(0.2)),
            day(3, None, Some(0.001)),
        ];
        let alerts = alerts(&days);
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        assert_eq!(
            (alerts[0].day, alerts[0].metric.as_str()),
            (2, "safety_incidents_per_1000")
        );
        assert!(
            alerts[0]
                .message
                .contains("on 1970-01-03, above the threshold 50")
        );
        assert_eq!(
            (alerts[1].day, alerts[1].metric.as_str()),
            (3, "introductions_accepted")
        );
    }
}

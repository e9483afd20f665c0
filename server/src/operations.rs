//! What the operator watches: the daily outcome metrics overall and per experiment cohort, the
//! arms compared, and alerts when a metric crosses its threshold (each alert is also a log
//! event at `warn` on the `mesh::alert` target).
use serde::Serialize;

use crate::{
    ArmReport, Cohort, DailyMetrics, Experiment, SocialEvent, active_people, compare_arms,
    daily_metrics,
};

/// Days of events the arms are compared over (ending at the last day).
pub const COMPARE_DAYS: u64 = 14;

/// A threshold on a daily metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Threshold {
    /// The metric's field name in [`DailyMetrics`].
    pub metric: &'static str,
    /// Alert when the value is above (`true`) or below (`false`) the limit.
    pub above: bool,
    /// The limit.
    pub limit: f64,
    /// What it means.
    pub meaning: &'static str,
}

/// The alert thresholds.
pub const THRESHOLDS: [Threshold; 3] = [
    Threshold {
        metric: "safety_incidents_per_1000",
        above: true,
        limit: 50.0,
        meaning: "reports and blocks against suggested people per 1,000 connections from suggestions",
    },
    Threshold {
        metric: "introductions_accepted",
        above: false,
        limit: 0.01,
        meaning: "share of suggested pairs that become mutual follows within 7 days",
    },
    Threshold {
        metric: "retention_lift",
        above: false,
        limit: 0.0,
        meaning: "30-day retention of discovery users minus the hold-out's, in points",
    },
];

/// A metric past its threshold on a day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// The day (days since the epoch).
    pub day: u64,
    /// The metric.
    pub metric: &'static str,
    /// Its value that day.
    pub value: f64,
    /// The threshold crossed.
    pub limit: f64,
    /// A sentence for the dashboard and the log.
    pub message: String,
}

/// One cohort's daily series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CohortSeries {
    /// `all`, `holdout` or an arm's name.
    pub cohort: String,
    /// Its metrics per day.
    pub days: Vec<DailyMetrics>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationsReport {
    /// The experiment, if one runs.
    pub experiment: Option<Experiment>,
    /// The metrics per day for everyone, then per cohort (events made by its members).
    pub series: Vec<CohortSeries>,
    /// People who acted, per day: `(day, people)`.
    pub active: Vec<(u64, usize)>,
    /// The cohorts compared over the last [`COMPARE_DAYS`] days.
    pub arms: Vec<ArmReport>,
    /// The thresholds.
    pub thresholds: Vec<Threshold>,
    /// Every day a metric crossed its threshold, oldest first.
    pub alerts: Vec<Alert>,
}

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
pub fn alerts(days: &[DailyMetrics]) -> Vec<Alert> {
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
                    metric: t.metric,
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

/// The report over `events` (in store order); logs the alerts of the last day.
pub fn operations_report(
    events: &[SocialEvent],
    experiment: Option<&Experiment>,
) -> OperationsReport {
    let everyone = Experiment::new("everyone", 0.0, &["all"]);
    let all_days = daily_metrics(events, experiment.unwrap_or(&everyone));
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
                let own: Vec<SocialEvent> = events
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
        tracing::warn!(target: "mesh::alert", metric = alert.metric, value = alert.value, limit = alert.limit, "{}", alert.message);
    }
    OperationsReport {
        experiment: experiment.cloned(),
        series,
        active,
        arms,
        thresholds: THRESHOLDS.to_vec(),
        alerts,
    }
}

/// Prometheus text exposition of the coordinator's state and the last day's metrics.
pub fn prometheus_text(
    report: &OperationsReport,
    events: &[SocialEvent],
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
    if let Some(last) = report.series.first().and_then(|s| s.days.last()) {
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
                report
                    .series
                    .first()
                    .and_then(|s| s.days.iter().rev().find_map(|d| d.retention_lift)),
            ),
        ];
        for (name, help, value) in metrics {
            if let Some(value) = value {
                gauge(name, help, &[(String::new(), value)]);
            }
        }
        let active = report.alerts.iter().filter(|a| a.day == last.day).count();
        gauge(
            "mesh_alerts_active",
            "Metrics past their threshold on the last day.",
            &[(String::new(), active as f64)],
        );
    }
    out
}

fn event_kind(event: &SocialEvent) -> &'static str {
    match event {
        SocialEvent::Registered { .. } => "registered",
        SocialEvent::Blocked { .. } => "blocked",
        SocialEvent::Reported { .. } => "reported",
        SocialEvent::Snoozed { .. } => "snoozed",
        SocialEvent::IntentsSet { .. } => "intents_set",
        SocialEvent::Feedback { .. } => "feedback",
        SocialEvent::IntroductionSent { .. } => "introduction_sent",
        SocialEvent::IntroductionAccepted { .. } => "introduction_accepted",
        SocialEvent::FlagsSet { .. } => "flags_set",
        SocialEvent::SuggestionsShown { .. } => "suggestions_shown",
        SocialEvent::MessageSent { .. } => "message_sent",
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
    fn thresholds_raise_alerts_only_when_crossed() {
        let days = [
            day(1, Some(10.0), Some(0.2)),
            day(2, Some(80.0), Some(0.2)),
            day(3, None, Some(0.001)),
        ];
        let alerts = alerts(&days);
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        assert_eq!(
            (alerts[0].day, alerts[0].metric),
            (2, "safety_incidents_per_1000")
        );
        assert!(
            alerts[0]
                .message
                .contains("on 1970-01-03, above the threshold 50")
        );
        assert_eq!(
            (alerts[1].day, alerts[1].metric),
            (3, "introductions_accepted")
        );
    }
}

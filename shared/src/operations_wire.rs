//! The operator's reports as they travel: `GET /v1/admin/metrics` ([`OperationsReport`]) and
//! `GET /v1/admin/models` ([`ModelReport`]). The coordinator computes them from its event log;
//! the dashboard and any operator tool read them with these types.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `GET /v1/admin/metrics` (operator token): everything the dashboard shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OperationsReport {
    /// The experiment, if one runs.
    pub experiment: Option<ExperimentSettings>,
    /// The metrics per day for everyone (`all`), then per cohort (events made by its members).
    pub series: Vec<CohortSeries>,
    /// People who acted, per day: `[day, people]`.
    pub active: Vec<(u64, usize)>,
    /// The cohorts compared over the last 14 days: the hold-out first, then each arm.
    pub arms: Vec<ArmReport>,
    /// The alert thresholds.
    pub thresholds: Vec<Threshold>,
    /// Every day a metric crossed its threshold, oldest first.
    pub alerts: Vec<Alert>,
}

/// One experiment: a hold-out share and equally weighted arms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ExperimentSettings {
    /// The name, part of the cohort hash: another experiment reshuffles everyone.
    pub name: String,
    /// Share of people in the hold-out (0–1).
    pub holdout: f64,
    /// The arms' names.
    pub arms: Vec<String>,
}

/// One cohort's daily series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CohortSeries {
    /// `all`, `holdout` or an arm's name.
    pub cohort: String,
    /// Its metrics per day.
    pub days: Vec<DailyMetrics>,
}

/// The outcome metrics of one day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DailyMetrics {
    /// Days since the Unix epoch (UTC).
    pub day: u64,
    /// Pairs first suggested that day.
    pub pairs_suggested: u64,
    /// Share of them accepted as an introduction (either way) within 7 days.
    pub introductions_accepted: Option<f64>,
    /// Introductions accepted that day.
    pub introductions: u64,
    /// Mean back-and-forth turns in their first 7 days.
    pub conversation_depth: Option<f64>,
    /// 30-day retention of the people registered that day in the experiment's arms.
    pub retention_discovery: Option<f64>,
    /// The same for the hold-out.
    pub retention_control: Option<f64>,
    /// `retention_discovery − retention_control`, in points (0–100 scale).
    pub retention_lift: Option<f64>,
    /// Mean community entropy of people's ties without those from suggestions.
    pub diversity_before: Option<f64>,
    /// The same with them.
    pub diversity_after: Option<f64>,
    /// Reports and blocks against a suggested person that day, per 1,000 connections from
    /// suggestions up to that day.
    pub safety_incidents_per_1000: Option<f64>,
}

/// One cohort's figures over the comparison window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ArmReport {
    /// The cohort's name (`holdout` or an arm's).
    pub cohort: String,
    /// People seen acting.
    pub people: usize,
    /// Events per session, per person (mean over people).
    pub session_depth: Option<Estimate>,
    /// Share of the introductions a person received that they accepted (over people who
    /// received any).
    pub reply_rate: Option<Estimate>,
    /// Session depth minus the hold-out's.
    pub session_depth_vs_holdout: Option<Estimate>,
    /// Reply rate minus the hold-out's.
    pub reply_rate_vs_holdout: Option<Estimate>,
}

/// A mean with its 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Estimate {
    /// Sample size.
    pub n: usize,
    /// The mean.
    pub mean: f64,
    /// Lower end of the 95% interval.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// A threshold on a daily metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Threshold {
    /// The metric's field name in [`DailyMetrics`].
    pub metric: String,
    /// Alert when the value is above (`true`) or below (`false`) the limit.
    pub above: bool,
    /// The limit.
    pub limit: f64,
    /// What it means.
    pub meaning: String,
}

/// A metric past its threshold on a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// The day (days since the epoch).
    pub day: u64,
    /// The metric.
    pub metric: String,
    /// Its value that day.
    pub value: f64,
    /// The threshold crossed.
    pub limit: f64,
    /// A sentence for the dashboard and the log.
    pub message: String,
}

/// `GET /v1/admin/models` (operator token): the model history, re-ranker refits, the
/// published vectors per version and their drift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelReport {
    /// Model versions, oldest first.
    pub history: Vec<ModelEntry>,
    /// Re-ranker refits, oldest first.
    pub rankers: Vec<RankerEntry>,
    /// Published vectors per version.
    pub versions: Vec<VersionSummary>,
    /// Between consecutive versions that have published vectors.
    pub drift: Vec<Drift>,
}

/// One model version in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ModelEntry {
    /// The version.
    pub version: u32,
    /// When it was saved (`YYYY-MM-DD`).
    pub date: String,
    /// What made it.
    pub source: String,
    /// Its figures.
    pub figures: BTreeMap<String, f64>,
}

/// One re-ranker refit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RankerEntry {
    /// When (`YYYY-MM-DD`).
    pub date: String,
    /// Trees.
    pub trees: u32,
    /// Outcomes it learned from.
    pub positives: u32,
    /// Negative outcomes.
    pub negatives: u32,
    /// `operator` or `scheduled`.
    pub trigger: String,
}

/// The published taste vectors of one model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VersionSummary {
    /// The model version the vectors were computed under.
    pub version: u32,
    /// Profiles published under it.
    pub profiles: usize,
    /// Mean cosine of each vector with the centroid direction.
    pub dispersion: f64,
}

/// The shift of the published vectors between two consecutive versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    /// The older version.
    pub from: u32,
    /// The newer version.
    pub to: u32,
    /// `1 − cos` of the two centroids.
    pub centroid_shift: f64,
    /// The newer dispersion minus the older.
    pub dispersion_change: f64,
    /// Why it is alarming, when it is.
    pub alert: Option<String>,
}

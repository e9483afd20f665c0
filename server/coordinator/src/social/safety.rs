//! Blocks and reports, and who is above the harassment-risk cap.
//!
//! Reports cannot be weaponised: each (reporter, target) pair counts once; a report weighs by
//! the reporter's standing when they made it — account age (full weight from a week old) and
//! whether they had met the target (shown to each other, an introduction, or a tie; a report
//! about a stranger weighs a quarter); and nobody is hidden from everyone's suggestions on the
//! word of fewer than [`MIN_ACCUSERS_TO_HIDE`] distinct accounts (reporters or blockers),
//! whatever their weight. Blocks always act between the two at once.
use std::collections::{HashMap, HashSet};

use super::MAX_HARASSMENT_RISK;
use crate::DAY_MS;

/// Distinct accounts (reporters and blockers) needed before anyone is hidden from everyone.
pub(crate) const MIN_ACCUSERS_TO_HIDE: usize = 3;

/// Account age at which a report weighs fully.
const FULL_STANDING_DAYS: f32 = 7.0;

/// Weight of a report about someone the reporter never met in the app.
const STRANGER_REPORT_WEIGHT: f32 = 0.25;

#[derive(Debug, Default)]
pub(super) struct Safety {
    pub(super) blocks: HashSet<(u32, u32)>,
    pub(super) blocks_received: HashMap<u32, u32>,
    /// Per reported person: each reporter's report weight (one per pair, the highest).
    pub(super) reports_received: HashMap<u32, HashMap<u32, f32>>,
    /// People whose harassment risk is above `MAX_HARASSMENT_RISK`, kept current by
    /// `SocialState::apply` and `SocialState::forget`.
    pub(super) risky: HashSet<u32>,
}

impl super::SocialState {
    /// Records `by`'s report of `target` made at `at_ms`, weighed by `by`'s standing then.
    pub(super) fn record_report(&mut self, by: u32, target: u32, at_ms: u64) {
        let age_days = self
            .people
            .registered_at
            .get(&by)
            .map_or(0.0, |&at| at_ms.saturating_sub(at) as f32 / DAY_MS as f32);
        let age = (age_days / FULL_STANDING_DAYS).clamp(0.1, 1.0);
        let met = self.impressions(by, target) > 0
            || self.impressions(target, by) > 0
            || self.ties.pending.contains(&(by, target))
            || self.ties.pending.contains(&(target, by))
            || self.ties.graph.neighbours(by as usize).contains(&target);
        let weight = age * if met { 1.0 } else { STRANGER_REPORT_WEIGHT };
        let reports = self.safety.reports_received.entry(target).or_default();
        let kept = reports.entry(by).or_insert(0.0);
        *kept = kept.max(weight);
    }

    /// Distinct accounts that reported or blocked `user`.
    fn accusers(&self, user: u32) -> usize {
        let mut accusers: HashSet<u32> = self
            .safety
            .reports_received
            .get(&user)
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        accusers.extend(
            self.safety
                .blocks
                .iter()
                .filter_map(|&(by, target)| (target == user).then_some(by)),
        );
        accusers.len()
    }

    pub(super) fn update_risky(&mut self, user: u32) {
        if self.harassment_risk(user) > MAX_HARASSMENT_RISK
            && self.accusers(user) >= MIN_ACCUSERS_TO_HIDE
        {
            self.safety.risky.insert(user);
        } else {
            self.safety.risky.remove(&user);
        }
    }

    /// The people a query by `viewer` (or an anonymous one) never returns, besides the
    /// viewer: everyone above the harassment-risk cap and, for a viewer, those blocked either
    /// way and those already tied to them.
    pub fn never_shown_to(&self, viewer: Option<u32>) -> HashSet<u32> {
        let mut out = self.safety.risky.clone();
        if let Some(v) = viewer {
            out.extend(
                self.safety
                    .blocks
                    .iter()
                    .filter_map(|&(a, b)| (a == v).then_some(b).or((b == v).then_some(a))),
            );
            out.extend(self.ties.graph.neighbours(v as usize).iter().copied());
        }
        out
    }

    /// Whether either of the two blocked the other.
    pub fn blocked_pair(&self, a: u32, b: u32) -> bool {
        self.safety.blocks.contains(&(a, b)) || self.safety.blocks.contains(&(b, a))
    }

    /// Harassment risk of `user` in `[0, 1)`: reports (by weight) and blocks received, weighed
    /// against the ties they keep and their accepted introductions.
    pub fn harassment_risk(&self, user: u32) -> f32 {
        let reports: f32 = self
            .safety
            .reports_received
            .get(&user)
            .map_or(0.0, |r| r.values().sum());
        let blocks = self.safety.blocks_received.get(&user).copied().unwrap_or(0) as f32;
        let sent = self.ties.sent_total.get(&user).copied().unwrap_or(0) as f32;
        let accepted = self.ties.accepted_total.get(&user).copied().unwrap_or(0) as f32;
        let ignored = (sent - accepted).max(0.0);
        let signals = 2.0 * reports + blocks + 0.1 * ignored;
        let standing = 1.0 + self.ties.graph.degree(user as usize) as f32 + accepted;
        signals / (signals + standing)
    }
}

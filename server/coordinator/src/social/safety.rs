//! Blocks and reports, and who is above the harassment-risk cap.
use std::collections::{HashMap, HashSet};

use super::MAX_HARASSMENT_RISK;

#[derive(Debug, Default)]
pub(super) struct Safety {
    pub(super) blocks: HashSet<(u32, u32)>,
    pub(super) blocks_received: HashMap<u32, u32>,
    pub(super) reports_received: HashMap<u32, u32>,
    /// People whose harassment risk is above `MAX_HARASSMENT_RISK`, kept current by
    /// `SocialState::apply` and `SocialState::forget`.
    pub(super) risky: HashSet<u32>,
}

impl super::SocialState {
    pub(super) fn update_risky(&mut self, user: u32) {
        if self.harassment_risk(user) > MAX_HARASSMENT_RISK {
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

    /// Harassment risk of `user` in `[0, 1)`: reports and blocks received, weighed against
    /// the ties they keep and their accepted introductions.
    pub fn harassment_risk(&self, user: u32) -> f32 {
        let reports = self
            .safety
            .reports_received
            .get(&user)
            .copied()
            .unwrap_or(0) as f32;
        let blocks = self.safety.blocks_received.get(&user).copied().unwrap_or(0) as f32;
        let sent = self.ties.sent_total.get(&user).copied().unwrap_or(0) as f32;
        let accepted = self.ties.accepted_total.get(&user).copied().unwrap_or(0) as f32;
        let ignored = (sent - accepted).max(0.0);
        let signals = 2.0 * reports + blocks + 0.1 * ignored;
        let standing = 1.0 + self.ties.graph.degree(user as usize) as f32 + accepted;
        signals / (signals + standing)
    }
}

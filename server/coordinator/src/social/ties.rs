//! The known graph (accepted introductions) and the introductions behind it: pending ones, sends
//! per person for the outreach cap, acceptances.
use std::collections::{HashMap, HashSet};

use mesh_ranking::SocialGraph;

use super::{DAY_MS, OutreachPolicy, OutreachRefusal};

#[derive(Debug, Default)]
pub(super) struct Ties {
    pub(super) graph: SocialGraph,
    pub(super) ties_since_communities: usize,
    pub(super) pending: HashSet<(u32, u32)>,
    pub(super) sent: HashMap<u32, Vec<u64>>,
    pub(super) sent_total: HashMap<u32, u32>,
    pub(super) accepted_total: HashMap<u32, u32>,
    pub(super) recent_accepts: HashMap<u32, Vec<u64>>,
}

impl super::SocialState {
    /// Days since `user` registered (0 when unknown).
    pub fn account_age_days(&self, user: u32, now_ms: u64) -> u64 {
        self.people
            .registered_at
            .get(&user)
            .map_or(0, |&at| now_ms.saturating_sub(at) / DAY_MS)
    }

    /// Introductions accepted by `user` in the last 30 days at `now_ms`.
    pub fn recent_accepts(&self, user: u32, now_ms: u64) -> usize {
        self.ties.recent_accepts.get(&user).map_or(0, |list| {
            list.iter().filter(|&&at| at + 30 * DAY_MS > now_ms).count()
        })
    }

    /// Checks whether `from` may ask `to` for an introduction at `now_ms`: the remaining
    /// allowance of the 24-hour window after this one, or why not.
    ///
    /// # Errors
    /// The [`OutreachRefusal`].
    pub fn outreach_allowance(
        &self,
        from: u32,
        to: u32,
        now_ms: u64,
        policy: &OutreachPolicy,
    ) -> Result<u32, OutreachRefusal> {
        if from == to {
            return Err(OutreachRefusal::Oneself);
        }
        if self.blocked_pair(from, to) {
            return Err(OutreachRefusal::Blocked);
        }
        if self.ties.graph.connected(from as usize, to as usize) {
            return Err(OutreachRefusal::AlreadyConnected);
        }
        let registered = self
            .people
            .registered_at
            .get(&from)
            .copied()
            .unwrap_or(now_ms);
        let account_age_days = now_ms.saturating_sub(registered) / DAY_MS;
        let sent_total = self.ties.sent_total.get(&from).copied().unwrap_or(0);
        let accepted = self.ties.accepted_total.get(&from).copied().unwrap_or(0);
        let reply_ratio = if sent_total == 0 {
            1.0
        } else {
            accepted as f32 / sent_total as f32
        };
        let mut cap = if account_age_days < policy.young_days {
            policy.new_account_cap
        } else {
            policy.established_cap
        };
        if sent_total >= policy.ratio_after && reply_ratio < policy.low_reply_ratio {
            cap = (cap / 2).max(1);
        }
        let window: Vec<u64> = self
            .ties
            .sent
            .get(&from)
            .map(|list| {
                list.iter()
                    .copied()
                    .filter(|&at| at + DAY_MS > now_ms)
                    .collect()
            })
            .unwrap_or_default();
        if window.len() as u32 >= cap {
            let oldest = window.iter().copied().min().unwrap_or(now_ms);
            return Err(OutreachRefusal::Limited {
                cap,
                account_age_days,
                reply_ratio,
                retry_at_ms: oldest + DAY_MS,
            });
        }
        Ok(cap - window.len() as u32 - 1)
    }

    /// Whether `from` has an unanswered introduction to `to`.
    pub fn has_pending(&self, from: u32, to: u32) -> bool {
        self.ties.pending.contains(&(from, to))
    }
}

//! Who is present in which live room, in memory only.
use std::collections::HashMap;

use mesh_shared::PRESENCE_WINDOW_MS;

#[derive(Debug, Default)]
pub(super) struct Presence {
    pub(super) presence: HashMap<u32, (u64, Option<String>)>,
}

impl super::SocialState {
    /// Copies the live presence of everyone but `except` from `old` (a state this one
    /// replaces), by user id since dense indices differ between the two.
    pub(crate) fn carry_presence_from(&mut self, old: &Self, except: &mesh_shared::UserId) {
        for (&u, presence) in &old.presence.presence {
            let Some(user) = old.people.users.get(u as usize) else {
                continue;
            };
            if user != except {
                let v = self.index_of(user);
                self.presence.presence.insert(v, presence.clone());
            }
        }
    }

    /// Marks `user` present at `now_ms`, in `room` when given.
    pub fn mark_present(&mut self, user: u32, room: Option<&str>, now_ms: u64) {
        self.presence
            .presence
            .insert(user, (now_ms, room.map(str::to_owned)));
    }

    /// Whether `user` sent a heartbeat within the presence window before `now_ms`.
    pub fn is_present(&self, user: u32, now_ms: u64) -> bool {
        self.presence
            .presence
            .get(&user)
            .is_some_and(|(at, _)| at + PRESENCE_WINDOW_MS > now_ms)
    }

    /// Everyone present in `room` at `now_ms`; drops presences older than the window.
    pub fn present_in(&mut self, room: &str, now_ms: u64) -> Vec<u32> {
        self.presence
            .presence
            .retain(|_, (at, _)| *at + PRESENCE_WINDOW_MS > now_ms);
        let mut present: Vec<u32> = self
            .presence
            .presence
            .iter()
            .filter(|(_, (_, r))| r.as_deref() == Some(room))
            .map(|(u, _)| *u)
            .collect();
        present.sort_unstable();
        present
    }
}

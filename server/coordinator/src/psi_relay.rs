//! The coordinator's part in a private set intersection ([`mesh_shared::PsiParty`]): it holds
//! the two rounds of messages between two people until the other side fetches them. It sees
//! only blinded points (random-looking to anyone without the senders' secrets) and their
//! count, keeps them in memory for ten minutes, and forgets a person's mailboxes on opt-out.
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use mesh_shared::{PsiMessage, UserId};

/// How long a message waits for the peer.
pub const PSI_MESSAGE_TTL_MS: u64 = 10 * 60_000;

/// Mailboxes one person may hold open at once (one per peer).
pub(crate) const MAX_OPEN_PSI_PER_USER: usize = 16;

/// Which message of the run (`blinded` or `answer` in a path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PsiRound {
    /// Round one: the sender's blinded items.
    Blinded,
    /// Round two: the receiver's round-one points raised to the sender's secret.
    Answer,
}

/// Why the relay refused a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PsiRefusal {
    /// A point that is not 64 hex characters, or too many points.
    Malformed(String),
    /// An answer before the peer's round one, or with another count of points.
    OutOfTurn(String),
    /// The sender holds too many open mailboxes.
    TooMany,
}

#[derive(Debug, Default)]
struct Mailbox {
    blinded: Option<PsiMessage>,
    answer: Option<PsiMessage>,
    at_ms: u64,
}

/// Messages in flight, by `(sender, receiver)`.
#[derive(Debug, Default)]
pub(crate) struct PsiRelay {
    mailboxes: Mutex<HashMap<(UserId, UserId), Mailbox>>,
}

impl PsiRelay {
    /// Holds `message` from `from` for `to`. A new round one replaces the sender's previous run
    /// with `to` (and drops `to`'s answer to it, which no longer fits the new secret).
    ///
    /// Errors with a [`PsiRefusal`]; nothing is stored then.
    pub(crate) fn put(
        &self,
        from: &UserId,
        to: &UserId,
        round: PsiRound,
        message: PsiMessage,
        now_ms: u64,
    ) -> Result<(), PsiRefusal> {
        // The shape only (count, 64 hex characters a point): each client checks that the
        // points are group elements.
        message
            .encodings()
            .map_err(|e| PsiRefusal::Malformed(e.to_string()))?;
        let mut mailboxes = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        mailboxes.retain(|_, m| now_ms.saturating_sub(m.at_ms) < PSI_MESSAGE_TTL_MS);
        let key = (from.clone(), to.clone());
        if !mailboxes.contains_key(&key)
            && mailboxes
                .keys()
                .filter(|(sender, _)| sender == from)
                .count()
                >= MAX_OPEN_PSI_PER_USER
        {
            return Err(PsiRefusal::TooMany);
        }
        match round {
            PsiRound::Blinded => {
                if let Some(reverse) = mailboxes.get_mut(&(to.clone(), from.clone())) {
                    reverse.answer = None;
                }
                let mailbox = mailboxes.entry(key).or_default();
                mailbox.blinded = Some(message);
                mailbox.at_ms = now_ms;
            }
            PsiRound::Answer => {
                let expected = mailboxes
                    .get(&(to.clone(), from.clone()))
                    .and_then(|m| m.blinded.as_ref())
                    .map(|m| m.points.len())
                    .ok_or_else(|| {
                        PsiRefusal::OutOfTurn(format!(
                            "{to} has not sent its blinded favourites to you (or they expired)"
                        ))
                    })?;
                if expected != message.points.len() {
                    return Err(PsiRefusal::OutOfTurn(format!(
                        "points: {} points answer {expected} blinded favourites",
                        message.points.len()
                    )));
                }
                let mailbox = mailboxes.entry(key).or_default();
                mailbox.answer = Some(message);
                mailbox.at_ms = now_ms;
            }
        }
        Ok(())
    }

    /// The message of `round` that `from` left for `to`, if it is there and fresh.
    pub(crate) fn get(
        &self,
        from: &UserId,
        to: &UserId,
        round: PsiRound,
        now_ms: u64,
    ) -> Option<PsiMessage> {
        let mailboxes = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mailbox = mailboxes
            .get(&(from.clone(), to.clone()))
            .filter(|m| now_ms.saturating_sub(m.at_ms) < PSI_MESSAGE_TTL_MS)?;
        match round {
            PsiRound::Blinded => mailbox.blinded.clone(),
            PsiRound::Answer => mailbox.answer.clone(),
        }
    }

    /// Drops every message from or to `user`.
    pub(crate) fn forget(&self, user: &UserId) {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(from, to), _| from != user && to != user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_id(n: u8) -> UserId {
        UserId::from_public_key(&[n; 32])
    }

    fn message(n: usize) -> PsiMessage {
        PsiMessage {
            points: vec!["ab".repeat(32); n],
        }
    }

    #[test]
    fn answers_follow_the_peers_round_one_and_expire() {
        let relay = PsiRelay::default();
        let (a, b) = (user_id(1), user_id(2));
        assert!(matches!(
            relay.put(&b, &a, PsiRound::Answer, message(3), 0),
            Err(PsiRefusal::OutOfTurn(_))
        ));
        relay.put(&a, &b, PsiRound::Blinded, message(3), 0).unwrap();
        assert!(matches!(
            relay.put(&b, &a, PsiRound::Answer, message(2), 0),
            Err(PsiRefusal::OutOfTurn(_))
        ));
        relay.put(&b, &a, PsiRound::Answer, message(3), 10).unwrap();
        assert_eq!(relay.get(&b, &a, PsiRound::Answer, 20), Some(message(3)));
        assert_eq!(relay.get(&a, &b, PsiRound::Blinded, 20), Some(message(3)));
        // A new round one from `a` voids `b`'s answer to the old one.
        relay
            .put(&a, &b, PsiRound::Blinded, message(4), 30)
            .unwrap();
        assert_eq!(relay.get(&b, &a, PsiRound::Answer, 40), None);
        assert_eq!(
            relay.get(&a, &b, PsiRound::Blinded, 30 + PSI_MESSAGE_TTL_MS),
            None
        );
    }

    #[test]
    fn malformed_points_and_too_many_mailboxes_are_refused() {
        let relay = PsiRelay::default();
        let bad = PsiMessage {
            points: vec!["ab".repeat(32), "xyz".into()],
        };
        assert_eq!(
            relay.put(&user_id(1), &user_id(2), PsiRound::Blinded, bad, 0),
            Err(PsiRefusal::Malformed(
                "points[1]: not 64 hex characters".into()
            ))
        );
        for peer in 0..MAX_OPEN_PSI_PER_USER as u8 {
            relay
                .put(
                    &user_id(1),
                    &user_id(10 + peer),
                    PsiRound::Blinded,
                    message(1),
                    0,
                )
                .unwrap();
        }
        assert_eq!(
            relay.put(&user_id(1), &user_id(200), PsiRound::Blinded, message(1), 0),
            Err(PsiRefusal::TooMany)
        );
        relay.forget(&user_id(1));
        assert!(
            relay
                .put(&user_id(1), &user_id(200), PsiRound::Blinded, message(1), 0)
                .is_ok()
        );
    }
}

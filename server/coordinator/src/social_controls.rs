//! The people-facing controls as a service over [`AppState`]: registration, blocks, reports,
//! snoozes, intents, swipe-to-tune, introductions, messages, presence, rooms, and the
//! operator's flags. Each user action is checked, appended to the store (advancing the
//! signer's timestamp) and applied, holding the social write lock so that the state follows
//! the store's order. These calls do store I/O: the HTTP handlers run them on the blocking
//! pool ([`AppState::blocking`]), never on an async worker.
use std::sync::PoisonError;

use mesh_shared::{
    BlockRequest, CandidatesResponse, DiscoveryFlags, FeedbackRequest, IntentsRequest,
    IntroductionRequest, IntroductionSent, MessageRequest, ReportRequest, RoomCandidatesRequest,
    SnoozeRequest, UserId,
};

use crate::{
    ApiError, AppState, OperatorEvent, OutreachRefusal, Registration, Signer, SocialEvent,
    SocialState,
};

impl AppState {
    /// Runs `work` on the blocking pool with a handle on this state: store I/O, locks held
    /// across it, and CPU-heavy work stay off the async workers.
    ///
    /// # Errors
    /// What `work` returns; an internal error if it panicked.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || work(&state))
            .await
            .map_err(|error| {
                ApiError::from(crate::Error::Storage(format!(
                    "a blocking task did not finish: {error}"
                )))
            })?
    }

    /// Registers the signer's key; `true` when it is new (its `Registered` event is appended
    /// in the store's transaction and applied here in the same order).
    pub(crate) fn register_identity(&self, signer: Signer<'_>) -> Result<bool, ApiError> {
        let mut social = self.social_write();
        let registration =
            self.store
                .register(signer.user, signer.public_key, signer.timestamp_ms)?;
        match registration {
            Registration::Created => {
                social.apply(&SocialEvent::Registered {
                    user: signer.user.clone(),
                    at_ms: signer.timestamp_ms,
                });
                Ok(true)
            }
            Registration::AlreadyRegistered => Ok(false),
        }
    }

    /// Records the suggestions signed `viewer` was shown, best first (impressions, metrics).
    pub(crate) fn record_shown(&self, viewer: UserId, shown: Vec<UserId>) -> Result<(), ApiError> {
        let at_ms = self.clock.now_ms();
        let event = SocialEvent::SuggestionsShown {
            viewer,
            shown,
            at_ms,
        };
        Ok(self.record_event(&event.into())?)
    }

    /// The signer blocks `request.target`: the two never see each other again.
    pub(crate) fn block(&self, signer: Signer<'_>, request: BlockRequest) -> Result<(), ApiError> {
        other_user(signer.user, &request.target, "block")?;
        let event = SocialEvent::Blocked {
            by: signer.user.clone(),
            target: request.target,
            at_ms: self.clock.now_ms(),
        };
        Ok(self.append_and_apply(Some(signer), &event.into())?)
    }

    /// The signer reports `request.target`, raising their harassment risk.
    pub(crate) fn report(
        &self,
        signer: Signer<'_>,
        request: ReportRequest,
    ) -> Result<(), ApiError> {
        other_user(signer.user, &request.target, "report")?;
        let event = SocialEvent::Reported {
            by: signer.user.clone(),
            target: request.target,
            at_ms: self.clock.now_ms(),
        };
        Ok(self.append_and_apply(Some(signer), &event.into())?)
    }

    /// The signer snoozes a suggestion category for 30 days.
    pub(crate) fn snooze(
        &self,
        signer: Signer<'_>,
        request: SnoozeRequest,
    ) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let event = SocialState::snooze_event(signer.user.clone(), &request.category, now);
        Ok(self.append_and_apply(Some(signer), &event.into())?)
    }

    /// Replaces the signer's intent flags, each expiring after its TTL.
    pub(crate) fn set_intents(
        &self,
        signer: Signer<'_>,
        request: IntentsRequest,
    ) -> Result<(), ApiError> {
        let now = self.clock.now_ms();
        let event = SocialEvent::IntentsSet {
            user: signer.user.clone(),
            flags: request
                .flags
                .iter()
                .map(|f| (f.topic, now + u64::from(f.ttl_hours) * 3_600_000))
                .collect(),
        };
        Ok(self.append_and_apply(Some(signer), &event.into())?)
    }

    /// Swipe-to-tune on a suggestion: applied to the signer's next suggestions and queued for
    /// the re-ranker's training.
    pub(crate) fn feedback(
        &self,
        signer: Signer<'_>,
        request: FeedbackRequest,
    ) -> Result<(), ApiError> {
        other_user(signer.user, &request.target, "rate")?;
        let event = SocialEvent::Feedback {
            by: signer.user.clone(),
            target: request.target,
            more: request.more_like_this,
            at_ms: self.clock.now_ms(),
        };
        Ok(self.append_and_apply(Some(signer), &event.into())?)
    }

    /// The signer asks `request.to` for an introduction, within the outreach cap; returns the
    /// allowance left today.
    pub(crate) fn introduce(
        &self,
        signer: Signer<'_>,
        request: IntroductionRequest,
    ) -> Result<IntroductionSent, ApiError> {
        let now = self.clock.now_ms();
        let mut social = self.social_write();
        let (from, to) = (social.index_of(signer.user), social.index_of(&request.to));
        let remaining = social
            .outreach_allowance(from, to, now, &self.discovery.outreach)
            .map_err(|refusal| outreach_refused(refusal, now))?;
        let event = SocialEvent::IntroductionSent {
            from: signer.user.clone(),
            to: request.to,
            at_ms: now,
        };
        self.append_under(&mut social, Some(signer), &event.into())?;
        Ok(IntroductionSent {
            remaining_today: remaining,
        })
    }

    /// The signer accepts `from`'s pending introduction: the two are tied from now on.
    pub(crate) fn accept_introduction(
        &self,
        signer: Signer<'_>,
        from: UserId,
    ) -> Result<(), ApiError> {
        let mut social = self.social_write();
        let pending = match (social.find(&from), social.find(signer.user)) {
            (Some(f), Some(t)) => social.has_pending(f, t),
            _ => false,
        };
        if !pending {
            return Err(ApiError::NotFound(format!(
                "no pending introduction from {from}"
            )));
        }
        let event = SocialEvent::IntroductionAccepted {
            from,
            to: signer.user.clone(),
            at_ms: self.clock.now_ms(),
        };
        Ok(self.append_under(&mut social, Some(signer), &event.into())?)
    }

    /// Records that the signer wrote to someone they are tied to (metadata only).
    pub(crate) fn record_message(
        &self,
        signer: Signer<'_>,
        request: MessageRequest,
    ) -> Result<(), ApiError> {
        other_user(signer.user, &request.to, "write to")?;
        let mut social = self.social_write();
        let tied = match (social.find(signer.user), social.find(&request.to)) {
            (Some(a), Some(b)) => social.graph().connected(a as usize, b as usize),
            _ => false,
        };
        if !tied {
            return Err(ApiError::Forbidden(format!(
                "you are not connected to {}: an accepted introduction comes first",
                request.to
            )));
        }
        let event = SocialEvent::MessageSent {
            from: signer.user.clone(),
            to: request.to,
            at_ms: self.clock.now_ms(),
        };
        Ok(self.append_under(&mut social, Some(signer), &event.into())?)
    }

    /// A heartbeat: `user` counts as present in `room` (and active) for the next minute.
    /// Presence is kept in memory only.
    pub(crate) fn mark_present(&self, user: &UserId, room: &str) {
        let mut social = self.social_write();
        let person = social.index_of(user);
        social.mark_present(person, Some(room), self.clock.now_ms());
    }

    /// The discoverable people present in `room`, nearest to its topic first, without anyone
    /// blocked either way with a signed `viewer`.
    pub(crate) fn room_candidates(
        &self,
        room: &str,
        viewer: Option<&UserId>,
        request: &RoomCandidatesRequest,
    ) -> Result<CandidatesResponse, ApiError> {
        self.check_model_version(request.model_version)?;
        let candidates = self
            .discovery
            .room_candidates(
                &self.index,
                room,
                viewer,
                request.topic_vector.as_slice(),
                request.k as usize,
                self.clock.now_ms(),
            )
            .map_err(|_| ApiError::DiscoveryOff)?;
        Ok(CandidatesResponse {
            model_version: self.model.version,
            candidates,
        })
    }

    /// The discovery flags in force.
    pub(crate) fn flags(&self) -> DiscoveryFlags {
        self.discovery
            .social
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .flags()
    }

    /// The operator switches the ranking or the kill switch, durably and at once.
    pub(crate) fn set_flags(&self, flags: DiscoveryFlags) -> Result<(), ApiError> {
        self.record_event(&OperatorEvent::FlagsSet { flags }.into())?;
        tracing::info!(?flags, "discovery flags changed");
        Ok(())
    }

    fn social_write(&self) -> std::sync::RwLockWriteGuard<'_, SocialState> {
        self.discovery
            .social
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn other_user(signer: &UserId, target: &UserId, action: &str) -> Result<(), ApiError> {
    if target == signer {
        return Err(ApiError::InvalidBody {
            field: Some("target".to_owned()),
            message: format!("target: you cannot {action} yourself"),
        });
    }
    Ok(())
}

/// Why an introduction is refused, as the API answers it (the cap's message names the cap,
/// the account's age and reply ratio, and when to retry).
fn outreach_refused(refusal: OutreachRefusal, now: u64) -> ApiError {
    match refusal {
        OutreachRefusal::Limited {
            cap,
            account_age_days,
            reply_ratio,
            retry_at_ms,
        } => ApiError::RateLimited(format!(
            "daily limit of {cap} new introductions reached (account age {account_age_days} days, {:.0}% of your introductions accepted); the next one is possible in {} minutes",
            reply_ratio * 100.0,
            retry_at_ms.saturating_sub(now).div_ceil(60_000)
        )),
        OutreachRefusal::Blocked => {
            ApiError::Forbidden("one of you has blocked the other".to_owned())
        }
        OutreachRefusal::Oneself => ApiError::InvalidBody {
            field: Some("to".to_owned()),
            message: "to: you cannot ask yourself for an introduction".to_owned(),
        },
        OutreachRefusal::AlreadyConnected => {
            ApiError::Conflict("you are already connected".to_owned())
        }
    }
}

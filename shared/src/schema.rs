//! JSON Schemas of the wire types, generated from the types themselves. The committed copies
//! in `shared/schema/` are checked for drift by the integration tests.
use schemars::{JsonSchema, schema_for};

use crate::{
    ApiErrorBody, CandidatesRequest, CandidatesResponse, CardTrait, Explanation, ProfileUpload,
    PublicCard, RegisteredIdentity, TraitsReport,
};
use crate::{
    BlockRequest, DiscoveryFlags, FeedbackRequest, IntentsRequest, IntroductionRequest,
    IntroductionSent, MessageRequest, PsiMessage, ReportRequest, RoomCandidatesRequest,
    SnoozeRequest,
};
use crate::{FairnessReport, ModelReport, OperationsReport, RankerTrained};
use crate::{
    RoundJoin, RoundJoined, RoundKeysMessage, RoundSettings, RoundSharesMessage,
    RoundSignatureMessage, RoundStatus, RoundUnmaskMessage,
};

/// `(file name, schema)` for every wire type, in a fixed order.
pub fn wire_schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn schema<T: JsonSchema>() -> serde_json::Value {
        schema_for!(T).to_value()
    }
    vec![
        ("profile_upload.schema.json", schema::<ProfileUpload>()),
        ("public_card.schema.json", schema::<PublicCard>()),
        ("card_traits.schema.json", schema::<Vec<CardTrait>>()),
        (
            "candidates_request.schema.json",
            schema::<CandidatesRequest>(),
        ),
        (
            "candidates_response.schema.json",
            schema::<CandidatesResponse>(),
        ),
        (
            "registered_identity.schema.json",
            schema::<RegisteredIdentity>(),
        ),
        ("api_error.schema.json", schema::<ApiErrorBody>()),
        ("explanation.schema.json", schema::<Explanation>()),
        ("traits.schema.json", schema::<TraitsReport>()),
        ("block_request.schema.json", schema::<BlockRequest>()),
        ("report_request.schema.json", schema::<ReportRequest>()),
        ("snooze_request.schema.json", schema::<SnoozeRequest>()),
        ("intents_request.schema.json", schema::<IntentsRequest>()),
        ("feedback_request.schema.json", schema::<FeedbackRequest>()),
        (
            "introduction_request.schema.json",
            schema::<IntroductionRequest>(),
        ),
        (
            "introduction_sent.schema.json",
            schema::<IntroductionSent>(),
        ),
        (
            "room_candidates_request.schema.json",
            schema::<RoomCandidatesRequest>(),
        ),
        ("discovery_flags.schema.json", schema::<DiscoveryFlags>()),
        ("psi_message.schema.json", schema::<PsiMessage>()),
        ("message_request.schema.json", schema::<MessageRequest>()),
        ("fairness_report.schema.json", schema::<FairnessReport>()),
        ("ranker_trained.schema.json", schema::<RankerTrained>()),
        (
            "operations_report.schema.json",
            schema::<OperationsReport>(),
        ),
        ("model_report.schema.json", schema::<ModelReport>()),
        ("round_settings.schema.json", schema::<RoundSettings>()),
        ("round_status.schema.json", schema::<RoundStatus>()),
        ("round_join.schema.json", schema::<RoundJoin>()),
        ("round_joined.schema.json", schema::<RoundJoined>()),
        ("round_keys.schema.json", schema::<RoundKeysMessage>()),
        ("round_shares.schema.json", schema::<RoundSharesMessage>()),
        (
            "round_signature.schema.json",
            schema::<RoundSignatureMessage>(),
        ),
        ("round_unmask.schema.json", schema::<RoundUnmaskMessage>()),
    ]
}

//! The OpenAPI 3.1 document of the coordinator's HTTP API: the routes (the table below, checked
//! against the router by the integration tests) with the JSON Schemas generated from the wire
//! types themselves (`mesh_shared::wire_schemas`), the round protocol's included. The committed
//! copy, `server/coordinator/openapi.json`, is checked for drift by the tests;
//! `GET /v1/openapi.json` serves it.
use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone.
    Anyone,
    /// A request signed by a registered device key (`Authorization: Mesh-Ed25519 …`).
    Signed,
    /// The operator (`Authorization: Bearer <token>`).
    Operator,
    /// A signed device (a participant) or the operator.
    SignedOrOperator,
}

/// A request or response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// JSON of the wire type whose schema file is named (`profile_upload` for
    /// `profile_upload.schema.json`).
    Schema(&'static str),
    /// JSON without a published schema (the round relays: roster, mailbox, survivors and
    /// signatures; the OpenAPI document itself).
    Json,
    /// Raw bytes.
    Binary,
    /// Plain text.
    Text,
    /// HTML.
    Html,
}

/// One operation of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// `GET`, `POST`, `PUT` or `DELETE`.
    pub method: &'static str,
    /// The path, parameters in braces.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Who may call it.
    pub caller: Caller,
    /// The request body, if any.
    pub request: Option<Payload>,
    /// The success status.
    pub status: u16,
    /// The success body, if any.
    pub response: Option<Payload>,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    caller: Caller,
    request: Option<Payload>,
    status: u16,
    response: Option<Payload>,
) -> Operation {
    Operation {
        method,
        path,
        summary,
        caller,
        request,
        status,
        response,
    }
}

use Caller::{Anyone, Operator, Signed, SignedOrOperator};
use Payload::{Binary, Html, Json, Schema, Text};

/// Every operation the router serves.
pub const OPERATIONS: &[Operation] = &[
    op(
        "GET",
        "/v1/health",
        "Liveness and writability: 503 `store_unwritable` while the store's last write failed.",
        Anyone,
        None,
        200,
        Some(Text),
    ),
    op(
        "GET",
        "/v1/model",
        "The current model (MESHMDL1 bytes) with its ETag.",
        Anyone,
        None,
        200,
        Some(Binary),
    ),
    op(
        "GET",
        "/v1/openapi.json",
        "This document.",
        Anyone,
        None,
        200,
        Some(Json),
    ),
    op(
        "POST",
        "/v1/identities",
        "Registers the signing device key.",
        Signed,
        None,
        201,
        Some(Schema("registered_identity")),
    ),
    op(
        "PUT",
        "/v1/profiles/{id}",
        "Publishes the taste vector and public card (opt-in).",
        Signed,
        Some(Schema("profile_upload")),
        200,
        None,
    ),
    op(
        "DELETE",
        "/v1/profiles/{id}",
        "Opt-out: deletes the profile, the key and the person's events.",
        Signed,
        None,
        204,
        None,
    ),
    op(
        "POST",
        "/v1/discovery/candidates",
        "Suggestions for a taste vector (v2 pipeline or v1, by flag and experiment cohort); coarse, noised scores, within the caller's daily query budget.",
        Signed,
        Some(Schema("candidates_request")),
        200,
        Some(Schema("candidates_response")),
    ),
    op(
        "POST",
        "/v1/blocks",
        "Blocks a person, both ways, for good.",
        Signed,
        Some(Schema("block_request")),
        204,
        None,
    ),
    op(
        "POST",
        "/v1/reports",
        "Reports a person (raises their harassment risk).",
        Signed,
        Some(Schema("report_request")),
        204,
        None,
    ),
    op(
        "POST",
        "/v1/snoozes",
        "Snoozes a suggestion category for 30 days.",
        Signed,
        Some(Schema("snooze_request")),
        204,
        None,
    ),
    op(
        "PUT",
        "/v1/intents",
        "Replaces the signer's intent flags.",
        Signed,
        Some(Schema("intents_request")),
        204,
        None,
    ),
    op(
        "POST",
        "/v1/feedback",
        "Swipe-to-tune: more or less like a person.",
        Signed,
        Some(Schema("feedback_request")),
        204,
        None,
    ),
    op(
        "POST",
        "/v1/introductions",
        "Asks a person for an introduction (daily cap; 429 names it).",
        Signed,
        Some(Schema("introduction_request")),
        200,
        Some(Schema("introduction_sent")),
    ),
    op(
        "POST",
        "/v1/introductions/{from}/accept",
        "Accepts a pending introduction (a tie).",
        Signed,
        None,
        204,
        None,
    ),
    op(
        "POST",
        "/v1/messages",
        "Records that the signer wrote to someone they are tied to (metadata only).",
        Signed,
        Some(Schema("message_request")),
        204,
        None,
    ),
    op(
        "POST",
        "/v1/rooms/{room}/presence",
        "Heartbeat: present in the room for 60 s.",
        Signed,
        None,
        204,
        None,
    ),
    op(
        "POST",
        "/v1/rooms/{room}/candidates",
        "The people present in the room, nearest its topic first; coarse, noised scores, within the caller's daily query budget.",
        Signed,
        Some(Schema("room_candidates_request")),
        200,
        Some(Schema("candidates_response")),
    ),
    op(
        "PUT",
        "/v1/psi/{peer}/{round}",
        "Holds a private-set-intersection message (blinded or answer) for the peer.",
        Signed,
        Some(Schema("psi_message")),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/psi/{peer}/{round}",
        "The peer's private-set-intersection message for the signer.",
        Signed,
        None,
        200,
        Some(Schema("psi_message")),
    ),
    op(
        "GET",
        "/v1/admin/flags",
        "The discovery flags.",
        Operator,
        None,
        200,
        Some(Schema("discovery_flags")),
    ),
    op(
        "PUT",
        "/v1/admin/flags",
        "Sets ranking v1/v2 and the kill switch (durable).",
        Operator,
        Some(Schema("discovery_flags")),
        200,
        Some(Schema("discovery_flags")),
    ),
    op(
        "GET",
        "/v1/admin/fairness",
        "Exposure of new and established accounts.",
        Operator,
        None,
        200,
        Some(Schema("fairness_report")),
    ),
    op(
        "GET",
        "/v1/admin/metrics",
        "Daily outcome metrics per cohort, arms compared, thresholds and alerts.",
        Operator,
        None,
        200,
        Some(Schema("operations_report")),
    ),
    op(
        "GET",
        "/v1/admin/models",
        "Model version history, re-ranker refits, published taste vectors per version and their drift.",
        Operator,
        None,
        200,
        Some(Schema("model_report")),
    ),
    op(
        "POST",
        "/v1/admin/ranker/train",
        "Fits the re-ranker on the queued outcomes.",
        Operator,
        None,
        201,
        Some(Schema("ranker_trained")),
    ),
    op(
        "GET",
        "/metrics",
        "Prometheus text exposition (operator token, as Prometheus' bearer_token sends it).",
        Operator,
        None,
        200,
        Some(Text),
    ),
    op(
        "GET",
        "/dashboard",
        "The operator dashboard page.",
        Anyone,
        None,
        200,
        Some(Html),
    ),
    op(
        "POST",
        "/v1/rounds",
        "Starts a federated round.",
        Operator,
        Some(Schema("round_settings")),
        201,
        Some(Schema("round_status")),
    ),
    op(
        "GET",
        "/v1/rounds/current",
        "The current round's phase and outcome.",
        Anyone,
        None,
        200,
        Some(Schema("round_status")),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/join",
        "Joins the round.",
        Signed,
        Some(Schema("round_join")),
        200,
        Some(Schema("round_joined")),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/keys",
        "Advertises the client's keys.",
        Signed,
        Some(Schema("round_keys")),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/rounds/{round}/roster",
        "The clients' advertised keys.",
        Signed,
        None,
        200,
        Some(Json),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/shares",
        "Encrypted key shares for the other clients.",
        Signed,
        Some(Schema("round_shares")),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/rounds/{round}/mailbox/{client}",
        "The shares addressed to a client.",
        Signed,
        None,
        200,
        Some(Json),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/input",
        "The masked, quantised update.",
        Signed,
        Some(Binary),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/rounds/{round}/survivors",
        "The clients whose input arrived.",
        Signed,
        None,
        200,
        Some(Json),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/signature",
        "Signs the survivor set.",
        Signed,
        Some(Schema("round_signature")),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/rounds/{round}/signatures",
        "The survivors' signatures.",
        Signed,
        None,
        200,
        Some(Json),
    ),
    op(
        "POST",
        "/v1/rounds/{round}/unmask",
        "Unmasking shares.",
        Signed,
        Some(Schema("round_unmask")),
        204,
        None,
    ),
    op(
        "GET",
        "/v1/rounds/{round}/result",
        "The applied mean update.",
        SignedOrOperator,
        None,
        200,
        Some(Binary),
    ),
];

fn content(payload: Payload) -> Value {
    match payload {
        Schema(name) => {
            json!({ "application/json": { "schema": { "$ref": format!("#/components/schemas/{name}") } } })
        }
        Json => json!({ "application/json": { "schema": { "type": "object" } } }),
        Binary => {
            json!({ "application/octet-stream": { "schema": { "type": "string", "format": "binary" } } })
        }
        Text => json!({ "text/plain": { "schema": { "type": "string" } } }),
        Html => json!({ "text/html": { "schema": { "type": "string" } } }),
    }
}

/// Moves a schema's `$defs` into `components` and points its references there.
fn hoist(schema: &mut Value, components: &mut Map<String, Value>) {
    if let Some(Value::Object(defs)) = schema.as_object_mut().and_then(|o| o.remove("$defs")) {
        for (name, mut def) in defs {
            hoist(&mut def, components);
            rewrite_refs(&mut def);
            components.insert(name, def);
        }
    }
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
    }
    rewrite_refs(schema);
}

fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(object) => {
            for (key, v) in object.iter_mut() {
                if key == "$ref"
                    && let Value::String(target) = v
                    && let Some(name) = target.strip_prefix("#/$defs/")
                {
                    *target = format!("#/components/schemas/{name}");
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// The document.
pub fn openapi_document() -> Value {
    let mut components = Map::new();
    for (file, mut schema) in mesh_shared::wire_schemas() {
        hoist(&mut schema, &mut components);
        components.insert(file.trim_end_matches(".schema.json").to_owned(), schema);
    }
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let mut entry = Map::new();
        entry.insert("summary".to_owned(), json!(operation.summary));
        let parameters: Vec<Value> = operation
            .path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !parameters.is_empty() {
            entry.insert("parameters".to_owned(), Value::Array(parameters));
        }
        let security = match operation.caller {
            Anyone => None,
            Signed => Some(json!([{ "deviceSignature": [] }])),
            Operator => Some(json!([{ "operatorToken": [] }])),
            SignedOrOperator => Some(json!([{ "deviceSignature": [] }, { "operatorToken": [] }])),
        };
        if let Some(security) = security {
            entry.insert("security".to_owned(), security);
        }
        if let Some(request) = operation.request {
            entry.insert(
                "requestBody".to_owned(),
                json!({ "required": true, "content": content(request) }),
            );
        }
        let mut success = json!({ "description": "success" });
        if let Some(response) = operation.response {
            success["content"] = content(response);
        }
        entry.insert(
            "responses".to_owned(),
            json!({
                operation.status.to_string(): success,
                "4XX": { "description": "the request is refused; the body says what and where", "content": content(Schema("api_error")) },
            }),
        );
        let path = paths
            .entry(operation.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(object) = path.as_object_mut() {
            object.insert(operation.method.to_lowercase(), Value::Object(entry));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Mesh Discovery coordinator",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The coordinator's HTTP API. Schemas are generated from the wire types; see docs/running.md for the request signature.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "deviceSignature": { "type": "apiKey", "in": "header", "name": "Authorization", "description": "Mesh-Ed25519 key=<hex>,ts=<ms>,sig=<hex>: an Ed25519 signature over the method, path, timestamp and BLAKE3 hash of the body." },
                "operatorToken": { "type": "http", "scheme": "bearer" },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for (key, v) in object {
                    if key == "$ref" {
                        out.push(v.as_str().unwrap_or_default().to_owned());
                    } else {
                        refs(v, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
        }
    }

    #[test]
    fn every_reference_resolves_inside_the_document() {
        let document = openapi_document();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(found.len() > 20);
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("a reference outside components: {target}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} is not defined"
            );
        }
    }
}

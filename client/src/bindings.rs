//! The whole JavaScript surface of the client. Everything here is a thin adapter over
//! [`DeviceSession`] and [`DeviceIdentity`]: bytes or `JsValue` in, `Result<_, JsError>` out.
// These items are reached from JavaScript through wasm-bindgen, not from Rust.
#![allow(unreachable_pub)]

use mesh_shared::{DiscoveryCandidate, UserId};
use wasm_bindgen::prelude::*;

use crate::{DeviceIdentity, DeviceSession, Error};

/// The on-device engine for one user (see `DeviceSession`).
#[wasm_bindgen(js_name = MeshSession)]
#[derive(Debug)]
pub struct JsMeshSession(DeviceSession);

#[wasm_bindgen(js_class = MeshSession)]
impl JsMeshSession {
    /// Decodes the model bytes from `GET /v1/model`.
    #[wasm_bindgen(constructor)]
    pub fn new(model_bytes: &[u8]) -> Result<JsMeshSession, JsError> {
        Ok(Self(DeviceSession::new(model_bytes).map_err(js_error)?))
    }

    /// The model version in use.
    #[wasm_bindgen(getter, js_name = modelVersion)]
    pub fn model_version(&self) -> u32 {
        self.0.model_version()
    }

    /// Analyses a typed list; returns `{model_version, favourites, skipped, traits,
    /// vector_preview, vector_fingerprint}`.
    pub fn analyse(&mut self, text: &str) -> Result<JsValue, JsError> {
        let view = self.0.analyse(text).map_err(js_error)?;
        to_js(&view)
    }

    /// The JSON body of `PUT /v1/profiles/{id}`: what leaves the device on opt-in.
    #[wasm_bindgen(js_name = profileUploadJson)]
    pub fn profile_upload_json(
        &self,
        display_name: &str,
        show_favourites: u32,
    ) -> Result<String, JsError> {
        let upload = self
            .0
            .profile_upload(display_name, show_favourites as usize)
            .map_err(js_error)?;
        to_json(&upload)
    }

    /// The JSON body of `POST /v1/discovery/candidates`.
    #[wasm_bindgen(js_name = candidatesRequestJson)]
    pub fn candidates_request_json(
        &self,
        k: u32,
        exclude_user_id: Option<String>,
    ) -> Result<String, JsError> {
        let exclude = exclude_user_id
            .map(UserId::try_from)
            .transpose()
            .map_err(|e| js_error(e.into()))?;
        let request = self.0.candidates_request(k, exclude).map_err(js_error)?;
        to_json(&request)
    }

    /// "Why this match?" for one candidate object from the candidates response.
    pub fn explain(&self, candidate: JsValue) -> Result<JsValue, JsError> {
        let candidate: DiscoveryCandidate =
            serde_wasm_bindgen::from_value(candidate).map_err(|e| {
                js_error(Error::Json {
                    what: "candidate",
                    reason: e.to_string(),
                })
            })?;
        let explanation = self.0.explain(&candidate).map_err(js_error)?;
        to_js(&explanation)
    }
}

/// The device key pair (see `DeviceIdentity`).
#[wasm_bindgen(js_name = DeviceIdentity)]
#[derive(Debug)]
pub struct JsDeviceIdentity(DeviceIdentity);

#[wasm_bindgen(js_class = DeviceIdentity)]
impl JsDeviceIdentity {
    /// A fresh key pair from `crypto.getRandomValues`.
    pub fn generate() -> Result<JsDeviceIdentity, JsError> {
        Ok(Self(DeviceIdentity::generate().map_err(js_error)?))
    }

    /// The identity for a secret key stored on this device.
    #[wasm_bindgen(js_name = fromSecret)]
    pub fn from_secret(secret: &[u8]) -> Result<JsDeviceIdentity, JsError> {
        Ok(Self(DeviceIdentity::from_secret(secret).map_err(js_error)?))
    }

    /// The 32 secret-key bytes, to keep in this device's storage only.
    #[wasm_bindgen(js_name = secretKey)]
    pub fn secret_key(&self) -> Vec<u8> {
        self.0.secret_key().to_vec()
    }

    /// The user id this key owns.
    #[wasm_bindgen(getter, js_name = userId)]
    pub fn user_id(&self) -> String {
        self.0.user_id().to_string()
    }

    /// The `Authorization` header for a request with exactly these body bytes.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        timestamp_ms: f64,
        body: &[u8],
    ) -> Result<String, JsError> {
        if !(timestamp_ms.is_finite() && timestamp_ms >= 0.0) {
            return Err(JsError::new(
                "timestamp_ms must be a non-negative number of milliseconds",
            ));
        }
        Ok(self
            .0
            .authorization(method, path, timestamp_ms as u64, body))
    }
}

fn js_error(error: Error) -> JsError {
    JsError::new(&error.to_string())
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(value).map_err(|e| {
        js_error(Error::Json {
            what: "result",
            reason: e.to_string(),
        })
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, JsError> {
    serde_json::to_string(value).map_err(|e| {
        js_error(Error::Json {
            what: "request body",
            reason: e.to_string(),
        })
    })
}

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The `Authorization` scheme of a signed request.
pub const AUTH_SCHEME: &str = "Mesh-Ed25519";

/// How far a request's timestamp may be from the coordinator's clock, in milliseconds.
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60 * 1000;

const SIGNING_CONTEXT: &[u8] = b"mesh-discovery request v1\n";
const USER_ID_CONTEXT: &str = "mesh-discovery 2026-11 user id v1";
const MAX_USER_ID_LEN: usize = 64;

/// A user id: 1–64 characters of `a-z`, `0-9` and `-`.
///
/// Ids of people are derived from their device's public key ([`UserId::from_public_key`]), so
/// only the holder of the matching secret key can write under one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// The id owned by a device public key: `u` followed by 32 hex digits of a keyed BLAKE3
    /// derivation of the key.
    pub fn from_public_key(public_key: &[u8; 32]) -> Self {
        let derived = blake3::derive_key(USER_ID_CONTEXT, public_key);
        Self(format!("u{}", hex::encode(&derived[..16])))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl schemars::JsonSchema for UserId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "UserId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^[a-z0-9-]{1,64}$",
            "description": "A user id: 1-64 characters of a-z, 0-9 and -."
        })
    }
}

impl TryFrom<String> for UserId {
    type Error = Error;

    fn try_from(id: String) -> Result<Self> {
        let valid_chars = id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if id.is_empty() || id.len() > MAX_USER_ID_LEN || !valid_chars {
            return Err(Error::field(
                "user_id",
                format!("{id:?} is not 1-{MAX_USER_ID_LEN} characters of a-z, 0-9 and -"),
            ));
        }
        Ok(Self(id))
    }
}

impl From<UserId> for String {
    fn from(id: UserId) -> Self {
        id.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The bytes a device signs for one request: a fixed context, the method, the path with its
/// query string (`/v1/rounds/3/input?client=2`: what the request names is signed, not only
/// where it goes), the timestamp and the BLAKE3 hash of the body, separated by newlines.
pub fn signing_message(method: &str, path: &str, timestamp_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut message = SIGNING_CONTEXT.to_vec();
    for part in [
        method.to_ascii_uppercase().as_str(),
        path,
        &timestamp_ms.to_string(),
    ] {
        message.extend_from_slice(part.as_bytes());
        message.push(b'\n');
    }
    message.extend_from_slice(blake3::hash(body).to_hex().as_bytes());
    message
}

/// A parsed `Authorization: Mesh-Ed25519 key=<hex>,ts=<ms>,sig=<hex>` header.
///
/// The timestamp doubles as a nonce: the coordinator accepts it only within
/// [`MAX_CLOCK_SKEW_MS`] of its clock and above the last one it accepted from that key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    public_key: [u8; 32],
    timestamp_ms: u64,
    signature: [u8; 64],
}

/// A request signed on the device, as the header value to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// Value of the `Authorization` header.
    pub authorization: String,
    /// The signer's user id.
    pub user_id: UserId,
}

impl RequestAuth {
    /// Signs a request with a device secret key. The secret key never leaves the device.
    pub fn sign(
        secret_key: &[u8; 32],
        method: &str,
        path: &str,
        timestamp_ms: u64,
        body: &[u8],
    ) -> SignedRequest {
        let signing_key = SigningKey::from_bytes(secret_key);
        let signature = signing_key.sign(&signing_message(method, path, timestamp_ms, body));
        let auth = Self {
            public_key: signing_key.verifying_key().to_bytes(),
            timestamp_ms,
            signature: signature.to_bytes(),
        };
        SignedRequest {
            authorization: auth.to_header(),
            user_id: auth.user_id(),
        }
    }

    /// The Ed25519 public key of a device secret key.
    pub fn public_key_from_secret(secret_key: &[u8; 32]) -> [u8; 32] {
        SigningKey::from_bytes(secret_key)
            .verifying_key()
            .to_bytes()
    }

    /// Parses a header value.
    ///
    /// # Errors
    /// [`Error::InvalidAuthorization`] naming the missing or malformed part.
    pub fn parse_header(value: &str) -> Result<Self> {
        let fail = |why: &str| Error::InvalidAuthorization(why.to_owned());
        let params = value
            .strip_prefix(AUTH_SCHEME)
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or_else(|| fail(&format!("expected the `{AUTH_SCHEME}` scheme")))?;
        let (mut key, mut ts, mut sig) = (None, None, None);
        for pair in params.split(',') {
            let (name, v) = pair
                .trim()
                .split_once('=')
                .ok_or_else(|| fail("expected name=value pairs"))?;
            match name {
                "key" => key = Some(v),
                "ts" => ts = Some(v),
                "sig" => sig = Some(v),
                other => return Err(fail(&format!("unknown parameter `{other}`"))),
            }
        }
        let mut public_key = [0u8; 32];
        hex::decode_to_slice(key.ok_or_else(|| fail("missing key="))?, &mut public_key)
            .map_err(|_| fail("key= is not 64 hex digits"))?;
        let timestamp_ms = ts
            .ok_or_else(|| fail("missing ts="))?
            .parse()
            .map_err(|_| fail("ts= is not a Unix time in milliseconds"))?;
        let mut signature = [0u8; 64];
        hex::decode_to_slice(sig.ok_or_else(|| fail("missing sig="))?, &mut signature)
            .map_err(|_| fail("sig= is not 128 hex digits"))?;
        Ok(Self {
            public_key,
            timestamp_ms,
            signature,
        })
    }

    /// The header value.
    pub fn to_header(&self) -> String {
        format!(
            "{AUTH_SCHEME} key={},ts={},sig={}",
            hex::encode(self.public_key),
            self.timestamp_ms,
            hex::encode(self.signature)
        )
    }

    /// Checks the signature over this exact request (`path` with its query string).
    ///
    /// # Errors
    /// [`Error::InvalidAuthorization`] when the key is not a valid Ed25519 point, is of small
    /// order, or the signature does not match the method, path, timestamp and body.
    pub fn verify(&self, method: &str, path: &str, body: &[u8]) -> Result<()> {
        let key = VerifyingKey::from_bytes(&self.public_key)
            .map_err(|_| Error::InvalidAuthorization("key= is not an Ed25519 public key".into()))?;
        let message = signing_message(method, path, self.timestamp_ms, body);
        // `verify_strict`: small-order keys and non-canonical signatures are refused, so no
        // forged "all-identity" key verifies every message.
        key.verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| Error::InvalidAuthorization("signature does not match the request".into()))
    }

    /// The signer's public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The signed timestamp in Unix milliseconds.
    pub fn timestamp_ms(&self) -> u64 {
        self.timestamp_ms
    }

    /// The user id the signing key owns.
    pub fn user_id(&self) -> UserId {
        UserId::from_public_key(&self.public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trivial() {
        let signed = RequestAuth::sign(&[1; 32], "put", "/v1/profiles/x", 1000, b"{}");
        let auth = RequestAuth::parse_header(&signed.authorization).unwrap();
        auth.verify("PUT", "/v1/profiles/x", b"{}").unwrap();
        assert_eq!(auth.user_id(), signed.user_id);
        assert_eq!(auth.timestamp_ms(), 1000);
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let signed = RequestAuth::sign(&[1; 32], "PUT", "/v1/profiles/x", 1000, b"{}");
        let auth = RequestAuth::parse_header(&signed.authorization).unwrap();
        assert!(auth.verify("DELETE", "/v1/profiles/x", b"{}").is_err());
        assert!(auth.verify("PUT", "/v1/profiles/y", b"{}").is_err());
        assert!(auth.verify("PUT", "/v1/profiles/x", b"{ }").is_err());
        let later = signed.authorization.replace("ts=1000", "ts=1001");
        assert!(
            RequestAuth::parse_header(&later)
                .unwrap()
                .verify("PUT", "/v1/profiles/x", b"{}")
                .is_err()
        );
    }

    #[test]
    fn a_small_order_key_verifies_nothing() {
        // The identity point (y = 1) with the signature (R = identity, s = 0) satisfies the
        // cofactored and the plain equation for every message; `verify_strict` refuses it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let forged = RequestAuth {
            public_key: identity,
            timestamp_ms: 1,
            signature,
        };
        let err = forged.verify("POST", "/v1/identities", b"{}").unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn malformed_headers_say_what_is_wrong() {
        let cases = [
            ("Bearer abc", "expected the `Mesh-Ed25519` scheme"),
            (
                "Mesh-Ed25519 key=zz,ts=1,sig=00",
                "key= is not 64 hex digits",
            ),
            ("Mesh-Ed25519 ts=1", "missing key="),
        ];
        for (header, message) in cases {
            let err = RequestAuth::parse_header(header).unwrap_err();
            assert_eq!(err.to_string(), format!("authorization: {message}"));
        }
    }

    #[test]
    fn user_ids_are_validated() {
        assert!(UserId::try_from("u0af".to_owned()).is_ok());
        assert!(UserId::try_from("U0AF".to_owned()).is_err());
        assert!(UserId::try_from(String::new()).is_err());
        assert!(UserId::try_from("a".repeat(65)).is_err());
        let derived = UserId::from_public_key(&[9; 32]);
        assert_eq!(derived.as_str().len(), 33);
        assert!(UserId::try_from(derived.as_str().to_owned()).is_ok());
    }

    proptest! {
        #[test]
        fn parsing_arbitrary_headers_never_panics(header in "\\PC{0,300}") {
            let _ = RequestAuth::parse_header(&header);
        }

        #[test]
        fn signatures_verify_for_any_body(secret in proptest::array::uniform32(any::<u8>()),
                                          body in proptest::collection::vec(any::<u8>(), 0..64),
                                          ts in any::<u64>()) {
            let signed = RequestAuth::sign(&secret, "PUT", "/p", ts, &body);
            let auth = RequestAuth::parse_header(&signed.authorization).unwrap();
            prop_assert!(auth.verify("PUT", "/p", &body).is_ok());
        }
    }
}

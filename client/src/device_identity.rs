use mesh_shared::{RequestAuth, UserId};

use crate::{Error, Result};

/// The device's Ed25519 key pair. The secret key never leaves the device: the page stores it
/// in IndexedDB and only signatures are sent.
pub struct DeviceIdentity {
    secret: [u8; 32],
    user_id: UserId,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceIdentity")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl DeviceIdentity {
    /// A fresh key pair from the platform's CSPRNG (`crypto.getRandomValues` in browsers).
    ///
    /// # Errors
    /// [`Error::Randomness`] when the random source fails.
    pub fn generate() -> Result<Self> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| Error::Randomness(e.to_string()))?;
        Self::from_secret(&secret)
    }

    /// The identity for a stored secret key.
    ///
    /// # Errors
    /// [`Error::SecretKeyLength`] unless `secret` is 32 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<Self> {
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| Error::SecretKeyLength(secret.len()))?;
        let user_id = UserId::from_public_key(&RequestAuth::public_key_from_secret(&secret));
        Ok(Self { secret, user_id })
    }

    /// The secret key bytes, for storage on this device only.
    pub fn secret_key(&self) -> [u8; 32] {
        self.secret
    }

    /// The user id this key owns.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The `Authorization` header value for a request.
    pub fn authorization(
        &self,
        method: &str,
        path: &str,
        timestamp_ms: u64,
        body: &[u8],
    ) -> String {
        RequestAuth::sign(&self.secret, method, path, timestamp_ms, body).authorization
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_name_the_owner() {
        let identity = DeviceIdentity::generate().unwrap();
        let header = identity.authorization("DELETE", "/v1/profiles/x", 5, b"");
        let auth = RequestAuth::parse_header(&header).unwrap();
        auth.verify("DELETE", "/v1/profiles/x", b"").unwrap();
        assert_eq!(&auth.user_id(), identity.user_id());
        let again = DeviceIdentity::from_secret(&identity.secret_key()).unwrap();
        assert_eq!(again.user_id(), identity.user_id());
        assert!(DeviceIdentity::from_secret(&[1; 31]).is_err());
    }
}

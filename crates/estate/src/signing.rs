//! Cryptographic signing, as Django's `django.core.signing`: values and
//! serde objects signed with the site's `secret_key` (HMAC-SHA256), so they
//! can travel through cookies, URLs and forms and come back unaltered.
//! Signatures made with a key in `secret_key_fallbacks` are still accepted,
//! for key rotation. The formats are Django's: a value signed by Django
//! with the same key and salt verifies here, and the other way round.
//!
//! ```
//! use estate::signing::{Signer, TimestampSigner};
//!
//! let signer = Signer::new("a long random secret key", "password-reset");
//! let signed = signer.sign("ann@example.com");
//! assert_eq!(signer.unsign(&signed).unwrap(), "ann@example.com");
//! assert!(signer.unsign(&signed.replace("ann", "bob")).is_err());
//!
//! // Objects, with an age limit.
//! let signer = TimestampSigner::new("a long random secret key", "cart");
//! let token = signer.sign_object(&vec![1, 2, 3], false);
//! let cart: Vec<i32> = signer.unsign_object(&token, Some(std::time::Duration::from_secs(3600))).unwrap();
//! assert_eq!(cart, [1, 2, 3]);
//! ```
//!
//! The salt separates uses: a value signed for "password-reset" does not
//! verify as a "cart". Use a different salt for each purpose.

use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use crate::settings::{SecretKey, Settings};

/// Why a signed value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// No separator, or the signature does not match (tampered with, or
    /// signed with another key or salt).
    BadSignature,
    /// The signature is good but older than allowed.
    Expired {
        /// How old it is.
        age: Duration,
        /// The limit it broke.
        max_age: Duration,
    },
    /// The payload of a signed object does not decode.
    BadPayload(String),
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SignatureError::BadSignature => f.write_str("signature does not match"),
            SignatureError::Expired { age, max_age } => write!(
                f,
                "signature age {}s > {}s",
                age.as_secs(),
                max_age.as_secs()
            ),
            SignatureError::BadPayload(reason) => write!(f, "signed payload is invalid: {reason}"),
        }
    }
}

impl std::error::Error for SignatureError {}

const SEPARATOR: char = ':';

/// Signs and verifies strings: `value:signature`.
#[derive(Clone)]
pub struct Signer {
    /// The current key first, then the fallbacks.
    keys: Vec<Vec<u8>>,
    salt: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("Signer")
            .field("salt", &self.salt)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// Django's `salted_hmac(key_salt, value, secret).hexdigest()`: the
/// HMAC-SHA256 of `value` under a key derived from `key_salt` and `secret`,
/// as hex. For tokens tied to one purpose (session auth hashes, password
/// reset tokens).
pub fn salted_hmac_hex(key_salt: &str, value: &str, secret: &str) -> String {
    salted_hmac(key_salt, value, secret.as_bytes())
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Django's `salted_hmac`: HMAC-SHA256 of `value` under SHA-256(salt + key).
fn salted_hmac(key_salt: &str, value: &str, secret: &[u8]) -> Hmac<Sha256> {
    let mut hasher = Sha256::new();
    hasher.update(key_salt.as_bytes());
    hasher.update(secret);
    let key = hasher.finalize();
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    mac
}

/// Unpadded URL-safe base64 (Django's `b64_encode`).
fn b64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

impl Signer {
    /// A signer with `secret_key` for `salt` (a name for the purpose).
    pub fn new(secret_key: &str, salt: &str) -> Signer {
        Signer {
            keys: vec![secret_key.as_bytes().to_vec()],
            salt: salt.to_owned(),
        }
    }

    /// Also accepts signatures made with these older keys.
    pub fn with_fallbacks<'a>(mut self, keys: impl IntoIterator<Item = &'a str>) -> Signer {
        self.keys
            .extend(keys.into_iter().map(|k| k.as_bytes().to_vec()));
        self
    }

    /// The site's signer for `salt`: `secret_key`, and
    /// `secret_key_fallbacks` for verifying.
    pub fn from_settings(settings: &Settings, salt: &str) -> Signer {
        Signer::new(settings.secret_key.expose(), salt)
            .with_fallbacks(settings.secret_key_fallbacks.iter().map(SecretKey::expose))
    }

    fn signature_with(&self, key: &[u8], value: &str) -> Hmac<Sha256> {
        salted_hmac(&format!("{}signer", self.salt), value, key)
    }

    /// The signature of `value` with the current key.
    pub fn signature(&self, value: &str) -> String {
        b64_encode(
            &self
                .signature_with(&self.keys[0], value)
                .finalize()
                .into_bytes(),
        )
    }

    /// `value:signature`.
    pub fn sign(&self, value: &str) -> String {
        format!("{value}{SEPARATOR}{}", self.signature(value))
    }

    /// The value of a signed string, if its signature matches under any of
    /// the keys (compared in constant time).
    ///
    /// # Errors
    /// [`SignatureError::BadSignature`].
    pub fn unsign(&self, signed: &str) -> Result<String, SignatureError> {
        let (value, signature) = signed
            .rsplit_once(SEPARATOR)
            .ok_or(SignatureError::BadSignature)?;
        let given = b64_decode(signature).ok_or(SignatureError::BadSignature)?;
        for key in &self.keys {
            if self.signature_with(key, value).verify_slice(&given).is_ok() {
                return Ok(value.to_owned());
            }
        }
        Err(SignatureError::BadSignature)
    }

    /// A serde value as JSON, base64 (zlib-compressed when `compress` and it
    /// helps), signed: Django's `sign_object`.
    pub fn sign_object<T: serde::Serialize>(&self, value: &T, compress: bool) -> String {
        self.sign(&encode_object(value, compress))
    }

    /// The value of [`sign_object`](Self::sign_object).
    ///
    /// # Errors
    /// A bad signature, or a payload that does not decode into `T`.
    pub fn unsign_object<T: serde::de::DeserializeOwned>(
        &self,
        signed: &str,
    ) -> Result<T, SignatureError> {
        decode_object(&self.unsign(signed)?)
    }
}

/// JSON → (zlib) → base64, with Django's `.` marking a compressed payload.
fn encode_object<T: serde::Serialize>(value: &T, compress: bool) -> String {
    let json = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    if compress {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        if encoder.write_all(&json).is_ok() {
            if let Ok(compressed) = encoder.finish() {
                if compressed.len() < json.len().saturating_sub(1) {
                    return format!(".{}", b64_encode(&compressed));
                }
            }
        }
    }
    b64_encode(&json)
}

fn decode_object<T: serde::de::DeserializeOwned>(payload: &str) -> Result<T, SignatureError> {
    let bad = |reason: &str| SignatureError::BadPayload(reason.to_owned());
    let (compressed, encoded) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let mut bytes = b64_decode(encoded).ok_or_else(|| bad("not base64"))?;
    if compressed {
        let mut inflated = Vec::new();
        flate2::read::ZlibDecoder::new(bytes.as_slice())
            // A signed payload is trusted, but bound it anyway.
            .take(16 * 1024 * 1024)
            .read_to_end(&mut inflated)
            .map_err(|_| bad("not zlib"))?;
        bytes = inflated;
    }
    serde_json::from_slice(&bytes).map_err(|err| SignatureError::BadPayload(err.to_string()))
}

/// A [`Signer`] that also signs the time, so values can expire:
/// `value:timestamp:signature` (Django's `TimestampSigner`).
#[derive(Clone, Debug)]
pub struct TimestampSigner {
    signer: Signer,
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn b62_encode(mut n: u64) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn b62_decode(text: &str) -> Option<u64> {
    text.bytes().try_fold(0u64, |n, b| {
        let digit = BASE62.iter().position(|c| *c == b)? as u64;
        n.checked_mul(62)?.checked_add(digit)
    })
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TimestampSigner {
    /// A timestamp signer with `secret_key` for `salt`.
    pub fn new(secret_key: &str, salt: &str) -> TimestampSigner {
        TimestampSigner {
            signer: Signer::new(secret_key, salt),
        }
    }

    /// Also accepts signatures made with these older keys.
    pub fn with_fallbacks<'a>(self, keys: impl IntoIterator<Item = &'a str>) -> TimestampSigner {
        TimestampSigner {
            signer: self.signer.with_fallbacks(keys),
        }
    }

    /// The site's timestamp signer for `salt`.
    pub fn from_settings(settings: &Settings, salt: &str) -> TimestampSigner {
        TimestampSigner {
            signer: Signer::from_settings(settings, salt),
        }
    }

    /// `value:timestamp:signature`, stamped now.
    pub fn sign(&self, value: &str) -> String {
        self.sign_at(value, now_seconds())
    }

    fn sign_at(&self, value: &str, seconds: u64) -> String {
        self.signer
            .sign(&format!("{value}{SEPARATOR}{}", b62_encode(seconds)))
    }

    /// The value, if the signature matches and (with `max_age`) it is not
    /// older than that.
    ///
    /// # Errors
    /// [`SignatureError::BadSignature`] or [`SignatureError::Expired`].
    pub fn unsign(
        &self,
        signed: &str,
        max_age: Option<Duration>,
    ) -> Result<String, SignatureError> {
        let stamped = self.signer.unsign(signed)?;
        let (value, stamp) = stamped
            .rsplit_once(SEPARATOR)
            .ok_or(SignatureError::BadSignature)?;
        let signed_at = b62_decode(stamp).ok_or(SignatureError::BadSignature)?;
        if let Some(max_age) = max_age {
            let age = Duration::from_secs(now_seconds().saturating_sub(signed_at));
            if age > max_age {
                return Err(SignatureError::Expired { age, max_age });
            }
        }
        Ok(value.to_owned())
    }

    /// A serde value, stamped and signed (Django's `signing.dumps`).
    pub fn sign_object<T: serde::Serialize>(&self, value: &T, compress: bool) -> String {
        self.sign(&encode_object(value, compress))
    }

    /// The value of [`sign_object`](Self::sign_object), within `max_age`
    /// (Django's `signing.loads`).
    ///
    /// # Errors
    /// A bad or expired signature, or a payload that does not decode.
    pub fn unsign_object<T: serde::de::DeserializeOwned>(
        &self,
        signed: &str,
        max_age: Option<Duration>,
    ) -> Result<T, SignatureError> {
        decode_object(&self.unsign(signed, max_age)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "estate-test-secret-key-for-signing-0123456789";

    /// Made by Django 5.2 with the same key and salt.
    #[test]
    fn salted_hmacs_match_djangos() {
        // Django 5.2: salted_hmac("salt", "value", secret="secret", algorithm="sha256").hexdigest()
        assert_eq!(
            salted_hmac_hex("salt", "value", "secret"),
            "debaddcd9ecbaab181289870baf8af49b0af0a7050d620d1a63f1e69bd87ceb8"
        );
    }

    #[test]
    fn djangos_signatures_verify_here_and_ours_match_them() {
        let signer = Signer::new(KEY, "estate.tests");
        let django = "hello:world:iN1VNnpwIoonKXET_Nc1S8TKFYbK1Ze13YEWAiszCco";
        assert_eq!(signer.sign("hello:world"), django);
        assert_eq!(signer.unsign(django).unwrap(), "hello:world");

        let stamped = TimestampSigner::new(KEY, "estate.tests");
        let dumped =
            "eyJ1c2VyIjo0MiwibmFtZSI6IkFubiJ9:1xWRbv:TMwKddkS4EBgiyzAxuXu-yp6sY51CpCakMDAs1CD1hI";
        let value: serde_json::Value = stamped.unsign_object(dumped, None).unwrap();
        assert_eq!(value, serde_json::json!({"user": 42, "name": "Ann"}));
        let compressed =
            ".eJyrVkpUslKqGCZAqRYAvw9f3A:1xWRbv:yU-IBV70R5F0L8z2HZ9ukBSulBAvO00nyGb2tiz30u0";
        let value: serde_json::Value = stamped.unsign_object(compressed, None).unwrap();
        assert_eq!(value["a"].as_str().unwrap().len(), 200);
        // The same object and timestamp give Django's exact string.
        #[derive(serde::Serialize)]
        struct Payload {
            user: u32,
            name: &'static str,
        }
        let at = b62_decode("1xWRbv").unwrap();
        let payload = Payload {
            user: 42,
            name: "Ann",
        };
        assert_eq!(stamped.sign_at(&encode_object(&payload, false), at), dumped);
    }

    #[test]
    fn tampering_other_keys_salts_and_age_are_refused() {
        let signer = Signer::new(KEY, "one");
        let signed = signer.sign("42");
        assert_eq!(
            signer.unsign(&signed.replace("42", "43")),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            Signer::new(KEY, "two").unsign(&signed),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            Signer::new("other", "one").unsign(&signed),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            signer.unsign("no separator"),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(signer.unsign("42:***"), Err(SignatureError::BadSignature));
        // Rotation: the old key still verifies, new signatures use the new one.
        let rotated = Signer::new("new key", "one").with_fallbacks([KEY]);
        assert_eq!(rotated.unsign(&signed).unwrap(), "42");
        assert_ne!(rotated.sign("42"), signed);

        let stamped = TimestampSigner::new(KEY, "one");
        let old = stamped.sign_at("x", now_seconds() - 120);
        assert_eq!(
            stamped
                .unsign(&old, Some(Duration::from_secs(300)))
                .unwrap(),
            "x"
        );
        assert!(matches!(
            stamped.unsign(&old, Some(Duration::from_secs(60))),
            Err(SignatureError::Expired { .. })
        ));
        assert_eq!(b62_decode(&b62_encode(1_764_000_000)), Some(1_764_000_000));
        assert_eq!(b62_encode(0), "0");
    }
}

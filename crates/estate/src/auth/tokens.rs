//! Password reset tokens, as Django's `PasswordResetTokenGenerator` (and
//! in its format, so a link made by a Django site with the same secret key
//! works here): `<timestamp in base 36>-<hash>`, where the hash covers the
//! user's key, password hash, last login and email. Setting a new password
//! or logging in changes them, so a token works once; it also expires
//! after `auth.password_reset_timeout`. No token is stored anywhere.

use base64::Engine as _;
use estate_orm::chrono::{DateTime, NaiveDate, Utc};

use super::models::User;
use crate::crypto::constant_time_eq;
use crate::signing::salted_hmac_hex;

/// Django's salt, so tokens are interchangeable with a Django site's.
const KEY_SALT: &str = "django.contrib.auth.tokens.PasswordResetTokenGenerator";

/// Seconds since 2001-01-01 (Django's epoch for these tokens).
fn seconds_since_2001(now: DateTime<Utc>) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(2001, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
        .and_utc();
    (now - epoch).num_seconds()
}

fn to_base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".to_owned();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII digits")
}

fn from_base36(text: &str) -> Option<u64> {
    // Django refuses more than 13 digits (larger than 2**64).
    if text.is_empty() || text.len() > 13 {
        return None;
    }
    u64::from_str_radix(text, 36).ok()
}

/// What the hash covers.
fn hash_value(user: &User, timestamp: u64) -> String {
    let login = user
        .last_login
        .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default();
    format!(
        "{}{}{}{}{}",
        user.id.get().unwrap_or_default(),
        user.password,
        login,
        timestamp,
        user.email
    )
}

fn token_at(user: &User, timestamp: u64, secret: &str) -> String {
    let hash: String = salted_hmac_hex(KEY_SALT, &hash_value(user, timestamp), secret)
        .chars()
        .step_by(2)
        .collect();
    format!("{}-{hash}", to_base36(timestamp))
}

/// Makes and checks reset tokens with the site's secret keys.
#[derive(Clone, Debug)]
pub struct PasswordResetTokens {
    secrets: Vec<String>,
    timeout_seconds: u64,
}

impl PasswordResetTokens {
    /// Tokens signed with `secret` (and accepted under `fallbacks` too),
    /// valid for `timeout_seconds`.
    pub fn new<'a>(
        secret: &str,
        fallbacks: impl IntoIterator<Item = &'a str>,
        timeout_seconds: u64,
    ) -> PasswordResetTokens {
        let mut secrets = vec![secret.to_owned()];
        secrets.extend(fallbacks.into_iter().map(str::to_owned));
        PasswordResetTokens {
            secrets,
            timeout_seconds,
        }
    }

    /// A token for `user`, valid from now.
    pub fn make(&self, user: &User) -> String {
        self.make_at(user, Utc::now())
    }

    fn make_at(&self, user: &User, now: DateTime<Utc>) -> String {
        let timestamp = u64::try_from(seconds_since_2001(now)).unwrap_or(0);
        token_at(user, timestamp, &self.secrets[0])
    }

    /// Whether `token` was made for `user` as it is now, under one of the
    /// keys, and has not expired.
    pub fn check(&self, user: &User, token: &str) -> bool {
        self.check_at(user, token, Utc::now())
    }

    fn check_at(&self, user: &User, token: &str, now: DateTime<Utc>) -> bool {
        let Some((ts_b36, _)) = token.split_once('-') else {
            return false;
        };
        let Some(timestamp) = from_base36(ts_b36) else {
            return false;
        };
        let matches = self.secrets.iter().any(|secret| {
            constant_time_eq(
                token_at(user, timestamp, secret).as_bytes(),
                token.as_bytes(),
            )
        });
        let age = seconds_since_2001(now) - i64::try_from(timestamp).unwrap_or(i64::MAX);
        matches && age <= i64::try_from(self.timeout_seconds).unwrap_or(i64::MAX)
    }
}

/// The user's key for a reset link: base64 of its decimal digits
/// (Django's `urlsafe_base64_encode(force_bytes(pk))`).
pub fn encode_uid(id: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.to_string())
}

/// The key back from a reset link, if well-formed.
pub fn decode_uid(uid: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(uid.trim_end_matches('='))
        .ok()?;
    std::str::from_utf8(&bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use estate_orm::Auto;
    use estate_orm::chrono::TimeZone as _;

    fn ann() -> User {
        let mut user = User::new("ann", "ann@example.com");
        user.id = Auto::Set(42);
        user.password = "argon2$argon2id$v=19$m=19456,t=2,p=1$abc$def".into();
        user
    }

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn tokens_match_djangos() {
        // Django 5.2, SECRET_KEY "django-insecure-test-key", at
        // 2026-11-26 06:00:00 (timestamp 817365600).
        let tokens = PasswordResetTokens::new("django-insecure-test-key", [], 259_200);
        let now = at(2026, 11, 26, 6, 0, 0);
        let mut user = ann();
        assert_eq!(
            tokens.make_at(&user, now),
            "dimzc0-78b0d8515aab8c94730ebebab866f9bf"
        );
        user.last_login = Some(
            at(2026, 11, 25, 10, 30, 15) + estate_orm::chrono::Duration::microseconds(123_456),
        );
        assert_eq!(
            tokens.make_at(&user, now),
            "dimzc0-60823a4c47a3b38e723fbde844bc0239"
        );
        assert_eq!(encode_uid(42), "NDI");
        assert_eq!(decode_uid("NDI"), Some(42));
        assert_eq!(decode_uid("not base64!"), None);
    }

    #[test]
    fn tokens_work_once_and_expire() {
        let tokens = PasswordResetTokens::new("secret", ["old-secret"], 3600);
        let now = at(2026, 11, 26, 6, 0, 0);
        let mut user = ann();
        let token = tokens.make_at(&user, now);
        assert!(tokens.check_at(&user, &token, now));
        assert!(tokens.check_at(
            &user,
            &token,
            now + estate_orm::chrono::Duration::seconds(3600)
        ));
        assert!(!tokens.check_at(
            &user,
            &token,
            now + estate_orm::chrono::Duration::seconds(3601)
        ));
        // A key rotated out still verifies as a fallback.
        let old = PasswordResetTokens::new("old-secret", [], 3600).make_at(&user, now);
        assert!(tokens.check_at(&user, &old, now));
        // Another user, a new password or a login spends it.
        let mut bob = ann();
        bob.id = Auto::Set(43);
        assert!(!tokens.check_at(&bob, &token, now));
        user.last_login = Some(now);
        assert!(!tokens.check_at(&user, &token, now));
        let mut user = ann();
        user.password = "argon2$other".into();
        assert!(!tokens.check_at(&user, &token, now));
        for junk in ["", "-", "abc", "zzzzzzzzzzzzzz-00", "dimzc0-"] {
            assert!(!tokens.check_at(&ann(), junk, now), "{junk}");
        }
    }
}

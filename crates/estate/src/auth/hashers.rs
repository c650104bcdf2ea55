//! Password hashing, as Django's `django.contrib.auth.hashers`: passwords
//! are stored as `algorithm$...` strings, new ones with argon2id, and the
//! hashes Django writes (`pbkdf2_sha256`, `pbkdf2_sha1`, `argon2`,
//! `bcrypt_sha256`, `bcrypt`) verify here, so a user table moved from a
//! Django project keeps working. A correct password whose hash is older or
//! weaker than the current default reports [`PasswordCheck::CorrectOutdated`]
//! so the caller can store a fresh hash (login does).
//!
//! ```
//! use estate::auth::hashers::{check_password, make_password, PasswordHashers, PasswordCheck};
//!
//! let encoded = make_password("correct horse");
//! assert!(encoded.starts_with("argon2$argon2id$"));
//! assert!(check_password("correct horse", &encoded));
//! assert!(!check_password("wrong horse", &encoded));
//!
//! // A hash written by Django: right, but due for an upgrade to argon2id.
//! let from_django = "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=";
//! let hashers = PasswordHashers::default();
//! assert_eq!(hashers.check("correct horse", from_django), PasswordCheck::CorrectOutdated);
//! ```

use std::fmt;
use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use sha2::Digest as _;

use crate::crypto::{constant_time_eq, get_random_string};

/// The first character of a password that can never match (Django's
/// `UNUSABLE_PASSWORD_PREFIX`), for users who log in some other way.
pub const UNUSABLE_PASSWORD_PREFIX: &str = "!";

/// One way of hashing passwords, named by the `algorithm` before the first
/// `$` of the strings it writes.
pub trait PasswordHasher: Send + Sync + fmt::Debug {
    /// The name written before the first `$`, such as `argon2`.
    fn algorithm(&self) -> &'static str;

    /// `password` hashed with a fresh random salt: `algorithm$...`.
    fn encode(&self, password: &str) -> String;

    /// Whether `password` matches `encoded` (a string of this algorithm),
    /// compared in constant time. Malformed strings do not match.
    fn verify(&self, password: &str, encoded: &str) -> bool;

    /// Whether `encoded` was made with weaker settings than this hasher's
    /// (fewer iterations, less memory), so it should be hashed again.
    fn must_update(&self, encoded: &str) -> bool {
        let _ = encoded;
        false
    }
}

/// What [`PasswordHashers::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// The password does not match (or the stored hash is unusable, or of
    /// an algorithm not configured here).
    Wrong,
    /// The password matches and its hash is up to date.
    Correct,
    /// The password matches, but its hash uses another algorithm than the
    /// default or weaker settings: store [`PasswordHashers::make`] of it.
    CorrectOutdated,
}

impl PasswordCheck {
    /// Whether the password matched.
    pub fn is_correct(self) -> bool {
        !matches!(self, PasswordCheck::Wrong)
    }
}

/// The hashers a site accepts, the first being the one new passwords use
/// (Django's `PASSWORD_HASHERS`).
#[derive(Clone, Debug)]
pub struct PasswordHashers {
    hashers: Vec<Arc<dyn PasswordHasher>>,
}

impl Default for PasswordHashers {
    /// argon2id for new passwords; Django's PBKDF2, argon2 and bcrypt hashes
    /// accepted.
    fn default() -> Self {
        PasswordHashers::new(Argon2Hasher::default())
            .accept(Pbkdf2Hasher::sha256())
            .accept(Pbkdf2Hasher::sha1())
            .accept(BcryptHasher::sha256())
            .accept(BcryptHasher::plain())
    }
}

impl PasswordHashers {
    /// Only `preferred`, which hashes new passwords; add others that old
    /// hashes may use with [`PasswordHashers::accept`].
    pub fn new(preferred: impl PasswordHasher + 'static) -> PasswordHashers {
        PasswordHashers {
            hashers: vec![Arc::new(preferred)],
        }
    }

    /// Also verify passwords hashed with `hasher` (upgrading them on the
    /// next successful check). A hasher of the same algorithm replaces the
    /// one there.
    #[must_use]
    pub fn accept(mut self, hasher: impl PasswordHasher + 'static) -> PasswordHashers {
        let algorithm = hasher.algorithm();
        match self.hashers.iter().position(|h| h.algorithm() == algorithm) {
            Some(0) => {}
            Some(i) => self.hashers[i] = Arc::new(hasher),
            None => self.hashers.push(Arc::new(hasher)),
        }
        self
    }

    /// The hasher new passwords use.
    pub fn preferred(&self) -> &dyn PasswordHasher {
        &*self.hashers[0]
    }

    /// The hasher that wrote `encoded`, if it is configured here.
    pub fn identify(&self, encoded: &str) -> Option<&dyn PasswordHasher> {
        let algorithm = encoded.split('$').next()?;
        self.hashers
            .iter()
            .find(|h| h.algorithm() == algorithm)
            .map(|h| &**h)
    }

    /// `password` hashed with the preferred hasher.
    pub fn make(&self, password: &str) -> String {
        self.preferred().encode(password)
    }

    /// Whether `password` matches `encoded`, and whether `encoded` should be
    /// replaced by a fresh hash.
    pub fn check(&self, password: &str, encoded: &str) -> PasswordCheck {
        let hasher = match self.identify(encoded) {
            Some(hasher) if is_password_usable(encoded) => hasher,
            _ => {
                // Spend the time a real check takes, so that a user without
                // a usable password cannot be told apart from one with a
                // wrong password by the response time (Django does this).
                let _ = self.make(password);
                return PasswordCheck::Wrong;
            }
        };
        if !hasher.verify(password, encoded) {
            return PasswordCheck::Wrong;
        }
        let preferred = self.preferred();
        if hasher.algorithm() != preferred.algorithm() || preferred.must_update(encoded) {
            PasswordCheck::CorrectOutdated
        } else {
            PasswordCheck::Correct
        }
    }
}

static DEFAULT_HASHERS: LazyLock<PasswordHashers> = LazyLock::new(PasswordHashers::default);

/// `password` hashed with the default hasher (argon2id).
pub fn make_password(password: &str) -> String {
    DEFAULT_HASHERS.make(password)
}

/// Whether `password` matches `encoded`, with the default hashers.
pub fn check_password(password: &str, encoded: &str) -> bool {
    DEFAULT_HASHERS.check(password, encoded).is_correct()
}

/// A stored password that no password matches: `!` and 40 random
/// characters (Django's `make_password(None)`).
pub fn make_unusable_password() -> String {
    format!("{UNUSABLE_PASSWORD_PREFIX}{}", get_random_string(40))
}

/// Whether `encoded` can match some password (it is not empty and not made
/// by [`make_unusable_password`]).
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.is_empty() && !encoded.starts_with(UNUSABLE_PASSWORD_PREFIX)
}

/// argon2id (the default), written in Django's format:
/// `argon2$argon2id$v=19$m=19456,t=2,p=1$salt$hash`. Verifies Django's
/// argon2 hashes of any variant and cost.
#[derive(Clone, Debug)]
pub struct Argon2Hasher {
    params: argon2::Params,
}

impl Default for Argon2Hasher {
    /// OWASP's recommended cost: 19 MiB of memory, 2 passes, 1 lane.
    fn default() -> Self {
        Argon2Hasher::new(19 * 1024, 2, 1)
    }
}

impl Argon2Hasher {
    /// A hasher with this memory (KiB), number of passes and parallelism.
    ///
    /// # Panics
    /// If argon2 refuses the parameters (memory under 8 KiB per lane, no
    /// passes, no lanes).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Argon2Hasher {
        let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32))
            .unwrap_or_else(|err| panic!("invalid argon2 parameters: {err}"));
        Argon2Hasher { params }
    }

    fn engine(&self) -> argon2::Argon2<'static> {
        argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            self.params.clone(),
        )
    }

    fn phc(encoded: &str) -> Option<argon2::PasswordHash> {
        let rest = encoded.strip_prefix("argon2$")?;
        let hash = argon2::PasswordHash::new(&format!("${rest}")).ok()?;
        // Stored hashes set their own cost: refuse absurd ones (over 1 GiB
        // or 100 passes) rather than try them.
        let params = argon2::Params::try_from(&hash).ok()?;
        (params.m_cost() <= 1 << 20 && params.t_cost() <= 100 && params.p_cost() <= 64)
            .then_some(hash)
    }
}

impl PasswordHasher for Argon2Hasher {
    fn algorithm(&self) -> &'static str {
        "argon2"
    }

    fn encode(&self, password: &str) -> String {
        use argon2::PasswordHasher as _;
        let hash = self
            .engine()
            .hash_password(password.as_bytes())
            .expect("argon2 hashes with valid parameters and a random salt");
        // The PHC string starts with `$`; Django's format puts the
        // algorithm name before it.
        format!("argon2{hash}")
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        use argon2::PasswordVerifier as _;
        Argon2Hasher::phc(encoded).is_some_and(|hash| {
            self.engine()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
    }

    fn must_update(&self, encoded: &str) -> bool {
        let Some(hash) = Argon2Hasher::phc(encoded) else {
            return true;
        };
        let Ok(params) = argon2::Params::try_from(&hash) else {
            return true;
        };
        hash.algorithm.as_str() != "argon2id"
            || params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
    }
}

/// The most PBKDF2 iterations a stored hash may ask for (Django's default
/// is 1 000 000; 50 times that would take minutes).
const MAX_PBKDF2_ITERATIONS: u32 = 50_000_000;

/// The digest a [`Pbkdf2Hasher`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pbkdf2Digest {
    Sha256,
    Sha1,
}

/// PBKDF2-HMAC, Django's default before argon2 here:
/// `pbkdf2_sha256$iterations$salt$base64-hash` (and `pbkdf2_sha1`).
#[derive(Clone, Debug)]
pub struct Pbkdf2Hasher {
    digest: Pbkdf2Digest,
    iterations: u32,
}

impl Pbkdf2Hasher {
    /// Django 5.2's iteration count.
    pub const DEFAULT_ITERATIONS: u32 = 1_000_000;

    /// `pbkdf2_sha256` with Django's iteration count.
    pub fn sha256() -> Pbkdf2Hasher {
        Pbkdf2Hasher {
            digest: Pbkdf2Digest::Sha256,
            iterations: Pbkdf2Hasher::DEFAULT_ITERATIONS,
        }
    }

    /// `pbkdf2_sha1` (accepted for old hashes; not for new ones).
    pub fn sha1() -> Pbkdf2Hasher {
        Pbkdf2Hasher {
            digest: Pbkdf2Digest::Sha1,
            iterations: Pbkdf2Hasher::DEFAULT_ITERATIONS,
        }
    }

    /// The same hasher with another iteration count for new hashes.
    #[must_use]
    pub fn iterations(mut self, iterations: u32) -> Pbkdf2Hasher {
        self.iterations = iterations.max(1);
        self
    }

    fn derive(&self, password: &str, salt: &str, iterations: u32) -> String {
        let engine = base64::engine::general_purpose::STANDARD;
        match self.digest {
            Pbkdf2Digest::Sha256 => engine.encode(pbkdf2::pbkdf2_hmac_array::<sha2::Sha256, 32>(
                password.as_bytes(),
                salt.as_bytes(),
                iterations,
            )),
            Pbkdf2Digest::Sha1 => engine.encode(pbkdf2::pbkdf2_hmac_array::<sha1::Sha1, 20>(
                password.as_bytes(),
                salt.as_bytes(),
                iterations,
            )),
        }
    }

    /// `(iterations, salt, hash)` of a string of this algorithm.
    fn decode<'a>(&self, encoded: &'a str) -> Option<(u32, &'a str, &'a str)> {
        let mut parts = encoded.splitn(4, '$');
        if parts.next()? != self.algorithm() {
            return None;
        }
        // Stored hashes set their own cost: anything beyond what a real
        // hasher would use is refused rather than computed.
        let iterations = parts
            .next()?
            .parse()
            .ok()
            .filter(|n| (1..=MAX_PBKDF2_ITERATIONS).contains(n))?;
        let salt = parts.next()?;
        let hash = parts.next()?;
        Some((iterations, salt, hash))
    }
}

impl PasswordHasher for Pbkdf2Hasher {
    fn algorithm(&self) -> &'static str {
        match self.digest {
            Pbkdf2Digest::Sha256 => "pbkdf2_sha256",
            Pbkdf2Digest::Sha1 => "pbkdf2_sha1",
        }
    }

    fn encode(&self, password: &str) -> String {
        let salt = get_random_string(22);
        let hash = self.derive(password, &salt, self.iterations);
        format!("{}${}${salt}${hash}", self.algorithm(), self.iterations)
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        self.decode(encoded)
            .is_some_and(|(iterations, salt, hash)| {
                constant_time_eq(
                    self.derive(password, salt, iterations).as_bytes(),
                    hash.as_bytes(),
                )
            })
    }

    fn must_update(&self, encoded: &str) -> bool {
        self.decode(encoded)
            .is_none_or(|(iterations, _, _)| iterations != self.iterations)
    }
}

/// bcrypt: `bcrypt_sha256$$2b$12$...` (the password's SHA-256 hex digest
/// hashed with bcrypt, so long passwords are not cut at 72 bytes) and
/// Django's older plain `bcrypt$$2b$12$...`.
#[derive(Clone, Debug)]
pub struct BcryptHasher {
    prehash: bool,
    rounds: u32,
}

impl BcryptHasher {
    /// `bcrypt_sha256` with Django's 12 rounds.
    pub fn sha256() -> BcryptHasher {
        BcryptHasher {
            prehash: true,
            rounds: 12,
        }
    }

    /// Plain `bcrypt` (passwords cut at 72 bytes; accept it for old hashes
    /// only).
    pub fn plain() -> BcryptHasher {
        BcryptHasher {
            prehash: false,
            rounds: 12,
        }
    }

    /// The same hasher with another cost (4 to 31) for new hashes.
    #[must_use]
    pub fn rounds(mut self, rounds: u32) -> BcryptHasher {
        self.rounds = rounds.clamp(4, 31);
        self
    }

    fn input(&self, password: &str) -> Vec<u8> {
        if self.prehash {
            let digest = sha2::Sha256::digest(password.as_bytes());
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes()
        } else {
            password.as_bytes().to_vec()
        }
    }

    fn bcrypt_part<'a>(&self, encoded: &'a str) -> Option<&'a str> {
        encoded
            .strip_prefix(self.algorithm())?
            .strip_prefix('$')
            .filter(|rest| rest.starts_with('$'))
    }
}

impl PasswordHasher for BcryptHasher {
    fn algorithm(&self) -> &'static str {
        if self.prehash {
            "bcrypt_sha256"
        } else {
            "bcrypt"
        }
    }

    fn encode(&self, password: &str) -> String {
        let hash = bcrypt::hash(self.input(password), self.rounds)
            .expect("bcrypt hashes with a cost from 4 to 31");
        format!("{}${hash}", self.algorithm())
    }

    fn verify(&self, password: &str, encoded: &str) -> bool {
        self.bcrypt_part(encoded)
            .is_some_and(|hash| bcrypt::verify(self.input(password), hash).unwrap_or(false))
    }

    fn must_update(&self, encoded: &str) -> bool {
        // `$2b$12$...`: the cost is the third field.
        self.bcrypt_part(encoded)
            .and_then(|hash| hash.split('$').nth(2)?.parse::<u32>().ok())
            .is_none_or(|rounds| rounds != self.rounds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written by Django 5.2 (with argon2-cffi and bcrypt) for "correct horse".
    const DJANGO_PBKDF2_SHA256: &str =
        "pbkdf2_sha256$1000$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=";
    const DJANGO_PBKDF2_SHA1: &str = "pbkdf2_sha1$1000$saltsalt$wQoBU7GXMNo2CJC+raijrf6key4=";
    const DJANGO_BCRYPT_SHA256: &str =
        "bcrypt_sha256$$2b$04$e6csPWnuUaY.xcHgpsGRpOGuQVeA4jgiZb40Z3ALV9FhYcSdY3Bqm";
    const DJANGO_ARGON2: &str = "argon2$argon2id$v=19$m=1024,t=1,p=1$EaxIzETZMGAEpDSGtrbdpQ$nZvxllSlQsywrwpDEh6ByjcR1O6ZYYqugxolK9OiRG8";
    // Django's 22-character salt, 8 lanes (Django's default parallelism).
    const DJANGO_ARGON2_8_LANES: &str = "argon2$argon2id$v=19$m=1024,t=2,p=8$c2FsdHNhbHRzYWx0c2FsdHNhbHRzYQ$9Sz8yKZqdOcYGvXuRYzp4wvBMD0cX2vchpCLH283Eh8";

    fn fast() -> PasswordHashers {
        PasswordHashers::new(Argon2Hasher::new(1024, 1, 1))
            .accept(Pbkdf2Hasher::sha256().iterations(1000))
            .accept(Pbkdf2Hasher::sha1().iterations(1000))
            .accept(BcryptHasher::sha256().rounds(4))
            .accept(BcryptHasher::plain().rounds(4))
    }

    #[test]
    fn djangos_hashes_verify_and_are_due_for_an_upgrade() {
        let hashers = PasswordHashers::default();
        for encoded in [
            DJANGO_PBKDF2_SHA256,
            DJANGO_PBKDF2_SHA1,
            DJANGO_BCRYPT_SHA256,
        ] {
            assert_eq!(
                hashers.check("correct horse", encoded),
                PasswordCheck::CorrectOutdated,
                "{encoded}"
            );
            assert_eq!(
                hashers.check("correct horsE", encoded),
                PasswordCheck::Wrong,
                "{encoded}"
            );
        }
        // Same algorithm, lower cost than ours: correct, to be re-hashed.
        assert_eq!(
            hashers.check("correct horse", DJANGO_ARGON2),
            PasswordCheck::CorrectOutdated
        );
        assert_eq!(hashers.check("wrong", DJANGO_ARGON2), PasswordCheck::Wrong);
        assert_eq!(
            hashers.check("correct horse", DJANGO_ARGON2_8_LANES),
            PasswordCheck::CorrectOutdated
        );
        assert_eq!(
            hashers.check("correct horsE", DJANGO_ARGON2_8_LANES),
            PasswordCheck::Wrong
        );
        assert_eq!(
            fast().check("correct horse", DJANGO_ARGON2),
            PasswordCheck::Correct
        );
    }

    #[test]
    fn new_hashes_use_argon2id_with_a_fresh_salt() {
        let first = make_password("correct horse");
        let second = make_password("correct horse");
        assert!(
            first.starts_with("argon2$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second);
        assert!(check_password("correct horse", &first));
        assert!(!check_password("correct horse ", &first));
        assert_eq!(
            PasswordHashers::default().check("correct horse", &second),
            PasswordCheck::Correct
        );
    }

    #[test]
    fn every_hasher_round_trips_in_djangos_format() {
        let hashers = fast();
        for (hasher, prefix) in [
            (
                &Pbkdf2Hasher::sha256().iterations(1000) as &dyn PasswordHasher,
                "pbkdf2_sha256$1000$",
            ),
            (&Pbkdf2Hasher::sha1().iterations(1000), "pbkdf2_sha1$1000$"),
            (&BcryptHasher::sha256().rounds(4), "bcrypt_sha256$$2b$04$"),
            (&BcryptHasher::plain().rounds(4), "bcrypt$$2b$04$"),
        ] {
            let encoded = hasher.encode("pässwörd");
            assert!(encoded.starts_with(prefix), "{encoded}");
            assert!(hasher.verify("pässwörd", &encoded), "{encoded}");
            assert!(!hasher.verify("passwörd", &encoded), "{encoded}");
            assert!(!hasher.must_update(&encoded), "{encoded}");
            assert_eq!(
                hashers.check("pässwörd", &encoded),
                PasswordCheck::CorrectOutdated
            );
        }
    }

    #[test]
    fn weaker_settings_of_the_same_algorithm_are_upgraded() {
        let strong = Pbkdf2Hasher::sha256().iterations(2000);
        assert!(strong.must_update(DJANGO_PBKDF2_SHA256));
        assert!(
            !Pbkdf2Hasher::sha256()
                .iterations(1000)
                .must_update(DJANGO_PBKDF2_SHA256)
        );
        let hashers = PasswordHashers::new(strong);
        assert_eq!(
            hashers.check("correct horse", DJANGO_PBKDF2_SHA256),
            PasswordCheck::CorrectOutdated
        );
        assert!(BcryptHasher::sha256().must_update(DJANGO_BCRYPT_SHA256));
        assert!(
            !BcryptHasher::sha256()
                .rounds(4)
                .must_update(DJANGO_BCRYPT_SHA256)
        );
        assert!(Argon2Hasher::default().must_update(DJANGO_ARGON2));
        assert!(!Argon2Hasher::new(1024, 1, 1).must_update(DJANGO_ARGON2));
    }

    #[test]
    fn long_passwords_are_not_cut_by_bcrypt_sha256() {
        let hasher = BcryptHasher::sha256().rounds(4);
        let long = "x".repeat(80);
        let encoded = hasher.encode(&long);
        assert!(!hasher.verify(&"x".repeat(79), &encoded));
        // Plain bcrypt cuts at 72 bytes, as Django's documentation warns.
        let plain = BcryptHasher::plain().rounds(4);
        assert!(plain.verify(&"x".repeat(79), &plain.encode(&long)));
    }

    #[test]
    fn unusable_unknown_and_malformed_hashes_never_match() {
        let hashers = fast();
        let unusable = make_unusable_password();
        assert!(unusable.starts_with('!') && unusable.len() == 41);
        assert!(!is_password_usable(&unusable));
        assert!(!is_password_usable(""));
        for encoded in [
            unusable.as_str(),
            "",
            "!",
            "md5$salt$0123456789abcdef",
            "pbkdf2_sha256$notanumber$salt$hash",
            "pbkdf2_sha256$0$saltsalt$qQDPSZa3Ormyy9oK1Pu0ZLLwP2Svzmx3yu8OvDdq/J0=",
            "pbkdf2_sha256$1000$saltsalt",
            "argon2$argon2id$garbage",
            "argon2",
            "bcrypt_sha256$notbcrypt",
            "bcrypt_sha256$$2b$04$short",
        ] {
            assert_eq!(
                hashers.check("", encoded),
                PasswordCheck::Wrong,
                "{encoded}"
            );
            assert_eq!(
                hashers.check("correct horse", encoded),
                PasswordCheck::Wrong,
                "{encoded}"
            );
        }
        assert!(
            PasswordHashers::new(Argon2Hasher::new(1024, 1, 1))
                .identify(DJANGO_PBKDF2_SHA256)
                .is_none()
        );
    }
}

//! Password validation, as Django's `AUTH_PASSWORD_VALIDATORS`: rules a
//! new password must pass, each with an error message and a help text for
//! the form. The default set is Django's: at least 8 characters, not too
//! similar to the user's name or email, not one of 20 000 common passwords,
//! not all digits. All failing rules are reported, not only the first.
//!
//! ```
//! use estate::auth::password_validation::{PasswordValidators, UserAttribute};
//!
//! let validators = PasswordValidators::default();
//! let ann = [UserAttribute::new("username", "annsmith")];
//! assert!(validators.validate("plum-crumble-42", &ann).is_ok());
//! let errors = validators.validate("annsmith1", &ann).unwrap_err();
//! assert_eq!(errors, ["The password is too similar to the username."]);
//! let errors = validators.validate("1234", &[]).unwrap_err();
//! assert_eq!(errors, [
//!     "This password is too short. It must contain at least 8 characters.",
//!     "This password is too common.",
//!     "This password is entirely numeric.",
//! ]);
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read as _;
use std::sync::{Arc, LazyLock};

/// One of the user's own values a password should not resemble, with the
/// name shown in the message ("email address").
#[derive(Clone, Copy, Debug)]
pub struct UserAttribute<'a> {
    /// The field's human name, as in "too similar to the *email address*".
    pub verbose_name: &'a str,
    /// The user's value of it.
    pub value: &'a str,
}

impl<'a> UserAttribute<'a> {
    /// An attribute named `verbose_name` with `value`.
    pub fn new(verbose_name: &'a str, value: &'a str) -> UserAttribute<'a> {
        UserAttribute {
            verbose_name,
            value,
        }
    }
}

/// A rule new passwords must pass.
pub trait PasswordValidator: Send + Sync + fmt::Debug {
    /// `Err(message)` when `password` breaks the rule; `user` holds the
    /// account's own values (empty when unknown).
    ///
    /// # Errors
    /// The message to show next to the password field.
    fn validate(&self, password: &str, user: &[UserAttribute<'_>]) -> Result<(), String>;

    /// The rule, told to the user before they choose a password.
    fn help_text(&self) -> String;
}

/// The rules a site applies (Django's `AUTH_PASSWORD_VALIDATORS`).
#[derive(Clone, Debug)]
pub struct PasswordValidators {
    validators: Vec<Arc<dyn PasswordValidator>>,
}

impl Default for PasswordValidators {
    /// Django's four: [`UserAttributeSimilarity`], [`MinimumLength`] of 8,
    /// [`CommonPassword`], [`NumericPassword`].
    fn default() -> Self {
        PasswordValidators::none()
            .with(UserAttributeSimilarity::default())
            .with(MinimumLength(8))
            .with(CommonPassword)
            .with(NumericPassword)
    }
}

impl PasswordValidators {
    /// No rules at all (any password, even empty, passes).
    pub fn none() -> PasswordValidators {
        PasswordValidators {
            validators: Vec::new(),
        }
    }

    /// These rules and `validator`.
    #[must_use]
    pub fn with(mut self, validator: impl PasswordValidator + 'static) -> PasswordValidators {
        self.validators.push(Arc::new(validator));
        self
    }

    /// Every rule's message that `password` breaks, in the rules' order.
    ///
    /// # Errors
    /// The messages, when there is at least one.
    pub fn validate(&self, password: &str, user: &[UserAttribute<'_>]) -> Result<(), Vec<String>> {
        let errors: Vec<String> = self
            .validators
            .iter()
            .filter_map(|v| v.validate(password, user).err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Each rule's help text, for the form's help under the password field.
    pub fn help_texts(&self) -> Vec<String> {
        self.validators.iter().map(|v| v.help_text()).collect()
    }
}

/// At least this many characters (Django's `MinimumLengthValidator`).
#[derive(Clone, Copy, Debug)]
pub struct MinimumLength(pub usize);

fn characters(n: usize) -> &'static str {
    if n == 1 { "character" } else { "characters" }
}

impl PasswordValidator for MinimumLength {
    fn validate(&self, password: &str, _user: &[UserAttribute<'_>]) -> Result<(), String> {
        if password.chars().count() < self.0 {
            return Err(format!(
                "This password is too short. It must contain at least {} {}.",
                self.0,
                characters(self.0)
            ));
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        format!(
            "Your password must contain at least {} {}.",
            self.0,
            characters(self.0)
        )
    }
}

/// Not too similar to the user's own values or to any word of them
/// (Django's `UserAttributeSimilarityValidator`, with its measure: the
/// share of characters the two have in common).
#[derive(Clone, Copy, Debug)]
pub struct UserAttributeSimilarity {
    max_similarity: f64,
}

impl Default for UserAttributeSimilarity {
    /// Django's limit: 0.7.
    fn default() -> Self {
        UserAttributeSimilarity {
            max_similarity: 0.7,
        }
    }
}

impl UserAttributeSimilarity {
    /// Refuse passwords at least this similar (0.1 to 1.0).
    ///
    /// # Panics
    /// Below 0.1, which would refuse nearly every password (Django refuses
    /// it too).
    pub fn max_similarity(max_similarity: f64) -> UserAttributeSimilarity {
        assert!(max_similarity >= 0.1, "max_similarity must be at least 0.1");
        UserAttributeSimilarity { max_similarity }
    }
}

/// Python's `SequenceMatcher(a, b).quick_ratio()`: twice the number of
/// characters the two strings share (as multisets) over their total length.
fn quick_ratio(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let mut available: HashMap<char, usize> = HashMap::new();
    for c in b {
        *available.entry(*c).or_default() += 1;
    }
    let mut matches = 0usize;
    for c in a {
        if let Some(n) = available.get_mut(c).filter(|n| **n > 0) {
            *n -= 1;
            matches += 1;
        }
    }
    2.0 * matches as f64 / (a.len() + b.len()) as f64
}

impl PasswordValidator for UserAttributeSimilarity {
    fn validate(&self, password: &str, user: &[UserAttribute<'_>]) -> Result<(), String> {
        let password: Vec<char> = password.to_lowercase().chars().collect();
        for attribute in user.iter().filter(|a| !a.value.is_empty()) {
            let value = attribute.value.to_lowercase();
            // The whole value and each of its words (`\W+` splits).
            let parts = value
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .chain(std::iter::once(value.as_str()));
            for part in parts {
                let part: Vec<char> = part.chars().collect();
                // A value a tenth of the password's length or less cannot
                // reach the limit: skip the count (Django's shortcut).
                let far_shorter = password.len() >= 10 * part.len()
                    && (part.len() as f64) < self.max_similarity / 2.0 * password.len() as f64;
                if !far_shorter && quick_ratio(&password, &part) >= self.max_similarity {
                    return Err(format!(
                        "The password is too similar to the {}.",
                        attribute.verbose_name
                    ));
                }
            }
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can’t be too similar to your other personal information.".to_owned()
    }
}

/// Django's list of 20 000 common passwords (lowercased; BSD-licensed with
/// Django, compiled by Royce Williams), decompressed on first use.
static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    const LIST: &[u8] = include_bytes!("common-passwords.txt.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(LIST)
        .read_to_string(&mut text)
        .expect("the embedded password list is valid gzip");
    text.lines().map(|line| line.trim().to_owned()).collect()
});

/// Not one of 20 000 common passwords, compared lowercased (Django's
/// `CommonPasswordValidator` with its list).
#[derive(Clone, Copy, Debug)]
pub struct CommonPassword;

impl PasswordValidator for CommonPassword {
    fn validate(&self, password: &str, _user: &[UserAttribute<'_>]) -> Result<(), String> {
        if COMMON_PASSWORDS.contains(password.trim().to_lowercase().as_str()) {
            return Err("This password is too common.".to_owned());
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can’t be a commonly used password.".to_owned()
    }
}

/// Not entirely digits (Django's `NumericPasswordValidator`).
#[derive(Clone, Copy, Debug)]
pub struct NumericPassword;

impl PasswordValidator for NumericPassword {
    fn validate(&self, password: &str, _user: &[UserAttribute<'_>]) -> Result<(), String> {
        if !password.is_empty() && password.chars().all(char::is_numeric) {
            return Err("This password is entirely numeric.".to_owned());
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can’t be entirely numeric.".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_length_counts_characters_and_says_how_many() {
        assert!(MinimumLength(8).validate("ääääääää", &[]).is_ok());
        assert_eq!(
            MinimumLength(8).validate("short", &[]).unwrap_err(),
            "This password is too short. It must contain at least 8 characters."
        );
        assert_eq!(
            MinimumLength(1).validate("", &[]).unwrap_err(),
            "This password is too short. It must contain at least 1 character."
        );
        assert_eq!(
            MinimumLength(12).help_text(),
            "Your password must contain at least 12 characters."
        );
    }

    #[test]
    fn similarity_matches_djangos_measure() {
        // Python: SequenceMatcher(a="testclient", b="testclient1").quick_ratio()
        let ratio = |a: &str, b: &str| {
            quick_ratio(
                &a.chars().collect::<Vec<_>>(),
                &b.chars().collect::<Vec<_>>(),
            )
        };
        assert!((ratio("testclient", "testclient1") - 20.0 / 21.0).abs() < 1e-9);
        assert!((ratio("abc", "xyz")).abs() < 1e-9);
        let email = [UserAttribute::new("email address", "Ann.Smith@example.com")];
        let similar = UserAttributeSimilarity::default();
        // Each word of the address counts, case ignored.
        assert_eq!(
            similar.validate("SMITHS", &email).unwrap_err(),
            "The password is too similar to the email address."
        );
        assert!(similar.validate("example.com", &email).is_err());
        assert!(similar.validate("correct horse battery", &email).is_ok());
        // Far longer passwords skip short values.
        assert!(
            similar
                .validate(
                    "annannannannannannannannannann",
                    &[UserAttribute::new("first name", "ann")]
                )
                .is_ok()
        );
        assert!(
            UserAttributeSimilarity::max_similarity(1.0)
                .validate("smitha", &email)
                .is_ok()
        );
        assert!(
            similar
                .validate("anything", &[UserAttribute::new("username", "")])
                .is_ok()
        );
    }

    #[test]
    fn common_and_numeric_passwords_are_refused() {
        for common in ["password", "Password", " qwerty ", "123456", "iloveyou"] {
            assert!(CommonPassword.validate(common, &[]).is_err(), "{common}");
        }
        assert!(CommonPassword.validate("plum-crumble-42", &[]).is_ok());
        assert_eq!(
            NumericPassword.validate("20261126", &[]).unwrap_err(),
            "This password is entirely numeric."
        );
        assert!(NumericPassword.validate("2026-11-26", &[]).is_ok());
    }

    #[test]
    fn every_failing_rule_is_reported_with_help_texts_listed() {
        let validators = PasswordValidators::default();
        assert_eq!(validators.help_texts().len(), 4);
        assert!(PasswordValidators::none().validate("", &[]).is_ok());
        let errors = validators
            .validate("ann1", &[UserAttribute::new("username", "ann1")])
            .unwrap_err();
        assert_eq!(
            errors,
            [
                "The password is too similar to the username.",
                "This password is too short. It must contain at least 8 characters.",
            ]
        );
    }
}

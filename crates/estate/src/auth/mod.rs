//! Authentication, as Django's `django.contrib.auth`. So far: password
//! hashing ([`hashers`]: argon2id by default, Django's hashes verified and
//! upgraded) and password rules ([`password_validation`]).

pub mod hashers;
pub mod password_validation;

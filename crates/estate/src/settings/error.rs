//! Errors found while loading settings. Each names the key, where its value
//! came from, and what form was expected, so the fix is obvious.

use std::fmt;
use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Estate's built-in default.
    Default,
    /// Set in code (for example `App::new().debug(true)`).
    Code,
    /// A settings file (usually `estate.toml`).
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
    /// Generated at startup (the per-run DEBUG secret key).
    Generated,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("the default"),
            Source::Code => f.write_str("code"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Generated => f.write_str("generated at startup"),
        }
    }
}

/// A setting that is missing, malformed, or unknown.
#[derive(Debug)]
#[non_exhaustive]
pub enum SettingsError {
    /// A value is present but not of the expected form.
    Invalid {
        /// Dotted key, e.g. `limits.max_body_size`.
        key: String,
        /// Where the bad value came from.
        source: Source,
        /// The offending value, as written.
        found: String,
        /// The expected form, in words.
        expected: String,
    },
    /// A required value is absent.
    Missing {
        /// Dotted key.
        key: String,
        /// How to provide it.
        hint: String,
    },
    /// A key no part of the project reads (usually a typo).
    Unknown {
        /// Dotted key as written.
        key: String,
        /// Where it was written.
        source: Source,
        /// The closest known key, if any.
        suggestion: Option<String>,
    },
    /// The settings file could not be read.
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        error: std::io::Error,
    },
    /// The settings file is not valid TOML.
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and column.
        message: String,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Invalid {
                key,
                source,
                found,
                expected,
            } => write!(
                f,
                "invalid setting `{key}` = {found} (from {source}): expected {expected}"
            ),
            SettingsError::Missing { key, hint } => {
                write!(f, "missing setting `{key}`: {hint}")
            }
            SettingsError::Unknown {
                key,
                source,
                suggestion,
            } => {
                write!(f, "unknown setting `{key}` (in {source})")?;
                match suggestion {
                    Some(known) => write!(f, ": did you mean `{known}`?"),
                    None => f.write_str(
                        ": no part of the project reads it; remove it or check the spelling",
                    ),
                }
            }
            SettingsError::Read { path, error } => {
                write!(f, "cannot read settings file {}: {error}", path.display())
            }
            SettingsError::Parse { path, message } => {
                write!(
                    f,
                    "settings file {} is not valid TOML: {message}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for SettingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SettingsError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

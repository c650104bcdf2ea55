//! [`MailError`]: what went wrong building or sending a message, naming the
//! address, header, server or file concerned (never the SMTP password).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A message could not be built or sent.
///
/// Converts into [`crate::Error`] with `?` (a 500 page whose details show
/// in DEBUG only).
#[derive(Debug)]
#[non_exhaustive]
pub enum MailError {
    /// An address does not parse as `user@example.com` or
    /// `Name <user@example.com>`.
    InvalidAddress {
        /// Where it was given: `from`, `to`, `cc`, `bcc` or `reply_to`.
        field: &'static str,
        /// The address as given.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// A header value (subject, address, extra header, attachment name)
    /// holds a line break or another control character: refused, since it
    /// could add headers of an attacker's choosing.
    HeaderInjection {
        /// The header or field concerned.
        field: String,
    },
    /// The message cannot be built: no recipient, a reserved or malformed
    /// extra header, a malformed attachment content type.
    InvalidMessage {
        /// What is wrong, in words.
        reason: String,
    },
    /// The SMTP server could not be reached, or the connection broke.
    Connection {
        /// `host:port`.
        server: String,
        /// The underlying error.
        reason: String,
    },
    /// The SMTP server did not answer within `mail.smtp_timeout`.
    Timeout {
        /// `host:port`.
        server: String,
        /// The time waited.
        after: Duration,
    },
    /// The TLS handshake failed (bad certificate, no `STARTTLS` offered,
    /// a plain-text server on a TLS port).
    Tls {
        /// `host:port`.
        server: String,
        /// The underlying error.
        reason: String,
    },
    /// The SMTP server refused the login (or asked for one).
    Auth {
        /// `host:port`.
        server: String,
        /// The user name tried, if any.
        username: Option<String>,
        /// The server's reply.
        reply: String,
    },
    /// The SMTP server refused the message (a sender or recipient it does
    /// not accept, a message too large...).
    Rejected {
        /// `host:port`.
        server: String,
        /// The SMTP reply code, such as 550.
        code: u16,
        /// The server's reply text.
        reply: String,
    },
    /// The file backend could not write a message.
    File {
        /// The file or folder concerned.
        path: PathBuf,
        /// The IO error.
        error: std::io::Error,
    },
    /// The console backend could not write to its output.
    Output(std::io::Error),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::InvalidAddress {
                field,
                address,
                reason,
            } => write!(
                f,
                "invalid email address {address:?} in {field}: {reason} (expected \
                 user@example.com or Name <user@example.com>)"
            ),
            MailError::HeaderInjection { field } => write!(
                f,
                "refused to send: the {field} contains a line break or control character \
                 (header injection)"
            ),
            MailError::InvalidMessage { reason } => write!(f, "invalid email message: {reason}"),
            MailError::Connection { server, reason } => write!(
                f,
                "cannot talk to the SMTP server {server}: {reason} (check mail.smtp_host, \
                 mail.smtp_port and that the server is running)"
            ),
            MailError::Timeout { server, after } => write!(
                f,
                "the SMTP server {server} did not answer within {after:?} (mail.smtp_timeout)"
            ),
            MailError::Tls { server, reason } => write!(
                f,
                "TLS with the SMTP server {server} failed: {reason} (check mail.smtp_security: \
                 \"tls\" for port 465, \"starttls\" for 587)"
            ),
            MailError::Auth {
                server,
                username: Some(user),
                reply,
            } => write!(
                f,
                "the SMTP server {server} refused the login of user {user:?}: {reply} (check \
                 mail.smtp_username and mail.smtp_password)"
            ),
            MailError::Auth {
                server,
                username: None,
                reply,
            } => write!(
                f,
                "the SMTP server {server} requires a login: {reply} (set mail.smtp_username \
                 and mail.smtp_password)"
            ),
            MailError::Rejected {
                server,
                code,
                reply,
            } => write!(
                f,
                "the SMTP server {server} refused the message: {code} {reply}"
            ),
            MailError::File { path, error } => {
                write!(f, "cannot write email to {}: {error}", path.display())
            }
            MailError::Output(error) => write!(f, "cannot print email: {error}"),
        }
    }
}

impl std::error::Error for MailError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MailError::File { error, .. } | MailError::Output(error) => Some(error),
            _ => None,
        }
    }
}

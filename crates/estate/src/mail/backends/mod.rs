//! Where messages go: the [`MailBackend`] trait and Estate's four backends,
//! chosen by `mail.backend`.
//!
//! | backend | use it for |
//! |---|---|
//! | [`ConsoleBackend`] | development: every message printed to standard output |
//! | [`SmtpBackend`] | production: delivery through an SMTP server or relay |
//! | [`FileBackend`] | a staging server or a demo: one `.eml` file per message, readable by any mail reader |
//! | [`MemoryBackend`] | tests: messages kept in an outbox to assert on |

mod console;
mod file;
mod memory;
mod smtp;

use futures_util::future::BoxFuture;

pub use console::ConsoleBackend;
pub use file::FileBackend;
pub use memory::{MemoryBackend, SentEmail};
pub use smtp::SmtpBackend;

use super::error::MailError;
use super::message::OutgoingEmail;

/// A way of delivering messages. Implement it to send through an HTTP API
/// or a queue, and hand it to [`Mailer::new`](super::Mailer::new).
pub trait MailBackend: Send + Sync + 'static {
    /// Delivers one checked message (its envelope and MIME bytes).
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<(), MailError>>;

    /// A short name for messages and logs (`smtp`, `console`...).
    fn name(&self) -> &'static str;
}

//! The memory backend: messages kept in an outbox, for tests (Django's
//! `locmem` backend and `mail.outbox`).

use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::BoxFuture;

use super::MailBackend;
use crate::mail::error::MailError;
use crate::mail::message::OutgoingEmail;

/// A message the memory backend kept: subject, addresses, text and HTML
/// bodies, attachments and the raw MIME message.
pub type SentEmail = OutgoingEmail;

/// Keeps every message in memory instead of sending it. Use it in tests
/// (`mail.backend = "memory"`) and read
/// [`Mailer::outbox`](crate::mail::Mailer::outbox). Clones share the outbox.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    outbox: Arc<Mutex<Vec<SentEmail>>>,
}

impl MemoryBackend {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The messages sent so far, oldest first.
    pub fn outbox(&self) -> Vec<SentEmail> {
        self.lock().clone()
    }

    /// Empties the outbox.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<SentEmail>> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MailBackend for MemoryBackend {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<(), MailError>> {
        self.lock().push(email.clone());
        Box::pin(async { Ok(()) })
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

//! [`Mailer`]: the configured backend and addresses, handed to every
//! handler and command.

use std::any::Any;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::backends::{
    ConsoleBackend, FileBackend, MailBackend, MemoryBackend, SentEmail, SmtpBackend,
};
use super::error::MailError;
use super::message::EmailMessage;
use crate::context::AppContext;
use crate::settings::{MailBackendKind, MailSettings};

/// Sends email through the backend chosen by the `[mail]` settings. The app
/// makes one at startup; take it in a handler as an extractor, or from
/// [`AppContext::get`] in commands and startup hooks. Cloning is cheap (one
/// `Arc`), and clones share the backend (and the SMTP connections).
///
/// ```
/// use estate::prelude::*;
/// use estate::mail::{EmailMessage, Mailer};
///
/// async fn welcome(mailer: Mailer) -> estate::Result<&'static str> {
///     mailer
///         .send(EmailMessage::new().subject("Welcome").text("Hello!").to("ann@example.com"))
///         .await?;
///     Ok("sent")
/// }
/// ```
#[derive(Clone)]
pub struct Mailer(Arc<MailerInner>);

struct MailerInner {
    backend: Box<dyn MailBackend>,
    outbox: Option<MemoryBackend>,
    default_from_email: String,
    server_email: String,
    subject_prefix: String,
    admins: Vec<String>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("backend", &self.backend_name())
            .field("default_from_email", &self.0.default_from_email)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// The backend and addresses of `[mail]` (no connection is made yet).
    pub fn from_settings(settings: &MailSettings) -> Mailer {
        match settings.backend {
            MailBackendKind::Console => Mailer::new(ConsoleBackend::new(), settings),
            MailBackendKind::Smtp => Mailer::new(SmtpBackend::from_settings(settings), settings),
            MailBackendKind::File => {
                let dir = settings.file_path.clone().unwrap_or_default();
                Mailer::new(FileBackend::new(dir), settings)
            }
            MailBackendKind::Memory => Mailer::new(MemoryBackend::new(), settings),
        }
    }

    /// A mailer sending through `backend` (one of Estate's or your own),
    /// with the addresses of `settings` (`default_from_email`,
    /// `server_email`, `subject_prefix`, `admins`).
    pub fn new<B: MailBackend>(backend: B, settings: &MailSettings) -> Mailer {
        let outbox = (&backend as &dyn Any)
            .downcast_ref::<MemoryBackend>()
            .cloned();
        Mailer(Arc::new(MailerInner {
            backend: Box::new(backend),
            outbox,
            default_from_email: settings.default_from_email.clone(),
            server_email: settings.server_email.clone(),
            subject_prefix: settings.subject_prefix.clone(),
            admins: settings.admins.clone(),
        }))
    }

    /// Checks and sends one message. A malformed address, a line break in
    /// a header or a message without recipients is refused before anything
    /// is sent.
    pub async fn send(&self, message: EmailMessage) -> Result<(), MailError> {
        let email = message.prepare(&self.0.default_from_email)?;
        self.0.backend.send(&email).await?;
        tracing::debug!(
            target: "estate::mail",
            backend = self.backend_name(),
            to = ?email.recipients(),
            "sent email {:?}",
            email.subject()
        );
        Ok(())
    }

    /// Checks every message, then sends them in order (over one SMTP
    /// connection). Nothing is sent if one is malformed; delivery stops at
    /// the first failure (the messages before it were sent).
    pub async fn send_many(
        &self,
        messages: impl IntoIterator<Item = EmailMessage>,
    ) -> Result<(), MailError> {
        let emails = messages
            .into_iter()
            .map(|message| message.prepare(&self.0.default_from_email))
            .collect::<Result<Vec<_>, _>>()?;
        for email in &emails {
            self.0.backend.send(email).await?;
        }
        Ok(())
    }

    /// The messages the memory backend kept, oldest first.
    ///
    /// # Panics
    /// If the backend is not the memory backend: set `mail.backend =
    /// "memory"` (or `ESTATE_MAIL__BACKEND=memory`) for the tests.
    pub fn outbox(&self) -> Vec<SentEmail> {
        self.memory("outbox").outbox()
    }

    /// Empties the memory backend's outbox.
    ///
    /// # Panics
    /// If the backend is not the memory backend.
    pub fn clear_outbox(&self) {
        self.memory("clear_outbox").clear();
    }

    fn memory(&self, method: &str) -> &MemoryBackend {
        self.0.outbox.as_ref().unwrap_or_else(|| {
            panic!(
                "Mailer::{method}() needs the memory backend, but this mailer sends with \
                 `{}`: set mail.backend = \"memory\" (ESTATE_MAIL__BACKEND=memory) in tests",
                self.backend_name()
            )
        })
    }

    /// The backend's name: `console`, `smtp`, `file`, `memory` or your own.
    pub fn backend_name(&self) -> &'static str {
        self.0.backend.name()
    }

    /// The sender of messages that name none (`mail.default_from_email`).
    pub fn default_from_email(&self) -> &str {
        &self.0.default_from_email
    }

    /// The sender of messages to the admins (`mail.server_email`).
    pub fn server_email(&self) -> &str {
        &self.0.server_email
    }

    /// The prefix of the admins' subjects (`mail.subject_prefix`).
    pub fn subject_prefix(&self) -> &str {
        &self.0.subject_prefix
    }

    /// The site admins' addresses (`mail.admins`).
    pub fn admins(&self) -> &[String] {
        &self.0.admins
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Mailer {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let context = AppContext::from_request_parts(parts, state).await?;
        context.get::<Mailer>().cloned().ok_or_else(|| {
            crate::Error::msg(
                "no Mailer is available: an Estate app provides one at startup from its [mail] \
                 settings, but this request's context has none",
            )
        })
    }
}

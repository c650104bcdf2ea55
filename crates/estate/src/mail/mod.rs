//! Sending email, as Django's `django.core.mail`: build an
//! [`EmailMessage`] and send it with the app's [`Mailer`], or use
//! [`send_mail`] and [`mail_admins`].
//!
//! ```
//! use estate::prelude::*;
//! use estate::mail::{Mailer, send_mail};
//!
//! async fn contact(mailer: Mailer) -> estate::Result<&'static str> {
//!     send_mail(
//!         &mailer,
//!         "Thanks for writing",
//!         "We will answer within a day.",
//!         None, // mail.default_from_email
//!         &["ann@example.com"],
//!         Some("<p>We will answer <b>within a day</b>.</p>"),
//!     )
//!     .await?;
//!     Ok("sent")
//! }
//! ```
//!
//! The `[mail]` settings ([`MailSettings`])
//! choose the backend ([`backends`]): `console` in DEBUG (messages are
//! printed, nothing goes out), `smtp` otherwise, `file` to keep `.eml`
//! files, `memory` for tests, which read [`Mailer::outbox`]. The
//! `sendtestemail` command checks the configuration end to end.
//!
//! Header injection is refused: a line break in a subject, an address or a
//! header makes [`Mailer::send`] fail with [`MailError::HeaderInjection`]
//! before anything is sent. See the [guide](crate::guide::mail).

pub mod backends;
pub(crate) mod commands;
mod error;
mod mailer;
mod message;

pub use backends::{MailBackend, SentEmail};
pub use error::MailError;
pub use mailer::Mailer;
pub use message::{Attachment, EmailMessage, OutgoingEmail};

pub(crate) use message::check_address;

use crate::cli::CheckMessage;
use crate::settings::{MailBackendKind, MailSettings, SmtpSecurity};

/// Sends one message (Django's `send_mail`): `from` `None` means
/// `mail.default_from_email`; `html`, when given, is sent as an HTML
/// alternative to `text`. Every address in `to` gets the same message and
/// sees the others.
pub async fn send_mail(
    mailer: &Mailer,
    subject: &str,
    text: &str,
    from: Option<&str>,
    to: &[&str],
    html: Option<&str>,
) -> Result<(), MailError> {
    let mut message = EmailMessage::new().subject(subject).text(text);
    if let Some(from) = from {
        message = message.from(from);
    }
    for address in to {
        message = message.to(*address);
    }
    if let Some(html) = html {
        message = message.html(html);
    }
    mailer.send(message).await
}

/// Sends a message to the site admins (`mail.admins`; Django's
/// `mail_admins`), from `mail.server_email`, its subject prefixed with
/// `mail.subject_prefix`. Does nothing when no admin is set.
pub async fn mail_admins(
    mailer: &Mailer,
    subject: &str,
    text: &str,
    html: Option<&str>,
) -> Result<(), MailError> {
    if mailer.admins().is_empty() {
        return Ok(());
    }
    let mut message = EmailMessage::new()
        .subject(format!("{}{subject}", mailer.subject_prefix()))
        .text(text)
        .from(mailer.server_email());
    for admin in mailer.admins() {
        message = message.to(admin.as_str());
    }
    if let Some(html) = html {
        message = message.html(html);
    }
    mailer.send(message).await
}

/// `check --deploy`: mail that would not be delivered, or a password sent in
/// plain text.
pub(crate) fn deploy_checks(mail: &MailSettings) -> Vec<CheckMessage> {
    let mut out = Vec::new();
    if matches!(
        mail.backend,
        MailBackendKind::Console | MailBackendKind::Memory
    ) {
        out.push(
            CheckMessage::warning(
                "mail.W001",
                format!(
                    "mail.backend is \"{}\": email is {}, never delivered.",
                    mail.backend.as_str(),
                    if mail.backend == MailBackendKind::Console {
                        "printed to standard output"
                    } else {
                        "kept in memory"
                    }
                ),
            )
            .hint("Set backend = \"smtp\" under [mail] (or ESTATE_MAIL__BACKEND=smtp) with the server's smtp_host and smtp_port."),
        );
    }
    let local = ["localhost", "127.0.0.1", "::1"].contains(&mail.smtp_host.as_str());
    if mail.backend == MailBackendKind::Smtp
        && mail.smtp_username.is_some()
        && mail.smtp_security == SmtpSecurity::None
        && !local
    {
        out.push(
            CheckMessage::warning(
                "mail.W002",
                format!(
                    "mail.smtp_security is \"none\" with a login: the SMTP password travels to \
                     {} in plain text.",
                    mail.smtp_host
                ),
            )
            .hint(
                "Set smtp_security = \"starttls\" (port 587) or \"tls\" (port 465) under [mail].",
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SettingsLoader;

    fn codes(settings: SettingsLoader) -> Vec<String> {
        let settings = settings.set("debug", true).load().unwrap();
        deploy_checks(&settings.mail)
            .into_iter()
            .map(|m| m.id)
            .collect()
    }

    #[test]
    fn deploy_checks_warn_of_undelivered_mail_and_plain_text_passwords() {
        assert_eq!(codes(SettingsLoader::new()), ["mail.W001"]);
        assert_eq!(
            codes(SettingsLoader::new().set("mail.backend", "memory")),
            ["mail.W001"]
        );
        assert!(codes(SettingsLoader::new().set("mail.backend", "smtp")).is_empty());
        let login = || {
            SettingsLoader::new()
                .set("mail.backend", "smtp")
                .set("mail.smtp_username", "u")
                .set("mail.smtp_password", "p")
        };
        assert!(codes(login()).is_empty(), "localhost is fine");
        assert_eq!(
            codes(login().set("mail.smtp_host", "smtp.example.com")),
            ["mail.W002"]
        );
        assert!(
            codes(
                login()
                    .set("mail.smtp_host", "smtp.example.com")
                    .set("mail.smtp_port", 587)
            )
            .is_empty()
        );
    }
}

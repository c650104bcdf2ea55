//! The SMTP backend: delivery through a mail server, over plain text,
//! STARTTLS or TLS (rustls), with an optional login and a connection pool.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::{Error as SmtpError, PoolConfig};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::MailBackend;
use crate::mail::error::MailError;
use crate::mail::message::OutgoingEmail;
use crate::settings::{MailSettings, SecretKey, SmtpSecurity};

type Transport = Arc<AsyncSmtpTransport<Tokio1Executor>>;

/// Sends through an SMTP server (`mail.smtp_host`, `mail.smtp_port`): the
/// production backend (Django's `smtp.EmailBackend`). Use a local relay or
/// your provider's submission server.
///
/// - `mail.smtp_security`: `none` (plain text, for a relay on the same
///   host), `starttls` (upgrade a plain connection; refused if the server
///   does not offer it) or `tls` (TLS from the first byte). Certificates
///   are checked against the Mozilla root store and the host name.
/// - `mail.smtp_username` / `mail.smtp_password`: log in with `AUTH PLAIN`
///   or `AUTH LOGIN`, whichever the server offers.
/// - Connections are opened on the first message and kept for the next
///   ones (up to 4 at once, closed after a minute idle).
/// - `mail.smtp_timeout` bounds each message's whole exchange with the
///   server, connecting included; after a timeout the pooled connections
///   are dropped and the next message starts afresh.
pub struct SmtpBackend {
    host: String,
    port: u16,
    security: SmtpSecurity,
    login: Option<(String, SecretKey)>,
    timeout: Duration,
    root_certificates: Vec<Vec<u8>>,
    /// Built on first use, inside the runtime that sends (the pool spawns a
    /// task); replaced after a timeout or a broken connection.
    transport: Mutex<Option<Transport>>,
}

impl std::fmt::Debug for SmtpBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpBackend")
            .field("server", &self.server())
            .field("security", &self.security)
            .field("username", &self.login.as_ref().map(|(user, _)| user))
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SmtpBackend {
    /// The server, security, login and timeout of `mail.smtp_*`. Connects
    /// only when the first message is sent.
    pub fn from_settings(settings: &MailSettings) -> Self {
        SmtpBackend {
            host: settings.smtp_host.clone(),
            port: settings.smtp_port,
            security: settings.smtp_security,
            login: settings
                .smtp_username
                .clone()
                .zip(settings.smtp_password.clone()),
            timeout: settings.smtp_timeout,
            root_certificates: Vec::new(),
            transport: Mutex::new(None),
        }
    }

    /// Also trusts the certificates of this PEM file (a private CA of an
    /// internal relay, or a test server's own certificate).
    pub fn add_root_certificate(mut self, pem: &[u8]) -> Result<Self, MailError> {
        let has_certificate = String::from_utf8_lossy(pem).contains("-----BEGIN CERTIFICATE-----");
        if !has_certificate || Certificate::from_pem(pem).is_err() {
            return Err(MailError::Tls {
                server: self.server(),
                reason: "the root certificate given is not a PEM certificate".to_owned(),
            });
        }
        self.root_certificates.push(pem.to_vec());
        *self.slot() = None;
        Ok(self)
    }

    /// `host:port`.
    pub fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Transport>> {
        self.transport.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pooled transport, built on first use.
    fn transport(&self) -> Result<Transport, MailError> {
        let mut slot = self.slot();
        if let Some(transport) = &*slot {
            return Ok(transport.clone());
        }
        let transport = Arc::new(self.build()?);
        *slot = Some(transport.clone());
        Ok(transport)
    }

    /// Drops `used` (and its pooled connections, once no message uses
    /// them) unless it was already replaced.
    fn discard(&self, used: &Transport) {
        let mut slot = self.slot();
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, used))
        {
            *slot = None;
        }
    }

    fn build(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .timeout(Some(self.timeout))
            .pool_config(
                PoolConfig::new()
                    .max_size(4)
                    .idle_timeout(Duration::from_secs(60)),
            );
        builder = match self.security {
            SmtpSecurity::None => builder.tls(Tls::None),
            SmtpSecurity::StartTls => builder.tls(Tls::Required(self.tls_parameters()?)),
            SmtpSecurity::Tls => builder.tls(Tls::Wrapper(self.tls_parameters()?)),
        };
        if let Some((user, password)) = &self.login {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(builder.build())
    }

    fn tls_parameters(&self) -> Result<TlsParameters, MailError> {
        let tls_error = |err: SmtpError| MailError::Tls {
            server: self.server(),
            reason: reason(&err),
        };
        let mut builder = TlsParameters::builder(self.host.clone());
        for pem in &self.root_certificates {
            builder = builder.add_root_certificate(Certificate::from_pem(pem).map_err(tls_error)?);
        }
        builder.build_rustls().map_err(tls_error)
    }

    async fn deliver(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        let transport = self.transport()?;
        let sending = transport.send_raw(&email.envelope, email.raw());
        match tokio::time::timeout(self.timeout, sending).await {
            Ok(Ok(_reply)) => Ok(()),
            Ok(Err(err)) => {
                let error = self.classify(&err);
                // A refusal leaves the connection usable; anything else may
                // leave it mid-conversation.
                if !matches!(error, MailError::Rejected { .. }) {
                    self.discard(&transport);
                }
                Err(error)
            }
            Err(_elapsed) => {
                self.discard(&transport);
                Err(MailError::Timeout {
                    server: self.server(),
                    after: self.timeout,
                })
            }
        }
    }

    /// Turns lettre's error into one that names the server and the cause.
    fn classify(&self, err: &SmtpError) -> MailError {
        let server = self.server();
        if err.is_timeout() {
            return MailError::Timeout {
                server,
                after: self.timeout,
            };
        }
        let text = reason(err);
        if is_tls(err) || (err.is_client() && text.contains("STARTTLS")) {
            return MailError::Tls {
                server,
                reason: text,
            };
        }
        let username = self.login.as_ref().map(|(user, _)| user.clone());
        if let Some(code) = err.status() {
            let code: u16 = code.to_string().parse().unwrap_or_default();
            let reply = format!("{code} {text}");
            return match code {
                // Authentication required / too weak / invalid (RFC 4954).
                530 | 534 | 535 | 538 => MailError::Auth {
                    server,
                    username,
                    reply,
                },
                _ => MailError::Rejected {
                    server,
                    code,
                    reply: text,
                },
            };
        }
        if err.is_client() && text.contains("authentication mechanism") {
            return MailError::Auth {
                server,
                username,
                reply: "the server offers neither AUTH PLAIN nor AUTH LOGIN".to_owned(),
            };
        }
        MailError::Connection {
            server,
            reason: text,
        }
    }
}

/// The most specific text of a lettre error: its innermost cause.
fn reason(err: &SmtpError) -> String {
    let mut innermost: &dyn std::error::Error = err;
    while let Some(source) = innermost.source() {
        innermost = source;
    }
    innermost.to_string()
}

/// Whether a TLS failure is anywhere in the chain (lettre reports a failed
/// handshake as a connection error caused by rustls's error).
fn is_tls(err: &SmtpError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = next {
        let tls = current
            .downcast_ref::<SmtpError>()
            .is_some_and(SmtpError::is_tls)
            || current.downcast_ref::<rustls::Error>().is_some()
            || current
                .downcast_ref::<std::io::Error>()
                .and_then(std::io::Error::get_ref)
                .is_some_and(|inner| inner.is::<rustls::Error>());
        if tls {
            return true;
        }
        next = current.source();
    }
    false
}

impl MailBackend for SmtpBackend {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(self.deliver(email))
    }

    fn name(&self) -> &'static str {
        "smtp"
    }
}

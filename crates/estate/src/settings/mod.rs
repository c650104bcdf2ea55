//! Typed, validated settings from `estate.toml`, `ESTATE_*` environment
//! variables and code.
//!
//! Sources, later overriding earlier:
//!
//! 1. Estate's defaults;
//! 2. values set in code (`App::new().debug(true)`, `App::setting(key, value)`);
//! 3. the settings file: `estate.toml` in the working directory, or the file
//!    named by `ESTATE_SETTINGS_FILE` (which must then exist);
//! 4. environment variables: `ESTATE_DEBUG`, `ESTATE_SECRET_KEY`,
//!    `ESTATE_ALLOWED_HOSTS`, and `ESTATE_<SECTION>__<KEY>` for keys in a
//!    section (`ESTATE_LIMITS__MAX_BODY_SIZE=10MB`); `DATABASE_URL` too.
//!    Environment values are read as TOML values (`true`, `42`, `["a","b"]`) or
//!    else as plain strings; list settings also accept `a.com,b.com`.
//!
//! Everything is checked when the app starts: a malformed value, a missing
//! required value, or an unknown key in the file stops startup with an error
//! naming the key, where it came from, and the expected form.
//!
//! Apps declare their own typed sections with
//! [`AppModule::settings`](crate::AppModule::settings); the `[polls]` table of
//! `estate.toml` is then deserialized into the app's type at startup.

mod error;
pub(crate) mod load;
mod ops;
mod raw;
pub(crate) mod values;

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use error::{SettingsError, Source};
pub use load::SettingsLoader;
pub use ops::{DatabaseSettings, HealthSettings, MetricsSettings};

/// The project's settings, validated at startup.
///
/// Serializes (for `diffsettings`, say) to the form the settings file
/// takes: durations as `"30s"`, secrets as `"****"`. Apps' sections are
/// not included.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Settings {
    /// Development mode: detailed error pages, relaxed host checks, a per-run
    /// secret key if none is set. Never on in production. Default `false`.
    pub debug: bool,
    /// The key for signing (sessions, CSRF, tokens). Required unless DEBUG.
    pub secret_key: SecretKey,
    /// Older keys still accepted when verifying signatures, for rotation.
    pub secret_key_fallbacks: Vec<SecretKey>,
    /// Host names this site serves (Django's `ALLOWED_HOSTS`): `example.com`,
    /// `.example.com` for a domain and its subdomains, `*` for any. Requests
    /// for other hosts get `400`. With DEBUG on and this empty, `localhost`,
    /// `127.0.0.1` and `[::1]` are allowed.
    pub allowed_hosts: Vec<String>,
    /// The database to connect to, e.g. `postgres://user@host/db`.
    pub database_url: Option<String>,
    /// Where static files are served (`/static/`, Django's `STATIC_URL`).
    pub static_url: String,
    /// Where `collectstatic` gathers the static files, and where the site
    /// serves them from outside DEBUG (Django's `STATIC_ROOT`).
    pub static_root: Option<String>,
    /// Read templates from their folders before the copies embedded in a
    /// release build (to change templates on a server without a rebuild).
    /// Loaded once and kept, unlike DEBUG, which re-reads on every render.
    /// Default false.
    pub templates_from_disk: bool,
    /// Where uploaded files are served in DEBUG (`/media/`, Django's
    /// `MEDIA_URL`).
    pub media_url: String,
    /// Where uploaded files are stored (Django's `MEDIA_ROOT`).
    pub media_root: Option<String>,
    /// Listening and shutdown.
    pub server: ServerSettings,
    /// Health and readiness probes.
    pub health: HealthSettings,
    /// The Prometheus metrics endpoint (off by default).
    pub metrics: MetricsSettings,
    /// The database connection pool.
    pub database: DatabaseSettings,
    /// Request size and time limits.
    pub limits: Limits,
    /// Log level, format and access log.
    pub logging: LoggingSettings,
    /// Security headers, HTTPS and cookie flags.
    pub security: SecuritySettings,
    /// Sending email: the backend, addresses and SMTP server.
    pub mail: MailSettings,
    #[serde(skip)]
    pub(crate) sources: BTreeMap<String, Source>,
    #[serde(skip)]
    pub(crate) sections: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    #[serde(skip)]
    pub(crate) pending_sections: toml::Table,
    #[serde(skip)]
    pub(crate) pending_entries: BTreeMap<String, raw::Entry>,
    #[serde(skip)]
    pub(crate) warnings: Vec<String>,
    /// The raw values of apps' sections, by dotted key (their typed
    /// values are in `sections`).
    #[serde(skip)]
    pub(crate) app_values: BTreeMap<String, toml::Value>,
}

/// `[server]`: where to listen and how to stop.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct ServerSettings {
    /// Address `runserver` listens on when none is given. Default `127.0.0.1:8000`.
    pub addr: String,
    /// How long in-flight requests may take to finish after SIGINT/SIGTERM.
    /// Default 30s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub shutdown_grace: Duration,
    /// How long the server keeps accepting after SIGINT/SIGTERM while the
    /// readiness probe answers 503, so load balancers take the instance out
    /// before it stops listening. Default 0s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub shutdown_delay: Duration,
}

/// `[limits]`: protection against oversized and slow requests.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct Limits {
    /// Largest request body accepted, in bytes; larger gets `413` without the
    /// body being read. Default 2.5 MiB (Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`).
    /// Routes may raise or lower it with `Route::max_body_size`.
    pub max_body_size: u64,
    /// Longest a handler may run before the client gets `503`. `0` turns it
    /// off. Default 30s.
    #[serde(serialize_with = "values::serialize_optional_duration")]
    pub request_timeout: Option<Duration>,
    /// Longest a client may take to send the request headers before the
    /// connection is closed (slowloris protection). Default 10s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub header_read_timeout: Duration,
    /// Most fields a form body may have (`400` beyond). Default 1000
    /// (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`).
    pub max_fields: usize,
    /// Most files a multipart body may carry (`400` beyond). Default 100
    /// (Django's `DATA_UPLOAD_MAX_NUMBER_FILES`).
    pub max_files: usize,
    /// Most bytes of form fields, files not counted (`413` beyond). Default
    /// 2.5 MiB (Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`).
    pub max_form_memory_size: u64,
    /// Largest single uploaded file (`413` beyond); `None` leaves only the
    /// body limit. Default none.
    #[serde(serialize_with = "values::serialize_optional_size")]
    pub max_file_size: Option<u64>,
    /// Uploaded files larger than this are streamed to a temporary file
    /// instead of memory. Default 2.5 MiB (Django's
    /// `FILE_UPLOAD_MAX_MEMORY_SIZE`).
    pub upload_memory_size: u64,
}

/// `[logging]`: what is logged and how.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct LoggingSettings {
    /// A filter such as `info` or `warn,estate=info,my_app=debug`. `RUST_LOG`,
    /// when set, takes precedence. Default `info`.
    pub level: String,
    /// `text` (default) or `json` (one object per line, for log collectors).
    pub format: LogFormat,
    /// Log one line per request (method, path, status, duration, request id)
    /// at target `estate::access`. Default: on in DEBUG, off otherwise (the
    /// load balancer usually logs access in production).
    pub access_log: bool,
    /// Record each request's SQL queries (count, time, call site), shown as
    /// an `x-query-count` header and in the access log. Default: on in
    /// DEBUG, off otherwise.
    pub query_log: bool,
    /// What to do when one request runs the same query many times (an N+1
    /// pattern): `warn` (log it, naming the call site; default), `error`
    /// (answer 500 with the details; DEBUG only) or `off`. Needs `query_log`.
    pub n_plus_one: NPlusOne,
    /// How many runs of the same query count as N+1. Default 5.
    pub n_plus_one_threshold: usize,
}

/// The N+1 query response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NPlusOne {
    /// Ignore.
    Off,
    /// Log a warning naming the call site.
    Warn,
    /// Fail the request with a 500 page listing the repeats (DEBUG only).
    Error,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The values `security.x_frame_options` accepts.
pub(crate) const X_FRAME_OPTIONS_VALUES: [&str; 2] = ["DENY", "SAMEORIGIN"];

/// `[security]`: HTTPS, HSTS, security headers, cookie flags.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct SecuritySettings {
    /// `Strict-Transport-Security` max-age in seconds on HTTPS responses;
    /// `0` (default) sends none. Opt in once the site is HTTPS-only.
    pub hsts_seconds: u64,
    /// Add `includeSubDomains` to HSTS.
    pub hsts_include_subdomains: bool,
    /// Add `preload` to HSTS.
    pub hsts_preload: bool,
    /// Redirect plain-HTTP requests to HTTPS.
    pub ssl_redirect: bool,
    /// A header set by the TLS-terminating proxy that marks a request as
    /// HTTPS, written `"X-Forwarded-Proto: https"`. Only set this if the proxy
    /// always overwrites that header.
    #[serde(serialize_with = "values::serialize_header")]
    pub secure_proxy_ssl_header: Option<(String, String)>,
    /// Send the session cookie only over HTTPS.
    pub session_cookie_secure: bool,
    /// Send the CSRF cookie only over HTTPS.
    pub csrf_cookie_secure: bool,
    /// Other origins whose unsafe requests (POST, ...) are accepted, like
    /// `https://admin.example.com` (Django's `CSRF_TRUSTED_ORIGINS`); a
    /// leading `*.` allows subdomains: `https://*.example.com`.
    pub csrf_trusted_origins: Vec<String>,
    /// A `Content-Security-Policy` for every response that has none, e.g.
    /// `"default-src 'self'; script-src 'self' 'nonce-{nonce}'"`: `{nonce}`
    /// becomes a fresh nonce per request, which templates get from
    /// `csp_nonce()`. Off by default.
    pub csp: Option<String>,
    /// The same, sent as `Content-Security-Policy-Report-Only` (to try a
    /// policy without enforcing it).
    pub csp_report_only: Option<String>,
    /// `X-Frame-Options`: `DENY` (default) or `SAMEORIGIN`.
    pub x_frame_options: String,
    /// `Referrer-Policy`. Default `same-origin`.
    pub referrer_policy: String,
    /// `Cross-Origin-Opener-Policy`. Default `same-origin`.
    pub cross_origin_opener_policy: String,
    /// Send `X-Content-Type-Options: nosniff`. Default on.
    pub content_type_nosniff: bool,
}

/// `[mail]`: how email is sent ([`crate::mail`]), Django's `EMAIL_*`
/// settings.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct MailSettings {
    /// Where messages go: `console` (default in DEBUG), `smtp` (default
    /// otherwise), `file` or `memory`.
    pub backend: MailBackendKind,
    /// The sender of messages that name none (Django's
    /// `DEFAULT_FROM_EMAIL`). Default `webmaster@localhost`.
    pub default_from_email: String,
    /// The sender of messages to the site admins (Django's `SERVER_EMAIL`).
    /// Default `root@localhost`.
    pub server_email: String,
    /// Put before the subject of messages to the admins (Django's
    /// `EMAIL_SUBJECT_PREFIX`). Default `"[Estate] "`.
    pub subject_prefix: String,
    /// The site admins' addresses (Django's `ADMINS`), for
    /// [`mail_admins`](crate::mail::mail_admins) and `sendtestemail --admins`.
    /// Default none.
    pub admins: Vec<String>,
    /// The SMTP server's host name. Default `localhost`.
    pub smtp_host: String,
    /// The SMTP server's port. Default 25.
    pub smtp_port: u16,
    /// The user name to log in with; no login when unset.
    pub smtp_username: Option<String>,
    /// The password to log in with (never printed).
    pub smtp_password: Option<SecretKey>,
    /// How the connection is encrypted. Default: `tls` on port 465,
    /// `starttls` on port 587, `none` otherwise.
    pub smtp_security: SmtpSecurity,
    /// How long to wait for the server: to connect, and for one message's
    /// whole exchange. Default 10s.
    #[serde(serialize_with = "values::serialize_duration")]
    pub smtp_timeout: Duration,
    /// The folder of the `file` backend (created if missing).
    pub file_path: Option<PathBuf>,
}

/// Where the [`Mailer`](crate::mail::Mailer) sends messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MailBackendKind {
    /// Print each message to standard output (development).
    Console,
    /// Deliver through the SMTP server of `mail.smtp_*`.
    Smtp,
    /// Write each message to a file in `mail.file_path`.
    File,
    /// Keep messages in memory, for tests to read from the outbox.
    Memory,
}

impl MailBackendKind {
    /// The name used in settings: `console`, `smtp`, `file`, `memory`.
    pub fn as_str(self) -> &'static str {
        match self {
            MailBackendKind::Console => "console",
            MailBackendKind::Smtp => "smtp",
            MailBackendKind::File => "file",
            MailBackendKind::Memory => "memory",
        }
    }
}

/// How the SMTP connection is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text; never upgraded. For a relay on the same host or network.
    None,
    /// Plain connection upgraded with `STARTTLS`, which the server must
    /// offer (Django's `EMAIL_USE_TLS`; port 587).
    StartTls,
    /// TLS from the first byte (Django's `EMAIL_USE_SSL`; port 465).
    Tls,
}

/// A secret key; never printed in full.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        SecretKey(key.into())
    }

    /// The key's bytes, for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(****)")
    }
}

impl serde::Serialize for SecretKey {
    /// `"****"`: a key is never written out.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("****")
    }
}

/// A new random secret key: 50 characters from a 64-letter alphabet (300 bits).
pub fn generate_secret_key() -> String {
    const ALPHABET: &[u8] =
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#%^&*(-_=+)";
    let mut bytes = [0u8; 50];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

impl Settings {
    /// Loads settings from `estate.toml` (or `ESTATE_SETTINGS_FILE`) and the
    /// process environment.
    pub fn load() -> Result<Settings, SettingsError> {
        SettingsLoader::from_process().load()
    }

    /// Development settings without reading any file or the environment:
    /// DEBUG on, a generated secret key, everything else default. For tests
    /// and examples.
    pub fn development() -> Settings {
        SettingsLoader::new()
            .set("debug", true)
            .load()
            .expect("the defaults are valid")
    }

    /// Where the value of a dotted key came from.
    pub fn source_of(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every key that was set by something other than a default, with its origin.
    pub fn explicit_sources(&self) -> impl Iterator<Item = (&str, &Source)> {
        self.sources.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Whether the secret key was generated for this run (DEBUG without a key).
    pub fn secret_key_is_generated(&self) -> bool {
        self.source_of("secret_key") == Source::Generated
    }

    /// An app's typed settings section, declared with
    /// [`AppModule::settings`](crate::AppModule::settings).
    ///
    /// # Panics
    /// If no installed app declared a section of type `T`: that is a
    /// programming error, not a configuration one.
    pub fn section<T: Any + Send + Sync>(&self) -> &T {
        self.sections
            .get(&TypeId::of::<T>())
            .and_then(|section| section.downcast_ref::<T>())
            .unwrap_or_else(|| {
                panic!(
                    "no settings section of type {} was declared; add \
                     `.settings::<{0}>(\"name\")` to the app that owns it",
                    std::any::type_name::<T>()
                )
            })
    }

    /// Warnings found while loading (such as a generated secret key), to be
    /// logged once logging is set up.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

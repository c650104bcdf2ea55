//! Turning layered raw values into typed [`Settings`], with errors that name
//! the key, its source and the expected form.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::raw::{Entry, RawSettings};
use super::values::{parse_bool, parse_duration, parse_size};
use super::{
    Limits, LogFormat, LoggingSettings, MailBackendKind, MailSettings, NPlusOne, SecretKey,
    SecuritySettings, ServerSettings, Settings, SettingsError, SmtpSecurity, Source,
    generate_secret_key,
};
use crate::suggest::closest;

mod ops;

/// Every key Estate itself reads; used to suggest fixes for typos.
const CORE_KEYS: &[&str] = &[
    "debug",
    "secret_key",
    "secret_key_fallbacks",
    "allowed_hosts",
    "database_url",
    "static_url",
    "static_root",
    "media_url",
    "media_root",
    "templates_from_disk",
    "server.addr",
    "server.shutdown_grace",
    "server.shutdown_delay",
    "limits.max_body_size",
    "limits.request_timeout",
    "limits.header_read_timeout",
    "limits.max_fields",
    "limits.max_files",
    "limits.max_form_memory_size",
    "limits.max_file_size",
    "limits.upload_memory_size",
    "logging.level",
    "logging.format",
    "logging.access_log",
    "logging.query_log",
    "logging.n_plus_one",
    "logging.n_plus_one_threshold",
    "security.hsts_seconds",
    "security.hsts_include_subdomains",
    "security.hsts_preload",
    "security.ssl_redirect",
    "security.secure_proxy_ssl_header",
    "security.session_cookie_secure",
    "security.csrf_cookie_secure",
    "security.csrf_trusted_origins",
    "security.x_frame_options",
    "security.csp",
    "security.csp_report_only",
    "security.referrer_policy",
    "security.cross_origin_opener_policy",
    "security.content_type_nosniff",
    "mail.backend",
    "mail.default_from_email",
    "mail.server_email",
    "mail.subject_prefix",
    "mail.admins",
    "mail.smtp_host",
    "mail.smtp_port",
    "mail.smtp_username",
    "mail.smtp_password",
    "mail.smtp_security",
    "mail.smtp_timeout",
    "mail.file_path",
];

enum FileChoice {
    None,
    Optional(PathBuf),
    Required(PathBuf),
}

/// Builds [`Settings`] from explicit sources. [`Settings::load`] is
/// `SettingsLoader::from_process().load()`; tests use the builder methods to
/// stay independent of the real environment.
pub struct SettingsLoader {
    file: FileChoice,
    env: Vec<(String, String)>,
    code: Vec<(String, toml::Value)>,
}

impl Default for SettingsLoader {
    fn default() -> Self {
        Self::new()
    }
}

impl SettingsLoader {
    /// No sources: defaults only.
    pub fn new() -> Self {
        SettingsLoader {
            file: FileChoice::None,
            env: Vec::new(),
            code: Vec::new(),
        }
    }

    /// The process's sources: the file named by `ESTATE_SETTINGS_FILE` (must
    /// exist) or else `estate.toml` in the working directory (if it exists),
    /// and the process environment.
    pub fn from_process() -> Self {
        let file = match std::env::var_os("ESTATE_SETTINGS_FILE") {
            Some(path) => FileChoice::Required(path.into()),
            None => FileChoice::Optional("estate.toml".into()),
        };
        SettingsLoader {
            file,
            env: std::env::vars().collect(),
            code: Vec::new(),
        }
    }

    /// Reads this settings file, which must exist.
    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = FileChoice::Required(path.into());
        self
    }

    /// Uses these environment variables instead of the process's.
    pub fn env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.env = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Sets a dotted key in code; the file and environment still override it.
    pub fn set(mut self, key: &str, value: impl Into<toml::Value>) -> Self {
        self.code.push((key.to_owned(), value.into()));
        self
    }

    /// Reads the sources and validates every core setting. App sections are
    /// validated when the app starts (only then are they all declared).
    pub fn load(self) -> Result<Settings, SettingsError> {
        let mut raw = RawSettings::default();
        for (key, value) in self.code {
            raw.set(&key, value, Source::Code);
        }
        match &self.file {
            FileChoice::None => {}
            FileChoice::Optional(path) if !path.exists() => {}
            FileChoice::Optional(path) | FileChoice::Required(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| SettingsError::Read {
                    path: path.clone(),
                    error,
                })?;
                raw.merge_file(path, &text)?;
            }
        }
        raw.merge_env(self.env);
        Typed::new(raw).settings()
    }
}

/// Takes values out of [`RawSettings`] one typed key at a time, recording where
/// each came from.
struct Typed {
    raw: RawSettings,
    sources: BTreeMap<String, Source>,
}

impl Typed {
    fn new(raw: RawSettings) -> Self {
        Typed {
            raw,
            sources: BTreeMap::new(),
        }
    }

    fn settings(mut self) -> Result<Settings, SettingsError> {
        let mut warnings = Vec::new();
        // Typos first: a misspelt `debug` would otherwise surface as a
        // confusing "missing secret_key".
        let mut ignored_env = Vec::new();
        for (key, entry) in self.raw.iter() {
            if !is_core_key(key)
                || CORE_KEYS.contains(&key.as_str())
                || ops::KEYS.contains(&key.as_str())
            {
                continue;
            }
            if matches!(entry.source, Source::Env(_)) {
                warnings.push(format!(
                    "ignoring {}: no setting `{key}` exists",
                    entry.source
                ));
                ignored_env.push(key.clone());
                continue;
            }
            return Err(SettingsError::Unknown {
                suggestion: closest(key, CORE_KEYS.iter().chain(ops::KEYS).copied()),
                key: key.clone(),
                source: entry.source.clone(),
            });
        }
        for key in ignored_env {
            self.raw.take(&key);
        }
        let debug = self.bool("debug", false)?;
        let secret_key = match self.string_opt("secret_key")? {
            Some(key) if !key.is_empty() => SecretKey::new(key),
            _ if debug => {
                self.sources.insert("secret_key".into(), Source::Generated);
                warnings.push(
                    "no SECRET_KEY is set: using a random key for this run (DEBUG only); \
                     sessions and signed values will not survive a restart"
                        .to_owned(),
                );
                SecretKey::new(format!("estate-insecure-{}", generate_secret_key()))
            }
            _ => {
                return Err(SettingsError::Missing {
                    key: "secret_key".into(),
                    hint: "production mode (debug = false) needs a secret key. Set the \
                           ESTATE_SECRET_KEY environment variable or `secret_key` in \
                           estate.toml to a long random string (for example the output of \
                           `openssl rand -base64 48`), or set ESTATE_DEBUG=true for development"
                        .into(),
                });
            }
        };
        let secret_key_fallbacks = self
            .list("secret_key_fallbacks")?
            .into_iter()
            .map(SecretKey::new)
            .collect();
        let allowed_hosts = self.list("allowed_hosts")?;
        let database_url = self.string_opt("database_url")?;
        let static_url = self.string("static_url", "/static/")?;
        let static_root = self.string_opt("static_root")?;
        if !static_url.starts_with('/') || !static_url.ends_with('/') || static_url.len() < 3 {
            return Err(self.invalid("static_url", static_url, "a path like \"/static/\""));
        }
        let templates_from_disk = self.bool("templates_from_disk", false)?;
        let media_url = self.string("media_url", "/media/")?;
        let media_root = self.string_opt("media_root")?;
        if !media_url.starts_with('/') || !media_url.ends_with('/') || media_url.len() < 3 {
            return Err(self.invalid("media_url", media_url, "a path like \"/media/\""));
        }
        if media_url.starts_with(&static_url) || static_url.starts_with(&media_url) {
            return Err(self.invalid(
                "media_url",
                media_url,
                "a path apart from static_url, neither inside nor containing it (uploads must \
                 not mix with static files)",
            ));
        }
        if let (Some(media), Some(static_root)) = (&media_root, &static_root) {
            let absolute = |p: &str| std::path::absolute(p).unwrap_or_else(|_| p.into());
            let (media_path, static_path) = (absolute(media), absolute(static_root));
            if media_path.starts_with(&static_path) || static_path.starts_with(&media_path) {
                return Err(self.invalid(
                    "media_root",
                    media.clone(),
                    "a folder apart from static_root, neither inside nor containing it \
                     (collectstatic --clear would delete the uploads)",
                ));
            }
        }

        let server = ServerSettings {
            addr: self.string("server.addr", "127.0.0.1:8000")?,
            shutdown_grace: self.duration("server.shutdown_grace", Duration::from_secs(30))?,
            shutdown_delay: self.duration("server.shutdown_delay", Duration::ZERO)?,
        };
        let (health, metrics, database) = self.ops()?;
        let request_timeout = self.duration("limits.request_timeout", Duration::from_secs(30))?;
        let limits = Limits {
            max_body_size: self.size("limits.max_body_size", 2_621_440)?,
            request_timeout: (!request_timeout.is_zero()).then_some(request_timeout),
            header_read_timeout: self
                .duration("limits.header_read_timeout", Duration::from_secs(10))?,
            max_fields: self.uint("limits.max_fields", 1000)? as usize,
            max_files: self.uint("limits.max_files", 100)? as usize,
            max_form_memory_size: self.size("limits.max_form_memory_size", 2_621_440)?,
            max_file_size: Some(self.size("limits.max_file_size", 0)?).filter(|n| *n > 0),
            upload_memory_size: self.size("limits.upload_memory_size", 2_621_440)?,
        };
        if limits.header_read_timeout.is_zero() {
            return Err(self.invalid(
                "limits.header_read_timeout",
                "0",
                "a duration above zero such as \"10s\"",
            ));
        }
        let logging = LoggingSettings {
            level: self.log_level()?,
            format: self.log_format()?,
            access_log: self.bool("logging.access_log", debug)?,
            query_log: self.bool("logging.query_log", debug)?,
            n_plus_one: match self
                .one_of("logging.n_plus_one", &["OFF", "WARN", "ERROR"], "WARN")?
                .as_str()
            {
                "OFF" => NPlusOne::Off,
                "ERROR" => NPlusOne::Error,
                _ => NPlusOne::Warn,
            },
            n_plus_one_threshold: self.uint("logging.n_plus_one_threshold", 5)?.max(2) as usize,
        };
        let security = SecuritySettings {
            hsts_seconds: self.uint("security.hsts_seconds", 0)?,
            hsts_include_subdomains: self.bool("security.hsts_include_subdomains", false)?,
            hsts_preload: self.bool("security.hsts_preload", false)?,
            ssl_redirect: self.bool("security.ssl_redirect", false)?,
            secure_proxy_ssl_header: self.proxy_header()?,
            session_cookie_secure: self.bool("security.session_cookie_secure", false)?,
            csrf_cookie_secure: self.bool("security.csrf_cookie_secure", false)?,
            csrf_trusted_origins: self.list("security.csrf_trusted_origins")?,
            csp: self.string_opt("security.csp")?,
            csp_report_only: self.string_opt("security.csp_report_only")?,
            x_frame_options: self.one_of(
                "security.x_frame_options",
                &super::X_FRAME_OPTIONS_VALUES,
                "DENY",
            )?,
            referrer_policy: self.header_text("security.referrer_policy", "same-origin")?,
            cross_origin_opener_policy: self
                .header_text("security.cross_origin_opener_policy", "same-origin")?,
            content_type_nosniff: self.bool("security.content_type_nosniff", true)?,
        };
        let mail = self.mail(debug)?;

        // Whatever is left belongs to app sections or is unknown; which, we
        // only know once every app has declared its sections.
        let mut pending_sections = toml::Table::new();
        let mut pending_entries = BTreeMap::new();
        let leftovers: Vec<(String, Entry)> = self.raw.into_leftovers().collect();
        for (key, entry) in leftovers {
            let section = key.split('.').next().unwrap_or_default().to_owned();
            let mut sub = RawSettings::default();
            sub.set(&key, entry.value.clone(), entry.source.clone());
            let (table, _) = sub.take_section(&section);
            merge_tables(&mut pending_sections, section, table);
            pending_entries.insert(key, entry);
        }

        Ok(Settings {
            debug,
            secret_key,
            secret_key_fallbacks,
            allowed_hosts,
            database_url,
            static_url,
            static_root,
            media_url,
            media_root,
            templates_from_disk,
            server,
            health,
            metrics,
            database,
            limits,
            logging,
            security,
            mail,
            sources: self.sources,
            sections: Arc::new(HashMap::new()),
            pending_sections,
            pending_entries,
            warnings,
            app_values: BTreeMap::new(),
        })
    }

    fn take(&mut self, key: &str) -> Option<Entry> {
        let entry = self.raw.take(key)?;
        self.sources.insert(key.to_owned(), entry.source.clone());
        Some(entry)
    }

    fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    fn invalid(&self, key: &str, found: impl Into<String>, expected: &str) -> SettingsError {
        SettingsError::Invalid {
            key: key.to_owned(),
            source: self.source(key),
            found: found.into(),
            expected: expected.to_owned(),
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> Result<bool, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(default);
        };
        match &entry.value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => {
                parse_bool(s).ok_or_else(|| self.invalid(key, show(&entry.value), "true or false"))
            }
            toml::Value::Integer(0) => Ok(false),
            toml::Value::Integer(1) => Ok(true),
            other => Err(self.invalid(key, show(other), "true or false")),
        }
    }

    fn string_opt(&mut self, key: &str) -> Result<Option<String>, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(None);
        };
        match entry.value {
            toml::Value::String(s) => Ok(Some(s)),
            // An env value like `12345` parses as a number; a key or URL is text.
            toml::Value::Integer(i) if matches!(entry.source, Source::Env(_)) => {
                Ok(Some(i.to_string()))
            }
            other => Err(self.invalid(key, show(&other), "a string")),
        }
    }

    fn string(&mut self, key: &str, default: &str) -> Result<String, SettingsError> {
        Ok(self.string_opt(key)?.unwrap_or_else(|| default.to_owned()))
    }

    fn list(&mut self, key: &str) -> Result<Vec<String>, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(Vec::new());
        };
        const EXPECTED: &str = "a list of strings, such as [\"example.com\", \".example.org\"] \
                                (in the environment also `example.com,.example.org`)";
        match &entry.value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.invalid(key, show(&entry.value), EXPECTED))
                })
                .collect(),
            toml::Value::String(s) if matches!(entry.source, Source::Env(_)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()),
            other => Err(self.invalid(key, show(other), EXPECTED)),
        }
    }

    fn uint(&mut self, key: &str, default: u64) -> Result<u64, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(default);
        };
        match &entry.value {
            toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            other => Err(self.invalid(key, show(other), "a whole number of zero or more")),
        }
    }

    fn size(&mut self, key: &str, default: u64) -> Result<u64, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(default);
        };
        const EXPECTED: &str = "a size such as \"2.5MiB\", \"500KB\" or a number of bytes";
        match &entry.value {
            toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
            toml::Value::String(s) => {
                parse_size(s).ok_or_else(|| self.invalid(key, show(&entry.value), EXPECTED))
            }
            other => Err(self.invalid(key, show(other), EXPECTED)),
        }
    }

    fn duration(&mut self, key: &str, default: Duration) -> Result<Duration, SettingsError> {
        let Some(entry) = self.take(key) else {
            return Ok(default);
        };
        const EXPECTED: &str =
            "a duration such as \"30s\", \"500ms\", \"2m\" or a number of seconds";
        match &entry.value {
            toml::Value::Integer(i) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
            toml::Value::Float(f) if *f >= 0.0 => Ok(Duration::from_secs_f64(*f)),
            toml::Value::String(s) => {
                parse_duration(s).ok_or_else(|| self.invalid(key, show(&entry.value), EXPECTED))
            }
            other => Err(self.invalid(key, show(other), EXPECTED)),
        }
    }

    fn one_of(
        &mut self,
        key: &str,
        choices: &[&str],
        default: &str,
    ) -> Result<String, SettingsError> {
        let value = self.string(key, default)?;
        let upper = value.to_ascii_uppercase();
        if choices.contains(&upper.as_str()) {
            Ok(upper)
        } else {
            Err(self.invalid(
                key,
                format!("{value:?}"),
                &format!("one of {}", choices.join(", ")),
            ))
        }
    }

    /// A lower-case name out of `choices` (any case accepted).
    fn lower_choice(
        &mut self,
        key: &str,
        choices: &[&str],
        default: &str,
    ) -> Result<String, SettingsError> {
        let value = self.string(key, default)?;
        let lower = value.to_ascii_lowercase();
        if choices.contains(&lower.as_str()) {
            return Ok(lower);
        }
        let quoted: Vec<String> = choices.iter().map(|c| format!("\"{c}\"")).collect();
        Err(self.invalid(
            key,
            format!("{value:?}"),
            &format!("one of {}", quoted.join(", ")),
        ))
    }

    fn header_text(&mut self, key: &str, default: &str) -> Result<String, SettingsError> {
        let value = self.string(key, default)?;
        if http::HeaderValue::from_str(&value).is_err() {
            return Err(self.invalid(key, format!("{value:?}"), "text valid in an HTTP header"));
        }
        Ok(value)
    }

    fn log_level(&mut self) -> Result<String, SettingsError> {
        let level = self.string("logging.level", "info")?;
        if level
            .parse::<tracing_subscriber::filter::Targets>()
            .is_err()
        {
            return Err(self.invalid(
                "logging.level",
                format!("{level:?}"),
                "a level (error, warn, info, debug, trace) or a filter such as \
                 \"warn,estate=info,my_app=debug\"",
            ));
        }
        Ok(level)
    }

    fn log_format(&mut self) -> Result<LogFormat, SettingsError> {
        match self.string("logging.format", "text")?.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(self.invalid(
                "logging.format",
                format!("{other:?}"),
                "\"text\" or \"json\"",
            )),
        }
    }

    fn mail(&mut self, debug: bool) -> Result<MailSettings, SettingsError> {
        let backend = match self
            .lower_choice(
                "mail.backend",
                &["console", "smtp", "file", "memory"],
                if debug { "console" } else { "smtp" },
            )?
            .as_str()
        {
            "console" => MailBackendKind::Console,
            "file" => MailBackendKind::File,
            "memory" => MailBackendKind::Memory,
            _ => MailBackendKind::Smtp,
        };
        let default_from_email =
            self.mail_address("mail.default_from_email", "webmaster@localhost")?;
        let server_email = self.mail_address("mail.server_email", "root@localhost")?;
        let subject_prefix = self.string("mail.subject_prefix", "[Estate] ")?;
        if subject_prefix.contains(['\r', '\n']) {
            return Err(self.invalid(
                "mail.subject_prefix",
                format!("{subject_prefix:?}"),
                "text without line breaks, such as \"[Estate] \"",
            ));
        }
        let admins = self.list("mail.admins")?;
        for admin in &admins {
            if let Err(err) = crate::mail::check_address(admin) {
                return Err(self.invalid(
                    "mail.admins",
                    format!("{admin:?}"),
                    &format!(
                        "email addresses such as [\"ops@example.com\", \"Ann <ann@example.com>\"] \
                         ({err})"
                    ),
                ));
            }
        }
        let smtp_host = self.string("mail.smtp_host", "localhost")?;
        if smtp_host.is_empty() || smtp_host.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(self.invalid(
                "mail.smtp_host",
                format!("{smtp_host:?}"),
                "a host name or IP address such as \"smtp.example.com\"",
            ));
        }
        let smtp_port = self.uint("mail.smtp_port", 25)?;
        let Ok(smtp_port) = u16::try_from(smtp_port)
            .map_err(drop)
            .and_then(|port| if port == 0 { Err(()) } else { Ok(port) })
        else {
            return Err(self.invalid(
                "mail.smtp_port",
                smtp_port.to_string(),
                "a port from 1 to 65535 (25, 465 for TLS, 587 for STARTTLS)",
            ));
        };
        let smtp_username = self
            .string_opt("mail.smtp_username")?
            .filter(|u| !u.is_empty());
        let smtp_password = self
            .string_opt("mail.smtp_password")?
            .filter(|p| !p.is_empty())
            .map(SecretKey::new);
        match (&smtp_username, &smtp_password) {
            (Some(_), None) => {
                return Err(SettingsError::Missing {
                    key: "mail.smtp_password".into(),
                    hint: "mail.smtp_username is set, so the SMTP login needs a password too: \
                           set ESTATE_MAIL__SMTP_PASSWORD (keep it out of estate.toml), or \
                           remove smtp_username to send without logging in"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(SettingsError::Missing {
                    key: "mail.smtp_username".into(),
                    hint: "mail.smtp_password is set, so the SMTP login needs a user name \
                           too: set smtp_username under [mail] or ESTATE_MAIL__SMTP_USERNAME"
                        .into(),
                });
            }
            _ => {}
        }
        let default_security = match smtp_port {
            465 => "tls",
            587 => "starttls",
            _ => "none",
        };
        let smtp_security = match self
            .lower_choice(
                "mail.smtp_security",
                &["none", "starttls", "tls"],
                default_security,
            )?
            .as_str()
        {
            "starttls" => SmtpSecurity::StartTls,
            "tls" => SmtpSecurity::Tls,
            _ => SmtpSecurity::None,
        };
        let smtp_timeout = self.duration("mail.smtp_timeout", Duration::from_secs(10))?;
        if smtp_timeout.is_zero() {
            return Err(self.invalid(
                "mail.smtp_timeout",
                "0",
                "a duration above zero such as \"10s\"",
            ));
        }
        let file_path = self.string_opt("mail.file_path")?.filter(|p| !p.is_empty());
        if backend == MailBackendKind::File && file_path.is_none() {
            return Err(SettingsError::Missing {
                key: "mail.file_path".into(),
                hint: "mail.backend is \"file\", which writes each message into a folder: set \
                       file_path = \"sent-mail\" under [mail] (or ESTATE_MAIL__FILE_PATH), or \
                       choose another backend"
                    .into(),
            });
        }
        Ok(MailSettings {
            backend,
            default_from_email,
            server_email,
            subject_prefix,
            admins,
            smtp_host,
            smtp_port,
            smtp_username,
            smtp_password,
            smtp_security,
            smtp_timeout,
            file_path: file_path.map(PathBuf::from),
        })
    }

    fn mail_address(&mut self, key: &str, default: &str) -> Result<String, SettingsError> {
        let address = self.string(key, default)?;
        match crate::mail::check_address(&address) {
            Ok(_) => Ok(address),
            Err(err) => Err(self.invalid(
                key,
                format!("{address:?}"),
                &format!(
                    "an email address such as \"site@example.com\" or \"Site <site@example.com>\" \
                     ({err})"
                ),
            )),
        }
    }

    fn proxy_header(&mut self) -> Result<Option<(String, String)>, SettingsError> {
        const KEY: &str = "security.secure_proxy_ssl_header";
        let Some(text) = self.string_opt(KEY)? else {
            return Ok(None);
        };
        let parsed = text.split_once(':').and_then(|(name, value)| {
            let name = name.trim();
            let value = value.trim();
            (http::HeaderName::from_bytes(name.as_bytes()).is_ok() && !value.is_empty())
                .then(|| (name.to_ascii_lowercase(), value.to_owned()))
        });
        parsed.map(Some).ok_or_else(|| {
            self.invalid(
                KEY,
                format!("{text:?}"),
                "\"Header-Name: value\", such as \"X-Forwarded-Proto: https\"",
            )
        })
    }
}

/// Whether a key belongs to Estate itself (top level or a core section),
/// rather than to an app's section.
fn is_core_key(key: &str) -> bool {
    match key.split_once('.') {
        None => true,
        Some((section, _)) => {
            ["server", "limits", "logging", "security", "mail"].contains(&section)
                || ops::SECTIONS.contains(&section)
        }
    }
}

fn show(value: &toml::Value) -> String {
    value.to_string()
}

fn merge_tables(into: &mut toml::Table, key: String, table: toml::Table) {
    match into.get_mut(&key) {
        Some(toml::Value::Table(existing)) => {
            for (k, v) in table {
                match v {
                    toml::Value::Table(inner) => merge_tables(existing, k, inner),
                    v => {
                        existing.insert(k, v);
                    }
                }
            }
        }
        _ => {
            into.insert(key, toml::Value::Table(table));
        }
    }
}

/// A typed settings section, type-erased.
type TypedSection = Arc<dyn Any + Send + Sync>;
/// Deserializes a section's table, or returns the failing path and message.
type ParseSection = fn(toml::Table) -> Result<TypedSection, (String, String)>;

/// An app's declared settings section: its name and how to type it.
pub(crate) struct SectionDecl {
    pub(crate) name: String,
    pub(crate) type_id: TypeId,
    pub(crate) type_name: &'static str,
    pub(crate) parse: ParseSection,
}

impl SectionDecl {
    pub(crate) fn new<T: DeserializeOwned + Any + Send + Sync>(name: &str) -> Self {
        SectionDecl {
            name: name.to_owned(),
            type_id: TypeId::of::<T>(),
            type_name: std::any::type_name::<T>(),
            parse: |table| {
                let value = toml::Value::Table(table);
                serde_path_to_error::deserialize::<_, T>(value)
                    .map(|typed| Arc::new(typed) as TypedSection)
                    .map_err(|err| (err.path().to_string(), err.inner().to_string()))
            },
        }
    }
}

impl Settings {
    /// Types every declared app section and rejects keys that no core setting
    /// and no section reads. Called once at startup.
    pub(crate) fn resolve_sections(&mut self, decls: &[SectionDecl]) -> Result<(), SettingsError> {
        for (key, entry) in &self.pending_entries {
            let section = key.split('.').next().unwrap_or_default();
            if decls.iter().any(|d| d.name == section) {
                continue;
            }
            if matches!(entry.source, Source::Env(_)) {
                self.warnings
                    .push(format!("ignoring {}: no app reads `{key}`", entry.source));
                continue;
            }
            let known: Vec<&str> = decls.iter().map(|d| d.name.as_str()).collect();
            return Err(SettingsError::Unknown {
                suggestion: closest(section, known.iter().copied())
                    .map(|s| format!("{s}{}", &key[section.len()..])),
                key: key.clone(),
                source: entry.source.clone(),
            });
        }
        let mut typed: HashMap<TypeId, TypedSection> = HashMap::new();
        let pending = std::mem::take(&mut self.pending_sections);
        for decl in decls {
            let table = match pending.get(&decl.name) {
                Some(toml::Value::Table(table)) => table.clone(),
                _ => toml::Table::new(),
            };
            let value = (decl.parse)(table)
                .map_err(|(path, message)| self.section_error(decl, &path, &message))?;
            typed.insert(decl.type_id, value);
        }
        for (key, entry) in std::mem::take(&mut self.pending_entries) {
            let section = key.split('.').next().unwrap_or_default();
            if decls.iter().any(|d| d.name == section) {
                self.app_values.insert(key.clone(), entry.value);
            }
            self.sources.insert(key, entry.source);
        }
        self.sections = Arc::new(typed);
        Ok(())
    }
}

impl Settings {
    fn section_error(&self, decl: &SectionDecl, path: &str, message: &str) -> SettingsError {
        let key_of = |field: &str| {
            if field == "." || field.is_empty() {
                decl.name.clone()
            } else {
                format!("{}.{}", decl.name, field)
            }
        };
        // serde reports a missing field at its parent's path.
        if let Some(field) = message
            .trim()
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            let parent = key_of(path);
            return SettingsError::Missing {
                key: format!("{parent}.{field}"),
                hint: format!(
                    "the [{}] section (read into {}) requires it; add it to estate.toml \
                     or set ESTATE_{}__{}",
                    decl.name,
                    decl.type_name,
                    decl.name.to_ascii_uppercase(),
                    field.to_ascii_uppercase()
                ),
            };
        }
        let key = key_of(path);
        let (found, source) = match self.pending_entries.get(&key) {
            Some(entry) => (entry.value.to_string(), entry.source.clone()),
            None => ("(a table)".to_owned(), Source::Default),
        };
        SettingsError::Invalid {
            key,
            source,
            found,
            expected: format!("a value that fits {}: {message}", decl.type_name),
        }
    }
}

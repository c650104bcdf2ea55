//! The system check framework (Django's `check`), and the deployment
//! checklist run by `check --deploy`.
//!
//! Checks never do IO: they read the configured project and return messages.
//! Ids follow Django's where the check is the same (`security.W004` is the
//! HSTS warning in both), so Django teams can look them up.

use std::fmt;

use crate::context::AppContext;
use crate::settings::Settings;

/// How serious a check message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// For information.
    Info,
    /// Probably a mistake; does not stop anything.
    Warning,
    /// Stops `runserver`; `check` exits with failure.
    Error,
    /// As Error, worse.
    Critical,
}

impl Level {
    fn heading(self) -> &'static str {
        match self {
            Level::Info => "INFOS",
            Level::Warning => "WARNINGS",
            Level::Error => "ERRORS",
            Level::Critical => "CRITICALS",
        }
    }

    /// Parses `info`, `warning`, `error`, `critical` (any case).
    pub fn parse(text: &str) -> Option<Level> {
        match text.to_ascii_lowercase().as_str() {
            "info" => Some(Level::Info),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }
}

/// One finding of a system check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckMessage {
    /// Severity.
    pub level: Level,
    /// A stable id such as `security.W004` or `polls.E001`.
    pub id: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// What it is about (a model, a setting), if specific.
    pub object: Option<String>,
}

impl CheckMessage {
    /// A message of any level.
    pub fn new(level: Level, id: impl Into<String>, message: impl Into<String>) -> Self {
        CheckMessage {
            level,
            id: id.into(),
            message: message.into(),
            hint: None,
            object: None,
        }
    }

    /// A warning.
    pub fn warning(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, id, message)
    }

    /// An error.
    pub fn error(id: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Error, id, message)
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Names the object concerned.
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
}

impl fmt::Display for CheckMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: ({}) {}",
            self.object.as_deref().unwrap_or("?"),
            self.id,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n\tHINT: {hint}")?;
        }
        Ok(())
    }
}

/// What a check can look at.
#[non_exhaustive]
pub struct CheckContext<'a> {
    /// The settings.
    pub settings: &'a Settings,
    /// The running app's context (routes, apps, provided services).
    pub app: &'a AppContext,
    /// Whether this is `check --deploy`.
    pub deploy: bool,
    /// Whether the app accepts any `Host` (`App::allow_any_host`).
    pub allow_any_host: bool,
    /// Whether security headers are on (`App::without_security_headers` turns them off).
    pub security_headers: bool,
    /// Whether CSRF protection is on (`App::without_csrf_protection` turns it off).
    pub csrf: bool,
}

/// The deployment checklist: what `check --deploy` reports.
pub fn deploy_checks(ctx: &CheckContext<'_>) -> Vec<CheckMessage> {
    let s = ctx.settings;
    let sec = &s.security;
    let mut out = Vec::new();
    if s.debug {
        out.push(
            CheckMessage::warning(
                "security.W018",
                "You should not have DEBUG set to true in deployment.",
            )
            .hint("Set debug = false in estate.toml or ESTATE_DEBUG=false."),
        );
    }
    if weak_secret(s.secret_key.expose()) || s.secret_key_is_generated() {
        out.push(
            CheckMessage::warning(
                "security.W009",
                "Your SECRET_KEY has less than 50 characters, less than 5 unique characters, \
                 or is generated or prefixed with 'estate-insecure-'. Your site is vulnerable \
                 to attacks on signed data.",
            )
            .hint("Generate a long random key (e.g. `openssl rand -base64 48`) and set it as ESTATE_SECRET_KEY."),
        );
    }
    if s.secret_key_fallbacks
        .iter()
        .any(|k| weak_secret(k.expose()))
    {
        out.push(CheckMessage::warning(
            "security.W025",
            "A key in SECRET_KEY_FALLBACKS has less than 50 characters or less than 5 unique \
             characters.",
        ));
    }
    if s.allowed_hosts.is_empty() && !ctx.allow_any_host {
        out.push(
            CheckMessage::warning(
                "security.W020",
                "ALLOWED_HOSTS must not be empty in deployment.",
            )
            .hint("Set allowed_hosts = [\"example.com\"] in estate.toml or ESTATE_ALLOWED_HOSTS."),
        );
    }
    if ctx.allow_any_host || s.allowed_hosts.iter().any(|h| h == "*") {
        out.push(
            CheckMessage::warning(
                "estate.W001",
                "The app accepts requests for any Host header (allow_any_host or \"*\" in \
                 ALLOWED_HOSTS), which enables host-header poisoning of generated links.",
            )
            .hint("List the site's host names in allowed_hosts."),
        );
    }
    if s.metrics.enabled && s.metrics.token.is_none() && s.metrics.allowed_ips.is_empty() {
        out.push(
            CheckMessage::warning(
                "estate.W002",
                "The metrics endpoint is readable by anyone who can reach the site: it tells                  how busy the site is and how it is built.",
            )
            .hint(
                "Set metrics.token (scrapers send it as a bearer token) or                  metrics.allowed_ips, or keep the path unreachable from outside at the proxy.",
            ),
        );
    }
    if !ctx.csrf {
        out.push(CheckMessage::warning(
            "security.W003",
            "CSRF protection is turned off (App::without_csrf_protection): any site can make a \
             signed-in user's browser post to this one. Exempt only the routes that need it \
             with .csrf_exempt().",
        ));
    }
    if !ctx.security_headers {
        out.push(CheckMessage::warning(
            "security.W001",
            "Security headers are turned off (App::without_security_headers): responses lack \
             X-Content-Type-Options, X-Frame-Options, Referrer-Policy and \
             Cross-Origin-Opener-Policy.",
        ));
    } else {
        if !sec.content_type_nosniff {
            out.push(CheckMessage::warning(
                "security.W006",
                "security.content_type_nosniff is false, so responses lack \
                 'X-Content-Type-Options: nosniff'.",
            ));
        }
        if sec.x_frame_options != "DENY" {
            out.push(CheckMessage::warning(
                "security.W019",
                "X-Frame-Options is not 'DENY'. Unless there is a good reason for your site \
                 to be framed, set security.x_frame_options = \"DENY\".",
            ));
        }
    }
    if sec.hsts_seconds == 0 {
        out.push(
            CheckMessage::warning(
                "security.W004",
                "You have not set a value for security.hsts_seconds. If your entire site is \
                 served only over HTTPS, you may want to enable HTTP Strict Transport Security.",
            )
            .hint("Be careful: setting it wrongly can make the site unreachable over HTTP for that long."),
        );
    } else {
        if !sec.hsts_include_subdomains {
            out.push(CheckMessage::warning(
                "security.W005",
                "security.hsts_include_subdomains is false: subdomains are not protected by HSTS.",
            ));
        }
        if !sec.hsts_preload {
            out.push(CheckMessage::warning(
                "security.W021",
                "security.hsts_preload is false: the site cannot be submitted to the browser \
                 preload list.",
            ));
        }
    }
    if !sec.ssl_redirect {
        out.push(CheckMessage::warning(
            "security.W008",
            "security.ssl_redirect is false. Unless the proxy in front redirects HTTP to \
             HTTPS, set it to true so all traffic goes over HTTPS.",
        ));
    }
    if !sec.session_cookie_secure {
        out.push(CheckMessage::warning(
            "security.W012",
            "security.session_cookie_secure is false: a session cookie sent over plain HTTP \
             can be stolen by a network sniffer.",
        ));
    }
    if !sec.csrf_cookie_secure {
        out.push(CheckMessage::warning(
            "security.W016",
            "security.csrf_cookie_secure is false: the CSRF cookie can be sent over plain HTTP.",
        ));
    }
    out.extend(static_files_checks(ctx));
    out.extend(crate::mail::deploy_checks(&s.mail));
    out
}

/// Static files configured but not ready to be served outside DEBUG.
fn static_files_checks(ctx: &CheckContext<'_>) -> Vec<CheckMessage> {
    let has_folders = ctx
        .app
        .get::<crate::http::static_files::StaticSources>()
        .is_some_and(|sources| !sources.0.is_empty());
    match &ctx.settings.static_root {
        None if has_folders => vec![
            CheckMessage::warning(
                "staticfiles.W001",
                "The project has static folders but no static_root: outside DEBUG no static \
                 file is served.",
            )
            .hint("Set static_root and run collectstatic as a deploy step."),
        ],
        Some(root)
            if has_folders
                && !std::path::Path::new(root)
                    .join(crate::http::collectstatic::MANIFEST)
                    .is_file() =>
        {
            vec![
                CheckMessage::warning(
                    "staticfiles.W002",
                    format!(
                        "static_root {root} has no {}: static files have not been collected.",
                        crate::http::collectstatic::MANIFEST
                    ),
                )
                .hint("Run collectstatic before starting the site."),
            ]
        }
        _ => Vec::new(),
    }
}

/// Django's rule for a weak key, plus our insecure prefix.
fn weak_secret(key: &str) -> bool {
    let mut unique: Vec<char> = key.chars().collect();
    unique.sort_unstable();
    unique.dedup();
    key.chars().count() < 50 || unique.len() < 5 || key.starts_with("estate-insecure-")
}

/// Formats messages like Django's `check`: grouped by level, then a count.
pub fn format_report(messages: &[CheckMessage]) -> String {
    if messages.is_empty() {
        return "System check identified no issues (0 silenced).\n".to_owned();
    }
    let mut out = String::from("System check identified some issues:\n");
    for level in [Level::Critical, Level::Error, Level::Warning, Level::Info] {
        let group: Vec<&CheckMessage> = messages.iter().filter(|m| m.level == level).collect();
        if group.is_empty() {
            continue;
        }
        out.push_str(&format!("\n{}:\n", level.heading()));
        for message in group {
            out.push_str(&format!("{message}\n"));
        }
    }
    let n = messages.len();
    out.push_str(&format!(
        "\nSystem check identified {n} issue{} (0 silenced).\n",
        if n == 1 { "" } else { "s" }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_keys() {
        assert!(weak_secret("short"));
        assert!(weak_secret(&"a".repeat(60)));
        assert!(weak_secret(&format!(
            "estate-insecure-{}",
            "abcdefgh".repeat(8)
        )));
        assert!(!weak_secret(&"abcdefgh".repeat(8)));
    }

    #[test]
    fn report_groups_by_level() {
        let report = format_report(&[
            CheckMessage::warning("security.W004", "No HSTS.").hint("Set it."),
            CheckMessage::error("polls.E001", "Broken.").object("polls.Question"),
        ]);
        assert!(report.starts_with("System check identified some issues:\n\nERRORS:\npolls.Question: (polls.E001) Broken.\n"), "{report}");
        assert!(
            report.contains("WARNINGS:\n?: (security.W004) No HSTS.\n\tHINT: Set it.\n"),
            "{report}"
        );
        assert!(report.ends_with("System check identified 2 issues (0 silenced).\n"));
    }
}

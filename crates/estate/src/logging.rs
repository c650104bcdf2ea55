//! Log output through `tracing`: text for people, JSON for collectors.
//!
//! Logs go to standard error, like Django's runserver and gunicorn, so that a
//! command's own output on standard output stays clean for pipes.

use std::io::IsTerminal;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{LogFormat, LoggingSettings};

/// Installs the global subscriber from the `[logging]` settings, unless the
/// program already installed one (then that one is kept). `RUST_LOG`, when
/// set and valid, replaces `logging.level`.
pub(crate) fn init(settings: &LoggingSettings) {
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| settings.level.parse().unwrap_or_default());
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_target(true),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .try_init(),
    };
}

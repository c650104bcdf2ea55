//! The console backend: each message printed in full, for development.

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use super::MailBackend;
use crate::mail::error::MailError;
use crate::mail::message::OutgoingEmail;

type Output = Arc<Mutex<Box<dyn Write + Send>>>;

/// Prints every message (headers and MIME body) to standard output,
/// followed by a line of dashes: the default in DEBUG, so that a project
/// sends no real mail while it is being developed (Django's console
/// backend). Nothing is delivered.
#[derive(Clone)]
pub struct ConsoleBackend {
    out: Output,
}

impl std::fmt::Debug for ConsoleBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleBackend").finish_non_exhaustive()
    }
}

impl Default for ConsoleBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleBackend {
    /// Prints to standard output.
    pub fn new() -> Self {
        Self::writing_to(std::io::stdout())
    }

    /// Prints to `out` instead (a log file, or a
    /// [`CommandOutput::capture`](crate::cli::CommandOutput::capture) in tests).
    pub fn writing_to(out: impl Write + Send + 'static) -> Self {
        ConsoleBackend {
            out: Arc::new(Mutex::new(Box::new(out))),
        }
    }
}

impl MailBackend for ConsoleBackend {
    fn send<'a>(&'a self, email: &'a OutgoingEmail) -> BoxFuture<'a, Result<(), MailError>> {
        // One message at a time, so concurrent ones do not interleave.
        let result = {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            out.write_all(email.raw())
                .and_then(|()| {
                    if email.raw().ends_with(b"\n") {
                        Ok(())
                    } else {
                        out.write_all(b"\n")
                    }
                })
                .and_then(|()| writeln!(out, "{}", "-".repeat(79)))
                .and_then(|()| out.flush())
        };
        Box::pin(async move { result.map_err(MailError::Output) })
    }

    fn name(&self) -> &'static str {
        "console"
    }
}

//! Management commands: `runserver`, `check`, `routes`, and any an app adds.

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;

use crate::app::BuiltApp;
use crate::error::Result;

type Handler = Arc<dyn Fn(CommandContext) -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// A command of the project's command line (`cargo run -- <name> ...`).
///
/// ```
/// use estate::prelude::*;
/// use std::io::Write;
///
/// let greet = ManagementCommand::new("greet", "Say hello to someone", |ctx| async move {
///     let name = ctx.args.get_one::<String>("name").cloned().unwrap_or_default();
///     writeln!(ctx.out(), "Hello, {name}!")?;
///     Ok(())
/// })
/// .arg(clap::Arg::new("name").required(true));
/// ```
#[derive(Clone)]
pub struct ManagementCommand {
    pub(crate) cli: clap::Command,
    pub(crate) handler: Handler,
}

impl ManagementCommand {
    /// A command named `name`, described in one line by `about` (shown in
    /// `--help`), that runs `handler` with the parsed arguments and the built app.
    pub fn new<F, Fut>(name: &'static str, about: &'static str, handler: F) -> Self
    where
        F: Fn(CommandContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        ManagementCommand {
            cli: clap::Command::new(name).about(about),
            handler: Arc::new(move |ctx| Box::pin(handler(ctx))),
        }
    }

    /// Adds an argument or option (clap's builder API).
    pub fn arg(mut self, arg: clap::Arg) -> Self {
        self.cli = self.cli.arg(arg);
        self
    }

    /// Adjusts the clap definition further (aliases, groups, long help).
    pub fn configure(mut self, f: impl FnOnce(clap::Command) -> clap::Command) -> Self {
        self.cli = f(self.cli);
        self
    }

    /// The command's name.
    pub fn name(&self) -> &str {
        self.cli.get_name()
    }
}

/// What a running command gets.
pub struct CommandContext {
    /// The command's parsed arguments.
    pub args: clap::ArgMatches,
    /// The built app: settings, routes, provided services.
    pub app: BuiltApp,
    pub(crate) out: CommandOutput,
}

impl CommandContext {
    /// Where the command writes its output (stdout, or a buffer in tests).
    pub fn out(&self) -> CommandOutput {
        self.out.clone()
    }

    /// The project's database, or an error saying how to configure one.
    pub(crate) fn database(&self) -> Result<estate_orm::Database> {
        self.app
            .context()
            .get::<estate_orm::Database>()
            .cloned()
            .ok_or_else(|| {
                crate::error::Error::msg(
                    "no database: set DATABASE_URL (or database_url in estate.toml)",
                )
            })
    }
}

/// A command's output: standard output, or a buffer that tests read back.
#[derive(Clone)]
pub struct CommandOutput(Target);

#[derive(Clone)]
enum Target {
    Stdout,
    Buffer(Arc<Mutex<Vec<u8>>>),
}

impl CommandOutput {
    /// Standard output.
    pub fn stdout() -> Self {
        CommandOutput(Target::Stdout)
    }

    /// An in-memory buffer; read it with [`captured`](Self::captured).
    pub fn capture() -> Self {
        CommandOutput(Target::Buffer(Arc::default()))
    }

    /// Whether this is standard output on a terminal (progress bars are
    /// drawn only there).
    pub fn is_terminal(&self) -> bool {
        use std::io::IsTerminal;
        matches!(self.0, Target::Stdout) && std::io::stdout().is_terminal()
    }

    /// Everything written so far to a capturing output (empty for stdout).
    pub fn captured(&self) -> String {
        match &self.0 {
            Target::Stdout => String::new(),
            Target::Buffer(buffer) => {
                String::from_utf8_lossy(&buffer.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_owned()
            }
        }
    }
}

impl Write for CommandOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match &self.0 {
            Target::Stdout => std::io::stdout().write(bytes),
            Target::Buffer(buffer) => {
                buffer
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &self.0 {
            Target::Stdout => std::io::stdout().flush(),
            Target::Buffer(_) => Ok(()),
        }
    }
}

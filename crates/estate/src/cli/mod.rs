//! The management command line built into every Estate binary: parses the
//! arguments, loads settings, builds the app and runs the chosen command.
//!
//! ```text
//! $ cargo run -- --help
//! $ cargo run -- runserver 0.0.0.0:8000
//! $ cargo run -- check --deploy
//! $ cargo run -- routes
//! ```

mod builtin;
pub(crate) mod check;
mod collectstatic;
mod command;
mod dbshell;
mod diffsettings;
mod fixtures;
mod flush;
mod migrate;
#[cfg(unix)]
mod reload;

use std::ffi::OsString;
use std::io::Write;

pub use check::{CheckContext, CheckMessage, Level, deploy_checks, format_report};
pub use command::{CommandContext, CommandOutput, ManagementCommand};

use crate::app::App;
use crate::error::{Error, Result};

pub(crate) use builtin::builtin_commands;

/// Parses `args` (the first is the program name), then builds `app` and runs
/// the command. `--help` and an empty command line print help to `out`.
pub(crate) async fn dispatch<I, T>(
    mut app: App,
    args: I,
    out: CommandOutput,
    init_logging: bool,
) -> Result<()>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let commands = app.take_commands()?;
    let program = std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "estate".to_owned());
    let mut cli = clap::Command::new(program)
        .about("Manage and run this Estate project")
        .subcommand_required(false)
        .arg(
            clap::Arg::new("settings")
                .long("settings")
                .global(true)
                .value_name("FILE")
                .help("Read settings from FILE instead of estate.toml"),
        );
    for command in &commands {
        cli = cli.subcommand(command.cli.clone());
    }
    let matches = match cli.clone().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(err)
            if matches!(
                err.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            let text = err.render().to_string();
            writeln!(out.clone(), "{}", text.trim_end())?;
            return Ok(());
        }
        Err(err) => return Err(Error::msg(err.render().to_string().trim_end().to_owned())),
    };
    let Some((name, sub_matches)) = matches.subcommand() else {
        write!(out.clone(), "{}", cli.render_help())?;
        return Ok(());
    };
    if let Some(file) = matches.get_one::<String>("settings") {
        app.use_settings_file(file.into())?;
    }
    let command = commands
        .into_iter()
        .find(|c| c.name() == name)
        .expect("clap only accepts registered commands");
    let args = sub_matches.clone();
    let built = app.build_with(init_logging).await?;
    (command.handler)(CommandContext {
        args,
        app: built,
        out,
    })
    .await
}

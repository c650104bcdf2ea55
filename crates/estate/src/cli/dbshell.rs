//! `dbshell`: runs the database's own command-line client (`sqlite3`,
//! `psql`, `mysql`/`mariadb`) connected with the project's settings. The
//! client shares this process's terminal (standard input, output and
//! error); the password reaches it through its environment only (see
//! [`estate_orm::backends::client_command`]).

use clap::Arg;

use super::command::{CommandContext, ManagementCommand};
use crate::error::{Error, Result};

pub(crate) fn command() -> ManagementCommand {
    ManagementCommand::new(
        "dbshell",
        "Open the database's command-line client (psql, mysql, sqlite3) on the project's database",
        |ctx: CommandContext| async move { dbshell(&ctx).await },
    )
    .arg(
        Arg::new("parameters")
            .num_args(0..)
            .last(true)
            .allow_hyphen_values(true)
            .value_name("ARGS")
            .help("Extra arguments for the client, after --: dbshell -- -c \"select 1\""),
    )
}

async fn dbshell(ctx: &CommandContext) -> Result<()> {
    let url = match &ctx.app.settings().database_url {
        Some(url) => url.clone(),
        None => {
            // A database handed to the app in code: its URL, password hidden.
            let url = ctx.database()?.url().to_owned();
            if url.contains(":****@") {
                return Err(Error::msg(
                    "dbshell: the database was given in code, and its password is not \
                     known here; set database_url (or DATABASE_URL) instead",
                ));
            }
            url
        }
    };
    let client = estate_orm::backends::client_command(&url)
        .map_err(|err| Error::msg(format!("dbshell: {err}")))?;
    let extra: Vec<String> = ctx
        .args
        .get_many::<String>("parameters")
        .map(|values| values.cloned().collect())
        .unwrap_or_default();
    // Ctrl-C belongs to the client (psql cancels the query): with a handler
    // registered, the signal no longer ends this process under it.
    #[cfg(unix)]
    let _interrupts =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    let programs = client.programs.clone();
    let package = client.package;
    let status = tokio::task::spawn_blocking(move || {
        for program in &client.programs {
            let started = std::process::Command::new(program)
                .args(&client.args)
                .args(&extra)
                .envs(client.env.iter().map(|(k, v)| (k, v)))
                .status();
            match started {
                Ok(status) => return Ok(Some((*program, status))),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => {
                    return Err(Error::msg(format!(
                        "dbshell: cannot run `{program}`: {err}"
                    )));
                }
            }
        }
        Ok(None)
    })
    .await
    .map_err(|err| Error::msg(format!("dbshell: the client stopped: {err}")))??;
    match status {
        Some((_, status)) if status.success() => Ok(()),
        Some((program, status)) => Err(Error::msg(format!(
            "dbshell: `{program}` exited with {status}"
        ))),
        None => {
            let names: Vec<String> = programs.iter().map(|p| format!("`{p}`")).collect();
            Err(Error::msg(format!(
                "dbshell: the database client {} is not installed (or not on PATH); install \
                 it, e.g. `sudo apt install {}` on Debian or Ubuntu",
                names.join(" or "),
                package
            )))
        }
    }
}

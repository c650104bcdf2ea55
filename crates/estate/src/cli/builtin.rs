//! The commands every Estate project has: `runserver`, `check`, `routes`
//! (plus the migration commands, `collectstatic` and `sendtestemail` from
//! their modules).

use std::io::Write;

use clap::{Arg, ArgAction};

use super::check::{Level, format_report};
use super::command::{CommandContext, ManagementCommand};
use crate::error::{Error, Result};

pub(crate) fn builtin_commands() -> Vec<ManagementCommand> {
    let mut commands = vec![runserver(), check(), routes()];
    commands.extend(super::migrate::commands());
    commands.push(super::collectstatic::command());
    commands.push(crate::mail::commands::sendtestemail());
    commands.push(super::fixtures::dumpdata());
    commands.push(super::fixtures::loaddata());
    commands.push(super::flush::command());
    commands.push(super::dbshell::command());
    commands.push(super::diffsettings::command());
    commands
}

fn runserver() -> ManagementCommand {
    ManagementCommand::new(
        "runserver",
        "Start the web server (default 127.0.0.1:8000, or server.addr)",
        |ctx: CommandContext| async move {
            let addr = match ctx.args.get_one::<String>("addrport") {
                Some(given) => normalize_addr(given)?,
                None => ctx.app.settings().server.addr.clone(),
            };
            if ctx.args.get_flag("reload") {
                return reload(ctx, &addr).await;
            }
            let messages = ctx.app.check(false);
            let blocking = messages.iter().any(|m| m.level >= Level::Error);
            if !messages.is_empty() {
                write!(ctx.out(), "{}", format_report(&messages))?;
            }
            if blocking {
                return Err(Error::msg(
                    "system check found errors; fix them before starting the server",
                ));
            }
            for warning in super::migrate::startup_warnings(&ctx).await {
                tracing::warn!(target: "estate::migrations", "{warning}");
                writeln!(ctx.out(), "{warning}")?;
            }
            #[cfg(unix)]
            if let Some(listener) = super::reload::inherited_listener()? {
                // Started by `runserver --reload`: its socket, not `addr`.
                listener.set_nonblocking(true)?;
                let listener = tokio::net::TcpListener::from_std(listener)?;
                return ctx
                    .app
                    .serve(listener, crate::server::shutdown_signal())
                    .await;
            }
            ctx.app
                .bind_and_serve(&addr, crate::server::shutdown_signal())
                .await
        },
    )
    .arg(
        Arg::new("addrport")
            .help("Address and port to listen on: 8080, 0.0.0.0:8000 or [::1]:8000"),
    )
    .arg(
        Arg::new("reload")
            .long("reload")
            .action(ArgAction::SetTrue)
            .help(
                "Rebuild and restart on source changes, keeping the socket open (cargo run only)",
            ),
    )
    .configure(|cmd| cmd.visible_alias("serve"))
}

/// `runserver --reload`: the supervisor that rebuilds and restarts the
/// server (see `reload.rs`).
async fn reload(ctx: CommandContext, addr: &str) -> Result<()> {
    #[cfg(unix)]
    {
        let grace = ctx.app.settings().server.shutdown_grace;
        super::reload::supervise(ctx.out(), addr, grace).await
    }
    #[cfg(not(unix))]
    {
        let _ = (ctx, addr);
        Err(Error::msg(
            "runserver --reload needs a Unix system (it passes the listening socket to the \
             restarted server); run `runserver` and restart it by hand",
        ))
    }
}

/// Accepts `8080`, `0.0.0.0:8000`, `[::]:8000`, `localhost:8000`.
fn normalize_addr(given: &str) -> Result<String> {
    if !given.is_empty() && given.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(format!("127.0.0.1:{given}"));
    }
    let valid_port = given
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if valid_port {
        Ok(given.to_owned())
    } else {
        Err(Error::msg(format!(
            "runserver: {given:?} is not a port or address:port (try 8000, 0.0.0.0:8000 or [::]:8000)"
        )))
    }
}

fn check() -> ManagementCommand {
    ManagementCommand::new(
        "check",
        "Inspect the project for common problems (--deploy: the production checklist)",
        |ctx: CommandContext| async move {
            let deploy = ctx.args.get_flag("deploy");
            let fail_level = ctx
                .args
                .get_one::<String>("fail-level")
                .map(|text| {
                    Level::parse(text).ok_or_else(|| {
                        Error::msg(format!(
                            "check: unknown --fail-level {text:?}; use info, warning, error or critical"
                        ))
                    })
                })
                .transpose()?
                .unwrap_or(Level::Error);
            let messages = ctx.app.check(deploy);
            write!(ctx.out(), "{}", format_report(&messages))?;
            let failing = messages.iter().filter(|m| m.level >= fail_level).count();
            if failing > 0 {
                return Err(Error::msg(format!(
                    "system check found {failing} issue{} at or above the fail level",
                    if failing == 1 { "" } else { "s" }
                )));
            }
            Ok(())
        },
    )
    .arg(
        Arg::new("deploy")
            .long("deploy")
            .action(ArgAction::SetTrue)
            .help("Also run the deployment checklist (DEBUG, SECRET_KEY, hosts, HTTPS, cookies)"),
    )
    .arg(
        Arg::new("fail-level")
            .long("fail-level")
            .value_name("LEVEL")
            .help("Exit with failure at this level or above: info, warning, error (default), critical"),
    )
}

fn routes() -> ManagementCommand {
    ManagementCommand::new(
        "routes",
        "List every route with its methods, path, name and handler",
        |ctx: CommandContext| async move {
            let mut rows = vec![[
                "METHOD".to_owned(),
                "PATH".to_owned(),
                "NAME".to_owned(),
                "HANDLER".to_owned(),
            ]];
            for route in ctx.app.context().routes() {
                for handler in &route.handlers {
                    rows.push([
                        handler.method.to_owned(),
                        route.path.clone(),
                        route.name.clone().unwrap_or_default(),
                        handler.handler.clone(),
                    ]);
                }
            }
            let widths: Vec<usize> = (0..4)
                .map(|col| {
                    rows.iter()
                        .map(|r| r[col].chars().count())
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let mut out = ctx.out();
            for row in rows {
                let line = format!(
                    "{:w0$}  {:w1$}  {:w2$}  {}",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2]
                );
                writeln!(out, "{}", line.trim_end())?;
            }
            Ok(())
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runserver_addresses() {
        assert_eq!(normalize_addr("8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(normalize_addr("0.0.0.0:8000").unwrap(), "0.0.0.0:8000");
        assert_eq!(normalize_addr("[::]:8000").unwrap(), "[::]:8000");
        let err = normalize_addr("localhost").unwrap_err().to_string();
        assert!(err.contains("not a port or address:port"), "{err}");
        assert!(normalize_addr("host:99999").is_err());
    }
}

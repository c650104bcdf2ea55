//! `createsuperuser` and `changepassword`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use clap::{Arg, ArgAction};
use estate_orm::{Database, Model};

use super::models::User;
use super::{Auth, create_superuser};
use crate::cli::{CommandContext, ManagementCommand};
use crate::error::{Error, Result};

fn auth_and_db(ctx: &CommandContext) -> Result<(Auth, Database)> {
    let context = ctx.app.context();
    let auth = context
        .get::<Auth>()
        .cloned()
        .ok_or_else(super::not_installed)?;
    let db = context.get::<Database>().cloned().ok_or_else(|| {
        Error::msg("no database is configured: set DATABASE_URL (e.g. sqlite://db.sqlite3)")
    })?;
    Ok((auth, db))
}

/// One line from standard input, after writing `prompt`; `None` at the
/// end of input.
fn ask(ctx: &CommandContext, prompt: &str) -> Result<Option<String>> {
    let mut out = ctx.out();
    write!(out, "{prompt}")?;
    out.flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

/// A password from the terminal without echo (or a plain line when input
/// is piped).
fn ask_password(ctx: &CommandContext, prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password(prompt)?);
    }
    ask(ctx, prompt)?.ok_or_else(|| Error::msg("no password given: input ended"))
}

/// Asks for a password twice until both match and (unless the user
/// bypasses them) the validators pass.
fn new_password(ctx: &CommandContext, auth: &Auth, user: &User) -> Result<String> {
    for _ in 0..3 {
        let first = ask_password(ctx, "Password: ")?;
        let second = ask_password(ctx, "Password (again): ")?;
        if first != second {
            writeln!(ctx.out(), "Error: Your passwords didn't match.")?;
            continue;
        }
        if first.trim().is_empty() {
            writeln!(ctx.out(), "Error: Blank passwords aren't allowed.")?;
            continue;
        }
        match auth.validate_password(&first, Some(user)) {
            Ok(()) => return Ok(first),
            Err(errors) => {
                for error in errors {
                    writeln!(ctx.out(), "{error}")?;
                }
                let answer = ask(
                    ctx,
                    "Bypass password validation and create user anyway? [y/N]: ",
                )?;
                if matches!(answer.as_deref().map(str::trim), Some("y" | "Y" | "yes")) {
                    return Ok(first);
                }
            }
        }
    }
    Err(Error::msg("no valid password after 3 tries"))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `createsuperuser`.
pub(crate) fn createsuperuser() -> ManagementCommand {
    ManagementCommand::new(
        "createsuperuser",
        "Create a superuser (asks for username, email and password)",
        |ctx: CommandContext| async move {
            let (auth, db) = auth_and_db(&ctx)?;
            let noinput = ctx.args.get_flag("noinput");
            let given_username = ctx
                .args
                .get_one::<String>("username")
                .cloned()
                .or_else(|| env("ESTATE_SUPERUSER_USERNAME"));
            let given_email = ctx
                .args
                .get_one::<String>("email")
                .cloned()
                .or_else(|| env("ESTATE_SUPERUSER_EMAIL"));
            let (username, email, password) = if noinput {
                let username = given_username.ok_or_else(|| {
                    Error::msg(
                        "createsuperuser --noinput needs a username: --username NAME or \
                         ESTATE_SUPERUSER_USERNAME",
                    )
                })?;
                let email = given_email.unwrap_or_default();
                let password = env("ESTATE_SUPERUSER_PASSWORD");
                if let Some(password) = &password {
                    let mut probe = User::new(&username, &email);
                    probe.email = email.clone();
                    auth.validate_password(password, Some(&probe))
                        .map_err(|errors| {
                            Error::msg(format!("ESTATE_SUPERUSER_PASSWORD: {}", errors.join(" ")))
                        })?;
                }
                (username, email, password)
            } else {
                let username = match given_username {
                    Some(name) => name,
                    None => loop {
                        let answer = ask(&ctx, "Username: ")?
                            .ok_or_else(|| Error::msg("no username given: input ended"))?;
                        if let Err(message) = super::validate_username(answer.trim()) {
                            writeln!(ctx.out(), "Error: {message}")?;
                            continue;
                        }
                        let taken = User::objects()
                            .filter(User::USERNAME.eq(answer.trim()))
                            .exists(&db)
                            .await?;
                        if taken {
                            writeln!(ctx.out(), "Error: That username is already taken.")?;
                            continue;
                        }
                        break answer.trim().to_owned();
                    },
                };
                let email = match given_email {
                    Some(email) => email,
                    None => ask(&ctx, "Email address: ")?.unwrap_or_default(),
                };
                let probe = User::new(&username, &email);
                let password = new_password(&ctx, &auth, &probe)?;
                (username, email, Some(password))
            };
            create_superuser(&auth, &db, &username, email.trim(), password.as_deref()).await?;
            writeln!(ctx.out(), "Superuser created successfully.")?;
            Ok(())
        },
    )
    .arg(Arg::new("username").long("username").help("The login name"))
    .arg(Arg::new("email").long("email").help("The email address"))
    .arg(
        Arg::new("noinput")
            .long("noinput")
            .visible_alias("no-input")
            .action(ArgAction::SetTrue)
            .help(
                "Ask nothing: username and email from the options or ESTATE_SUPERUSER_USERNAME / \
                 _EMAIL, password from ESTATE_SUPERUSER_PASSWORD (none: the user cannot log in)",
            ),
    )
}

/// `changepassword`.
pub(crate) fn changepassword() -> ManagementCommand {
    ManagementCommand::new(
        "changepassword",
        "Change a user's password (asks for it twice)",
        |ctx: CommandContext| async move {
            let (auth, db) = auth_and_db(&ctx)?;
            let username = ctx
                .args
                .get_one::<String>("username")
                .cloned()
                .ok_or_else(|| Error::msg("changepassword needs a username"))?;
            let mut user = User::objects()
                .filter(User::USERNAME.eq(username.as_str()))
                .first(&db)
                .await?
                .ok_or_else(|| Error::msg(format!("user {username:?} does not exist")))?;
            writeln!(ctx.out(), "Changing password for user '{username}'")?;
            let password = new_password(&ctx, &auth, &user)?;
            user.set_password(auth.hashers(), &password);
            User::objects()
                .filter(User::ID.eq(user.id))
                .update(&db, [User::PASSWORD.set(user.password.clone())])
                .await?;
            writeln!(
                ctx.out(),
                "Password changed successfully for user '{username}'"
            )?;
            Ok(())
        },
    )
    .arg(
        Arg::new("username")
            .required(true)
            .help("The user whose password to change"),
    )
}

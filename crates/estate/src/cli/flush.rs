//! `flush`: deletes every row of the installed models' tables (and of their
//! generated many-to-many tables), restarts their keys at 1, and runs the
//! apps' post-migrate hooks again, as Django does. The tables stay, and so
//! do the migration records.

use std::io::{BufRead, Write};

use clap::{Arg, ArgAction};
use estate_orm::ModelMeta;
use estate_orm::model::rows;

use super::command::{CommandContext, ManagementCommand};
use crate::app_module::Models;
use crate::error::{Error, Result};

pub(crate) fn command() -> ManagementCommand {
    ManagementCommand::new(
        "flush",
        "Delete all data from the installed models' tables (asks first; --noinput does not)",
        |ctx: CommandContext| async move { flush(&ctx).await },
    )
    .arg(
        Arg::new("noinput")
            .long("noinput")
            .alias("no-input")
            .action(ArgAction::SetTrue)
            .help("Do not ask for confirmation"),
    )
}

async fn flush(ctx: &CommandContext) -> Result<()> {
    let db = ctx.database()?;
    let mut out = ctx.out();
    if !ctx.args.get_flag("noinput") {
        use std::io::IsTerminal;
        // The answer comes from the terminal; without one, nobody can say yes.
        if !(out.is_terminal() && std::io::stdin().is_terminal()) {
            return Err(Error::msg(
                "flush would delete every row, and there is no terminal to confirm it on: \
                 run it in a terminal, or pass --noinput to flush without asking",
            ));
        }
        write!(
            out,
            "You have requested a flush of the database.\nThis will IRREVERSIBLY DESTROY all \
             data currently in {}, and return each table to an empty state.\nAre you sure you \
             want to do this?\n\n    Type 'yes' to continue, or 'no' to cancel: ",
            db.url()
        )?;
        out.flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            writeln!(out, "Flush cancelled.")?;
            return Ok(());
        }
    }
    let models: Vec<&'static ModelMeta> = ctx
        .app
        .context()
        .apps()
        .iter()
        .filter_map(|app| app.extensions.get::<Models>())
        .flat_map(|models| models.0.iter().copied())
        .collect();
    let tables = rows::flush(&db, &models).await.map_err(|err| {
        Error::msg(format!(
            "flush: {err}. The database may not have been flushed; check it is migrated \
             (run `migrate`) and that no other table points at these"
        ))
    })?;
    super::migrate::run_post_migrate_hooks(ctx, &db).await?;
    writeln!(out, "Flushed {} table(s).", tables.len())?;
    Ok(())
}

//! The polls app: models and their migrations, routes under `/polls`, a
//! `[polls]` settings section and a `closepoll` command.

pub(crate) mod migrations;
pub(crate) mod models;

use std::io::Write;
use std::time::Duration;

use estate::prelude::*;
use serde::Deserialize;

/// The `[polls]` section of `estate.toml` (or `ESTATE_POLLS__*`).
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct PollsSettings {
    /// Polls shown per page.
    pub(crate) page_size: u32,
}

impl Default for PollsSettings {
    fn default() -> Self {
        PollsSettings { page_size: 20 }
    }
}

/// The app, ready for `App::app`.
pub(crate) fn app() -> AppModule {
    AppModule::new("polls")
        .model::<models::Question>()
        .model::<models::Choice>()
        .migrations(
            estate::migrations_dir!("src/polls/migrations"),
            migrations::all,
        )
        .prefix("/polls")
        .settings::<PollsSettings>("polls")
        .route("/", get(index).name("index"))
        .route("/{id}/", get(detail).name("detail"))
        .route("/slow", get(slow).name("slow"))
        .command(
            ManagementCommand::new(
                "closepoll",
                "Close a poll so it takes no more votes",
                |ctx| async move {
                    let id: &String = ctx.args.get_one("poll_id").expect("clap enforces it");
                    writeln!(ctx.out(), "Closed poll {id}.")?;
                    Ok(())
                },
            )
            .arg(clap::Arg::new("poll_id").required(true)),
        )
}

async fn index(ctx: AppContext) -> String {
    let page_size = ctx.settings().section::<PollsSettings>().page_size;
    format!("Latest polls ({page_size} per page)")
}

async fn detail(Path(id): Path<u32>) -> estate::Result<String> {
    if id > 3 {
        return Err(Error::not_found(format!("No poll {id}.")));
    }
    Ok(format!("Poll {id}"))
}

/// Takes a moment, to show that shutdown waits for requests in flight.
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(500)).await;
    "done"
}

//! The polls app of the tutorial, as data only: its models and migrations
//! (the API in `main.rs` serves them).

pub(crate) mod migrations;
pub(crate) mod models;

use estate::prelude::*;

/// The app: the models and their migrations.
pub(crate) fn app() -> AppModule {
    AppModule::new("polls")
        .model::<models::Question>()
        .model::<models::Choice>()
        .migrations(
            estate::migrations_dir!("src/polls/migrations"),
            migrations::all,
        )
}

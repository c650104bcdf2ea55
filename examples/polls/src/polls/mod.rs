//! The polls app: questions and their choices, the pages under /polls/
//! (the latest questions, a question to vote on, its results) and their
//! admin.

mod admin;
pub(crate) mod migrations;
pub(crate) mod models;
#[cfg(test)]
mod tests;
mod views;

use estate::prelude::*;

pub(crate) use admin::register;

/// The app, for `App::app`: its pages live under /polls/.
pub(crate) fn app() -> AppModule {
    AppModule::new("polls")
        .model::<models::Question>()
        .model::<models::Choice>()
        .migrations(
            estate::migrations_dir!("src/polls/migrations"),
            migrations::all,
        )
        .templates(estate::templates!("src/polls/templates"))
        .static_files(estate::static_dir!("src/polls/static"))
        .prefix("/polls")
        // ex: /polls/
        .route("/", views::index().name("index"))
        // ex: /polls/5/
        .route("/{question_id}/", views::detail().name("detail"))
        // ex: /polls/5/results/
        .route("/{question_id}/results/", views::results().name("results"))
        // ex: /polls/5/vote/
        .route("/{question_id}/vote/", post(views::vote).name("vote"))
}

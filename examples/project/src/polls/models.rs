//! The polls app's models.

use estate::orm::ForeignKey;
use estate::orm::chrono::{DateTime, Utc};
use estate::prelude::*;

/// A question people vote on.
#[derive(Model, Debug, Clone, serde::Serialize)]
#[model(table = "polls_question", ordering = "-pub_date")]
pub(crate) struct Question {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 200)]
    pub(crate) question_text: String,
    pub(crate) pub_date: DateTime<Utc>,
}

/// One answer to a question, with its votes.
#[derive(Model, Debug, Clone, serde::Serialize)]
#[model(table = "polls_choice")]
pub(crate) struct Choice {
    pub(crate) id: Auto<i64>,
    #[model(on_delete = Cascade, related_name = "choices")]
    pub(crate) question: ForeignKey<Question>,
    #[model(max_length = 200)]
    pub(crate) choice_text: String,
    #[model(default = 0)]
    pub(crate) votes: i32,
}

//! The polls models (the tutorial's).

use estate::orm::ForeignKey;
use estate::orm::chrono::{DateTime, TimeDelta, Utc};
use estate::prelude::*;

/// A question people vote on.
#[derive(Model, Debug, Clone)]
#[model(table = "polls_question", ordering = "-pub_date")]
pub(crate) struct Question {
    pub(crate) id: Auto<i64>,
    #[model(max_length = 200)]
    pub(crate) question_text: String,
    #[model(verbose_name = "date published")]
    pub(crate) pub_date: DateTime<Utc>,
}

impl Question {
    /// Whether the question was published within the last day (and not
    /// in the future).
    pub(crate) fn was_published_recently(&self) -> bool {
        let now = Utc::now();
        now - TimeDelta::days(1) <= self.pub_date && self.pub_date <= now
    }
}

/// One answer to a question, with its votes.
#[derive(Model, Debug, Clone)]
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

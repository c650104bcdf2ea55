//! Migration 0001_initial of `polls`, written by Estate 0.1.0 on 2026-11-26.
//! Edit it freely: it is ordinary Rust, compiled into the project binary.

#[allow(unused_imports)]
use estate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("polls", "0001_initial")
        .operation(Operation::CreateModel(
            ModelState::new("polls", "Question", "polls_question")
                .field(FieldState::auto("id"))
                .field(FieldState::new("question_text", FieldType::String).max_length(200))
                .field(FieldState::new("pub_date", FieldType::DateTime)),
        ))
        .operation(Operation::CreateModel(
            ModelState::new("polls", "Choice", "polls_choice")
                .field(FieldState::auto("id"))
                .field(
                    FieldState::new("question", FieldType::BigInt)
                        .column("question_id")
                        .references(ModelKey::new("polls", "Question"), OnDelete::Cascade),
                )
                .field(FieldState::new("choice_text", FieldType::String).max_length(200))
                .field(FieldState::new("votes", FieldType::Int)),
        ))
}

//! Migration 0001_initial of `tasks`: the `estate_task` table.

#[allow(unused_imports)]
use crate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("tasks", "0001_initial").operation(Operation::CreateModel(
        ModelState::new("tasks", "TaskRecord", "estate_task")
            .field(FieldState::auto("id"))
            .field(FieldState::new("name", FieldType::String).max_length(200))
            .field(FieldState::new("queue", FieldType::String).max_length(100))
            .field(FieldState::new("priority", FieldType::Int))
            .field(FieldState::new("args", FieldType::String))
            .field(
                FieldState::new("status", FieldType::String)
                    .max_length(20)
                    .index(),
            )
            .field(FieldState::new("attempts", FieldType::Int))
            .field(FieldState::new("max_attempts", FieldType::Int))
            .field(FieldState::new("run_after", FieldType::DateTime))
            .field(FieldState::new("enqueued_at", FieldType::DateTime))
            .field(FieldState::new("started_at", FieldType::DateTime).null())
            .field(FieldState::new("finished_at", FieldType::DateTime).null())
            .field(FieldState::new("locked_until", FieldType::DateTime).null())
            .field(FieldState::new("worker", FieldType::String).max_length(100))
            .field(FieldState::new("result", FieldType::String).null())
            .field(FieldState::new("error", FieldType::String)),
    ))
}

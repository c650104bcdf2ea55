//! Migration 0001_initial of `admin`: the log of changes made through the
//! admin. Written by makemigrations.

#[allow(unused_imports)]
use crate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("admin", "0001_initial")
        .depends_on("auth", "0001_initial")
        .operation(Operation::CreateModel(
            ModelState::new("admin", "LogEntry", "admin_logentry")
                .field(FieldState::auto("id"))
                .field(FieldState::new("action_time", FieldType::DateTime).index())
                .field(
                    FieldState::new("user", FieldType::BigInt)
                        .column("user_id")
                        .references(ModelKey::new("auth", "User"), OnDelete::Cascade),
                )
                .field(FieldState::new("app_label", FieldType::String).max_length(100))
                .field(FieldState::new("model", FieldType::String).max_length(100))
                .field(FieldState::new("object_id", FieldType::String).max_length(255))
                .field(FieldState::new("object_repr", FieldType::String).max_length(200))
                .field(FieldState::new("action_flag", FieldType::Int))
                .field(FieldState::new("change_message", FieldType::String)),
        ))
}

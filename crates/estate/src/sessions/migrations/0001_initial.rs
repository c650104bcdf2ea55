//! Migration 0001_initial of `sessions`: the `estate_session` table.

#[allow(unused_imports)]
use crate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("sessions", "0001_initial").operation(Operation::CreateModel(
        ModelState::new("sessions", "StoredSession", "estate_session")
            .field(
                FieldState::new("session_key", FieldType::String)
                    .max_length(40)
                    .primary_key(),
            )
            .field(FieldState::new("session_data", FieldType::String))
            .field(FieldState::new("expire_date", FieldType::DateTime).index()),
    ))
}

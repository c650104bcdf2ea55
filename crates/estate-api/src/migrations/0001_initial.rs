//! Migration 0001_initial of `api`, written by Estate 0.1.0 on 2026-11-26.
//! Edit it freely: it is ordinary Rust, compiled into the project binary.

#[allow(unused_imports)]
use estate::orm::migrations::prelude::*;

/// The migration.
pub(crate) fn migration() -> Migration {
    Migration::new("api", "0001_initial")
        .depends_on("auth", "0001_initial")
        .operation(Operation::CreateModel(
            ModelState::new("api", "ApiToken", "api_token")
                .field(FieldState::auto("id"))
                .field(
                    FieldState::new("key_digest", FieldType::String)
                        .unique()
                        .max_length(64),
                )
                .field(FieldState::new("shown", FieldType::String).max_length(16))
                .field(FieldState::new("name", FieldType::String).max_length(100))
                .field(
                    FieldState::new("user", FieldType::BigInt)
                        .column("user_id")
                        .references(ModelKey::new("auth", "User"), OnDelete::Cascade),
                )
                .field(FieldState::new("created", FieldType::DateTime)),
        ))
}

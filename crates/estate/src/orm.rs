//! Models and queries: `#[derive(Model)]`, [`Model`], [`QuerySet`], typed
//! column lookups. The crate `estate-orm` re-exported, plus the derive.
//!
//! ```
//! use estate::prelude::*;
//! use estate::orm::chrono::{DateTime, Utc};
//!
//! #[derive(Model, Debug)]
//! #[model(table = "polls_question", ordering = "-pub_date")]
//! pub struct Question {
//!     pub id: Auto<i64>,
//!     #[model(max_length = 200)]
//!     pub question_text: String,
//!     pub pub_date: DateTime<Utc>,
//! }
//!
//! async fn latest(db: &estate::db::Database) -> Result<Vec<Question>, estate::db::DbError> {
//!     Question::objects().filter(Question::QUESTION_TEXT.ne("")).limit(5).all(db).await
//! }
//! ```
//!
//! See the guide `docs/orm.md`.

pub use estate_macros::{Choices, Model};
pub use estate_orm::*;

/// Date and time types for model fields.
pub use estate_orm::chrono;
/// Exact decimals for model fields.
pub use estate_orm::rust_decimal;
/// UUIDs for model fields.
pub use estate_orm::uuid;

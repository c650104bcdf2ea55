//! Migrations: the history of the schema as a list of operations per app,
//! applied and unapplied by an executor that records what ran.
//!
//! ```text
//! let initial = Migration::new("polls", "0001_initial").operation(Operation::CreateModel(
//!     ModelState::new("polls", "Question", "polls_question")
//!         .field(FieldState::auto("id"))
//!         .field(FieldState::new("question_text", FieldType::String).max_length(200)),
//! ));
//! let graph = MigrationGraph::new(vec![initial])?;
//! migrate(&db, &graph, &MigrateTarget::Latest, &mut |_, _| {}).await?;
//! ```

pub mod autodetector;
mod executor;
mod graph;
mod operation;
pub(crate) mod schema;
mod squash;
mod state;
pub mod writer;

pub use executor::{Applied, MigrateTarget, applied, migrate, plan, sql_for};
pub use graph::{Migration, MigrationGraph, resolve_replacements};
pub use operation::{Operation, RustFuture, RustStep, Step};
pub use schema::Statement;
pub use squash::squash;
pub use state::{
    ConstraintState, FieldState, IndexState, ModelKey, ModelState, ProjectState, RelationState,
};

/// What a migration file needs: `use estate::orm::migrations::prelude::*;`.
pub mod prelude {
    pub use super::{
        ConstraintState, FieldState, IndexState, Migration, ModelKey, ModelState, Operation,
        RustFuture,
    };
    pub use crate::model::{FieldType, OnDelete};
    pub use crate::transaction::Transaction;
    pub use crate::value::{Kind, Value};
    pub use serde_json;
}

//! Creating and dropping a model's table. Migrations (a later part) will
//! generate and record these; today tests and simple tools call them
//! directly. The per-backend column types live in the backend modules.

use super::meta::ModelMeta;
use crate::backends::{self, Backend};
use crate::error::DbError;
use crate::executor::{self, Executor};
use crate::migrations::{self, ModelKey, ProjectState};

/// The `CREATE TABLE` and `CREATE INDEX` statements for a model (the same
/// ones a migration's `CreateModel` runs).
pub fn create_table_sql(meta: &'static ModelMeta, backend: Backend) -> Vec<String> {
    // The models it points at are needed for their tables and keys.
    let targets = meta
        .fields
        .iter()
        .filter_map(|f| f.relation)
        .map(|r| (r.target)())
        .filter(|target| target.table != meta.table);
    let project =
        ProjectState::from_models(std::iter::once(("", meta)).chain(targets.map(|t| ("", t))));
    let model = project
        .model(&ModelKey::new("", meta.name))
        .expect("the model was just added");
    migrations::schema::create_model(&project, model, backend)
        .into_iter()
        .map(|statement| statement.sql)
        .collect()
}

/// The tables generated for a model's many-to-many fields.
fn generated_through_tables(meta: &ModelMeta) -> impl Iterator<Item = &'static ModelMeta> + '_ {
    meta.many_to_many
        .iter()
        .filter(|m2m| m2m.auto_created)
        .map(|m2m| (m2m.through)())
}

/// Creates a model's table (and its indexes), then the tables of its
/// many-to-many fields (so the models they link to must exist already).
pub async fn create_table<E: Executor + ?Sized>(
    db: &E,
    meta: &'static ModelMeta,
) -> Result<(), DbError> {
    db.database().register(&[meta]);
    let tables = std::iter::once(meta).chain(generated_through_tables(meta));
    for table in tables {
        for statement in create_table_sql(table, db.backend()) {
            executor::execute(db.target(), &statement, Vec::new()).await?;
        }
    }
    Ok(())
}

/// Drops a model's table, and first the tables of its many-to-many fields.
pub async fn drop_table<E: Executor + ?Sized>(db: &E, meta: &ModelMeta) -> Result<(), DbError> {
    let mut tables: Vec<&str> = generated_through_tables(meta).map(|t| t.table).collect();
    tables.push(meta.table);
    for table in tables {
        let statement = format!("DROP TABLE {}", backends::quote(db.backend(), table));
        executor::execute(db.target(), &statement, Vec::new()).await?;
    }
    Ok(())
}

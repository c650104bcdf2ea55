//! Creating and dropping a model's table. Migrations (a later part) will
//! generate and record these; today tests and simple tools call them
//! directly. The per-backend column types live in the backend modules.

use super::meta::{ConstraintKind, ModelMeta};
use crate::backends::{self, Backend, mysql, postgres, sqlite};
use crate::error::DbError;
use crate::executor::{self, Executor};

fn quote(backend: Backend, name: &str) -> String {
    match backend {
        Backend::Sqlite => sqlite::quote(name),
        Backend::Postgres => postgres::quote(name),
        Backend::MySql => mysql::quote(name),
    }
}

/// The `CREATE TABLE` and `CREATE INDEX` statements for a model.
pub fn create_table_sql(meta: &ModelMeta, backend: Backend) -> Vec<String> {
    let columns: Vec<String> = meta
        .fields
        .iter()
        .map(|field| {
            let column_type = backends::column_type(backend, field);
            let auto_key = match backend {
                Backend::Sqlite => sqlite::AUTO_KEY,
                Backend::Postgres => postgres::AUTO_KEY,
                Backend::MySql => mysql::AUTO_KEY,
            };
            let mut sql = format!("{} {column_type}", quote(backend, field.column));
            sql.push_str(if field.null { " NULL" } else { " NOT NULL" });
            if field.primary_key {
                sql.push(' ');
                sql.push_str(if field.is_auto() {
                    auto_key
                } else {
                    "PRIMARY KEY"
                });
            } else if field.unique {
                sql.push_str(" UNIQUE");
            }
            if let Some(relation) = field.relation {
                // A plain constraint: on_delete is carried out by the ORM.
                let target = (relation.target)();
                sql.push_str(&format!(
                    " REFERENCES {} ({})",
                    quote(backend, target.table),
                    quote(backend, target.pk().column)
                ));
            }
            sql
        })
        .collect();
    let mut columns = columns;
    for constraint in meta.constraints {
        let body = match constraint.kind {
            ConstraintKind::Unique(fields) => {
                format!("UNIQUE ({})", column_list(meta, fields, backend))
            }
            ConstraintKind::Check(sql) => format!("CHECK ({sql})"),
        };
        columns.push(format!(
            "CONSTRAINT {} {body}",
            quote(backend, constraint.name)
        ));
    }
    let mut statements = vec![format!(
        "CREATE TABLE {} ({})",
        quote(backend, meta.table),
        columns.join(", ")
    )];
    for field in meta.fields.iter().filter(|f| f.index && !f.unique) {
        let name = index_name(
            meta.table,
            field.column,
            backend.features().max_identifier_length,
        );
        statements.push(format!(
            "CREATE INDEX {} ON {} ({})",
            quote(backend, &name),
            quote(backend, meta.table),
            quote(backend, field.column)
        ));
    }
    for index in meta.indexes {
        statements.push(format!(
            "CREATE INDEX {} ON {} ({})",
            quote(backend, index.name),
            quote(backend, meta.table),
            column_list(meta, index.fields, backend)
        ));
    }
    statements
}

/// The quoted columns of the named fields (the derive checked the names).
fn column_list(meta: &ModelMeta, fields: &[&str], backend: Backend) -> String {
    fields
        .iter()
        .map(|name| {
            let column = meta.field(name).map_or(*name, |f| f.column);
            quote(backend, column)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `<table>_<column>_idx`, shortened with a stable hash when too long for
/// the backend (like Django's index names).
fn index_name(table: &str, column: &str, max: usize) -> String {
    let name = format!("{table}_{column}_idx");
    if name.len() <= max {
        return name;
    }
    // FNV-1a: stable across runs and platforms.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let suffix = format!("_{:08x}_idx", hash as u32);
    let mut keep = max - suffix.len();
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{suffix}", &name[..keep])
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
        let statement = format!("DROP TABLE {}", quote(db.backend(), table));
        executor::execute(db.target(), &statement, Vec::new()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_index_names_are_shortened_stably() {
        assert_eq!(index_name("poll", "slug", 63), "poll_slug_idx");
        let long = index_name(&"t".repeat(60), "column", 63);
        assert_eq!(long.len(), 63);
        assert_eq!(long, index_name(&"t".repeat(60), "column", 63));
        assert!(long.ends_with("_idx"));
    }
}

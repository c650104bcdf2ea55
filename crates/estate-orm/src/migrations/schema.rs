//! The SQL of schema changes, from [`ModelState`]s: creating and dropping
//! tables, adding and removing columns. What differs between backends (type
//! names, quoting, what `ALTER TABLE` can do) is asked of the backend
//! modules; SQLite, which cannot alter most things in place, gets the
//! rebuild procedure (create the new table, copy the rows, drop, rename,
//! recreate the indexes).

use super::state::{ConstraintState, FieldState, ModelState, ProjectState};
use crate::backends::{self, Backend, ColumnSpec};
use crate::error::{DbError, ErrorKind};
use crate::value::Value;

/// One SQL statement with its bound parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    /// The SQL, with the backend's placeholders.
    pub sql: String,
    /// The values bound to them.
    pub params: Vec<Value>,
}

impl Statement {
    fn plain(sql: String) -> Self {
        Statement {
            sql,
            params: Vec::new(),
        }
    }
}

impl std::fmt::Display for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.sql)?;
        if !self.params.is_empty() {
            write!(f, " -- params: {:?}", self.params)?;
        }
        Ok(())
    }
}

pub(crate) fn quote(backend: Backend, name: &str) -> String {
    backends::quote(backend, name)
}

/// `<table>_<column>_idx`: shortened with a stable hash when too long for
/// the backend (like Django's index names).
pub(crate) fn index_name(table: &str, column: &str, max: usize) -> String {
    limited(&format!("{table}_{column}"), "idx", max)
}

/// `<base>_<suffix>` in at most `max` bytes: a long name keeps its start and
/// ends in a stable (FNV-1a) hash of the whole.
fn limited(base: &str, suffix: &str, max: usize) -> String {
    let name = format!("{base}_{suffix}");
    if name.len() <= max {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let tail = format!("_{:08x}_{suffix}", hash as u32);
    let mut keep = max - tail.len();
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}{tail}", &name[..keep])
}

/// The column's SQL type; a foreign key to a text key takes the key's length.
fn column_spec(project: &ProjectState, field: &FieldState) -> ColumnSpec {
    let mut spec = ColumnSpec {
        field_type: field.field_type,
        max_length: field.max_length,
        max_digits: field.max_digits,
        decimal_places: field.decimal_places,
    };
    if spec.max_length.is_none() {
        if let Some(target_pk) = field
            .relation
            .as_ref()
            .and_then(|r| project.model(&r.to))
            .and_then(ModelState::pk)
        {
            spec.max_length = target_pk.max_length;
        }
    }
    spec
}

/// `"column" type NULL|NOT NULL [PRIMARY KEY|UNIQUE] [REFERENCES ...]`.
fn column_sql(project: &ProjectState, field: &FieldState, backend: Backend, null: bool) -> String {
    let column_type = backends::column_type(backend, &column_spec(project, field));
    let mut sql = format!("{} {column_type}", quote(backend, &field.column));
    sql.push_str(if null { " NULL" } else { " NOT NULL" });
    if field.primary_key {
        sql.push(' ');
        if matches!(
            field.field_type,
            crate::model::FieldType::AutoInt | crate::model::FieldType::AutoBigInt
        ) {
            sql.push_str(backends::auto_key(backend));
        } else {
            sql.push_str("PRIMARY KEY");
        }
    }
    if backend != Backend::MySql {
        if let Some(references) = references(project, field, backend) {
            sql.push(' ');
            sql.push_str(&references);
        }
    }
    sql
}

/// `REFERENCES "target" ("id")` for a foreign key (a plain constraint:
/// on_delete is carried out by the ORM).
fn references(project: &ProjectState, field: &FieldState, backend: Backend) -> Option<String> {
    let target = project.model(&field.relation.as_ref()?.to)?;
    let pk = target.pk()?;
    Some(format!(
        "REFERENCES {} ({})",
        quote(backend, &target.table),
        quote(backend, &pk.column)
    ))
}

/// The named unique constraint of one field (named, so it can be dropped).
fn unique_constraint(table: &str, field: &FieldState, backend: Backend) -> String {
    format!(
        "CONSTRAINT {} UNIQUE ({})",
        quote(backend, &unique_name(table, &field.column, backend)),
        quote(backend, &field.column)
    )
}

pub(crate) fn unique_name(table: &str, column: &str, backend: Backend) -> String {
    named(table, column, "uniq", backend)
}

/// `<table>_<column>_<suffix>`, within the backend's identifier length.
fn named(table: &str, column: &str, suffix: &str, backend: Backend) -> String {
    limited(
        &format!("{table}_{column}"),
        suffix,
        backend.features().max_identifier_length,
    )
}

/// The name of a foreign key constraint. MySQL gets named, table-level
/// constraints (it needs the name to drop one); the others declare the
/// reference on the column.
fn foreign_key_name(table: &str, column: &str, backend: Backend) -> String {
    named(table, column, "fk", backend)
}

/// MySQL's `CONSTRAINT .. FOREIGN KEY (..) REFERENCES ..` for a field.
fn mysql_foreign_key(project: &ProjectState, table: &str, field: &FieldState) -> Option<String> {
    let backend = Backend::MySql;
    let references = references(project, field, backend)?;
    Some(format!(
        "CONSTRAINT {} FOREIGN KEY ({}) {references}",
        quote(backend, &foreign_key_name(table, &field.column, backend)),
        quote(backend, &field.column)
    ))
}

fn column_of<'a>(model: &'a ModelState, field: &'a str) -> &'a str {
    model.get_field(field).map_or(field, |f| f.column.as_str())
}

fn column_list(model: &ModelState, fields: &[String], backend: Backend) -> String {
    fields
        .iter()
        .map(|f| quote(backend, column_of(model, f)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `CREATE TABLE` statement of `model`, named `table`.
fn create_table(
    project: &ProjectState,
    model: &ModelState,
    table: &str,
    backend: Backend,
) -> String {
    let mut parts: Vec<String> = model
        .fields
        .iter()
        .map(|f| column_sql(project, f, backend, f.null))
        .collect();
    for field in model.fields.iter().filter(|f| f.unique && !f.primary_key) {
        parts.push(unique_constraint(&model.table, field, backend));
    }
    if backend == Backend::MySql {
        parts.extend(
            model
                .fields
                .iter()
                .filter_map(|f| mysql_foreign_key(project, &model.table, f)),
        );
    }
    for constraint in &model.constraints {
        let body = match constraint {
            ConstraintState::Unique { fields, .. } => {
                format!("UNIQUE ({})", column_list(model, fields, backend))
            }
            ConstraintState::Check { sql, .. } => format!("CHECK ({sql})"),
        };
        parts.push(format!(
            "CONSTRAINT {} {body}",
            quote(backend, constraint.name())
        ));
    }
    format!(
        "CREATE TABLE {} ({})",
        quote(backend, table),
        parts.join(", ")
    )
}

/// The index of one field, if it has one of its own.
fn field_index(model: &ModelState, field: &FieldState, backend: Backend) -> Option<Statement> {
    if !field.index || field.unique || field.primary_key {
        return None;
    }
    let name = index_name(
        &model.table,
        &field.column,
        backend.features().max_identifier_length,
    );
    Some(Statement::plain(format!(
        "CREATE INDEX {} ON {} ({})",
        quote(backend, &name),
        quote(backend, &model.table),
        quote(backend, &field.column)
    )))
}

/// Every index of the model: single-field ones, then composite ones.
fn indexes(model: &ModelState, backend: Backend) -> Vec<Statement> {
    let mut statements: Vec<Statement> = model
        .fields
        .iter()
        .filter_map(|f| field_index(model, f, backend))
        .collect();
    for index in &model.indexes {
        statements.push(Statement::plain(format!(
            "CREATE INDEX {} ON {} ({})",
            quote(backend, &index.name),
            quote(backend, &model.table),
            column_list(model, &index.fields, backend)
        )));
    }
    statements
}

/// `CREATE TABLE` and its indexes.
pub(crate) fn create_model(
    project: &ProjectState,
    model: &ModelState,
    backend: Backend,
) -> Vec<Statement> {
    let mut statements = vec![Statement::plain(create_table(
        project,
        model,
        &model.table,
        backend,
    ))];
    statements.extend(indexes(model, backend));
    statements
}

/// `DROP TABLE`.
pub(crate) fn delete_model(model: &ModelState, backend: Backend) -> Vec<Statement> {
    vec![Statement::plain(format!(
        "DROP TABLE {}",
        quote(backend, &model.table)
    ))]
}

/// Adds `field` (already in `after`) to the table of `before`; `fill` is the
/// value existing rows get when the column is NOT NULL.
pub(crate) fn add_field(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    field: &FieldState,
    fill: Option<&Value>,
    backend: Backend,
) -> Result<Vec<Statement>, DbError> {
    if field.primary_key {
        return Err(DbError::new(
            ErrorKind::Other,
            format!(
                "cannot add the primary key `{}` to `{}` in place: create a new model and copy \
                 the rows",
                field.name, after.name
            ),
        ));
    }
    let table = quote(backend, &after.table);
    let column = quote(backend, &field.column);
    if backend == Backend::Sqlite {
        // SQLite adds a column in place only when it is nullable and not
        // unique; anything else is a rebuild, which also fills the rows.
        if field.null && !field.unique {
            let mut statements = vec![Statement::plain(format!(
                "ALTER TABLE {table} ADD COLUMN {}",
                column_sql(project, field, backend, true)
            ))];
            if let Some(fill) = fill {
                statements.push(Statement {
                    sql: format!("UPDATE {table} SET {column} = ?"),
                    params: vec![fill.clone()],
                });
            }
            statements.extend(field_index(after, field, backend));
            return Ok(statements);
        }
        let fills = fill.map(|value| (field.name.clone(), value.clone()));
        return Ok(rebuild(
            project,
            before,
            after,
            fills.into_iter().collect(),
            backend,
        ));
    }
    let mut statements = vec![Statement::plain(format!(
        "ALTER TABLE {table} ADD COLUMN {}",
        column_sql(project, field, backend, field.null || fill.is_some())
    ))];
    if let Some(fill) = fill {
        statements.push(Statement {
            sql: format!("UPDATE {table} SET {column} = ?"),
            params: vec![fill.clone()],
        });
        if !field.null {
            let column_type = backends::column_type(backend, &column_spec(project, field));
            statements.push(Statement::plain(backends::set_not_null(
                backend,
                &after.table,
                &field.column,
                &format!("{column} {column_type} NOT NULL"),
            )));
        }
    }
    if field.unique {
        statements.push(Statement::plain(format!(
            "ALTER TABLE {table} ADD {}",
            unique_constraint(&after.table, field, backend)
        )));
    }
    if backend == Backend::MySql {
        if let Some(constraint) = mysql_foreign_key(project, &after.table, field) {
            statements.push(Statement::plain(format!(
                "ALTER TABLE {table} ADD {constraint}"
            )));
        }
    }
    statements.extend(field_index(after, field, backend));
    Ok(statements)
}

/// Removes `field` (in `before`, gone from `after`).
pub(crate) fn remove_field(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    field: &FieldState,
    backend: Backend,
) -> Vec<Statement> {
    let table = quote(backend, &before.table);
    let column = quote(backend, &field.column);
    if backend == Backend::Sqlite {
        let in_composite = before
            .indexes
            .iter()
            .any(|i| i.fields.contains(&field.name))
            || before.constraints.iter().any(|c| match c {
                ConstraintState::Unique { fields, .. } => fields.contains(&field.name),
                ConstraintState::Check { .. } => true,
            });
        if field.primary_key || field.unique || field.relation.is_some() || in_composite {
            return rebuild(project, before, after, Vec::new(), backend);
        }
        let mut statements = Vec::new();
        if field_index(before, field, backend).is_some() {
            let name = index_name(
                &before.table,
                &field.column,
                backend.features().max_identifier_length,
            );
            statements.push(Statement::plain(format!(
                "DROP INDEX {}",
                quote(backend, &name)
            )));
        }
        statements.push(Statement::plain(format!(
            "ALTER TABLE {table} DROP COLUMN {column}"
        )));
        return statements;
    }
    let mut statements = Vec::new();
    if backend == Backend::MySql && field.relation.is_some() {
        statements.push(Statement::plain(format!(
            "ALTER TABLE {table} DROP FOREIGN KEY {}",
            quote(
                backend,
                &foreign_key_name(&before.table, &field.column, backend)
            )
        )));
    }
    statements.push(Statement::plain(format!(
        "ALTER TABLE {table} DROP COLUMN {column}"
    )));
    statements
}

/// Changes `old` into `new` (same field name) in the table of `before`;
/// `fill` replaces NULLs when the column becomes NOT NULL.
pub(crate) fn alter_field(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    old: &FieldState,
    new: &FieldState,
    fill: Option<&Value>,
    backend: Backend,
) -> Result<Vec<Statement>, DbError> {
    if old.primary_key != new.primary_key
        || old.relation.as_ref().map(|r| &r.to) != new.relation.as_ref().map(|r| &r.to)
    {
        return Err(DbError::new(
            ErrorKind::Other,
            format!(
                "cannot change whether `{}.{}` is the primary key or which model it points at \
                 in place: add a new field, copy the data (RunSql), and remove the old one",
                after.name, new.name
            ),
        ));
    }
    if backend == Backend::Sqlite {
        let fills = fill.map(|v| (new.name.clone(), v.clone()));
        return Ok(rebuild_with(project, before, after, fills, backend));
    }
    let table = quote(backend, &after.table);
    let mut statements = Vec::new();
    // Old single-column index and unique constraint, by their old names.
    let had_index = field_index(before, old, backend).is_some();
    let has_index = field_index(after, new, backend).is_some();
    let renamed = old.column != new.column;
    if old.unique && !old.primary_key && (!new.unique || renamed) {
        statements.push(Statement::plain(drop_unique(
            backend,
            &before.table,
            &unique_name(&before.table, &old.column, backend),
        )));
    }
    if had_index && (!has_index || renamed) {
        statements.push(drop_index(
            backend,
            &before.table,
            &index_name(
                &before.table,
                &old.column,
                backend.features().max_identifier_length,
            ),
        ));
    }
    if renamed {
        statements.push(Statement::plain(format!(
            "ALTER TABLE {table} RENAME COLUMN {} TO {}",
            quote(backend, &old.column),
            quote(backend, &new.column)
        )));
    }
    let column = quote(backend, &new.column);
    if old.null && !new.null {
        if let Some(fill) = fill {
            statements.push(Statement {
                sql: format!("UPDATE {table} SET {column} = ? WHERE {column} IS NULL"),
                params: vec![fill.clone()],
            });
        }
    }
    let new_type = backends::column_type(backend, &column_spec(project, new));
    let type_changed = column_spec(project, old) != column_spec(project, new);
    match backend {
        Backend::Postgres => {
            if type_changed {
                statements.push(Statement::plain(format!(
                    "ALTER TABLE {table} ALTER COLUMN {column} TYPE {new_type} USING {column}::{new_type}"
                )));
            }
            if old.null != new.null {
                let change = if new.null { "DROP" } else { "SET" };
                statements.push(Statement::plain(format!(
                    "ALTER TABLE {table} ALTER COLUMN {column} {change} NOT NULL"
                )));
            }
        }
        _ => {
            if type_changed || old.null != new.null {
                let null = if new.null { "NULL" } else { "NOT NULL" };
                statements.push(Statement::plain(format!(
                    "ALTER TABLE {table} MODIFY {column} {new_type} {null}"
                )));
            }
        }
    }
    if new.unique && !new.primary_key && (!old.unique || renamed) {
        statements.push(Statement::plain(format!(
            "ALTER TABLE {table} ADD {}",
            unique_constraint(&after.table, new, backend)
        )));
    }
    if has_index && (!had_index || renamed) {
        statements.extend(field_index(after, new, backend));
    }
    Ok(statements)
}

/// Renames field `old` (in `before`) to `new` (in `after`): the column,
/// and the names of its own index and unique constraint.
pub(crate) fn rename_field(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    old: &FieldState,
    new: &FieldState,
    backend: Backend,
) -> Result<Vec<Statement>, DbError> {
    if old.column == new.column {
        return Ok(Vec::new());
    }
    if backend != Backend::Sqlite {
        return alter_field(project, before, after, old, new, None, backend);
    }
    let mut statements = Vec::new();
    let had_index = field_index(before, old, backend).is_some();
    if had_index {
        statements.push(drop_index(
            backend,
            &before.table,
            &index_name(
                &before.table,
                &old.column,
                backend.features().max_identifier_length,
            ),
        ));
    }
    statements.push(Statement::plain(format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        quote(backend, &before.table),
        quote(backend, &old.column),
        quote(backend, &new.column)
    )));
    if had_index {
        statements.extend(field_index(after, new, backend));
    }
    Ok(statements)
}

fn drop_unique(backend: Backend, table: &str, name: &str) -> String {
    match backend {
        // MySQL keeps a unique constraint as an index of the same name.
        Backend::MySql => format!(
            "ALTER TABLE {} DROP INDEX {}",
            quote(backend, table),
            quote(backend, name)
        ),
        _ => format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            quote(backend, table),
            quote(backend, name)
        ),
    }
}

fn drop_index(backend: Backend, table: &str, name: &str) -> Statement {
    Statement::plain(match backend {
        Backend::MySql => format!(
            "DROP INDEX {} ON {}",
            quote(backend, name),
            quote(backend, table)
        ),
        _ => format!("DROP INDEX {}", quote(backend, name)),
    })
}

/// Renames the table of `before` to that of `after`.
pub(crate) fn alter_table_name(
    before: &ModelState,
    after: &ModelState,
    backend: Backend,
) -> Vec<Statement> {
    vec![Statement::plain(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(backend, &before.table),
        quote(backend, &after.table)
    ))]
}

/// Creates a composite index of `model`.
pub(crate) fn add_index(
    model: &ModelState,
    index: &super::state::IndexState,
    backend: Backend,
) -> Vec<Statement> {
    vec![Statement::plain(format!(
        "CREATE INDEX {} ON {} ({})",
        quote(backend, &index.name),
        quote(backend, &model.table),
        column_list(model, &index.fields, backend)
    ))]
}

/// Drops a composite index of `model`.
pub(crate) fn remove_index(model: &ModelState, name: &str, backend: Backend) -> Vec<Statement> {
    vec![drop_index(backend, &model.table, name)]
}

/// Adds a constraint to the table of `before` (`after` has it).
pub(crate) fn add_constraint(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    constraint: &ConstraintState,
    backend: Backend,
) -> Vec<Statement> {
    if backend == Backend::Sqlite {
        return rebuild(project, before, after, Vec::new(), backend);
    }
    let body = match constraint {
        ConstraintState::Unique { fields, .. } => {
            format!("UNIQUE ({})", column_list(after, fields, backend))
        }
        ConstraintState::Check { sql, .. } => format!("CHECK ({sql})"),
    };
    vec![Statement::plain(format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {body}",
        quote(backend, &after.table),
        quote(backend, constraint.name())
    ))]
}

/// Drops a constraint of the table of `before` (`after` lacks it).
pub(crate) fn remove_constraint(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    constraint: &ConstraintState,
    backend: Backend,
) -> Vec<Statement> {
    match (backend, constraint) {
        (Backend::Sqlite, _) => rebuild(project, before, after, Vec::new(), backend),
        (_, ConstraintState::Unique { name, .. }) => {
            vec![Statement::plain(drop_unique(backend, &before.table, name))]
        }
        (_, ConstraintState::Check { name, .. }) => vec![Statement::plain(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            quote(backend, &before.table),
            quote(backend, name)
        ))],
    }
}

/// SQLite's way to change a table: create `after` under a new name, copy the
/// rows (fields of `after` also in `before` by name, `fills` for new ones),
/// drop the old table, rename the new one, recreate the indexes. Foreign key
/// checks must be off around it (the executor does that).
pub(crate) fn rebuild(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    fills: Vec<(String, Value)>,
    backend: Backend,
) -> Vec<Statement> {
    rebuild_with(project, before, after, fills.into_iter().next(), backend)
}

/// [`rebuild`] where `fill` (field name, value) gives a new field its value,
/// or replaces the NULLs of an existing one.
fn rebuild_with(
    project: &ProjectState,
    before: &ModelState,
    after: &ModelState,
    fill: Option<(String, Value)>,
    backend: Backend,
) -> Vec<Statement> {
    let fills: Vec<(String, Value)> = fill.into_iter().collect();
    let temporary = format!("new__{}", after.table);
    let mut targets = Vec::new();
    let mut sources = Vec::new();
    let mut params = Vec::new();
    for field in &after.fields {
        let filled = fills.iter().find(|(name, _)| *name == field.name);
        if let Some(old) = before.get_field(&field.name) {
            targets.push(quote(backend, &field.column));
            match filled {
                Some((_, value)) => {
                    sources.push(format!("COALESCE({}, ?)", quote(backend, &old.column)));
                    params.push(value.clone());
                }
                None => sources.push(quote(backend, &old.column)),
            }
        } else if let Some((_, value)) = filled {
            targets.push(quote(backend, &field.column));
            sources.push("?".to_owned());
            params.push(value.clone());
        }
    }
    let mut statements = vec![
        Statement::plain(create_table(project, after, &temporary, backend)),
        Statement {
            sql: format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                quote(backend, &temporary),
                targets.join(", "),
                sources.join(", "),
                quote(backend, &before.table)
            ),
            params,
        },
        Statement::plain(format!("DROP TABLE {}", quote(backend, &before.table))),
        Statement::plain(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(backend, &temporary),
            quote(backend, &after.table)
        )),
    ];
    statements.extend(indexes(after, backend));
    statements
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

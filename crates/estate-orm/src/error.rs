//! Database errors with a portable kind, so code can react to "unique
//! violation" the same way on every backend.

use std::fmt;

/// What went wrong, in terms that mean the same on every backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A unique or primary-key constraint was violated.
    UniqueViolation,
    /// A foreign key points at nothing, or a referenced row is still in use.
    ForeignKeyViolation,
    /// NULL went into a NOT NULL column.
    NotNullViolation,
    /// A CHECK constraint failed.
    CheckViolation,
    /// The database URL is malformed or names an unsupported backend.
    Configuration,
    /// Connecting, or the connection broke.
    Connection,
    /// No connection became free in time.
    PoolTimeout,
    /// The database gave up on a statement because of another transaction:
    /// a deadlock or serialization failure (SQLSTATE 40001 / 40P01 on
    /// PostgreSQL and MySQL), a MySQL lock wait timeout (1205), or SQLite
    /// still locked by another writer when its busy timeout ran out. The
    /// transaction was rolled back; running it again may succeed.
    TransactionConflict,
    /// A value could not be converted to or from its database type.
    Decode,
    /// A value broke a declared rule (max_length, decimal digits) and was
    /// refused before reaching the database; `field()` names the field.
    Validation,
    /// A delete was refused: rows point at the row through an
    /// `on_delete = Protect` (or `Restrict`) relation.
    Protected,
    /// `get` found no row.
    DoesNotExist,
    /// `get` found more than one row.
    MultipleObjectsReturned,
    /// Something else reported by the database (syntax, missing table...).
    Other,
}

/// A database error: its kind, a message, and (for constraint violations)
/// the constraint named by the database where it says.
#[derive(Debug)]
pub struct DbError {
    kind: ErrorKind,
    message: String,
    constraint: Option<String>,
    field: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl DbError {
    /// An error of a kind with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DbError {
            kind,
            message: message.into(),
            constraint: None,
            field: None,
            source: None,
        }
    }

    /// A validation error on one field.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        DbError {
            field: Some(field.to_owned()),
            ..DbError::new(ErrorKind::Validation, message)
        }
    }

    /// The field a validation error is about.
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// The portable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the database could not be reached: connecting failed, the
    /// connection broke, the server is shutting down, or no connection
    /// became free in time ([`ErrorKind::Connection`] and
    /// [`ErrorKind::PoolTimeout`]). The web layer answers these with `503
    /// Service Unavailable`; retrying later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self.kind, ErrorKind::Connection | ErrorKind::PoolTimeout)
    }

    /// The violated constraint's name, when the database reports it.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }

    /// Prefixes the message with what was being done.
    pub(crate) fn context(mut self, doing: &str) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(constraint) = &self.constraint {
            write!(f, " (constraint `{constraint}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let kind = match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
                    sqlx::error::ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
                    sqlx::error::ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
                    sqlx::error::ErrorKind::CheckViolation => ErrorKind::CheckViolation,
                    _ if db.code().as_deref().is_some_and(is_connection_state) => {
                        ErrorKind::Connection
                    }
                    _ if is_transaction_conflict(db.as_ref()) => ErrorKind::TransactionConflict,
                    _ => ErrorKind::Other,
                };
                let constraint = db
                    .constraint()
                    .map(str::to_owned)
                    .or_else(|| constraint_from_message(kind, db.message()));
                DbError {
                    kind,
                    message: db.message().to_owned(),
                    constraint,
                    field: None,
                    source: None,
                }
                .with_source(err)
            }
            sqlx::Error::PoolTimedOut => DbError::new(
                ErrorKind::PoolTimeout,
                "timed out waiting for a database connection (is the database down or \
                 unreachable? or is every connection held by a long transaction? inside \
                 `atomic`, run queries on the transaction, not on the database)",
            )
            .with_source(err),
            sqlx::Error::Configuration(_) => {
                DbError::new(ErrorKind::Configuration, err.to_string()).with_source(err)
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => {
                DbError::new(ErrorKind::Connection, err.to_string()).with_source(err)
            }
            sqlx::Error::ColumnDecode { .. }
            | sqlx::Error::Decode(_)
            | sqlx::Error::ColumnNotFound(_)
            | sqlx::Error::ColumnIndexOutOfBounds { .. }
            | sqlx::Error::TypeNotFound { .. } => {
                DbError::new(ErrorKind::Decode, err.to_string()).with_source(err)
            }
            _ => DbError::new(ErrorKind::Other, err.to_string()).with_source(err),
        }
    }
}

impl DbError {
    /// For a unique violation on `meta`'s table, the fields whose values
    /// already exist (one for a unique field, several for a unique
    /// constraint), read from the constraint each backend reports. `None`
    /// for other errors or a constraint it cannot place.
    pub fn unique_fields(&self, meta: &crate::ModelMeta) -> Option<Vec<&'static str>> {
        if self.kind != ErrorKind::UniqueViolation {
            return None;
        }
        let reported = self.constraint.as_deref()?;
        // MySQL prefixes the table; SQLite lists `table.column` pairs.
        let name = reported
            .strip_prefix(meta.table)
            .and_then(|rest| rest.strip_prefix('.'))
            .unwrap_or(reported);
        let columns: Vec<&str> = reported
            .split(',')
            .filter_map(|part| part.trim().strip_prefix(meta.table)?.strip_prefix('.'))
            .collect();
        let by_columns = |wanted: &[&str]| -> bool {
            !columns.is_empty()
                && columns.len() == wanted.len()
                && wanted.iter().all(|c| columns.contains(c))
        };
        for field in meta.fields.iter().filter(|f| f.unique || f.primary_key) {
            let named = [
                crate::Backend::Sqlite,
                crate::Backend::Postgres,
                crate::Backend::MySql,
            ]
            .iter()
            .any(|b| crate::migrations::schema::unique_name(meta.table, field.column, *b) == name);
            // The primary key: `<table>_pkey` on PostgreSQL, `PRIMARY` on MySQL.
            let primary =
                field.primary_key && (name == format!("{}_pkey", meta.table) || name == "PRIMARY");
            if named || primary || by_columns(&[field.column]) {
                return Some(vec![field.name]);
            }
        }
        for constraint in meta.constraints {
            if let crate::ConstraintKind::Unique(fields) = constraint.kind {
                let field_columns: Vec<&str> = fields
                    .iter()
                    .filter_map(|f| meta.field(f).map(|m| m.column))
                    .collect();
                if constraint.name == name || by_columns(&field_columns) {
                    return Some(fields.to_vec());
                }
            }
        }
        None
    }
}

/// SQLSTATEs that mean the connection, not the query, failed: class 08
/// (connection exception; MySQL's "server shutdown" is 08S01) and
/// PostgreSQL's shutdown states (57P01 admin shutdown, 57P02 crash
/// shutdown, 57P03 cannot connect now).
fn is_connection_state(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
}

/// Whether a database error means a concurrent transaction got in the way
/// (see [`ErrorKind::TransactionConflict`]). SQLSTATEs are five characters,
/// so they are told apart from SQLite's numeric result codes by the error's
/// type, not its code.
fn is_transaction_conflict(error: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(sqlite) = error.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
        // The extended code's low byte is the primary code: 5 SQLITE_BUSY
        // (and its BUSY_SNAPSHOT, BUSY_TIMEOUT... variants), 6 SQLITE_LOCKED.
        return sqlx::error::DatabaseError::code(sqlite)
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| matches!(code & 0xff, 5 | 6));
    }
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // 1213 deadlock (SQLSTATE 40001), 1205 lock wait timeout (HY000).
        return matches!(mysql.number(), 1205 | 1213);
    }
    // PostgreSQL: serialization_failure, deadlock_detected.
    matches!(error.code().as_deref(), Some("40001" | "40P01"))
}

/// SQLite and MySQL do not report the constraint separately; dig the name
/// (or the columns) out of their message.
fn constraint_from_message(kind: ErrorKind, message: &str) -> Option<String> {
    if kind != ErrorKind::UniqueViolation {
        return None;
    }
    // SQLite: "UNIQUE constraint failed: polls_question.slug"
    if let Some(rest) = message.strip_prefix("UNIQUE constraint failed: ") {
        return Some(rest.trim().to_owned());
    }
    // MySQL/MariaDB: "Duplicate entry 'x' for key 'polls_question.slug_key'"
    if let Some(index) = message.rfind("for key '") {
        let rest = &message[index + "for key '".len()..];
        return rest.strip_suffix('\'').map(str::to_owned);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_states() {
        assert!(is_connection_state("08006"));
        assert!(is_connection_state("08S01"));
        assert!(is_connection_state("57P01"));
        assert!(!is_connection_state("23505"));
        assert!(!is_connection_state("57014"));
    }

    #[test]
    fn constraint_names_from_messages() {
        assert_eq!(
            constraint_from_message(
                ErrorKind::UniqueViolation,
                "UNIQUE constraint failed: t.slug"
            ),
            Some("t.slug".into())
        );
        assert_eq!(
            constraint_from_message(
                ErrorKind::UniqueViolation,
                "Duplicate entry 'a' for key 'polls_question.slug_key'"
            ),
            Some("polls_question.slug_key".into())
        );
        assert_eq!(
            constraint_from_message(ErrorKind::Other, "UNIQUE constraint failed: t.x"),
            None
        );
    }
}

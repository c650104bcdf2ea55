//! PostgreSQL.

use rust_decimal::Decimal;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArguments, PgPool, PgPoolOptions};
use sqlx::{Arguments, Connection, Executor, Postgres};

use super::{BindTypes, Features};
use crate::database::PoolSettings;
use crate::error::DbError;

pub(crate) const FEATURES: Features = Features {
    can_rollback_ddl: true,
    supports_returning: true,
    supports_select_for_update: true,
    supports_skip_locked: true,
    numbered_parameters: true,
    max_identifier_length: 63,
};

/// Opens a pool.
pub(crate) async fn connect(url: &str, settings: &PoolSettings) -> Result<PgPool, DbError> {
    Ok(PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(settings.acquire_timeout)
        .connect(url)
        .await?)
}

impl BindTypes for Postgres {
    fn add_decimal(args: &mut PgArguments, value: Option<Decimal>) -> Result<(), BoxDynError> {
        args.add(value)
    }

    fn add_uuid(args: &mut PgArguments, value: Option<uuid::Uuid>) -> Result<(), BoxDynError> {
        args.add(value)
    }
}

/// Creates database `name` on the server at `admin_url`.
pub(crate) async fn create_database(admin_url: &str, name: &str) -> Result<(), DbError> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await?;
    conn.close().await?;
    Ok(())
}

/// Drops database `name`, disconnecting anyone still on it.
pub(crate) async fn drop_database(admin_url: &str, name: &str) -> Result<(), DbError> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await?;
    conn.close().await?;
    Ok(())
}

//! Test support: which outside databases to use, and a fresh database per
//! test on every configured backend.
//!
//! ```no_run
//! use estate_orm::{RawSql, params};
//!
//! # async fn demo() {
//! estate_orm::testing::each_backend(async |db| {
//!     db.execute("CREATE TABLE t (x INTEGER)", params![]).await.unwrap();
//! })
//! .await;
//! # }
//! ```

use std::io::Write;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::FutureExt;

use crate::backends::{self, Backend};
use crate::database::Database;
use crate::error::DbError;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES: &str = "ESTATE_TEST_POSTGRES";
/// The variable naming the MySQL/MariaDB server for tests.
pub const MYSQL: &str = "ESTATE_TEST_MYSQL";
/// The variable naming the Redis server for tests.
pub const REDIS: &str = "ESTATE_TEST_REDIS";
/// Set (to anything, e.g. `1`) to run browser tests.
pub const BROWSER: &str = "ESTATE_TEST_BROWSER";
/// Set to `1` to turn every skip into a failure (CI sets it).
pub const REQUIRE_ALL: &str = "ESTATE_TEST_REQUIRE_ALL";

/// Whether a test that needs an outside service should run.
#[derive(Debug, PartialEq, Eq)]
pub enum ServiceDecision {
    /// Run, with the variable's value (a URL, usually).
    Run(String),
    /// Skip, with the line to print.
    Skip(String),
    /// Fail: the service is required but not configured.
    Fail(String),
}

/// Decides from the variable's value and `ESTATE_TEST_REQUIRE_ALL`; no IO.
pub fn decide(var: &str, value: Option<&str>, require_all: Option<&str>) -> ServiceDecision {
    match value {
        Some(value) if !value.trim().is_empty() => ServiceDecision::Run(value.to_owned()),
        _ if require_all == Some("1") => ServiceDecision::Fail(format!(
            "{var} is not set, and {REQUIRE_ALL}=1 forbids skipping: set {var} to run this test"
        )),
        _ => ServiceDecision::Skip(format!("skipped: set {var} to run this test")),
    }
}

/// The value of a service variable such as [`POSTGRES`], or `None` after
/// printing a visible `skipped: set X` line. Panics instead of skipping when
/// `ESTATE_TEST_REQUIRE_ALL=1`.
pub fn service(var: &str) -> Option<String> {
    let value = std::env::var(var).ok();
    let require_all = std::env::var(REQUIRE_ALL).ok();
    match decide(var, value.as_deref(), require_all.as_deref()) {
        ServiceDecision::Run(value) => Some(value),
        ServiceDecision::Skip(line) => {
            // Straight to stderr: libtest's capture would hide `eprintln!`.
            let _ = writeln!(std::io::stderr(), "{line}");
            None
        }
        ServiceDecision::Fail(message) => panic!("{message}"),
    }
}

/// A database created for one test, dropped again by [`TestDatabase::drop_database`].
pub struct TestDatabase {
    /// The connected database.
    pub db: Database,
    backend: Backend,
    admin_url: Option<String>,
    name: Option<String>,
}

impl TestDatabase {
    /// A fresh, empty database on `backend`, or `None` (after a `skipped`
    /// line) when that backend's variable is not set.
    pub async fn create(backend: Backend) -> Option<Result<TestDatabase, DbError>> {
        let admin_url = match backend {
            Backend::Sqlite => {
                let db = Database::connect("sqlite::memory:").await;
                return Some(db.map(|db| TestDatabase {
                    db,
                    backend,
                    admin_url: None,
                    name: None,
                }));
            }
            Backend::Postgres => service(POSTGRES)?,
            Backend::MySql => service(MYSQL)?,
        };
        Some(Self::create_on_server(backend, admin_url).await)
    }

    async fn create_on_server(
        backend: Backend,
        admin_url: String,
    ) -> Result<TestDatabase, DbError> {
        let name = unique_name();
        match backend {
            Backend::Postgres => backends::postgres::create_database(&admin_url, &name).await?,
            Backend::MySql => backends::mysql::create_database(&admin_url, &name).await?,
            Backend::Sqlite => unreachable!("SQLite test databases live in memory"),
        }
        let url = with_database(&admin_url, &name);
        let db = Database::connect(&url).await?;
        Ok(TestDatabase {
            db,
            backend,
            admin_url: Some(admin_url),
            name: Some(name),
        })
    }

    /// Which backend.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL, for another process (a server under test); `None`
    /// for SQLite's in-memory database, which no other process can open.
    pub fn url(&self) -> Option<String> {
        Some(with_database(self.admin_url.as_ref()?, self.name.as_ref()?))
    }

    /// Closes the pool and drops the database.
    pub async fn drop_database(self) -> Result<(), DbError> {
        self.db.close().await;
        match (self.backend, self.admin_url, self.name) {
            (Backend::Postgres, Some(admin), Some(name)) => {
                backends::postgres::drop_database(&admin, &name).await
            }
            (Backend::MySql, Some(admin), Some(name)) => {
                backends::mysql::drop_database(&admin, &name).await
            }
            _ => Ok(()),
        }
    }
}

/// Runs `test` once per backend (SQLite always; PostgreSQL and MySQL when
/// their variables are set), each time on a fresh database that is dropped
/// afterwards, even if the test panics. A panic says which backend failed.
pub async fn each_backend<F>(test: F)
where
    F: AsyncFn(Database),
{
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let Some(created) = TestDatabase::create(backend).await else {
            continue;
        };
        let database =
            created.unwrap_or_else(|err| panic!("cannot create a {backend} test database: {err}"));
        let outcome = AssertUnwindSafe(test(database.db.clone()))
            .catch_unwind()
            .await;
        if let Err(err) = database.drop_database().await {
            let _ = writeln!(
                std::io::stderr(),
                "warning: dropping the {backend} test database: {err}"
            );
        }
        if let Err(panic) = outcome {
            let _ = writeln!(std::io::stderr(), "the test failed on {backend}");
            std::panic::resume_unwind(panic);
        }
    }
}

fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!(
        "estate_test_{}_{}_{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        u32::from_le_bytes(random)
    )
}

/// Replaces the database path of a server URL: `postgres://u@h:5432/test?x`
/// with name `n` becomes `postgres://u@h:5432/n?x`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_get_the_new_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("mysql://root@h:3306", "x"),
            "mysql://root@h:3306/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
    }

    #[test]
    fn names_are_unique() {
        assert_ne!(unique_name(), unique_name());
    }

    #[test]
    fn service_decision() {
        assert_eq!(
            decide(POSTGRES, Some("pg://x"), None),
            ServiceDecision::Run("pg://x".into())
        );
        assert!(matches!(
            decide(POSTGRES, None, None),
            ServiceDecision::Skip(_)
        ));
        assert!(matches!(
            decide(POSTGRES, Some(" "), Some("1")),
            ServiceDecision::Fail(_)
        ));
    }
}

//! How to start each database's own command-line client for a database URL
//! (Django's `client.py`): what `dbshell` runs. The password travels in the
//! client's environment (`PGPASSWORD`, `MYSQL_PWD`), never on its command
//! line, where other users of the machine could read it.

use std::fmt;

use super::{Backend, mysql, postgres, sqlite};
use crate::error::DbError;

/// A database client to run: the program, its arguments and environment.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientCommand {
    /// The programs that can serve, in order of preference (`mysql`, then
    /// `mariadb`): run the first one installed.
    pub programs: Vec<&'static str>,
    /// The arguments that connect it (host, port, user, database), never a
    /// password. Extra arguments go after them.
    pub args: Vec<String>,
    /// Variables to add to the client's environment: the password, and
    /// settings the client reads from there (`PGSSLMODE`).
    pub env: Vec<(String, String)>,
    /// The Debian/Ubuntu package that installs the program.
    pub package: &'static str,
}

impl fmt::Debug for ClientCommand {
    /// The environment's values are hidden: they hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(name, _)| format!("{name}=****"))
            .collect();
        f.debug_struct("ClientCommand")
            .field("programs", &self.programs)
            .field("args", &self.args)
            .field("env", &env)
            .field("package", &self.package)
            .finish()
    }
}

/// The client command for a database URL: `sqlite3 FILE`, `psql -U user -h
/// host -p port dbname` or `mysql --user=.. --host=.. --port=.. database`.
///
/// # Errors
/// For a URL no backend understands, and for an in-memory SQLite database,
/// which no other program can open.
pub fn client_command(url: &str) -> Result<ClientCommand, DbError> {
    match Backend::from_url(url)? {
        Backend::Sqlite => sqlite::client_command(url),
        Backend::Postgres => postgres::client_command(url),
        Backend::MySql => mysql::client_command(url),
    }
}

/// The password in a server URL's user part (`scheme://user:password@host`),
/// percent-decoded; `None` when there is none.
pub(crate) fn url_password(url: &str) -> Option<String> {
    let (_, password) = super::url_credentials(url)?;
    let password = percent_encoding::percent_decode_str(password?).decode_utf8_lossy();
    Some(password.into_owned()).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_come_from_the_url_decoded() {
        assert_eq!(
            url_password("postgres://ann:s%40cret%2F1@db:5432/site?sslmode=require").as_deref(),
            Some("s@cret/1")
        );
        assert_eq!(url_password("postgres://ann@db/site"), None);
        assert_eq!(url_password("mysql://root:@db/site"), None);
        assert_eq!(url_password("sqlite://db.sqlite3"), None);
    }

    #[test]
    fn each_backend_gets_its_client_without_the_password_in_the_arguments() {
        let pg = client_command("postgres://ann:pw@db.example:6543/site").unwrap();
        assert_eq!(pg.programs, ["psql"]);
        assert_eq!(
            pg.args,
            ["-U", "ann", "-h", "db.example", "-p", "6543", "site"]
        );
        assert!(pg.env.contains(&("PGPASSWORD".to_owned(), "pw".to_owned())));
        assert_eq!(pg.package, "postgresql-client");
        assert!(!format!("{pg:?}").contains("pw\""), "{pg:?}");

        let my = client_command("mysql://root:pw@127.0.0.1:3307/site").unwrap();
        assert_eq!(my.programs, ["mysql", "mariadb"]);
        assert!(my.args.contains(&"--user=root".to_owned()), "{:?}", my.args);
        assert!(my.args.contains(&"--host=127.0.0.1".to_owned()));
        assert!(my.args.contains(&"--port=3307".to_owned()));
        assert_eq!(my.args.last().map(String::as_str), Some("site"));
        assert!(my.args.iter().all(|a| !a.contains("pw")));
        assert!(my.env.contains(&("MYSQL_PWD".to_owned(), "pw".to_owned())));

        let lite = client_command("sqlite://data/db.sqlite3?mode=rwc").unwrap();
        assert_eq!(lite.programs, ["sqlite3"]);
        assert_eq!(lite.args, ["data/db.sqlite3"]);
        let err = client_command("sqlite::memory:").unwrap_err().to_string();
        assert!(err.contains("in memory"), "{err}");
    }
}

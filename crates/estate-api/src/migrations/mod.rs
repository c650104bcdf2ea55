//! The migrations of `api`, oldest first. `makemigrations` keeps this list
//! up to date when it writes a migration.

use estate::orm::migrations::Migration;

#[path = "0001_initial.rs"]
mod m0001_initial;

/// Every migration of the app.
pub(crate) fn all() -> Vec<Migration> {
    vec![m0001_initial::migration()]
}

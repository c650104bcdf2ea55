//! The migrations of `tasks`, oldest first.

use crate::orm::migrations::Migration;

#[path = "0001_initial.rs"]
mod m0001_initial;

/// Every migration of the app.
pub(crate) fn all() -> Vec<Migration> {
    vec![m0001_initial::migration()]
}

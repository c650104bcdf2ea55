//! Showing the queries: which ran, how long they took, where in your code
//! they came from — and the same query repeated many times (an N+1 pattern)
//! named with its call site.
//!
//! Queries are recorded inside a [`capture`] scope (the Estate core opens one
//! per request in DEBUG; tests open their own). Outside a scope recording
//! costs one task-local lookup.
//!
//! ```no_run
//! # use estate_orm::{Database, RawSql, params};
//! # async fn demo(db: Database) {
//! use estate_orm::query_log;
//!
//! let ((), queries) = query_log::capture(async {
//!     db.execute("SELECT 1", params![]).await.unwrap();
//! })
//! .await;
//! assert_eq!(queries.len(), 1);
//! # }
//! ```

use std::cell::RefCell;
use std::future::Future;
use std::panic::Location;
use std::time::{Duration, Instant};

/// One query that ran.
#[derive(Clone, Debug)]
pub struct QueryRecord {
    /// The SQL text, with placeholders (never the values).
    pub sql: String,
    /// How long it took.
    pub duration: Duration,
    /// Where in the project the query was made, when known.
    pub location: Option<&'static Location<'static>>,
}

tokio::task_local! {
    static LOG: RefCell<Vec<QueryRecord>>;
    static CALLER: &'static Location<'static>;
}

/// Runs `future`, recording every query it makes (on this task).
pub async fn capture<F: Future>(future: F) -> (F::Output, Vec<QueryRecord>) {
    let (output, log) = LOG
        .scope(RefCell::new(Vec::new()), async {
            let output = future.await;
            let log = LOG.with(|log| log.take());
            (output, log)
        })
        .await;
    (output, log)
}

/// Runs `future` with `location` as the call site of the queries it makes.
pub(crate) async fn at<F: Future>(location: &'static Location<'static>, future: F) -> F::Output {
    CALLER.scope(location, future).await
}

/// Records a query, if a [`capture`] scope is open.
pub(crate) fn record(sql: &str, started: Instant) {
    let duration = started.elapsed();
    let _ = LOG.try_with(|log| {
        log.borrow_mut().push(QueryRecord {
            sql: sql.to_owned(),
            duration,
            location: CALLER.try_with(|c| *c).ok(),
        });
    });
}

/// The same SQL run many times in one scope: usually a loop doing one
/// query per item where a `select_related` or an `in_` would do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repeated {
    /// The SQL.
    pub sql: String,
    /// How often it ran.
    pub count: usize,
    /// Where it was made (`file:line`), when known.
    pub location: Option<String>,
}

impl std::fmt::Display for Repeated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "possible N+1 queries: the same query ran {} times{}: {}",
            self.count,
            self.location
                .as_ref()
                .map(|l| format!(" (from {l})"))
                .unwrap_or_default(),
            self.sql
        )
    }
}

/// Queries that ran at least `threshold` times, most repeated first.
pub fn repeated(records: &[QueryRecord], threshold: usize) -> Vec<Repeated> {
    let mut counts: Vec<(&str, usize, Option<&'static Location<'static>>)> = Vec::new();
    for record in records {
        match counts.iter_mut().find(|(sql, _, _)| *sql == record.sql) {
            Some(entry) => entry.1 += 1,
            None => counts.push((&record.sql, 1, record.location)),
        }
    }
    let mut found: Vec<Repeated> = counts
        .into_iter()
        .filter(|(_, count, _)| *count >= threshold)
        .map(|(sql, count, location)| Repeated {
            sql: sql.to_owned(),
            count,
            location: location.map(|l| format!("{}:{}", l.file(), l.line())),
        })
        .collect();
    found.sort_by_key(|r| std::cmp::Reverse(r.count));
    found
}

/// Runs `future` and panics unless it made exactly `expected` queries,
/// listing them (Django's `assertNumQueries`).
#[track_caller]
pub fn assert_num_queries<F: Future>(
    expected: usize,
    future: F,
) -> impl Future<Output = F::Output> {
    let caller = Location::caller();
    async move {
        let (output, queries) = capture(future).await;
        if queries.len() != expected {
            let listing: Vec<String> = queries
                .iter()
                .enumerate()
                .map(|(i, q)| format!("  {}. {}", i + 1, q.sql))
                .collect();
            panic!(
                "{}:{}: expected {expected} quer{}, {} ran:\n{}",
                caller.file(),
                caller.line(),
                if expected == 1 { "y" } else { "ies" },
                queries.len(),
                listing.join("\n")
            );
        }
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(sql: &str) -> QueryRecord {
        QueryRecord {
            sql: sql.into(),
            duration: Duration::ZERO,
            location: None,
        }
    }

    #[test]
    fn repeated_queries_are_found() {
        let mut records = vec![record("A")];
        records.extend((0..6).map(|_| record("B")));
        records.extend((0..3).map(|_| record("C")));
        let found = repeated(&records, 3);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].sql.as_str(), found[0].count), ("B", 6));
        assert_eq!(found[1].count, 3);
        assert!(
            found[0]
                .to_string()
                .starts_with("possible N+1 queries: the same query ran 6 times")
        );
    }
}

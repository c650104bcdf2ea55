//! Where tasks are kept: what the worker and [`Tasks`](super::Tasks) ask
//! of a queue, so the database and Redis can both hold one.

use std::time::Duration;

use estate_orm::chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;

use super::TaskRecord;

/// Why a queue operation failed.
pub(crate) type StoreResult<T> = Result<T, crate::Error>;

/// What a look into the queue found.
pub(crate) enum Claim {
    /// A task, now the worker's.
    Task(Box<TaskRecord>),
    /// A task given up (its workers kept dying); look again.
    GaveUp,
    /// Nothing due.
    Empty,
}

/// One attempt of one task, as its worker holds it: every change a worker
/// makes applies only while the task is still this attempt, running under
/// this worker (a worker whose lease ended cannot overwrite its successor).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Held<'a> {
    pub(crate) id: i64,
    pub(crate) attempt: i32,
    pub(crate) worker: &'a str,
}

/// Claims beyond `max_attempts` granted to tasks whose workers died, before
/// such a task is given up (it may be what kills them).
pub(crate) const EXTRA_CLAIMS_AFTER_CRASHES: i32 = 3;

/// A task queue. Each method is one atomic step.
pub(crate) trait TaskStore: Send + Sync + 'static {
    /// Stores a new task (its id unset); its id.
    fn enqueue(&self, task: TaskRecord) -> BoxFuture<'_, StoreResult<i64>>;

    /// Takes the most urgent due task of `queues` for `worker`, leased
    /// until `now + lease`: ready tasks whose time has come, and running
    /// ones whose lease ended (their worker died).
    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, StoreResult<Claim>>;

    /// Extends the lease; whether the task was still held.
    fn renew<'a>(
        &'a self,
        held: Held<'a>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records success and the JSON result.
    fn succeed<'a>(&'a self, held: Held<'a>, result: String) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records a failed attempt that will run again at `run_after`.
    fn retry<'a>(
        &'a self,
        held: Held<'a>,
        run_after: DateTime<Utc>,
        error: String,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Records the last failed attempt.
    fn fail<'a>(&'a self, held: Held<'a>, error: String) -> BoxFuture<'a, StoreResult<bool>>;

    /// Puts a task back in the queue, due now, the attempt not counted.
    fn put_back<'a>(&'a self, held: Held<'a>, note: String) -> BoxFuture<'a, StoreResult<bool>>;

    /// The task `id` as it stands.
    fn get(&self, id: i64) -> BoxFuture<'_, StoreResult<Option<TaskRecord>>>;

    /// How many tasks are in each status (the Redis queue counts ready and
    /// running ones only: finished ones are not indexed).
    fn counts(&self) -> BoxFuture<'_, StoreResult<Vec<(super::TaskStatus, i64)>>>;

    /// `database` or `redis`, for messages.
    fn name(&self) -> &'static str;
}

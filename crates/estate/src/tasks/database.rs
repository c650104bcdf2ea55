//! Tasks in the project's database (the default): the `estate_task` table.
//! PostgreSQL and MySQL/MariaDB claim with `SELECT ... FOR UPDATE SKIP
//! LOCKED`; every backend (SQLite too) then claims with a conditional
//! update, so two workers never take the same attempt.

use std::time::Duration;

use estate_orm::chrono::{DateTime, Utc};
use estate_orm::{Database, ForUpdate, Model, QuerySet};
use futures_util::future::BoxFuture;

use super::store::{Claim, EXTRA_CLAIMS_AFTER_CRASHES, Held, StoreResult, TaskStore};
use super::{TaskRecord, TaskStatus};

/// The queue in the database.
pub(crate) struct DatabaseStore {
    pub(crate) db: Database,
}

/// The row of this attempt, while its worker still holds it.
fn held(held: Held<'_>) -> QuerySet<TaskRecord> {
    TaskRecord::objects().filter(
        TaskRecord::ID.eq(held.id)
            & TaskRecord::ATTEMPTS.eq(held.attempt)
            & TaskRecord::WORKER.eq(held.worker.to_owned())
            & TaskRecord::STATUS.eq(TaskStatus::Running),
    )
}

impl TaskStore for DatabaseStore {
    fn enqueue(&self, mut task: TaskRecord) -> BoxFuture<'_, StoreResult<i64>> {
        Box::pin(async move {
            task.insert(&self.db).await?;
            Ok(task.key())
        })
    }

    fn claim<'a>(
        &'a self,
        queues: &'a [String],
        worker: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, StoreResult<Claim>> {
        Box::pin(async move {
            let now = Utc::now();
            let lease_end = now + lease;
            let due = TaskRecord::STATUS.eq(TaskStatus::Ready) & TaskRecord::RUN_AFTER.lte(now);
            let abandoned =
                TaskRecord::STATUS.eq(TaskStatus::Running) & TaskRecord::LOCKED_UNTIL.lt(now);
            let query = TaskRecord::objects()
                .filter(TaskRecord::QUEUE.in_(queues.to_vec()))
                .filter(due | abandoned)
                .order_by([
                    TaskRecord::PRIORITY.desc(),
                    TaskRecord::RUN_AFTER.asc(),
                    TaskRecord::ID.asc(),
                ])
                // PostgreSQL and MySQL: rows another worker is claiming are
                // skipped, not waited for.
                .select_for_update(ForUpdate::SkipLocked);
            let claim = self
                .db
                .atomic(async |tx| {
                    let Some(mut row) = query.first(tx).await? else {
                        return Ok::<_, crate::Error>(Claim::Empty);
                    };
                    // Only if nobody claimed it meanwhile (SQLite has no row
                    // locks): the attempt count is the row's version.
                    let unchanged = TaskRecord::objects().filter(
                        TaskRecord::ID.eq(row.key())
                            & TaskRecord::ATTEMPTS.eq(row.attempts)
                            & TaskRecord::STATUS.eq(row.status),
                    );
                    let crashed = row.status == TaskStatus::Running;
                    if crashed && row.attempts >= row.max_attempts + EXTRA_CLAIMS_AFTER_CRASHES {
                        unchanged
                            .update(
                                tx,
                                [
                                    TaskRecord::STATUS.set(TaskStatus::Failed),
                                    TaskRecord::LOCKED_UNTIL.set(None),
                                    TaskRecord::FINISHED_AT.set(Some(now)),
                                    TaskRecord::ERROR.set(super::worker::given_up(row.attempts)),
                                ],
                            )
                            .await?;
                        return Ok(Claim::GaveUp);
                    }
                    let claimed = unchanged
                        .update(
                            tx,
                            [
                                TaskRecord::STATUS.set(TaskStatus::Running),
                                TaskRecord::ATTEMPTS.set(row.attempts + 1),
                                TaskRecord::LOCKED_UNTIL.set(Some(lease_end)),
                                TaskRecord::WORKER.set(worker.to_owned()),
                                TaskRecord::STARTED_AT.set(Some(now)),
                            ],
                        )
                        .await?;
                    if claimed == 0 {
                        return Ok(Claim::Empty);
                    }
                    row.status = TaskStatus::Running;
                    row.attempts += 1;
                    row.locked_until = Some(lease_end);
                    row.worker = worker.to_owned();
                    row.started_at = Some(now);
                    Ok(Claim::Task(Box::new(row)))
                })
                .await?;
            Ok(claim)
        })
    }

    fn renew<'a>(
        &'a self,
        task: Held<'a>,
        until: DateTime<Utc>,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let updated = held(task)
                .update(&self.db, [TaskRecord::LOCKED_UNTIL.set(Some(until))])
                .await?;
            Ok(updated > 0)
        })
    }

    fn succeed<'a>(&'a self, task: Held<'a>, result: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let updated = held(task)
                .update(
                    &self.db,
                    [
                        TaskRecord::STATUS.set(TaskStatus::Successful),
                        TaskRecord::RESULT.set(Some(result)),
                        TaskRecord::ERROR.set(String::new()),
                        TaskRecord::FINISHED_AT.set(Some(Utc::now())),
                        TaskRecord::LOCKED_UNTIL.set(None),
                    ],
                )
                .await?;
            Ok(updated > 0)
        })
    }

    fn retry<'a>(
        &'a self,
        task: Held<'a>,
        run_after: DateTime<Utc>,
        error: String,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let updated = held(task)
                .update(
                    &self.db,
                    [
                        TaskRecord::STATUS.set(TaskStatus::Ready),
                        TaskRecord::RUN_AFTER.set(run_after),
                        TaskRecord::ERROR.set(error),
                        TaskRecord::LOCKED_UNTIL.set(None),
                    ],
                )
                .await?;
            Ok(updated > 0)
        })
    }

    fn fail<'a>(&'a self, task: Held<'a>, error: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let updated = held(task)
                .update(
                    &self.db,
                    [
                        TaskRecord::STATUS.set(TaskStatus::Failed),
                        TaskRecord::ERROR.set(error),
                        TaskRecord::FINISHED_AT.set(Some(Utc::now())),
                        TaskRecord::LOCKED_UNTIL.set(None),
                    ],
                )
                .await?;
            Ok(updated > 0)
        })
    }

    fn put_back<'a>(&'a self, task: Held<'a>, note: String) -> BoxFuture<'a, StoreResult<bool>> {
        Box::pin(async move {
            let updated = held(task)
                .update(
                    &self.db,
                    [
                        TaskRecord::STATUS.set(TaskStatus::Ready),
                        TaskRecord::ATTEMPTS.set(task.attempt - 1),
                        TaskRecord::LOCKED_UNTIL.set(None),
                        TaskRecord::RUN_AFTER.set(Utc::now()),
                        TaskRecord::ERROR.set(note),
                    ],
                )
                .await?;
            Ok(updated > 0)
        })
    }

    fn get(&self, id: i64) -> BoxFuture<'_, StoreResult<Option<TaskRecord>>> {
        Box::pin(async move {
            Ok(TaskRecord::objects()
                .filter(TaskRecord::ID.eq(id))
                .first(&self.db)
                .await?)
        })
    }

    fn counts(&self) -> BoxFuture<'_, StoreResult<Vec<(TaskStatus, i64)>>> {
        Box::pin(async move {
            let mut counts = Vec::new();
            for status in [
                TaskStatus::Ready,
                TaskStatus::Running,
                TaskStatus::Successful,
                TaskStatus::Failed,
            ] {
                let n = TaskRecord::objects()
                    .filter(TaskRecord::STATUS.eq(status))
                    .count(&self.db)
                    .await?;
                counts.push((status, n));
            }
            Ok(counts)
        })
    }

    fn name(&self) -> &'static str {
        "database"
    }
}

//! The tasks' admin page: the queue at a glance (status, attempts, errors),
//! filters by status, queue and task, and a "run again" action.

use estate_orm::chrono::Utc;
use estate_orm::{Database, Model};

use super::{TaskRecord, TaskStatus};
use crate::admin::ModelAdmin;

/// The admin options for tasks: register them with
/// `estate::admin::site().register(estate::tasks::task_admin())`. Every
/// field is read-only; "Run the selected tasks again" puts finished or
/// stuck tasks back in the queue with fresh attempts.
pub fn task_admin() -> ModelAdmin<TaskRecord> {
    ModelAdmin::new()
        .list_display(&[
            "id",
            "name",
            "queue",
            "status",
            "attempts",
            "max_attempts",
            "run_after",
            "finished_at",
            "worker",
            "last_error",
        ])
        .computed("last_error", "Last error", |task: &TaskRecord| {
            let mut error: String = task.error.chars().take(120).collect();
            if task.error.chars().count() > 120 {
                error.push('…');
            }
            error
        })
        .list_filter(&["status", "enqueued_at"])
        .search_fields(&["name", "queue", "args", "error"])
        .date_hierarchy("enqueued_at")
        .readonly_fields(&[
            "name",
            "queue",
            "priority",
            "args",
            "status",
            "attempts",
            "max_attempts",
            "run_after",
            "enqueued_at",
            "started_at",
            "finished_at",
            "locked_until",
            "worker",
            "result",
            "error",
        ])
        .action(
            "run_again",
            "Run the selected tasks again",
            "change",
            run_again,
        )
}

/// Puts the tasks back in the queue, due now, with all their attempts
/// again (running ones are left to their worker).
async fn run_again(db: Database, tasks: Vec<TaskRecord>) -> crate::Result<String> {
    let ids: Vec<i64> = tasks
        .iter()
        .filter(|task| task.task_status() != TaskStatus::Running)
        .map(TaskRecord::key)
        .collect();
    let queued = TaskRecord::objects()
        .filter(TaskRecord::ID.in_(ids))
        .update(
            &db,
            [
                TaskRecord::STATUS.set(TaskStatus::Ready),
                TaskRecord::ATTEMPTS.set(0),
                TaskRecord::RUN_AFTER.set(Utc::now()),
                TaskRecord::FINISHED_AT.set(None),
                TaskRecord::LOCKED_UNTIL.set(None),
            ],
        )
        .await?;
    let skipped = tasks.len() as u64 - queued;
    Ok(match skipped {
        0 => format!("Queued {queued} tasks to run again."),
        _ => {
            format!("Queued {queued} tasks to run again; {skipped} still running were left alone.")
        }
    })
}

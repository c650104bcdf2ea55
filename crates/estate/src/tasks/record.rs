//! The `estate_task` table: one row per enqueued task, its state, result
//! and last error. Workers claim rows from it; the admin shows it.

use estate_orm::Auto;
use estate_orm::chrono::{DateTime, Utc};

/// Where a task stands (Django 6's `TaskResultStatus`), stored as
/// `ready`, `running`, `successful` or `failed`.
#[derive(
    estate_macros::Choices, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting to run (first time, or again after a failed attempt).
    Ready,
    /// A worker has it.
    Running,
    /// Finished; its result is stored.
    Successful,
    /// Failed its last allowed attempt; the error is stored.
    Failed,
}

impl TaskStatus {
    /// The stored text: `ready`, `running`, `successful`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Ready => "ready",
            TaskStatus::Running => "running",
            TaskStatus::Successful => "successful",
            TaskStatus::Failed => "failed",
        }
    }

    /// The status stored as `text`.
    pub fn parse(text: &str) -> Option<TaskStatus> {
        Some(match text {
            "ready" => TaskStatus::Ready,
            "running" => TaskStatus::Running,
            "successful" => TaskStatus::Successful,
            "failed" => TaskStatus::Failed,
            _ => return None,
        })
    }

    /// Whether the task will not run again.
    pub fn is_finished(self) -> bool {
        matches!(self, TaskStatus::Successful | TaskStatus::Failed)
    }
}

/// One enqueued task.
#[derive(estate_macros::Model, Debug, Clone)]
#[model(
    crate = "crate::orm",
    table = "estate_task",
    verbose_name = "task",
    verbose_name_plural = "tasks",
    ordering = "-id"
)]
pub struct TaskRecord {
    /// The task's id ([`TaskId`](super::TaskId)).
    pub id: Auto<i64>,
    /// The task's registered name ([`Task::NAME`](super::Task::NAME)).
    #[model(max_length = 200)]
    pub name: String,
    /// The queue it waits in.
    #[model(max_length = 100)]
    pub queue: String,
    /// Higher runs first (Django's -100 to 100).
    pub priority: i32,
    /// Its arguments, as JSON.
    pub args: String,
    /// Where it stands.
    #[model(max_length = 20, index)]
    pub status: TaskStatus,
    /// Attempts started so far.
    pub attempts: i32,
    /// Attempts allowed before it counts as failed.
    pub max_attempts: i32,
    /// Not run before this moment (delays, retry backoff).
    pub run_after: DateTime<Utc>,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished (succeeded, or failed for good).
    pub finished_at: Option<DateTime<Utc>>,
    /// While running: when its worker's lease ends. A worker renews it while
    /// it works; past it, another worker may take the task.
    pub locked_until: Option<DateTime<Utc>>,
    /// The worker running (or that last ran) it.
    #[model(max_length = 100)]
    pub worker: String,
    /// The result, as JSON, once successful.
    pub result: Option<String>,
    /// The latest attempt's error, or empty.
    pub error: String,
}

impl TaskRecord {
    /// Where it stands.
    pub fn task_status(&self) -> TaskStatus {
        self.status
    }

    /// The key, once saved.
    pub(crate) fn key(&self) -> i64 {
        self.id.get().unwrap_or_default()
    }
}

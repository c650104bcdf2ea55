//! Background tasks, as Django 6's `django.tasks`, with a worker: define a
//! task, enqueue it from a request (in the same transaction as the write
//! that caused it, if you like), and let `worker` processes run it, with
//! priorities, delays, retries with backoff, timeouts and stored results.
//!
//! ```
//! use estate::prelude::*;
//! use estate::tasks::{Task, TaskContext, TaskOptions, Tasks};
//! use serde::{Deserialize, Serialize};
//!
//! /// The arguments are the task: any serde type.
//! #[derive(Serialize, Deserialize)]
//! struct SendWelcome {
//!     user_id: i64,
//! }
//!
//! impl Task for SendWelcome {
//!     const NAME: &'static str = "accounts.send_welcome";
//!     type Output = String;
//!
//!     async fn run(self, ctx: TaskContext) -> estate::Result<String> {
//!         // ctx.app() reaches the database, the mailer, the cache...
//!         Ok(format!("welcomed user {}", self.user_id))
//!     }
//!
//!     fn options() -> TaskOptions {
//!         TaskOptions::new().max_attempts(5).queue("mail")
//!     }
//! }
//!
//! async fn signup(tasks: Tasks) -> estate::Result<String> {
//!     let id = tasks.enqueue(SendWelcome { user_id: 7 }).await?;
//!     Ok(format!("task {id} enqueued"))
//! }
//!
//! fn site() -> App {
//!     App::new()
//!         .app(estate::tasks::app())
//!         .app(AppModule::new("accounts").task::<SendWelcome>())
//!         .route("/signup", post(signup))
//! }
//! ```
//!
//! Run `migrate` once (the `estate_task` table), then `worker` next to the
//! web processes. Tasks live in the project's database by default:
//! PostgreSQL and MySQL 8 / MariaDB 10.6 hand each task to one worker with
//! `FOR UPDATE SKIP LOCKED`, so any number of workers on any number of
//! machines share the queue; on SQLite run one worker. With
//! `tasks.backend = "redis"` they live in Redis instead (every step one Lua
//! script; no transactional enqueueing).
//!
//! **Delivery is at least once.** A worker renews its lease on a running
//! task; if the worker dies (killed, machine lost), its tasks run again on
//! another worker once the lease (`tasks.visibility_timeout`) ends. A task
//! that stops a worker every time is given up after `max_attempts + 3`
//! tries. Write tasks so that running one twice does no harm.

mod admin;
mod database;
pub(crate) mod migrations;
mod record;
mod redis;
mod registry;
mod store;
mod worker;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::FromRequestParts;
use estate_orm::chrono::{DateTime, Utc};
use estate_orm::{Database, Executor, Model};
use http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use admin::task_admin;
pub use record::{TaskRecord, TaskStatus};
pub use registry::TaskRegistry;
pub use worker::Worker;

use store::TaskStore;

use crate::app_module::AppModule;
use crate::context::AppContext;

/// A background task: its arguments are the implementing type (stored as
/// JSON), [`run`](Task::run) is what it does.
pub trait Task: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name it is stored and found under: `"app.task_name"`. Keep it
    /// when renaming the type, or enqueued tasks are not found.
    const NAME: &'static str;

    /// What it returns, stored as JSON (`()` for nothing).
    type Output: Serialize + DeserializeOwned + Send + 'static;

    /// Does the work. An error (or a panic, or running past the timeout)
    /// fails the attempt; it is retried while attempts remain.
    fn run(
        self,
        ctx: TaskContext,
    ) -> impl std::future::Future<Output = crate::Result<Self::Output>> + Send;

    /// Queue, priority, attempts, timeout and backoff of this task.
    fn options() -> TaskOptions {
        TaskOptions::new()
    }
}

/// How a task runs: its defaults, set in [`Task::options`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskOptions {
    /// The queue it waits in (workers choose queues). Default `"default"`.
    pub queue: String,
    /// Higher runs first, -100 to 100. Default 0.
    pub priority: i32,
    /// Attempts before it fails for good. Default 1 (no retry).
    pub max_attempts: u32,
    /// Longest an attempt may run; `None` takes `tasks.default_timeout`.
    pub timeout: Option<Duration>,
    /// Wait before the second attempt; it doubles for each later one.
    /// Default 10 seconds.
    pub backoff: Duration,
    /// The longest wait between attempts. Default 1 hour.
    pub max_backoff: Duration,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            queue: "default".to_owned(),
            priority: 0,
            max_attempts: 1,
            timeout: None,
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

impl TaskOptions {
    /// The defaults.
    pub fn new() -> TaskOptions {
        TaskOptions::default()
    }

    /// Waits in `queue`.
    #[must_use]
    pub fn queue(mut self, queue: &str) -> TaskOptions {
        self.queue = queue.to_owned();
        self
    }

    /// Runs before lower priorities (clamped to -100..=100).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> TaskOptions {
        self.priority = priority.clamp(-100, 100);
        self
    }

    /// Tries up to `attempts` times (at least once).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> TaskOptions {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Fails an attempt that runs longer than `timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> TaskOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Waits `first` before the second attempt, doubling up to `max`.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> TaskOptions {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// The wait after attempt number `attempt` (1-based) failed.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(30);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// Per-enqueue changes to a task's options: Django's `task.using(...)`.
#[derive(Clone, Debug, Default)]
pub struct Enqueue {
    queue: Option<String>,
    priority: Option<i32>,
    run_after: Option<DateTime<Utc>>,
}

impl Enqueue {
    /// The task's own options.
    pub fn new() -> Enqueue {
        Enqueue::default()
    }

    /// Into another queue.
    #[must_use]
    pub fn queue(mut self, queue: &str) -> Enqueue {
        self.queue = Some(queue.to_owned());
        self
    }

    /// With another priority (-100 to 100).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Enqueue {
        self.priority = Some(priority.clamp(-100, 100));
        self
    }

    /// Not before `delay` from now.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Enqueue {
        self.run_after = Some(Utc::now() + delay);
        self
    }

    /// Not before `moment` (Django's `run_after`).
    #[must_use]
    pub fn run_at(mut self, moment: DateTime<Utc>) -> Enqueue {
        self.run_after = Some(moment);
        self
    }
}

/// An enqueued task's id.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct TaskId(pub i64);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A task as it stands, its result typed ([`Tasks::result`]).
#[derive(Clone, Debug)]
pub struct TaskResult<T> {
    /// The id.
    pub id: TaskId,
    /// Where it stands.
    pub status: TaskStatus,
    /// Attempts started.
    pub attempts: u32,
    /// The value, once successful.
    pub value: Option<T>,
    /// The latest attempt's error, if it failed.
    pub error: Option<String>,
    /// When it was enqueued.
    pub enqueued_at: DateTime<Utc>,
    /// When its latest attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// What a running task can reach: the app (database, mailer, cache,
/// settings), and which attempt this is.
#[derive(Clone, Debug)]
pub struct TaskContext {
    app: AppContext,
    id: TaskId,
    attempt: u32,
}

impl TaskContext {
    /// The app's context: `ctx.app().get::<estate::db::Database>()`, ...
    pub fn app(&self) -> &AppContext {
        &self.app
    }

    /// The project's database.
    ///
    /// # Errors
    /// When none is configured.
    pub fn database(&self) -> crate::Result<Database> {
        self.app
            .get::<Database>()
            .cloned()
            .ok_or_else(|| crate::Error::msg("no database is configured: set DATABASE_URL"))
    }

    /// This task's id.
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// Which attempt this is, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

/// Where tasks are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskBackendKind {
    /// The project's database, table `estate_task` (default): tasks can be
    /// enqueued in the transaction of the write that caused them, and the
    /// admin lists them.
    Database,
    /// Redis at `tasks.redis_url`.
    Redis,
}

/// The `[tasks]` section of `estate.toml` (`ESTATE_TASKS__<KEY>`).
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TaskSettings {
    /// `"database"` (default) or `"redis"`.
    pub backend: TaskBackendKind,
    /// The Redis of the `redis` backend: `redis://127.0.0.1:6379/2`.
    pub redis_url: Option<String>,
    /// Put before every Redis key of the queue. Default `estate:tasks`.
    pub redis_prefix: String,
    /// Tasks a `worker` runs at once. Default 4.
    pub concurrency: usize,
    /// The queues a `worker` takes tasks from. Default `["default"]`.
    pub queues: Vec<String>,
    /// Seconds a worker's lease on a running task lasts without renewal:
    /// how soon another worker retries the task of a worker that died.
    /// Default 60.
    pub visibility_timeout: u64,
    /// Milliseconds between looks for new tasks when the queue is empty.
    /// Default 1000.
    pub poll_interval_ms: u64,
    /// Seconds an attempt may run when its task sets no timeout. Default
    /// 300.
    pub default_timeout: u64,
    /// Seconds a stopping worker waits for running tasks before putting
    /// them back in the queue. Default 30.
    pub shutdown_grace: u64,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            backend: TaskBackendKind::Database,
            redis_url: None,
            redis_prefix: "estate:tasks".to_owned(),
            concurrency: 4,
            queues: vec!["default".to_owned()],
            visibility_timeout: 60,
            poll_interval_ms: 1000,
            default_timeout: 300,
            shutdown_grace: 30,
        }
    }
}

/// Enqueues tasks and reads their results. Take it in a handler; clones
/// are cheap.
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<TasksInner>,
}

struct TasksInner {
    store: Arc<dyn TaskStore>,
    /// The database holding the queue (the `database` backend).
    db: Option<Database>,
    /// Every installed app's tasks, merged on first use.
    registry: OnceLock<Arc<TaskRegistry>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tasks").finish_non_exhaustive()
    }
}

/// Every installed app's registered tasks.
pub(crate) fn site_registry(app: &AppContext) -> TaskRegistry {
    let mut registry = TaskRegistry::default();
    for info in app.apps() {
        if let Some(tasks) = info.extensions.get::<TaskRegistry>() {
            registry.merge(tasks);
        }
    }
    registry
}

impl Tasks {
    /// Tasks stored in `db` (the app provides one: take [`Tasks`] as an
    /// extractor instead).
    pub fn new(db: Database) -> Tasks {
        Tasks::with_store(
            Arc::new(database::DatabaseStore { db: db.clone() }),
            Some(db),
        )
    }

    /// Tasks stored in the Redis at `url`, keys under `prefix`.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn redis(url: &str, prefix: &str) -> crate::Result<Tasks> {
        Ok(Tasks::with_store(
            Arc::new(redis::RedisStore::new(url, prefix)?),
            None,
        ))
    }

    fn with_store(store: Arc<dyn TaskStore>, db: Option<Database>) -> Tasks {
        Tasks {
            inner: Arc::new(TasksInner {
                store,
                db,
                registry: OnceLock::new(),
            }),
        }
    }

    /// The queue.
    pub(crate) fn store(&self) -> Arc<dyn TaskStore> {
        self.inner.store.clone()
    }

    /// `database` or `redis`.
    pub fn backend_name(&self) -> &'static str {
        self.inner.store.name()
    }

    fn registry(&self, app: Option<&AppContext>) -> Option<&TaskRegistry> {
        match (self.inner.registry.get(), app) {
            (Some(registry), _) => Some(registry),
            (None, Some(app)) => Some(
                self.inner
                    .registry
                    .get_or_init(|| Arc::new(site_registry(app))),
            ),
            (None, None) => None,
        }
    }

    /// Enqueues `task` with its own options; its id.
    ///
    /// # Errors
    /// When the database fails, or the task is not registered with any
    /// installed app (a worker could not run it).
    pub async fn enqueue<T: Task>(&self, task: T) -> crate::Result<TaskId> {
        self.enqueue_with(task, Enqueue::new()).await
    }

    /// Enqueues `task` with changed options (queue, priority, delay).
    ///
    /// # Errors
    /// As [`Tasks::enqueue`].
    pub async fn enqueue_with<T: Task>(&self, task: T, options: Enqueue) -> crate::Result<TaskId> {
        let record = self.new_record(task, options)?;
        Ok(TaskId(self.inner.store.enqueue(record).await?))
    }

    /// Enqueues `task` on `db`, which may be a transaction: the task is then
    /// enqueued only if the transaction commits (a rolled-back request
    /// enqueues nothing), and workers see it only after the commit.
    ///
    /// # Errors
    /// As [`Tasks::enqueue`]; and with the Redis backend, which cannot join
    /// a database transaction.
    pub async fn enqueue_in<T: Task, E: Executor + ?Sized>(
        &self,
        db: &E,
        task: T,
        options: Enqueue,
    ) -> crate::Result<TaskId> {
        if self.inner.db.is_none() {
            return Err(crate::Error::msg(format!(
                "enqueue_in: tasks are kept in {}, which cannot take part in a database \
                 transaction; use tasks.backend = \"database\" for transactional enqueueing, or \
                 enqueue after the commit",
                self.backend_name()
            )));
        }
        let mut record = self.new_record(task, options)?;
        record.insert(db).await?;
        Ok(TaskId(record.key()))
    }

    /// The row a new task starts as.
    fn new_record<T: Task>(&self, task: T, options: Enqueue) -> crate::Result<TaskRecord> {
        if let Some(registry) = self.registry(None) {
            if !registry.contains(T::NAME) {
                return Err(crate::Error::msg(format!(
                    "task {} is not registered: add .task::<{}>() to an installed app, so \
                     workers can run it",
                    T::NAME,
                    std::any::type_name::<T>()
                )));
            }
        }
        let defaults = T::options();
        let args = serde_json::to_string(&task).map_err(|err| {
            crate::Error::msg(format!(
                "the arguments of task {} cannot be stored as JSON: {err}",
                T::NAME
            ))
        })?;
        let now = Utc::now();
        Ok(TaskRecord {
            id: estate_orm::Auto::new(),
            name: T::NAME.to_owned(),
            queue: options.queue.unwrap_or(defaults.queue),
            priority: options.priority.unwrap_or(defaults.priority),
            args,
            status: TaskStatus::Ready,
            attempts: 0,
            max_attempts: i32::try_from(defaults.max_attempts).unwrap_or(i32::MAX),
            run_after: options.run_after.unwrap_or(now),
            enqueued_at: now,
            started_at: None,
            finished_at: None,
            locked_until: None,
            worker: String::new(),
            result: None,
            error: String::new(),
        })
    }

    /// The task `id` as it stands, its result read as `T::Output`; `None`
    /// when there is no such task.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn result<T: Task>(
        &self,
        id: TaskId,
    ) -> crate::Result<Option<TaskResult<T::Output>>> {
        let Some(record) = self.record(id).await? else {
            return Ok(None);
        };
        let status = record.task_status();
        let value = match (&record.result, status) {
            (Some(json), TaskStatus::Successful) => {
                Some(serde_json::from_str(json).map_err(|err| {
                    crate::Error::msg(format!(
                        "the stored result of task {id} does not fit {}: {err}",
                        std::any::type_name::<T::Output>()
                    ))
                })?)
            }
            _ => None,
        };
        Ok(Some(TaskResult {
            id,
            status,
            attempts: u32::try_from(record.attempts).unwrap_or_default(),
            value,
            error: (!record.error.is_empty()).then(|| record.error.clone()),
            enqueued_at: record.enqueued_at,
            started_at: record.started_at,
            finished_at: record.finished_at,
        }))
    }

    /// The stored row of task `id`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn record(&self, id: TaskId) -> crate::Result<Option<TaskRecord>> {
        self.inner.store.get(id.0).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Tasks {
    type Rejection = crate::Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppContext::from_request_parts(parts, state).await?;
        let tasks = app.get::<Tasks>().cloned().ok_or_else(|| {
            crate::Error::msg(
                "Tasks needs the tasks app and a queue: add .app(estate::tasks::app()) and set \
                 DATABASE_URL (or tasks.backend = \"redis\" with tasks.redis_url)",
            )
        })?;
        tasks.registry(Some(&app));
        Ok(tasks)
    }
}

impl AppModule {
    /// Registers task `T` with this app: workers of the site can run it,
    /// and [`Tasks::enqueue`] accepts it.
    ///
    /// # Panics
    /// When another task type already has `T::NAME`.
    pub fn task<T: Task>(mut self) -> Self {
        let mut registry = self.extensions.remove::<TaskRegistry>().unwrap_or_default();
        registry.add::<T>();
        self.extensions.insert(registry);
        self
    }
}

/// Seconds between two counts of the queue for `/metrics`.
const METRICS_REFRESH_SECS: u64 = 5;

/// `estate_tasks{status="ready"}`... on `/metrics`: counted in the
/// background when a scrape finds the last count older than a few seconds
/// (so a scrape never waits for the queue, and shows the previous count).
fn queue_metrics(metrics: &crate::metrics::Metrics, store: Arc<dyn TaskStore>) {
    #[derive(Default)]
    struct Counts {
        taken: Option<std::time::Instant>,
        values: Vec<(TaskStatus, i64)>,
    }
    let counts = Arc::new(std::sync::Mutex::new(Counts::default()));
    metrics.family_fn(
        "estate_tasks",
        "Background tasks by status (counted at most every 5 seconds).",
        crate::metrics::MetricKind::Gauge,
        move |samples| {
            let mut current = counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let stale = current
                .taken
                .is_none_or(|at| at.elapsed().as_secs() >= METRICS_REFRESH_SECS);
            if stale && let Ok(runtime) = tokio::runtime::Handle::try_current() {
                current.taken = Some(std::time::Instant::now());
                let (store, counts) = (store.clone(), counts.clone());
                runtime.spawn(async move {
                    match store.counts().await {
                        Ok(values) => {
                            counts
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .values = values;
                        }
                        Err(err) => tracing::warn!(
                            target: "estate::tasks",
                            error = %err,
                            "cannot count the task queue for /metrics"
                        ),
                    }
                });
            }
            for (status, n) in &current.values {
                samples.add(&[("status", status.as_str())], *n as f64);
            }
        },
    );
}

/// The tasks app: the `[tasks]` settings, the `estate_task` model and its
/// migration, the [`Tasks`] handle for handlers, and the `worker` command.
pub fn app() -> AppModule {
    AppModule::new("tasks")
        .settings::<TaskSettings>("tasks")
        .model::<TaskRecord>()
        .migrations(
            concat!(env!("CARGO_MANIFEST_DIR"), "/src/tasks/migrations"),
            migrations::all,
        )
        .on_startup(|mut startup| async move {
            let settings = startup.settings().section::<TaskSettings>().clone();
            match settings.backend {
                TaskBackendKind::Database => {
                    if let Some(db) = startup.get::<Database>().cloned() {
                        startup.provide(Tasks::new(db));
                    }
                }
                TaskBackendKind::Redis => {
                    let url = settings.redis_url.as_deref().ok_or_else(|| {
                        crate::Error::msg(
                            "tasks.backend is \"redis\" but tasks.redis_url is not set: add \
                             redis_url = \"redis://127.0.0.1:6379/2\" under [tasks] (or \
                             ESTATE_TASKS__REDIS_URL)",
                        )
                    })?;
                    startup.provide(Tasks::redis(url, &settings.redis_prefix)?);
                }
            }
            if let (Some(metrics), Some(tasks)) = (
                startup.get::<crate::metrics::Metrics>(),
                startup.get::<Tasks>(),
            ) {
                queue_metrics(metrics, tasks.store());
            }
            Ok(startup)
        })
        .check(|ctx| {
            let mut messages = Vec::new();
            let settings = ctx.settings.section::<TaskSettings>();
            if settings.backend == TaskBackendKind::Database && ctx.app.get::<Database>().is_none()
            {
                messages.push(crate::cli::CheckMessage::error(
                    "tasks.E001",
                    "the tasks app keeps tasks in the database, but no database is configured: \
                     set DATABASE_URL (e.g. sqlite://db.sqlite3), or tasks.backend = \"redis\"",
                ));
            }
            messages
        })
        .command(worker::command())
}

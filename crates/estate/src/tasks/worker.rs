//! The worker: claims due tasks from the database, runs them (several at a
//! time), renews its lease while they run, records results and errors,
//! schedules retries, and on shutdown finishes or puts back what it holds.

use std::collections::HashMap;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Arg, ArgAction};
use estate_orm::chrono::Utc;
use estate_orm::{Database, DbError, ForUpdate, Model};
use futures_util::FutureExt as _;

use super::{TaskContext, TaskId, TaskRecord, TaskRegistry, TaskSettings, TaskStatus};
use crate::cli::{CommandContext, ManagementCommand};
use crate::context::AppContext;

/// Claims beyond `max_attempts` granted to tasks whose workers died, before
/// such a task is given up (it may be what kills them).
const EXTRA_CLAIMS_AFTER_CRASHES: i32 = 3;

/// Runs the site's tasks. Built from the app's settings; the `worker`
/// command runs one until SIGINT/SIGTERM.
pub struct Worker {
    app: AppContext,
    db: Database,
    registry: Arc<TaskRegistry>,
    name: String,
    concurrency: usize,
    queues: Vec<String>,
    visibility_timeout: Duration,
    poll_interval: Duration,
    default_timeout: Duration,
    shutdown_grace: Duration,
    /// Tasks being run: id → attempt, to put back at shutdown.
    in_flight: Mutex<HashMap<i64, i32>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name)
            .field("concurrency", &self.concurrency)
            .field("queues", &self.queues)
            .finish_non_exhaustive()
    }
}

/// What a look into the queue found.
enum Claim {
    /// A task, now ours.
    Task(Box<TaskRecord>),
    /// A task given up (its workers kept dying); look again.
    GaveUp,
    /// Nothing due.
    Empty,
}

/// How one attempt ended.
enum Outcome {
    Succeeded(String),
    Failed(String),
}

impl Worker {
    /// A worker for the app's tasks, configured by `[tasks]`.
    ///
    /// # Errors
    /// When the app has no database or the tasks app is not installed.
    pub fn new(app: &AppContext) -> crate::Result<Worker> {
        let db = app.get::<Database>().cloned().ok_or_else(|| {
            crate::Error::msg(
                "the worker needs the database that holds the tasks: set DATABASE_URL",
            )
        })?;
        if !app.apps().iter().any(|info| info.name == "tasks") {
            return Err(crate::Error::msg(
                "the tasks app is not installed: add .app(estate::tasks::app())",
            ));
        }
        let settings = app.settings().section::<TaskSettings>().clone();
        let mut random = crate::crypto::get_random_string(6);
        random.make_ascii_lowercase();
        Ok(Worker {
            app: app.clone(),
            db,
            registry: Arc::new(super::site_registry(app)),
            name: format!("worker-{}-{random}", std::process::id()),
            concurrency: settings.concurrency.max(1),
            queues: settings.queues,
            visibility_timeout: Duration::from_secs(settings.visibility_timeout.max(1)),
            poll_interval: Duration::from_millis(settings.poll_interval_ms.max(1)),
            default_timeout: Duration::from_secs(settings.default_timeout.max(1)),
            shutdown_grace: Duration::from_secs(settings.shutdown_grace),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// Runs up to `n` tasks at once.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Worker {
        self.concurrency = n.max(1);
        self
    }

    /// Takes tasks from these queues only.
    #[must_use]
    pub fn queues(mut self, queues: &[&str]) -> Worker {
        self.queues = queues.iter().map(|q| (*q).to_owned()).collect();
        self
    }

    /// The lease on a running task (see `tasks.visibility_timeout`).
    #[must_use]
    pub fn visibility_timeout(mut self, timeout: Duration) -> Worker {
        self.visibility_timeout = timeout.max(Duration::from_millis(30));
        self
    }

    /// The pause between looks at an empty queue.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Worker {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a stopping worker waits for running tasks.
    #[must_use]
    pub fn shutdown_grace(mut self, grace: Duration) -> Worker {
        self.shutdown_grace = grace;
        self
    }

    /// The worker's name, stored on the tasks it runs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs tasks until `shutdown` completes; then stops taking new ones,
    /// waits up to the shutdown grace for running ones, and puts back in
    /// the queue those still running (without counting the attempt).
    ///
    /// # Errors
    /// Never for task failures (they are recorded); the database being away
    /// is logged and retried.
    pub async fn run_until(
        self,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> crate::Result<()> {
        let worker = Arc::new(self);
        let mut running = tokio::task::JoinSet::new();
        let mut shutdown = std::pin::pin!(shutdown);
        let mut last_db_warning: Option<std::time::Instant> = None;
        loop {
            let mut idle = false;
            while running.len() < worker.concurrency {
                match worker.claim().await {
                    Ok(Claim::Task(row)) => {
                        let this = worker.clone();
                        running.spawn(async move { this.execute(*row).await });
                    }
                    Ok(Claim::GaveUp) => {}
                    Ok(Claim::Empty) => {
                        idle = true;
                        break;
                    }
                    Err(err) => {
                        if last_db_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                            tracing::warn!(
                                target: "estate::tasks",
                                worker = %worker.name,
                                error = %err,
                                "cannot read the task queue; retrying"
                            );
                            last_db_warning = Some(std::time::Instant::now());
                        }
                        idle = true;
                        break;
                    }
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = running.join_next(), if !running.is_empty() => {}
                () = tokio::time::sleep(worker.poll_interval), if idle => {}
            }
        }
        tracing::info!(
            target: "estate::tasks",
            worker = %worker.name,
            running = running.len(),
            "worker stopping; waiting for running tasks"
        );
        let deadline = tokio::time::sleep(worker.shutdown_grace);
        let mut deadline = std::pin::pin!(deadline);
        loop {
            tokio::select! {
                next = running.join_next() => if next.is_none() { break },
                () = &mut deadline => {
                    running.abort_all();
                    while running.join_next().await.is_some() {}
                    break;
                }
            }
        }
        worker.put_back_unfinished().await;
        Ok(())
    }

    /// Runs due tasks one after another until none is due; how many ran.
    /// For tests, and for `worker --burst` (cron-style runs).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run_pending(&self) -> crate::Result<usize> {
        let mut ran = 0;
        loop {
            match self.claim().await? {
                Claim::Task(row) => {
                    self.execute(*row).await;
                    ran += 1;
                }
                Claim::GaveUp => {}
                Claim::Empty => return Ok(ran),
            }
        }
    }

    /// Takes the most urgent due task: ready ones whose time has come, and
    /// running ones whose worker's lease ended (it died).
    async fn claim(&self) -> Result<Claim, DbError> {
        let now = Utc::now();
        let lease_end = now + self.visibility_timeout;
        let due = TaskRecord::STATUS.eq(TaskStatus::Ready) & TaskRecord::RUN_AFTER.lte(now);
        let abandoned =
            TaskRecord::STATUS.eq(TaskStatus::Running) & TaskRecord::LOCKED_UNTIL.lt(now);
        let query = TaskRecord::objects()
            .filter(TaskRecord::QUEUE.in_(self.queues.clone()))
            .filter(due | abandoned)
            .order_by([
                TaskRecord::PRIORITY.desc(),
                TaskRecord::RUN_AFTER.asc(),
                TaskRecord::ID.asc(),
            ])
            // PostgreSQL and MySQL: rows another worker is claiming are
            // skipped, not waited for.
            .select_for_update(ForUpdate::SkipLocked);
        self.db
            .atomic(async |tx| {
                let Some(mut row) = query.first(tx).await? else {
                    return Ok(Claim::Empty);
                };
                // Only if nobody claimed it meanwhile (SQLite has no row
                // locks): the attempt count is the row's version.
                let unchanged = TaskRecord::objects().filter(
                    TaskRecord::ID.eq(row.key())
                        & TaskRecord::ATTEMPTS.eq(row.attempts)
                        & TaskRecord::STATUS.eq(row.status),
                );
                let crashed = row.task_status() == TaskStatus::Running;
                if crashed && row.attempts >= row.max_attempts + EXTRA_CLAIMS_AFTER_CRASHES {
                    let error = format!(
                        "given up: its worker stopped responding during {} attempts",
                        row.attempts
                    );
                    tracing::error!(target: "estate::tasks", task = row.key(), name = %row.name, "{error}");
                    unchanged
                        .update(
                            tx,
                            [
                                TaskRecord::STATUS.set(TaskStatus::Failed),
                                TaskRecord::LOCKED_UNTIL.set(None),
                                TaskRecord::FINISHED_AT.set(Some(now)),
                                TaskRecord::ERROR.set(error),
                            ],
                        )
                        .await?;
                    return Ok(Claim::GaveUp);
                }
                if crashed {
                    tracing::warn!(
                        target: "estate::tasks",
                        task = row.key(),
                        name = %row.name,
                        previous_worker = %row.worker,
                        "running a task again: its worker's lease ended"
                    );
                }
                let claimed = unchanged
                    .update(
                        tx,
                        [
                            TaskRecord::STATUS.set(TaskStatus::Running),
                            TaskRecord::ATTEMPTS.set(row.attempts + 1),
                            TaskRecord::LOCKED_UNTIL.set(Some(lease_end)),
                            TaskRecord::WORKER.set(self.name.clone()),
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
                row.worker = self.name.clone();
                row.started_at = Some(now);
                Ok(Claim::Task(Box::new(row)))
            })
            .await
    }

    /// The row of our current attempt of task `id` (nobody else's).
    fn ours(&self, id: i64, attempt: i32) -> estate_orm::QuerySet<TaskRecord> {
        TaskRecord::objects().filter(
            TaskRecord::ID.eq(id)
                & TaskRecord::ATTEMPTS.eq(attempt)
                & TaskRecord::WORKER.eq(self.name.clone())
                & TaskRecord::STATUS.eq(TaskStatus::Running),
        )
    }

    /// Runs one claimed task and records how it ended.
    async fn execute(&self, row: TaskRecord) {
        let id = row.key();
        let attempt = row.attempts;
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, attempt);
        let registered = self.registry.get(&row.name).cloned();
        let (outcome, options) = match registered {
            None => (
                Outcome::Failed(format!(
                    "task {} is not registered in this worker: add .task::<...>() for it to an \
                     installed app (or deploy the worker with the same code as the site)",
                    row.name
                )),
                super::TaskOptions::default(),
            ),
            Some(task) => {
                let timeout = task.options.timeout.unwrap_or(self.default_timeout);
                let ctx = TaskContext {
                    app: self.app.clone(),
                    id: TaskId(id),
                    attempt: u32::try_from(attempt).unwrap_or_default(),
                };
                let run = AssertUnwindSafe((task.run)(ctx, &row.args)).catch_unwind();
                let run = tokio::time::timeout(timeout, run);
                let outcome = tokio::select! {
                    finished = run => match finished {
                        Ok(Ok(Ok(value))) => Outcome::Succeeded(value.to_string()),
                        Ok(Ok(Err(err))) => Outcome::Failed(err.to_string()),
                        Ok(Err(panic)) => Outcome::Failed(format!("panicked: {}", panic_text(panic.as_ref()))),
                        Err(_) => Outcome::Failed(format!("timed out after {timeout:?}")),
                    },
                    never = self.keep_lease(id, attempt) => match never {},
                };
                (outcome, task.options)
            }
        };
        let now = Utc::now();
        let recorded = match outcome {
            Outcome::Succeeded(json) => {
                tracing::info!(target: "estate::tasks", task = id, name = %row.name, attempt, "task succeeded");
                self.ours(id, attempt)
                    .update(
                        &self.db,
                        [
                            TaskRecord::STATUS.set(TaskStatus::Successful),
                            TaskRecord::RESULT.set(Some(json)),
                            TaskRecord::ERROR.set(String::new()),
                            TaskRecord::FINISHED_AT.set(Some(now)),
                            TaskRecord::LOCKED_UNTIL.set(None),
                        ],
                    )
                    .await
            }
            Outcome::Failed(error) if attempt < row.max_attempts => {
                let wait = options.backoff_after(u32::try_from(attempt).unwrap_or(1));
                tracing::warn!(
                    target: "estate::tasks",
                    task = id,
                    name = %row.name,
                    attempt,
                    retry_in_ms = wait.as_millis() as u64,
                    error = %error,
                    "task attempt failed; will retry"
                );
                self.ours(id, attempt)
                    .update(
                        &self.db,
                        [
                            TaskRecord::STATUS.set(TaskStatus::Ready),
                            TaskRecord::RUN_AFTER.set(now + wait),
                            TaskRecord::ERROR.set(error),
                            TaskRecord::LOCKED_UNTIL.set(None),
                        ],
                    )
                    .await
            }
            Outcome::Failed(error) => {
                tracing::error!(
                    target: "estate::tasks",
                    task = id,
                    name = %row.name,
                    attempt,
                    error = %error,
                    "task failed"
                );
                self.ours(id, attempt)
                    .update(
                        &self.db,
                        [
                            TaskRecord::STATUS.set(TaskStatus::Failed),
                            TaskRecord::ERROR.set(error),
                            TaskRecord::FINISHED_AT.set(Some(now)),
                            TaskRecord::LOCKED_UNTIL.set(None),
                        ],
                    )
                    .await
            }
        };
        match recorded {
            Ok(0) => tracing::warn!(
                target: "estate::tasks",
                task = id,
                "the task's lease had ended and another worker took it; this attempt's outcome is not recorded"
            ),
            Ok(_) => {}
            Err(err) => tracing::error!(
                target: "estate::tasks",
                task = id,
                error = %err,
                "cannot record the task's outcome; it will run again when its lease ends"
            ),
        }
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&id);
    }

    /// Renews the lease on task `id` every third of the visibility timeout,
    /// for as long as it runs (never completes).
    async fn keep_lease(&self, id: i64, attempt: i32) -> std::convert::Infallible {
        let every = self.visibility_timeout / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = Utc::now() + self.visibility_timeout;
            match self
                .ours(id, attempt)
                .update(&self.db, [TaskRecord::LOCKED_UNTIL.set(Some(until))])
                .await
            {
                Ok(0) => tracing::warn!(
                    target: "estate::tasks",
                    task = id,
                    "lost the lease on a running task (another worker may run it too)"
                ),
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    target: "estate::tasks",
                    task = id,
                    error = %err,
                    "cannot renew the lease on a running task"
                ),
            }
        }
    }

    /// Puts the tasks still held (stopped by the shutdown) back in the
    /// queue, their attempt not counted.
    async fn put_back_unfinished(&self) {
        let held: Vec<(i64, i32)> = self
            .in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .drain()
            .collect();
        for (id, attempt) in held {
            let result = self
                .ours(id, attempt)
                .update(
                    &self.db,
                    [
                        TaskRecord::STATUS.set(TaskStatus::Ready),
                        TaskRecord::ATTEMPTS.set(attempt - 1),
                        TaskRecord::LOCKED_UNTIL.set(None),
                        TaskRecord::ERROR.set(format!(
                            "put back in the queue when worker {} stopped",
                            self.name
                        )),
                    ],
                )
                .await;
            match result {
                Ok(_) => {
                    tracing::info!(target: "estate::tasks", task = id, "put a running task back in the queue")
                }
                Err(err) => tracing::warn!(
                    target: "estate::tasks",
                    task = id,
                    error = %err,
                    "cannot put the task back; it will run again when its lease ends"
                ),
            }
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic with a non-text payload)".to_owned()
    }
}

/// The `worker` command.
pub(super) fn command() -> ManagementCommand {
    ManagementCommand::new(
        "worker",
        "Run background tasks until stopped (SIGINT/SIGTERM finish or put back running tasks)",
        |ctx: CommandContext| async move {
            let mut worker = Worker::new(ctx.app.context())?;
            if let Some(n) = ctx.args.get_one::<usize>("concurrency") {
                worker = worker.concurrency(*n);
            }
            if let Some(queues) = ctx.args.get_many::<String>("queue") {
                let queues: Vec<&str> = queues.map(String::as_str).collect();
                worker = worker.queues(&queues);
            }
            let names = worker.registry.names();
            if ctx.args.get_flag("burst") {
                let ran = worker.run_pending().await?;
                writeln!(ctx.out(), "Ran {ran} tasks; the queue is empty.")?;
                return Ok(());
            }
            writeln!(
                ctx.out(),
                "Worker {} running up to {} tasks at once from queues {}.\nTasks: {}\nQuit with CONTROL-C.",
                worker.name,
                worker.concurrency,
                worker.queues.join(", "),
                if names.is_empty() { "(none registered)".to_owned() } else { names.join(", ") }
            )?;
            worker.run_until(crate::server::shutdown_signal()).await
        },
    )
    .arg(
        Arg::new("concurrency")
            .long("concurrency")
            .short('c')
            .value_name("N")
            .value_parser(clap::value_parser!(usize))
            .help("Tasks run at once (default tasks.concurrency)"),
    )
    .arg(
        Arg::new("queue")
            .long("queue")
            .short('q')
            .value_name("NAME")
            .action(ArgAction::Append)
            .help("A queue to take tasks from; repeat for several (default tasks.queues)"),
    )
    .arg(
        Arg::new("burst")
            .long("burst")
            .action(ArgAction::SetTrue)
            .help("Run the tasks that are due, then exit"),
    )
}

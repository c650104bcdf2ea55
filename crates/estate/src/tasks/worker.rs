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
use futures_util::FutureExt as _;

use super::store::{Claim, Held, TaskStore};
use super::{TaskContext, TaskId, TaskRecord, TaskRegistry, TaskSettings, Tasks};
use crate::cli::{CommandContext, ManagementCommand};
use crate::context::AppContext;

/// The error stored on a task given up after its workers kept dying.
pub(crate) fn given_up(attempts: i32) -> String {
    format!("given up: its worker stopped responding during {attempts} attempts")
}

/// Runs the site's tasks. Built from the app's settings; the `worker`
/// command runs one until SIGINT/SIGTERM.
pub struct Worker {
    app: AppContext,
    store: Arc<dyn TaskStore>,
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

/// Times a worker tries to record an attempt's outcome.
const RECORD_TRIES: usize = 6;

/// What is written once an attempt has ended.
enum Record {
    Succeed(String),
    Retry(estate_orm::chrono::DateTime<Utc>, String),
    Fail(String),
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
    /// When the tasks app is not installed or has no queue (no database
    /// for the database backend).
    pub fn new(app: &AppContext) -> crate::Result<Worker> {
        if !app.apps().iter().any(|info| info.name == "tasks") {
            return Err(crate::Error::msg(
                "the tasks app is not installed: add .app(estate::tasks::app())",
            ));
        }
        let store = app.get::<Tasks>().map(Tasks::store).ok_or_else(|| {
            crate::Error::msg(
                "the worker has no task queue: set DATABASE_URL (tasks.backend = \"database\") \
                 or tasks.redis_url (tasks.backend = \"redis\")",
            )
        })?;
        let settings = app.settings().section::<TaskSettings>().clone();
        let mut random = crate::crypto::get_random_string(6);
        random.make_ascii_lowercase();
        Ok(Worker {
            app: app.clone(),
            store,
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

    async fn claim(&self) -> crate::Result<Claim> {
        let claim = self
            .store
            .claim(&self.queues, &self.name, self.visibility_timeout)
            .await?;
        if matches!(claim, Claim::GaveUp) {
            tracing::error!(
                target: "estate::tasks",
                "gave up a task: its workers kept stopping while running it"
            );
        }
        Ok(claim)
    }

    fn held(&self, id: i64, attempt: i32) -> Held<'_> {
        Held {
            id,
            attempt,
            worker: &self.name,
        }
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
                        Ok(Err(panic)) => Outcome::Failed(format!("panicked: {}", crate::http::core::panic_message(panic.as_ref()))),
                        Err(_) => Outcome::Failed(format!("timed out after {timeout:?}")),
                    },
                    never = self.keep_lease(id, attempt) => match never {},
                };
                (outcome, task.options)
            }
        };
        let now = Utc::now();
        let record = match outcome {
            Outcome::Succeeded(json) => {
                tracing::info!(target: "estate::tasks", task = id, name = %row.name, attempt, "task succeeded");
                Record::Succeed(json)
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
                Record::Retry(now + wait, error)
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
                Record::Fail(error)
            }
        };
        // Tried again on errors: a deadlock between workers (MySQL) or a
        // moment without the database must not cost a rerun of the task.
        let mut pause = Duration::from_millis(50);
        let mut tries = 0;
        let recorded = loop {
            let held = self.held(id, attempt);
            let result = match &record {
                Record::Succeed(json) => self.store.succeed(held, json.clone()).await,
                Record::Retry(at, error) => self.store.retry(held, *at, error.clone()).await,
                Record::Fail(error) => self.store.fail(held, error.clone()).await,
            };
            tries += 1;
            if result.is_ok() || tries >= RECORD_TRIES {
                break result;
            }
            tracing::debug!(target: "estate::tasks", task = id, "recording the outcome failed; trying again");
            tokio::time::sleep(pause).await;
            pause *= 2;
        };
        match recorded {
            Ok(false) => tracing::warn!(
                target: "estate::tasks",
                task = id,
                "the task's lease had ended and another worker took it; this attempt's outcome is not recorded"
            ),
            Ok(true) => {}
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
            match self.store.renew(self.held(id, attempt), until).await {
                Ok(false) => tracing::warn!(
                    target: "estate::tasks",
                    task = id,
                    "lost the lease on a running task (another worker may run it too)"
                ),
                Ok(true) => {}
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
            let note = format!("put back in the queue when worker {} stopped", self.name);
            let result = self.store.put_back(self.held(id, attempt), note).await;
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

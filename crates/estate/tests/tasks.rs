//! Background tasks on SQLite, PostgreSQL and MySQL: enqueue (in a
//! transaction too), priorities and delays, retries with backoff, timeouts,
//! panics, results, a killed worker's task taken over when its lease ends,
//! workers never sharing a task, graceful shutdown, and the `worker`
//! command.

mod common;

use std::collections::HashSet;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use estate::db::Database;
use estate::orm::Model;
use estate::prelude::*;
use estate::tasks::{
    Enqueue, Task, TaskContext, TaskId, TaskOptions, TaskRecord, TaskStatus, Tasks, Worker,
};
use estate::test::{REDIS, TestServer, each_backend, service};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Add {
    a: i64,
    b: i64,
}

impl Task for Add {
    const NAME: &'static str = "jobs.add";
    type Output = i64;

    async fn run(self, _ctx: TaskContext) -> estate::Result<i64> {
        Ok(self.a + self.b)
    }
}

/// Fails its first `fail_first` attempts.
#[derive(Serialize, Deserialize)]
struct Flaky {
    fail_first: u32,
}

impl Task for Flaky {
    const NAME: &'static str = "jobs.flaky";
    type Output = String;

    async fn run(self, ctx: TaskContext) -> estate::Result<String> {
        if ctx.attempt() <= self.fail_first {
            return Err(estate::Error::msg(format!(
                "boom on attempt {}",
                ctx.attempt()
            )));
        }
        Ok(format!("done on attempt {}", ctx.attempt()))
    }

    fn options() -> TaskOptions {
        TaskOptions::new()
            .max_attempts(3)
            .backoff(Duration::from_millis(150), Duration::from_secs(1))
    }
}

/// Sleeps; times out after 200 ms.
#[derive(Serialize, Deserialize)]
struct Sleepy {
    millis: u64,
}

impl Task for Sleepy {
    const NAME: &'static str = "jobs.sleepy";
    type Output = ();

    async fn run(self, _ctx: TaskContext) -> estate::Result<()> {
        tokio::time::sleep(Duration::from_millis(self.millis)).await;
        Ok(())
    }

    fn options() -> TaskOptions {
        TaskOptions::new().timeout(Duration::from_millis(200))
    }
}

/// Hangs on its first attempt (its worker will be killed), then finishes.
#[derive(Serialize, Deserialize)]
struct HangsOnce;

impl Task for HangsOnce {
    const NAME: &'static str = "jobs.hangs_once";
    type Output = u32;

    async fn run(self, ctx: TaskContext) -> estate::Result<u32> {
        if ctx.attempt() == 1 {
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
        Ok(ctx.attempt())
    }
}

#[derive(Serialize, Deserialize)]
struct Panics;

impl Task for Panics {
    const NAME: &'static str = "jobs.panics";
    type Output = ();

    async fn run(self, _ctx: TaskContext) -> estate::Result<()> {
        panic!("the task exploded")
    }
}

/// Tasks running now, by test tag and id: a task found here already was
/// run twice at once.
static RUNNING: LazyLock<Mutex<HashSet<(String, i64)>>> = LazyLock::new(Mutex::default);

#[derive(Serialize, Deserialize)]
struct Exclusive {
    tag: String,
}

impl Task for Exclusive {
    const NAME: &'static str = "jobs.exclusive";
    type Output = i64;

    async fn run(self, ctx: TaskContext) -> estate::Result<i64> {
        let key = (self.tag.clone(), ctx.id().0);
        assert!(
            RUNNING.lock().unwrap().insert(key.clone()),
            "task {} is already running",
            ctx.id()
        );
        tokio::time::sleep(Duration::from_millis(15)).await;
        RUNNING.lock().unwrap().remove(&key);
        Ok(ctx.id().0)
    }
}

#[derive(Serialize, Deserialize)]
struct NotRegistered;

impl Task for NotRegistered {
    const NAME: &'static str = "jobs.not_registered";
    type Output = ();

    async fn run(self, _ctx: TaskContext) -> estate::Result<()> {
        Ok(())
    }
}

async fn enqueue_add(tasks: Tasks, Path((a, b)): Path<(i64, i64)>) -> estate::Result<String> {
    Ok(tasks.enqueue(Add { a, b }).await?.to_string())
}

async fn enqueue_unknown(tasks: Tasks) -> estate::Result<String> {
    Ok(tasks.enqueue(NotRegistered).await?.to_string())
}

fn site(db: &Database) -> App {
    site_with(db, false)
}

fn site_with(db: &Database, debug: bool) -> App {
    with_tasks(
        common::production_app(|s| s.set("tasks.poll_interval_ms", 20).set("debug", debug))
            .database(db.clone()),
    )
}

/// The tasks app, the test tasks, and routes enqueueing them.
fn with_tasks(app: App) -> App {
    app.app(estate::tasks::app())
        .app(
            AppModule::new("jobs")
                .task::<Add>()
                .task::<Flaky>()
                .task::<Sleepy>()
                .task::<HangsOnce>()
                .task::<Panics>()
                .task::<Exclusive>(),
        )
        .route("/add/{a}/{b}", post(enqueue_add))
        .route("/unknown", post(enqueue_unknown))
}

async fn command(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = estate::cli::CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

/// A migrated site, served.
async fn serve(db: &Database) -> TestServer {
    let (result, out) = command(site(db), &["migrate"]).await;
    result.unwrap();
    assert!(out.contains("tasks.0001_initial"), "{out}");
    TestServer::start(site(db)).await
}

fn tasks_of(server: &TestServer) -> Tasks {
    server.context().get::<Tasks>().unwrap().clone()
}

async fn record(tasks: &Tasks, id: i64) -> TaskRecord {
    tasks
        .record(TaskId(id))
        .await
        .unwrap()
        .expect("the task's row")
}

/// Waits (up to 20 s) until task `id` has finished.
async fn finished(tasks: &Tasks, id: i64) -> TaskRecord {
    for _ in 0..2000 {
        let row = record(tasks, id).await;
        if row.task_status().is_finished() {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("task {id} did not finish: {:?}", record(tasks, id).await);
}

/// Runs `test` on a served site for each place tasks can be kept: the
/// database on SQLite, PostgreSQL and MySQL, then Redis.
async fn each_queue(test: impl AsyncFn(&TestServer, &Tasks)) {
    each_backend(async |db| {
        let server = serve(&db).await;
        test(&server, &tasks_of(&server)).await;
        server.shutdown().await;
    })
    .await;
    let Some(url) = service(REDIS) else { return };
    let prefix = format!("test:tasks:{}", estate::crypto::get_random_string(10));
    let app = common::production_app(|s| {
        s.set("tasks.poll_interval_ms", 20)
            .set("tasks.backend", "redis")
            .set("tasks.redis_url", url.clone())
            .set("tasks.redis_prefix", prefix.clone())
    });
    let server = TestServer::start(with_tasks(app)).await;
    let tasks = tasks_of(&server);
    assert_eq!(tasks.backend_name(), "redis");
    let outcome =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(test(&server, &tasks)))
            .await;
    // Remove the test's keys.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: i64 = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    server.shutdown().await;
    if let Err(panic) = outcome {
        eprintln!("the test failed on the Redis queue");
        std::panic::resume_unwind(panic);
    }
}

/// A worker running in the background until the returned sender fires.
fn spawn_worker(
    worker: Worker,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<estate::Result<()>>,
) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(worker.run_until(async {
        let _ = stopped.await;
    }));
    (stop, handle)
}

#[tokio::test]
async fn tasks_run_in_priority_order_and_keep_their_results() {
    each_queue(async |server, tasks| {
        let response = server.post("/add/2/3").send().await;
        assert_eq!(response.status, StatusCode::OK);
        let first: i64 = response.text().parse().unwrap();
        let low = tasks
            .enqueue_with(Add { a: 1, b: 1 }, Enqueue::new().priority(-5))
            .await
            .unwrap();
        let high = tasks
            .enqueue_with(Add { a: 10, b: 10 }, Enqueue::new().priority(50))
            .await
            .unwrap();
        let later = tasks
            .enqueue_with(
                Add { a: 0, b: 0 },
                Enqueue::new().delay(Duration::from_millis(400)),
            )
            .await
            .unwrap();
        assert_eq!(record(tasks, first).await.task_status(), TaskStatus::Ready);

        let worker = Worker::new(server.context()).unwrap();
        assert_eq!(
            worker.run_pending().await.unwrap(),
            3,
            "the delayed task waits"
        );
        let result = tasks
            .result::<Add>(estate::tasks::TaskId(first))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(result.status, TaskStatus::Successful);
        assert_eq!(result.value, Some(5));
        assert_eq!(result.attempts, 1);
        assert!(result.error.is_none());
        let (high, low) = (record(tasks, high.0).await, record(tasks, low.0).await);
        assert!(
            high.started_at.unwrap() <= record(tasks, first).await.started_at.unwrap()
                && record(tasks, first).await.started_at.unwrap() <= low.started_at.unwrap(),
            "higher priority first"
        );
        assert_eq!(high.result.as_deref(), Some("20"));

        tokio::time::sleep(Duration::from_millis(450)).await;
        assert_eq!(worker.run_pending().await.unwrap(), 1);
        assert_eq!(
            record(tasks, later.0).await.task_status(),
            TaskStatus::Successful
        );
        assert!(
            tasks
                .result::<Add>(TaskId(999_999))
                .await
                .unwrap()
                .is_none()
        );

        // A task no app registered is refused when enqueued.
        let refused = server.post("/unknown").send().await;
        assert_eq!(refused.status, StatusCode::INTERNAL_SERVER_ERROR);
    })
    .await;
}

#[tokio::test]
async fn tasks_enqueued_in_a_rolled_back_transaction_never_run() {
    each_backend(async |db| {
        let server = serve(&db).await;
        let tasks = tasks_of(&server);
        let rolled_back: Result<(), estate::Error> = db
            .atomic(async |tx| {
                tasks
                    .enqueue_in(tx, Add { a: 1, b: 2 }, Enqueue::new())
                    .await?;
                Err(estate::Error::bad_request(
                    "the request failed after enqueueing",
                ))
            })
            .await;
        assert!(rolled_back.is_err());
        assert_eq!(
            TaskRecord::objects().count(&db).await.unwrap(),
            0,
            "nothing enqueued"
        );

        let committed = db
            .atomic(async |tx| {
                let id = tasks
                    .enqueue_in(tx, Add { a: 1, b: 2 }, Enqueue::new())
                    .await?;
                // Not visible to workers before the commit. (SQLite has one
                // writer: another connection would wait for this one.)
                let outside = match db.backend() {
                    estate::db::Backend::Sqlite => 0,
                    _ => TaskRecord::objects().count(&db).await?,
                };
                Ok::<_, estate::Error>((id, outside))
            })
            .await
            .unwrap();
        assert_eq!(committed.1, 0, "uncommitted tasks are invisible");
        let worker = Worker::new(server.context()).unwrap();
        assert_eq!(worker.run_pending().await.unwrap(), 1);
        assert_eq!(
            record(&tasks, committed.0.0).await.result.as_deref(),
            Some("3")
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn failed_attempts_are_retried_with_backoff_then_given_up() {
    each_queue(async |server, tasks| {
        let recovers = tasks.enqueue(Flaky { fail_first: 2 }).await.unwrap();
        let never = tasks.enqueue(Flaky { fail_first: 5 }).await.unwrap();
        let slow = tasks.enqueue(Sleepy { millis: 5_000 }).await.unwrap();
        let quick = tasks.enqueue(Sleepy { millis: 1 }).await.unwrap();
        let panics = tasks.enqueue(Panics).await.unwrap();
        let (stop, handle) = spawn_worker(Worker::new(server.context()).unwrap().concurrency(4));

        let row = finished(tasks, recovers.0).await;
        assert_eq!(row.task_status(), TaskStatus::Successful);
        assert_eq!(row.attempts, 3);
        assert_eq!(row.result.as_deref(), Some("\"done on attempt 3\""));
        // 150 ms after the first failure, 300 ms after the second.
        let waited = row.finished_at.unwrap() - row.enqueued_at;
        assert!(
            waited >= estate::orm::chrono::Duration::milliseconds(450),
            "{waited}"
        );

        let row = finished(tasks, never.0).await;
        assert_eq!(row.task_status(), TaskStatus::Failed);
        assert_eq!(row.attempts, 3);
        assert!(row.error.contains("boom on attempt 3"), "{}", row.error);
        let result = tasks.result::<Flaky>(never).await.unwrap().unwrap();
        assert_eq!(result.value, None);

        let row = finished(tasks, slow.0).await;
        assert_eq!(row.task_status(), TaskStatus::Failed);
        assert!(row.error.contains("timed out after 200ms"), "{}", row.error);
        assert_eq!(
            finished(tasks, quick.0).await.task_status(),
            TaskStatus::Successful
        );
        let row = finished(tasks, panics.0).await;
        assert_eq!(row.task_status(), TaskStatus::Failed);
        assert!(
            row.error.contains("panicked: the task exploded"),
            "{}",
            row.error
        );

        stop.send(()).unwrap();
        handle.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_killed_workers_task_is_taken_over_when_its_lease_ends() {
    each_queue(async |server, tasks| {
        let id = tasks.enqueue(HangsOnce).await.unwrap();
        let lease = Duration::from_millis(900);
        let first = Worker::new(server.context())
            .unwrap()
            .visibility_timeout(lease);
        let first_name = first.name().to_owned();
        let (_stop, killed) = spawn_worker(first);
        // Wait for the first worker to hold it, then kill the worker (no
        // shutdown: as if the process died).
        loop {
            if record(tasks, id.0).await.task_status() == TaskStatus::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        killed.abort();
        let _ = killed.await;
        let held = record(tasks, id.0).await;
        assert_eq!(held.worker, first_name);
        let lease_end = held.locked_until.expect("a running task has a lease");

        let second = Worker::new(server.context())
            .unwrap()
            .visibility_timeout(lease)
            .poll_interval(Duration::from_millis(20));
        let second_name = second.name().to_owned();
        let (stop, handle) = spawn_worker(second);
        let row = finished(tasks, id.0).await;
        assert_eq!(row.task_status(), TaskStatus::Successful);
        assert_eq!(row.worker, second_name);
        assert_eq!(row.result.as_deref(), Some("2"), "the second attempt");
        let restarted = row.started_at.unwrap();
        assert!(
            restarted >= lease_end,
            "taken over at {restarted}, before the lease ended at {lease_end}"
        );
        assert!(
            restarted - lease_end < estate::orm::chrono::Duration::milliseconds(1000),
            "taken over at {restarted}, long after the lease ended at {lease_end}"
        );
        stop.send(()).unwrap();
        handle.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn workers_never_run_the_same_task_twice() {
    each_queue(async |server, tasks| {
        let tag = format!(
            "{}-{}",
            tasks.backend_name(),
            estate::crypto::get_random_string(8)
        );
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(tasks.enqueue(Exclusive { tag: tag.clone() }).await.unwrap());
        }
        let workers: Vec<_> = (0..2)
            .map(|_| {
                spawn_worker(
                    Worker::new(server.context())
                        .unwrap()
                        .concurrency(4)
                        .poll_interval(Duration::from_millis(10)),
                )
            })
            .collect();
        let mut names = HashSet::new();
        for id in &ids {
            let row = finished(tasks, id.0).await;
            assert_eq!(row.task_status(), TaskStatus::Successful, "{}", row.error);
            assert_eq!(row.attempts, 1, "task {id} was claimed twice");
            names.insert(row.worker.clone());
        }
        for (stop, handle) in workers {
            stop.send(()).unwrap();
            handle.await.unwrap().unwrap();
        }
        assert!(!names.is_empty());
    })
    .await;
}

#[tokio::test]
async fn stopping_a_worker_finishes_or_puts_back_its_tasks() {
    each_queue(async |server, tasks| {
        // Finishes within the grace period.
        let short = tasks.enqueue(Sleepy { millis: 100 }).await.unwrap();
        let worker = Worker::new(server.context())
            .unwrap()
            .shutdown_grace(Duration::from_secs(5));
        let (stop, handle) = spawn_worker(worker);
        while record(tasks, short.0).await.task_status() == TaskStatus::Ready {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(()).unwrap();
        handle.await.unwrap().unwrap();
        assert_eq!(
            record(tasks, short.0).await.task_status(),
            TaskStatus::Successful
        );

        // Still running when the grace period ends: back in the queue, the
        // attempt not counted.
        let long = tasks.enqueue(HangsOnce).await.unwrap();
        let worker = Worker::new(server.context())
            .unwrap()
            .shutdown_grace(Duration::from_millis(100));
        let (stop, handle) = spawn_worker(worker);
        while record(tasks, long.0).await.task_status() == TaskStatus::Ready {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        stop.send(()).unwrap();
        handle.await.unwrap().unwrap();
        let row = record(tasks, long.0).await;
        assert_eq!(row.task_status(), TaskStatus::Ready);
        assert_eq!(row.attempts, 0);
        assert!(row.locked_until.is_none());
        assert!(row.error.contains("put back in the queue"), "{}", row.error);
    })
    .await;
}

#[tokio::test]
async fn the_worker_command_and_the_migration() {
    each_backend(async |db| {
        let server = serve(&db).await;
        let tasks = tasks_of(&server);
        let id = tasks.enqueue(Add { a: 20, b: 22 }).await.unwrap();
        let (result, out) = command(site(&db), &["worker", "--burst"]).await;
        result.unwrap();
        assert!(out.contains("Ran 1 tasks"), "{out}");
        assert_eq!(record(&tasks, id.0).await.result.as_deref(), Some("42"));
        server.shutdown().await;
    })
    .await;
    // The hand-written migration matches the model.
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let (result, out) = command(site(&db), &["makemigrations", "tasks", "--check"]).await;
    assert!(result.is_ok(), "{out}");
    let (result, out) = command(site(&db), &["worker", "--concurrency", "zero"]).await;
    assert!(result.is_err(), "{out}");
}

#[tokio::test]
async fn tasks_need_the_app_and_a_database() {
    let error = common::startup_error(
        common::production_app(|s| s)
            .app(estate::tasks::app())
            .route("/", get(|tasks: Tasks| async move { format!("{tasks:?}") })),
    )
    .await;
    assert!(
        error.contains("tasks.E001") || error.contains("DATABASE_URL"),
        "{error}"
    );
}

#[tokio::test]
async fn the_admin_shows_tasks_and_runs_them_again() {
    use estate::auth::{Auth, create_superuser};
    const PASSWORD: &str = "a long enough test password 42";
    let admin_site = |db: &Database| {
        site_with(db, true)
            .app(estate::sessions::app())
            .app(estate::auth::app())
            .app(estate::messages::app())
            .app(
                estate::admin::site()
                    .register(estate::tasks::task_admin())
                    .app(),
            )
    };
    each_backend(async |db| {
        let (result, out) = command(admin_site(&db), &["migrate"]).await;
        assert!(result.is_ok(), "{out}");
        let server = TestServer::start(admin_site(&db)).await;
        let auth = server.context().get::<Auth>().unwrap().clone();
        create_superuser(&auth, &db, "root", "", Some(PASSWORD))
            .await
            .unwrap();
        let tasks = tasks_of(&server);
        let failed = tasks.enqueue(Panics).await.unwrap();
        let worker = Worker::new(server.context()).unwrap();
        worker.run_pending().await.unwrap();

        let browser = server.client();
        let login = browser
            .post("/admin/login/")
            .form(&[
                ("username", "root"),
                ("password", PASSWORD),
                ("next", "/admin/"),
            ])
            .send()
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.text());
        let list = browser.get("/admin/tasks/taskrecord/").send().await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text());
        let html = list.text();
        assert!(html.contains("jobs.panics"), "{html}");
        assert!(html.contains("failed"), "{html}");
        assert!(html.contains("panicked: the task exploded"), "{html}");
        let filtered = browser
            .get("/admin/tasks/taskrecord/?status=successful")
            .send()
            .await
            .text();
        assert!(!filtered.contains("jobs.panics"), "{filtered}");

        let again = browser
            .post("/admin/tasks/taskrecord/")
            .form(&[
                ("action", "run_again"),
                ("_selected_action", &failed.0.to_string()),
            ])
            .send()
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text());
        let row = record(&tasks, failed.0).await;
        assert_eq!(row.task_status(), TaskStatus::Ready);
        assert_eq!(row.attempts, 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_redis_queue_fails_enqueues_and_keeps_workers_waiting() {
    // Nothing listens on port 1.
    let app = common::production_app(|s| {
        s.set("tasks.backend", "redis")
            .set("tasks.redis_url", "redis://127.0.0.1:1")
            .set("tasks.poll_interval_ms", 20)
    });
    let server = TestServer::start(with_tasks(app)).await;
    let response = server.post("/add/1/2").send().await;
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);

    let (stop, handle) = spawn_worker(Worker::new(server.context()).unwrap());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !handle.is_finished(),
        "the worker waits for Redis to come back"
    );
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();

    // Redis cannot join a database transaction.
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let err = tasks_of(&server)
        .enqueue_in(&db, Add { a: 1, b: 1 }, Enqueue::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot take part in a database transaction"),
        "{err}"
    );
    let error = common::startup_error(with_tasks(common::production_app(|s| {
        s.set("tasks.backend", "redis")
    })))
    .await;
    assert!(error.contains("tasks.redis_url is not set"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_queue_is_counted_on_metrics() {
    each_backend(async |db| {
        let metered = || {
            with_tasks(
                common::production_app(|s| s.set("metrics.enabled", true)).database(db.clone()),
            )
        };
        let (result, out) = command(metered(), &["migrate"]).await;
        assert!(result.is_ok(), "{out}");
        let server = TestServer::start(metered()).await;
        let tasks = tasks_of(&server);
        tasks.enqueue(Add { a: 1, b: 1 }).await.unwrap();
        tasks.enqueue(Add { a: 2, b: 2 }).await.unwrap();
        // The first scrape starts the count; a later one shows it.
        let mut text = String::new();
        for _ in 0..100 {
            text = server.get("/metrics").send().await.text();
            if text.contains("estate_tasks{status=\"ready\"} 2") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(text.contains("# TYPE estate_tasks gauge"), "{text}");
        assert!(text.contains("estate_tasks{status=\"ready\"} 2"), "{text}");
        assert!(text.contains("estate_tasks{status=\"failed\"} 0"), "{text}");
        server.shutdown().await;
    })
    .await;
}

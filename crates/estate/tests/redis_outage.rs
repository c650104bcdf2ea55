//! Redis going away under a running site, on a private Redis server the
//! test starts and stops (never the shared one): sessions fail closed (the
//! visitor appears logged out, changes answer 503), the cache reads as
//! misses and cached pages are rendered again, enqueueing tasks answers
//! 503; when Redis is back, everything works again without a restart.

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use estate::cache::{Cache, Expiry};
use estate::prelude::*;
use estate::sessions::Session;
use estate::test::{REQUIRE_ALL, TestServer};

/// A Redis server of the test's own, stopped when dropped.
struct PrivateRedis {
    port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    /// A new server on a free port; `None` (the test is skipped) when
    /// `redis-server` is not installed, unless every backend is required.
    fn start() -> Option<PrivateRedis> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = PrivateRedis { port, child: None };
        match redis.spawn() {
            Ok(()) => Some(redis),
            Err(err) if std::env::var_os(REQUIRE_ALL).is_none() => {
                eprintln!("skipped: cannot start redis-server ({err})");
                None
            }
            Err(err) => panic!("cannot start redis-server: {err}"),
        }
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn whoami(session: Session) -> String {
    session
        .get::<String>("name")
        .unwrap_or_else(|| "anonymous".to_owned())
}

async fn login(session: Session, Path(name): Path<String>) -> estate::Result<&'static str> {
    session.cycle_key();
    session.insert("name", &name)?;
    Ok("welcome")
}

async fn counter(cache: Cache) -> estate::Result<String> {
    cache.add("visits", &0, Expiry::Never).await?;
    Ok(format!("{:?}", cache.incr("visits", 1).await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_survives_redis_going_away_and_coming_back() {
    let Some(mut redis) = PrivateRedis::start() else {
        return;
    };
    let url = redis.url();
    let renders = Arc::new(AtomicUsize::new(0));
    let counted = renders.clone();
    let app = common::production_app(|s| {
        s.set("sessions.engine", "redis")
            .set("sessions.redis_url", url.clone())
            .set("cache.backend", "redis")
            .set("cache.redis_url", url.clone())
    })
    .app(estate::sessions::app())
    .route("/whoami", get(whoami))
    .route("/login/{name}", post(login))
    .route("/visits", get(counter))
    .route(
        "/page",
        get(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move { format!("render {n}") }
        })
        .cache_page(Duration::from_secs(60)),
    );
    let server = TestServer::start(app).await;
    let browser = server.client();
    assert_eq!(
        browser.post("/login/ann").form(&[]).send().await.text(),
        "welcome"
    );
    assert_eq!(browser.get("/whoami").send().await.text(), "ann");
    assert_eq!(browser.get("/visits").send().await.text(), "Some(1)");
    assert_eq!(server.get("/page").send().await.text(), "render 1");
    assert_eq!(
        server.get("/page").send().await.text(),
        "render 1",
        "cached"
    );

    redis.stop();
    let started = Instant::now();
    let who = browser.get("/whoami").send().await;
    assert_eq!(who.status, StatusCode::OK);
    assert_eq!(who.text(), "anonymous", "sessions fail closed");
    let refused = browser.post("/login/bob").form(&[]).send().await;
    assert_eq!(
        refused.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        refused.text()
    );
    let visits = browser.get("/visits").send().await;
    assert_eq!(visits.status, StatusCode::OK);
    assert_eq!(visits.text(), "None", "the cache reads as a miss");
    let page = server.get("/page").send().await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text(), "render 2", "rendered again, not a 500");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "requests during the outage must fail fast ({:?})",
        started.elapsed()
    );

    // Back (empty: this Redis keeps nothing on disk).
    redis.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = browser.post("/login/ann").form(&[]).send().await;
        if response.status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: {}",
            response.status
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(browser.get("/whoami").send().await.text(), "ann");
    assert_eq!(browser.get("/visits").send().await.text(), "Some(1)");
    server.shutdown().await;
}

//! PostgreSQL going away and coming back: requests that need the database
//! fail fast with 503 (not 500, not a hang), `/readyz` says 503, and the
//! site recovers by itself when the server is back, without a restart.
//!
//! Runs its own PostgreSQL cluster (initdb into a temporary folder, on a
//! free port), so the shared server other tests use is never stopped.
//! Skipped when PostgreSQL's `initdb` is not installed, unless
//! `ESTATE_TEST_REQUIRE_ALL=1`.

mod common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use estate::db::{Db, RawSql, params};
use estate::prelude::*;
use estate::test::{REQUIRE_ALL, TestServer};

use common::production_app;

/// A PostgreSQL cluster of this test's own, stopped and deleted on drop.
struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// initdb and the server refuse to run as root: run them as `postgres`.
    as_postgres: bool,
}

impl PrivatePostgres {
    /// Creates the cluster, or `None` (after a `skipped` line) without
    /// PostgreSQL's programs.
    fn create() -> Option<PrivatePostgres> {
        let Some(bin) = find_bin_dir() else {
            let message = "skipped: PostgreSQL's initdb was not found (install the postgresql \
                           package) to run the database outage test";
            if std::env::var(REQUIRE_ALL).as_deref() == Ok("1") {
                panic!("{message}, and {REQUIRE_ALL}=1 forbids skipping");
            }
            let _ = writeln!(std::io::stderr(), "{message}");
            return None;
        };
        let as_postgres = output("id", &["-u"]).trim() == "0";
        let dir = std::env::temp_dir().join(format!(
            "estate-pg-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("make the cluster's folder");
        let cluster = PrivatePostgres {
            bin,
            port: free_port(),
            dir,
            as_postgres,
        };
        if as_postgres {
            run("chown", &["postgres", cluster.dir.to_str().unwrap()]);
        }
        let data = cluster.data();
        cluster.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "--no-instructions",
            ],
        );
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        let data = self.data();
        self.pg(
            "pg_ctl",
            &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    fn stop(&self, mode: &str) -> bool {
        let data = self.data();
        self.try_pg("pg_ctl", &["-D", &data, "-m", mode, "-w", "stop"])
    }

    fn pg(&self, program: &str, args: &[&str]) {
        assert!(
            self.try_pg(program, args),
            "{program} {args:?} failed; its log: {}",
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    fn try_pg(&self, program: &str, args: &[&str]) -> bool {
        let program = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// PostgreSQL's program folder: the newest `/usr/lib/postgresql/*/bin`
/// (Debian), or wherever `initdb` is on the `PATH`.
fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().or_else(|| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(PathBuf::from)
            .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default()
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program).args(args).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "{program} {args:?} failed"
    );
}

async fn one(db: Db) -> estate::Result<&'static str> {
    db.fetch_one("SELECT 1", params![]).await?;
    Ok("one")
}

/// Each request is allowed this long during the outage: it must not hang.
const FAIL_FAST: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarts_requests_fail_fast_with_503_then_recover() {
    let Some(postgres) = PrivatePostgres::create() else {
        return;
    };
    postgres.start();
    let app = production_app(|s| {
        s.set("database_url", postgres.url())
            .set("database.acquire_timeout", "2s")
            .set("health.readiness_timeout", "1s")
    })
    .route("/one", get(one));
    let server = TestServer::start(app).await;
    assert_eq!(server.get("/one").send().await.text(), "one");
    assert_eq!(server.get("/readyz").send().await.status, StatusCode::OK);

    let stopping = Instant::now();
    assert!(postgres.stop("fast"), "pg_ctl stop");
    eprintln!("outage: pg_ctl stop -m fast took {:?}", stopping.elapsed());

    let mut latencies = Vec::new();
    for accept in ["text/html", "application/json", "text/html"] {
        let started = Instant::now();
        let response = server.get("/one").header("accept", accept).send().await;
        let took = started.elapsed();
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.text()
        );
        assert!(
            took < FAIL_FAST,
            "a request took {took:?} during the outage"
        );
        if accept == "application/json" {
            assert_eq!(response.json()["status"], 503);
        } else {
            assert!(response.text().contains("temporarily unavailable"));
        }
        latencies.push(took);
    }
    let started = Instant::now();
    let ready = server.get("/readyz").send().await;
    let readyz_took = started.elapsed();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.text().starts_with("database unavailable"),
        "{}",
        ready.text()
    );
    assert!(readyz_took < FAIL_FAST, "/readyz took {readyz_took:?}");
    eprintln!("outage: /one answered 503 in {latencies:?}; /readyz 503 in {readyz_took:?}");

    postgres.start();
    let back = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let response = server.get("/one").send().await;
        if response.status == StatusCode::OK {
            break;
        }
        assert_eq!(
            response.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.text()
        );
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "no recovery 30s after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovery = back.elapsed();
    eprintln!(
        "recovery: first 200 {recovery:?} after pg_ctl start returned ({attempts} request(s))"
    );
    assert_eq!(server.get("/readyz").send().await.status, StatusCode::OK);
    assert_eq!(server.get("/one").send().await.text(), "one");
    server.shutdown().await;
}

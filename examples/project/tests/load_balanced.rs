//! Two instances of the site behind HAProxy, deployed as
//! docs/deployment.md describes: one PostgreSQL database, sessions and the
//! cache in Redis, static files collected with hashed names, `migrate` run
//! by both instances at once (each migration applied once), JSON logs with
//! the load balancer's request ids, and a rolling restart under load (wrk)
//! that loses no request.
//!
//! Needs `haproxy` and `wrk` (`apt-get install -y haproxy wrk`; `.ci/run`
//! installs them), PostgreSQL and Redis. Loopback only, about 20 seconds.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, between, command, get, request, start_at};
use estate::orm::{Backend, RawSql, params};
use estate::test::{REDIS, REQUIRE_ALL, TestDatabase, service};

/// The configuration docs/deployment.md shows; the test swaps in its ports.
const HAPROXY_CFG: &str = include_str!("../deploy/haproxy.cfg");
const DEPLOYMENT_DOC: &str = include_str!("../../../docs/deployment.md");

/// How long wrk runs, and when instance b is restarted.
const LOAD: Duration = Duration::from_secs(14);
const RESTART_AT: Duration = Duration::from_secs(3);

#[test]
fn the_docs_show_the_haproxy_config_the_test_runs() {
    assert!(
        DEPLOYMENT_DOC.contains(HAPROXY_CFG),
        "docs/deployment.md must hold examples/project/deploy/haproxy.cfg verbatim"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_haproxy_survive_a_rolling_restart_under_load() {
    let Some((haproxy, wrk)) = tools() else {
        return;
    };
    let Some(created) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let Some(redis) = service(REDIS) else { return };
    let test_db = created.unwrap();
    let url = test_db.url().unwrap();
    let dir = TempDir::new();
    let static_root = dir.path().join("static");
    let [front, port_a, port_b, stats] = free_ports();
    let prefix = format!("lb-test-{}", std::process::id());
    let static_root_text = static_root.display().to_string();
    let envs: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", &url),
        (
            "ESTATE_SECRET_KEY",
            "shared-secret-key-for-every-instance-0123456789",
        ),
        ("ESTATE_ALLOWED_HOSTS", "127.0.0.1"),
        ("ESTATE_SESSIONS__ENGINE", "redis"),
        ("ESTATE_SESSIONS__REDIS_URL", &redis),
        ("ESTATE_CACHE__BACKEND", "redis"),
        ("ESTATE_CACHE__REDIS_URL", &redis),
        ("ESTATE_CACHE__KEY_PREFIX", &prefix),
        ("ESTATE_STATIC_ROOT", &static_root_text),
        ("ESTATE_LOGGING__FORMAT", "json"),
        ("ESTATE_LOGGING__ACCESS_LOG", "true"),
        ("ESTATE_SERVER__SHUTDOWN_DELAY", "2s"),
        ("ESTATE_SERVER__SHUTDOWN_GRACE", "10s"),
    ];

    // The rollout: both instances migrate at once; the lock lets one apply.
    let migrations: Vec<_> = (0..2)
        .map(|_| {
            command(&["migrate"])
                .envs(envs.iter().copied())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut applied_by = 0;
    for child in migrations {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        applied_by += usize::from(stdout.contains("Applied polls.0001_initial OK"));
    }
    assert_eq!(applied_by, 1, "one process applied the migrations");
    let rows = test_db
        .db
        .fetch_all("SELECT app, name FROM estate_migrations", params![])
        .await
        .unwrap();
    let mut recorded: Vec<(String, String)> = rows
        .iter()
        .map(|row| (row.get("app").unwrap(), row.get("name").unwrap()))
        .collect();
    recorded.sort();
    let total = recorded.len();
    recorded.dedup();
    assert_eq!((total, recorded.len()), (4, 4), "{recorded:?}");

    let run = |args: &[&str], extra: &[(&str, &str)]| {
        let output = command(args)
            .envs(envs.iter().copied())
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{args:?}: {text}");
        text
    };
    run(
        &["createsuperuser", "--noinput"],
        &[
            ("ESTATE_SUPERUSER_USERNAME", "ann"),
            ("ESTATE_SUPERUSER_PASSWORD", "plum-crumble-42"),
        ],
    );
    run(&["collectstatic", "--noinput"], &[]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(static_root.join("staticfiles.json")).unwrap())
            .unwrap();
    let hashed_name = manifest["paths"]["css/site.css"]
        .as_str()
        .expect("collectstatic collected the stylesheet")
        .to_owned();
    assert!(
        hashed_name.starts_with("css/site.") && hashed_name != "css/site.css",
        "{hashed_name}"
    );

    let addr_a = format!("127.0.0.1:{port_a}");
    let addr_b = format!("127.0.0.1:{port_b}");
    let a = Logged::new(start_at(&addr_a, &envs));
    let mut b = Logged::new(start_at(&addr_b, &envs));
    let lb = Haproxy::start(&haproxy, dir.path(), front, port_a, port_b, stats);
    assert!(
        waited(Duration::from_secs(10), || lb.status("a") == "UP"
            && lb.status("b") == "UP"),
        "both instances up in HAProxy: {:?}\n{}",
        lb.stats("b"),
        lb.log()
    );

    // A login made through instance a is valid on instance b.
    let (status, head, page) = request(port_a, "GET", "/accounts/login/", "", "");
    assert_eq!(status, 200, "{page}");
    let secret = between(&head, "csrftoken=", ";").to_owned();
    let token = between(&page, "name=\"csrfmiddlewaretoken\" value=\"", "\"").to_owned();
    let (status, head, _) = request(
        port_a,
        "POST",
        "/accounts/login/",
        &format!("csrftoken={secret}"),
        &format!("username=ann&password=plum-crumble-42&csrfmiddlewaretoken={token}"),
    );
    assert_eq!(status, 303, "{head}");
    let session = between(&head, "sessionid=", ";").to_owned();
    let cookies = format!(
        "sessionid={session}; csrftoken={}",
        between(&head, "csrftoken=", ";")
    );
    let (_, _, home) = request(port_b, "GET", "/", &cookies, "");
    assert!(home.starts_with("Hello, ann."), "{home}");

    // Through the load balancer: the page needs the session (Redis), the
    // user and the questions (PostgreSQL) and the count (the Redis cache).
    let (status, head, page) = request(front, "GET", "/polls/", &cookies, "");
    assert_eq!(status, 200, "{head}");
    assert!(page.contains("Logged in as ann"), "{page}");
    assert!(page.contains("0 questions asked so far."), "{page}");
    // HAProxy's request id reaches the instance's JSON access log.
    let id = between(&head.to_ascii_lowercase(), "x-request-id: ", "\r\n").to_owned();
    assert!(
        id.contains(':') && id.contains('_'),
        "HAProxy's format: {id}"
    );
    wait_until("the request id is logged", Duration::from_secs(5), || {
        [&a, &b].iter().any(|instance| {
            instance.lines().iter().any(|line| {
                line.contains("estate::access")
                    && line.contains("\"path\":\"/polls/\"")
                    && line
                        .to_ascii_lowercase()
                        .contains(&format!("\"request_id\":\"{id}\""))
            })
        })
    });
    // Static files under hashed names, cached for a year.
    assert!(
        page.contains(&format!("href=\"/static/{hashed_name}\"")),
        "{page}"
    );
    let response = get(front, &format!("/static/{hashed_name}"));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("max-age=31536000, immutable"),
        "{response}"
    );

    // Load through HAProxy; instance b is restarted gracefully meanwhile.
    let script = dir.path().join("check.lua");
    std::fs::write(&script, WRK_SCRIPT).unwrap();
    let load = Command::new(&wrk)
        .args(["-t2", "-c8", "--latency", "--timeout", "5s"])
        .arg(format!("-d{}s", LOAD.as_secs()))
        .arg("-s")
        .arg(&script)
        .args(["-H", &format!("Cookie: {cookies}")])
        .arg(format!("http://127.0.0.1:{front}/polls/"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let load_started = Instant::now();
    std::thread::sleep(RESTART_AT);
    let served_before = b.access_count("/polls/");
    let term = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &b.server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(
        waited(Duration::from_secs(3), || lb
            .status("b")
            .starts_with("DOWN")),
        "HAProxy takes b out: {}",
        lb.log()
    );
    let marked_down = term.elapsed();
    let exit = b.server.child.wait().unwrap();
    let stopped = term.elapsed();
    assert!(exit.success(), "b exits cleanly: {exit}");
    let old_b = std::mem::replace(&mut b, Logged::new(start_at(&addr_b, &envs)));
    let listening = term.elapsed();
    assert!(
        waited(Duration::from_secs(5), || lb.status("b") == "UP"),
        "HAProxy takes b back: {}",
        lb.log()
    );
    let back = term.elapsed();
    assert!(
        load_started.elapsed() + Duration::from_secs(3) < LOAD,
        "the restart took too long to leave load for the new b: {:?}",
        load_started.elapsed()
    );
    let output = load.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let requests: u64 = report
        .lines()
        .find(|line| line.contains(" requests in "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    // Every request wrk counted is in an instance's access log (the test's
    // own few too).
    let logged =
        || a.access_count("/polls/") + old_b.access_count("/polls/") + b.access_count("/polls/");
    wait_until("the access logs are read", Duration::from_secs(3), || {
        logged() >= requests
    });
    let on_a = a.access_count("/polls/");
    let on_old_b = old_b.access_count("/polls/");
    let on_new_b = b.access_count("/polls/");
    let shutdown_logged = old_b
        .lines()
        .iter()
        .any(|line| line.contains("the readiness probe answers 503"));
    let stats_b = lb.stats("b");
    let summary = format!(
        "{report}\nrequests {requests}: a {on_a}, old b {on_old_b} ({served_before} before \
         SIGTERM), new b {on_new_b}\nb after SIGTERM: out of HAProxy {marked_down:?}, exited \
         {stopped:?}, listening again {listening:?}, back in HAProxy {back:?}\nHAProxy b: \
         retries {}, redispatches {}, checks down {}\n",
        stats_b["wretr"], stats_b["wredis"], stats_b["chkdown"]
    );
    let _ = writeln!(std::io::stderr(), "{summary}");

    // What users would notice: every response a success, every one logged in.
    assert!(!report.contains("Non-2xx or 3xx responses"), "{summary}");
    assert!(!report.contains("Socket errors"), "{summary}");
    assert!(report.contains("not logged in: 0\n"), "{summary}");
    assert!(requests >= 200, "{summary}");
    // Both instances served, b before and after its restart.
    assert!(on_a > 0 && served_before > 0 && on_new_b > 0, "{summary}");
    assert!(shutdown_logged, "{summary}");
    assert_eq!(stats_b["chkdown"], "1", "{summary}");

    // Log out through the load balancer (the session leaves Redis).
    let (_, _, page) = request(front, "GET", "/accounts/password_change/", &cookies, "");
    let token = between(&page, "name=\"csrfmiddlewaretoken\" value=\"", "\"").to_owned();
    let (status, _, _) = request(
        front,
        "POST",
        "/accounts/logout/",
        &cookies,
        &format!("csrfmiddlewaretoken={token}"),
    );
    assert_eq!(status, 200);
    let (_, _, home) = request(port_b, "GET", "/", &cookies, "");
    assert!(home.starts_with("Welcome."), "{home}");

    drop(lb);
    drop((a, b, old_b));
    test_db.drop_database().await.unwrap();
}

/// wrk checks every body (each thread counts pages not showing ann as
/// logged in) and prints the total.
const WRK_SCRIPT: &str = r#"
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  wrong = 0
end
function response(status, headers, body)
  if not string.find(body, "Logged in as ann", 1, true) then
    wrong = wrong + 1
  end
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("wrong")
  end
  io.write(string.format("not logged in: %d\n", total))
end
"#;

/// `haproxy` and `wrk`, or `None` after a visible skip line (a failure with
/// `ESTATE_TEST_REQUIRE_ALL=1`).
fn tools() -> Option<(PathBuf, PathBuf)> {
    let find = |name: &str| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/sbin", "/usr/bin"].map(PathBuf::from))
            .map(|dir| dir.join(name))
            .find(|file| file.is_file())
    };
    if let (Some(haproxy), Some(wrk)) = (find("haproxy"), find("wrk")) {
        return Some((haproxy, wrk));
    }
    let message = "skipped: needs haproxy and wrk (apt-get install -y haproxy wrk)";
    if std::env::var(REQUIRE_ALL).as_deref() == Ok("1") {
        panic!("{message}, and {REQUIRE_ALL}=1 forbids skipping");
    }
    let _ = writeln!(std::io::stderr(), "{message}");
    None
}

/// Four free loopback ports, all different.
fn free_ports() -> [u16; 4] {
    let listeners: Vec<_> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

fn wait_until(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    assert!(waited(limit, done), "timed out: {what}");
}

/// Whether `done` came true within `limit`.
fn waited(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

/// A running instance and every log line it wrote so far.
struct Logged {
    server: Server,
    seen: std::sync::Mutex<Vec<String>>,
}

impl Logged {
    fn new(server: Server) -> Logged {
        let seen = std::sync::Mutex::new(server.early.clone());
        Logged { server, seen }
    }

    fn lines(&self) -> Vec<String> {
        let mut seen = self.seen.lock().unwrap();
        seen.extend(self.server.lines.try_iter());
        seen.clone()
    }

    /// Requests for `path` in the JSON access log.
    fn access_count(&self, path: &str) -> u64 {
        let needle = format!("\"path\":\"{path}\"");
        let mut seen = self.seen.lock().unwrap();
        seen.extend(self.server.lines.try_iter());
        seen.iter()
            .filter(|line| line.contains("estate::access") && line.contains(&needle))
            .count() as u64
    }
}

/// HAProxy in the foreground with the documented configuration; stopped
/// when dropped.
struct Haproxy {
    child: Child,
    stats_port: u16,
    log: PathBuf,
}

impl Haproxy {
    fn start(bin: &Path, dir: &Path, front: u16, a: u16, b: u16, stats: u16) -> Haproxy {
        let config = HAPROXY_CFG
            .replace("127.0.0.1:8000", &format!("127.0.0.1:{front}"))
            .replace("127.0.0.1:8001", &format!("127.0.0.1:{a}"))
            .replace("127.0.0.1:8002", &format!("127.0.0.1:{b}"))
            .replace("127.0.0.1:8404", &format!("127.0.0.1:{stats}"));
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let log_path = dir.join("haproxy.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let haproxy = Haproxy {
            child,
            stats_port: stats,
            log: log_path,
        };
        wait_until("HAProxy answers", Duration::from_secs(5), || {
            std::net::TcpStream::connect(("127.0.0.1", stats)).is_ok()
        });
        haproxy
    }

    /// The statistics of server `name` of the backend, by CSV column.
    fn stats(&self, name: &str) -> HashMap<String, String> {
        // HTTP/1.0: a plain body, not chunked.
        let mut response = String::new();
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.stats_port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(b"GET /;csv HTTP/1.0\r\n\r\n");
            let _ = std::io::Read::read_to_string(&mut stream, &mut response);
        }
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        let mut lines = body.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .find(|row| row.first() == Some(&"estate") && row.get(1) == Some(&name))
            .map(|row| {
                header
                    .iter()
                    .zip(row)
                    .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// HAProxy's log so far (for failure messages).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `UP`, `DOWN`, or a transition such as `UP 1/2`.
    fn status(&self, name: &str) -> String {
        self.stats(name).remove("status").unwrap_or_default()
    }
}

/// A chunked HTTP body's data.
fn dechunk(mut body: &str) -> String {
    let mut data = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        data.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    data
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(format!("estate-lb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

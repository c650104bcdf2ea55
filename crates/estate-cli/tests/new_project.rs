//! `estate new` and `estate startapp` as a new user runs them: the files a
//! project gets, the names and places refused, and — on SQLite, PostgreSQL
//! and MySQL — a generated project that builds, migrates, creates a
//! superuser, serves the admin (a logged-in record added through HTTP), then
//! grows an app with a model that shows up in the admin after
//! makemigrations and migrate, and passes its own `cargo test`; and
//! `runserver --reload` rebuilding it.
//!
//! The generated projects build into this workspace's target folder with
//! this checkout's Cargo.lock (which `estate new` copies), so only the
//! project crates themselves compile.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use estate::orm::Backend;
use estate::test::TestDatabase;

const ESTATE: &str = env!("CARGO_BIN_EXE_estate");
const PASSWORD: &str = "plum-crumble-42";

/// A fresh, empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("estate-new-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `estate` in `dir`.
fn estate(dir: &Path, args: &[&str]) -> Output {
    Command::new(ESTATE)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn new_writes_a_complete_project_and_never_overwrites() {
    let dir = scratch("files");
    let made = estate(&dir, &["new", "mysite", "--db", "postgres"]);
    assert!(made.status.success(), "{}", text(&made));
    assert!(
        text(&made).contains("cargo run -- migrate"),
        "{}",
        text(&made)
    );
    let project = dir.join("mysite");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "estate.toml",
        ".env.example",
        ".gitignore",
        "README.md",
        "src/main.rs",
        "src/pages/mod.rs",
        "src/pages/models.rs",
        "src/pages/tests.rs",
        "src/pages/migrations/mod.rs",
        "src/pages/migrations/0001_initial.rs",
        "src/pages/templates/pages/index.html",
        "templates/base.html",
        "static/css/site.css",
    ] {
        let path = project.join(file);
        let content = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no {file}"));
        assert!(
            !content.contains("__PROJECT__") && !content.contains("__ESTATE"),
            "{file}"
        );
    }
    let settings = std::fs::read_to_string(project.join("estate.toml")).unwrap();
    assert!(
        settings.contains("database_url = \"postgres://postgres@127.0.0.1:5432/mysite\""),
        "{settings}"
    );
    let key = settings
        .lines()
        .find_map(|l| l.strip_prefix("secret_key = \""))
        .unwrap();
    assert!(
        key.starts_with("estate-insecure-") && key.len() > 60,
        "{key}"
    );
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"mysite\""));
    assert!(manifest.contains("crates/estate\" }"), "{manifest}");

    // Again: refused, and the first project is untouched.
    std::fs::write(project.join("src/main.rs"), "// mine").unwrap();
    let again = estate(&dir, &["new", "mysite"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again).contains("already exists"), "{}", text(&again));
    assert_eq!(
        std::fs::read_to_string(project.join("src/main.rs")).unwrap(),
        "// mine"
    );

    // An app: its files, and the lines to register it.
    let app = estate(&project, &["startapp", "polls"]);
    assert!(app.status.success(), "{}", text(&app));
    assert!(text(&app).contains("mod polls;") && text(&app).contains(".app(polls::app())"));
    for file in [
        "mod.rs",
        "models.rs",
        "tests.rs",
        "migrations/mod.rs",
        "templates/polls/index.html",
    ] {
        assert!(project.join("src/polls").join(file).exists(), "{file}");
    }
    // The generated code is formatted as `cargo fmt` would (rustfmt also
    // checks the modules each file declares).
    let rustfmt = Command::new("rustfmt")
        .args([
            "--edition",
            "2024",
            "--check",
            "src/pages/mod.rs",
            "src/polls/mod.rs",
        ])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        rustfmt.status.success(),
        "not rustfmt-clean:\n{}",
        text(&rustfmt)
    );
    let twice = estate(&project, &["startapp", "polls"]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(
        text(&twice).contains("src/polls already exists"),
        "{}",
        text(&twice)
    );
}

#[test]
fn bad_names_and_places_are_refused_with_the_reason() {
    let dir = scratch("refusals");
    for (args, expected) in [
        (
            vec!["new", "my-site!"],
            "`!` is not allowed; use letters, digits, `_` and `-`, starting with a letter, e.g. `my-site`",
        ),
        (vec!["new", "fn"], "`fn` is a Rust keyword"),
        (vec!["new", "estate"], "crate every Estate project uses"),
        (vec!["new", "9lives"], "must start with a letter"),
        (vec!["startapp", "blog"], "is not a project folder"),
        (
            vec!["new", "site", "--db", "oracle"],
            "invalid value 'oracle'",
        ),
    ] {
        let output = estate(&dir, &args);
        assert_ne!(output.status.code(), Some(0), "{args:?}");
        assert!(
            text(&output).contains(expected),
            "{args:?}: {}",
            text(&output)
        );
    }
    let made = estate(&dir, &["new", "site"]);
    assert!(made.status.success());
    let project = dir.join("site");
    for (name, expected) in [
        ("Blog", "`B` is not allowed"),
        ("auth", "built-in app"),
        ("pages", "src/pages already exists"),
        ("match", "Rust keyword"),
    ] {
        let output = estate(&project, &["startapp", name]);
        assert_eq!(output.status.code(), Some(2), "{name}");
        assert!(
            text(&output).contains(expected),
            "{name}: {}",
            text(&output)
        );
    }
    // Nothing was left behind by the refusals.
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1);
}

/// This workspace's target folder (the tests' temporary folder is in it).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `cargo build` of the project, offline, into the workspace's target.
fn build(project: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .current_dir(project)
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the project does not build:\n{}",
        text(&output)
    );
    let warnings = String::from_utf8_lossy(&output.stderr);
    assert!(
        !warnings.contains("warning"),
        "the project builds with warnings:\n{warnings}"
    );
}

/// Runs the project's binary in its folder (so estate.toml is read).
fn manage(project: &Path, binary: &str, database: &str, args: &[&str]) -> String {
    let output = Command::new(target_dir().join("debug").join(binary))
        .args(args)
        .current_dir(project)
        .env("DATABASE_URL", database)
        .env("ESTATE_SUPERUSER_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}:\n{}", text(&output));
    text(&output)
}

/// The project's server on a free port, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(project: &Path, binary: &str, database: &str) -> Server {
    let mut child = Command::new(target_dir().join("debug").join(binary))
        .args(["runserver", "127.0.0.1:0"])
        .current_dir(project)
        .env("DATABASE_URL", database)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the server logs where it listens")
            .unwrap();
        if let Some(rest) = line.split("serving on http://127.0.0.1:").nth(1) {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Keep reading the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, port }
}

/// A browser's worth of HTTP: cookies kept between requests.
struct Browser {
    port: u16,
    cookies: Vec<(String, String)>,
}

impl Browser {
    /// (status, headers, body) of one request.
    fn send(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let body: String = form_body(form);
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let (status, head, body) = request(self.port, method, path, &cookie, &body).unwrap();
        for line in head.lines() {
            let header = line.get(..12).unwrap_or("");
            if header.eq_ignore_ascii_case("set-cookie: ") {
                let pair = line[12..].split(';').next().unwrap();
                if let Some((name, value)) = pair.split_once('=') {
                    self.cookies.retain(|(k, _)| k != name);
                    self.cookies.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        (status, head, body)
    }

    /// The CSRF token of the page at `path`.
    fn token(&mut self, path: &str) -> String {
        let (status, _, page) = self.send("GET", path, &[]);
        assert_eq!(status, 200, "{path}: {page}");
        let start = page
            .find("name=\"csrfmiddlewaretoken\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF token on {path}: {page}"))
            + 34;
        page[start..start + page[start..].find('"').unwrap()].to_owned()
    }

    fn log_in(&mut self) {
        let token = self.token("/admin/login/");
        let (status, _, page) = self.send(
            "POST",
            "/admin/login/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("username", "admin"),
                ("password", PASSWORD),
            ],
        );
        assert_eq!(status, 303, "login: {page}");
    }
}

/// One HTTP/1.1 request on a new connection: (status, head, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: \
         {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \
         {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let broken = || std::io::Error::other(format!("not an HTTP response: {response:?}"));
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(broken)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(broken)?;
    Ok((status, head.to_owned(), body.to_owned()))
}

fn form_body(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The whole walk for one database.
fn walk(db: &str, database_url: &str) {
    let dir = scratch(&format!("walk-{db}"));
    let name = format!("site_{db}");
    let made = estate(&dir, &["new", &name, "--db", db]);
    assert!(made.status.success(), "{}", text(&made));
    let project = dir.join(&name);
    build(&project);
    let migrated = manage(&project, &name, database_url, &["migrate"]);
    assert!(migrated.contains("pages.0001_initial"), "{migrated}");
    manage(
        &project,
        &name,
        database_url,
        &[
            "createsuperuser",
            "--noinput",
            "--username",
            "admin",
            "--email",
            "admin@example.com",
        ],
    );
    {
        let server = serve(&project, &name, database_url);
        let mut browser = Browser {
            port: server.port,
            cookies: Vec::new(),
        };
        browser.log_in();
        let token = browser.token("/admin/pages/page/add/");
        let (status, _, page) = browser.send(
            "POST",
            "/admin/pages/page/add/",
            &[
                ("csrfmiddlewaretoken", &token),
                ("title", "About us"),
                ("slug", "about"),
                ("body", "Hello <world>"),
                ("published", "on"),
                ("updated", "2026-11-26T10:00"),
                ("_save", "1"),
            ],
        );
        assert_eq!(status, 303, "add: {page}");
        let (_, _, home) = browser.send("GET", "/", &[]);
        assert!(
            home.contains("<a href=\"/pages/about/\">About us</a>"),
            "{home}"
        );
        let (_, _, about) = browser.send("GET", "/pages/about/", &[]);
        assert!(about.contains("Hello &lt;world&gt;"), "{about}");
    }

    // startapp, a model, makemigrations, migrate: in the admin.
    let app = estate(&project, &["startapp", "blog"]);
    assert!(app.status.success(), "{}", text(&app));
    edit(
        &project.join("src/main.rs"),
        &[
            ("mod pages;", "mod blog;\nmod pages;"),
            (
                "        .app(pages::app())",
                "        .app(pages::app())\n        .app(blog::app())",
            ),
            (
                "    let site = pages::register(site);",
                "    let site = pages::register(site);\n    let site = blog::register(site);",
            ),
        ],
    );
    edit(
        &project.join("src/blog/models.rs"),
        &[(
            "use estate::prelude::*;",
            "use estate::prelude::*;\n\n/// A post.\n#[derive(Model, Debug, Clone)]\n#[model(table = \
         \"blog_post\")]\npub(crate) struct Post {\n    pub(crate) id: Auto<i64>,\n    \
         #[model(max_length = 100)]\n    pub(crate) headline: String,\n}",
        )],
    );
    edit(
        &project.join("src/blog/mod.rs"),
        &[
            (
                "        // One `.model::<T>()` per model of models.rs.",
                "        .model::<models::Post>()",
            ),
            (
                "pub(crate) fn register(site: AdminSite) -> AdminSite {\n    site\n}",
                "pub(crate) fn register(site: AdminSite) -> AdminSite {\n    \
             site.register(estate::admin::ModelAdmin::<models::Post>::new())\n}",
            ),
        ],
    );
    build(&project);
    let written = manage(&project, &name, database_url, &["makemigrations"]);
    assert!(written.contains("Create model Post"), "{written}");
    build(&project);
    let migrated = manage(&project, &name, database_url, &["migrate"]);
    assert!(migrated.contains("blog.0001_initial"), "{migrated}");
    let server = serve(&project, &name, database_url);
    let mut browser = Browser {
        port: server.port,
        cookies: Vec::new(),
    };
    browser.log_in();
    let (_, _, index) = browser.send("GET", "/admin/", &[]);
    assert!(index.contains("href=\"/admin/blog/post/\""), "{index}");
    let (status, _, _) = browser.send("GET", "/blog/", &[]);
    assert_eq!(status, 200);

    // The tests the project came with, and the new app's, pass (they use
    // an in-memory SQLite database whatever the project's own is).
    if db == "sqlite" {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let output = Command::new(cargo)
            .args(["test", "--offline"])
            .current_dir(&project)
            .env("CARGO_TARGET_DIR", target_dir())
            .output()
            .unwrap();
        let report = text(&output);
        assert!(
            output.status.success(),
            "cargo test fails in the project:\n{report}"
        );
        for test in [
            "pages::tests::published_pages_are_listed_and_shown ... ok",
            "blog::tests::the_index_answers ... ok",
        ] {
            assert!(report.contains(test), "{test}:\n{report}");
        }
    }
}

/// Replaces each `(old, new)` in the file, which must hold `old`.
fn edit(path: &Path, changes: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(path).unwrap();
    for (old, new) in changes {
        assert!(text.contains(old), "{} has no {old:?}", path.display());
        text = text.replacen(old, new, 1);
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_new_project_builds_serves_the_admin_and_grows_an_app() {
    walk("sqlite", "sqlite://db.sqlite3");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (backend, db) in [(Backend::Postgres, "postgres"), (Backend::MySql, "mysql")] {
        let Some(created) = runtime.block_on(TestDatabase::create(backend)) else {
            continue;
        };
        let database = created.unwrap();
        walk(db, &database.url().unwrap());
        runtime.block_on(database.drop_database()).unwrap();
    }
}

/// Polls `GET path` until `done` accepts the answer, for up to `limit`.
fn wait_for(
    port: u16,
    path: &str,
    limit: Duration,
    done: impl Fn(u16, &str, &str) -> bool,
    log: &std::sync::Mutex<String>,
) -> (u16, String, String) {
    let started = std::time::Instant::now();
    let mut last = None;
    while started.elapsed() < limit {
        if let Ok((status, head, body)) = request(port, "GET", path, "", "") {
            if done(status, &head, &body) {
                return (status, head, body);
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "GET {path}: not the expected answer after {limit:?}; last {last:?}\nserver output:\n{}",
        log.lock().unwrap()
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn runserver_reload_rebuilds_and_restarts_without_refusing_a_connection() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = scratch("reload");
    let made = estate(&dir, &["new", "site_reload"]);
    assert!(made.status.success(), "{}", text(&made));
    let project = dir.join("site_reload");
    build(&project);
    manage(&project, "site_reload", "sqlite://db.sqlite3", &["migrate"]);
    let port = free_port();
    // As `cargo run -- runserver --reload` starts it.
    let mut supervisor = Command::new(target_dir().join("debug/site_reload"))
        .args(["runserver", &port.to_string(), "--reload"])
        .current_dir(&project)
        .env("CARGO_MANIFEST_DIR", &project)
        .env("CARGO_NET_OFFLINE", "true")
        .env("DATABASE_URL", "sqlite://db.sqlite3")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(supervisor.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(supervisor.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
    }
    let minute = Duration::from_secs(60);
    wait_for(port, "/", minute, |status, _, _| status == 200, &log);
    let (status, _, _) = request(port, "GET", "/version/", "", "").unwrap();
    assert_eq!(status, 404);

    // A new route: rebuilt and served, while requests keep being answered.
    let stop = Arc::new(AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut answered, mut failures) = (0, Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match request(port, "GET", "/", "", "") {
                    Ok((200, _, _)) => answered += 1,
                    Ok((status, _, body)) => failures.push(format!("{status}: {body}")),
                    Err(err) => failures.push(err.to_string()),
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            (answered, failures)
        })
    };
    let module = project.join("src/pages/mod.rs");
    edit(
        &module,
        &[(
            "        .route(\"/\", get(index).name(\"index\"))",
            "        .route(\"/\", get(index).name(\"index\"))\n        .route(\"/version/\", \
             get(|| async { \"version 2\" }))",
        )],
    );
    let four_minutes = Duration::from_secs(240);
    wait_for(
        port,
        "/version/",
        four_minutes,
        |status, _, body| status == 200 && body == "version 2",
        &log,
    );
    // Requests that were queued while the servers swapped are answered too.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let (answered, failures) = hammer.join().unwrap();
    assert!(answered > 10, "{answered}");
    assert!(
        failures.is_empty(),
        "refused or failed during the restart: {failures:?}"
    );

    // A compile error: shown in the browser, with the file and the error.
    edit(
        &module,
        &[(
            "async fn index(db: Db) -> estate::Result<Template> {",
            "async fn index(db: Db) -> estate::Result<Template> {\n    let broken: u32 = \
             \"text\";",
        )],
    );
    let (_, head, page) = wait_for(port, "/", four_minutes, |status, _, _| status == 500, &log);
    assert!(
        head.to_ascii_lowercase().contains("x-estate-reload: 1"),
        "{head}"
    );
    assert!(page.contains("<h1>Build failed</h1>"), "{page}");
    assert!(
        page.contains("error[E0308]: mismatched types") && page.contains("src/pages/mod.rs"),
        "{page}"
    );
    assert!(log.lock().unwrap().contains("error[E0308]"));

    // Fixed: served again.
    edit(&module, &[("\n    let broken: u32 = \"text\";", "")]);
    wait_for(
        port,
        "/version/",
        four_minutes,
        |status, _, body| status == 200 && body == "version 2",
        &log,
    );

    // SIGTERM stops the supervisor and its server: nothing listens any more.
    let killed = Command::new("kill")
        .args(["-TERM", &supervisor.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = supervisor.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the supervisor did not stop"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}\n{}", log.lock().unwrap());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

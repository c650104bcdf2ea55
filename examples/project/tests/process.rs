//! The project binary end to end, as a deployment runs it: `runserver` in a
//! real process, JSON logs on stderr, SIGTERM for a graceful stop.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{between, command, get, request, start};

#[test]
fn sigterm_stops_the_server_after_the_request_in_flight() {
    let mut server = start(&[
        ("ESTATE_DEBUG", "true"),
        ("DATABASE_URL", "sqlite::memory:"),
        ("ESTATE_LOGGING__FORMAT", "json"),
        ("ESTATE_LOGGING__ACCESS_LOG", "true"),
    ]);
    let port = server.port;
    assert!(get(port, "/").contains("The polls live at /polls/"));

    let in_flight = std::thread::spawn(move || get(port, "/polls/slow"));
    std::thread::sleep(Duration::from_millis(150));
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let response = in_flight.join().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("done"), "{response}");
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "exit status {exit}");

    // Every log line is one JSON object; the access log has the requests.
    let lines: Vec<String> = server.lines.iter().collect();
    let access: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("estate::access"))
        .collect();
    assert!(
        access
            .iter()
            .any(|l| l.contains("\"path\":\"/polls/slow\"") && l.contains("\"status\":200")),
        "{lines:#?}"
    );
    for line in &lines {
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not JSON: {line}"
        );
    }
}

#[test]
fn production_without_a_secret_key_refuses_to_start() {
    let output = command(&["runserver", "127.0.0.1:0"])
        .env("ESTATE_ALLOWED_HOSTS", "example.com")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing setting `secret_key`"), "{stderr}");
}

#[test]
fn commands_and_help_work_from_the_binary() {
    let output = command(&["--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success());
    assert!(
        help.contains("closepoll") && help.contains("runserver"),
        "{help}"
    );

    let output = command(&["closepoll", "3"])
        .env("ESTATE_DEBUG", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "Closed poll 3.\n");

    let output = command(&["routes"])
        .env("ESTATE_DEBUG", "1")
        .output()
        .unwrap();
    let routes = String::from_utf8_lossy(&output.stdout);
    assert!(
        routes.contains("/polls/{id}/") && routes.contains("polls:detail"),
        "{routes}"
    );
}

#[test]
fn the_committed_migrations_match_the_models_and_apply() {
    // CI's guard: a model change without its migration fails here.
    let check = command(&["makemigrations", "--check"])
        .env("ESTATE_DEBUG", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(stdout, "No changes detected\n");

    let db = std::env::temp_dir().join(format!("estate-project-{}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    let migrate = command(&["migrate"])
        .env("ESTATE_DEBUG", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&migrate.stdout);
    assert!(
        migrate.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(stdout.contains("Applied polls.0001_initial OK"), "{stdout}");
    let shown = command(&["showmigrations"])
        .env("ESTATE_DEBUG", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains("polls\n [X] 0001_initial"));
    let _ = std::fs::remove_file(&db);
}

/// `createsuperuser` without questions (deployment scripts), asking
/// (piped answers, validators included), and `changepassword`.
#[test]
fn superusers_are_created_and_passwords_changed_from_the_command_line() {
    let db = std::env::temp_dir().join(format!("estate-users-{}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    let run = |args: &[&str], envs: &[(&str, &str)], input: &str| {
        let mut child = command(args)
            .env("ESTATE_DEBUG", "true")
            .env("DATABASE_URL", &url)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        )
    };
    let (ok, out) = run(&["migrate"], &[], "");
    assert!(ok, "{out}");
    assert!(out.contains("Applied auth.0001_initial OK"), "{out}");

    // --noinput: everything from the environment; a weak password refused.
    let (ok, out) = run(
        &["createsuperuser", "--noinput"],
        &[
            ("ESTATE_SUPERUSER_USERNAME", "admin"),
            ("ESTATE_SUPERUSER_EMAIL", "admin@example.com"),
            ("ESTATE_SUPERUSER_PASSWORD", "12345678"),
        ],
        "",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("This password is too common."), "{out}");
    let (ok, out) = run(
        &["createsuperuser", "--noinput"],
        &[
            ("ESTATE_SUPERUSER_USERNAME", "admin"),
            ("ESTATE_SUPERUSER_EMAIL", "admin@example.com"),
            ("ESTATE_SUPERUSER_PASSWORD", "plum-crumble-42"),
        ],
        "",
    );
    assert!(ok, "{out}");
    assert!(out.contains("Superuser created successfully."), "{out}");
    let (ok, out) = run(
        &["createsuperuser", "--noinput", "--username", "admin"],
        &[],
        "",
    );
    assert!(!ok, "{out}");
    assert!(out.contains("already exists"), "{out}");

    // Interactive: a taken name and mismatched or weak passwords are asked again.
    let (ok, out) = run(
        &["createsuperuser"],
        &[],
        "admin\nroot\nroot@example.com\nabc\nabd\nroot123\nroot123\nN\ntoffee-apple-77\ntoffee-apple-77\n",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Error: That username is already taken."),
        "{out}"
    );
    assert!(out.contains("Error: Your passwords didn't match."), "{out}");
    assert!(
        out.contains("The password is too similar to the username."),
        "{out}"
    );
    assert!(out.contains("Superuser created successfully."), "{out}");

    let (ok, out) = run(
        &["changepassword", "root"],
        &[],
        "new-horse-battery\nnew-horse-battery\n",
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("Password changed successfully for user 'root'"),
        "{out}"
    );
    let (ok, out) = run(&["changepassword", "nobody"], &[], "");
    assert!(!ok, "{out}");
    assert!(out.contains("user \"nobody\" does not exist"), "{out}");
    let _ = std::fs::remove_file(&db);
}

#[test]
fn runserver_warns_about_unapplied_migrations() {
    let db = std::env::temp_dir().join(format!("estate-warn-{}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    let server = start(&[("ESTATE_DEBUG", "true"), ("DATABASE_URL", &url)]);
    assert!(
        server
            .early
            .iter()
            .any(|l| l.contains("You have 4 unapplied migration(s)") && l.contains("polls")),
        "{:#?}",
        server.early
    );
    drop(server);
    let _ = std::fs::remove_file(&db);
}

/// Four `migrate` processes at once on a server database: each migration
/// is applied by exactly one of them, and none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_migrating_at_once_apply_each_migration_once() {
    use estate::orm::{Backend, RawSql, params};
    use estate::test::TestDatabase;
    for backend in [Backend::Postgres, Backend::MySql] {
        let Some(created) = TestDatabase::create(backend).await else {
            continue;
        };
        let test_db = created.unwrap();
        let url = test_db.url().unwrap();
        let children: Vec<_> = (0..4)
            .map(|_| {
                command(&["migrate"])
                    .env("ESTATE_DEBUG", "true")
                    .env("DATABASE_URL", &url)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut applied_by = 0;
        for child in children {
            let output = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success(),
                "{backend:?}: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            );
            if stdout.contains("Applied polls.0001_initial OK") {
                applied_by += 1;
            }
        }
        assert_eq!(applied_by, 1, "{backend:?}: applied by exactly one process");
        let recorded = test_db
            .db
            .fetch_all("SELECT name FROM estate_migrations", params![])
            .await
            .unwrap();
        // sessions, auth, polls and admin.
        assert_eq!(recorded.len(), 4, "{backend:?}");
        // The default permissions, created once though four processes ran:
        // four for each model of sessions (1), auth (3), polls (2) and
        // admin (1).
        let permissions = test_db
            .db
            .fetch_all("SELECT codename FROM auth_permission", params![])
            .await
            .unwrap();
        assert_eq!(permissions.len(), 28, "{backend:?}");
        test_db.drop_database().await.unwrap();
    }
}

#[test]
fn the_polls_tutorial_works_end_to_end() {
    let db = std::env::temp_dir().join(format!("estate-polls-{}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    let migrate = command(&["migrate"])
        .env("ESTATE_DEBUG", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let server = start(&[("ESTATE_DEBUG", "true"), ("DATABASE_URL", &url)]);
    let port = server.port;

    let (status, _, body) = request(port, "GET", "/polls/", "", "");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("No polls are available."), "{body}");

    // The form page sets the CSRF cookie and holds the token.
    let (status, head, page) = request(port, "GET", "/polls/new/", "", "");
    assert_eq!(status, 200, "{page}");
    let secret = between(&head, "csrftoken=", ";");
    let cookie = format!("csrftoken={secret}");
    let token = between(&page, r#"name="csrfmiddlewaretoken" value=""#, "\"");
    assert!(
        page.contains(r#"<label for="id_question_text">Question text:</label>"#),
        "{page}"
    );

    // Missing text: the form again, with Django's message.
    let (status, _, page) = request(
        port,
        "POST",
        "/polls/new/",
        &cookie,
        &format!("csrfmiddlewaretoken={token}&question_text="),
    );
    assert_eq!(status, 200);
    assert!(page.contains("This field is required."), "{page}");

    // No token: refused.
    let (status, _, _) = request(port, "POST", "/polls/new/", &cookie, "question_text=Hi");
    assert_eq!(status, 403);

    let (status, head, _) = request(
        port,
        "POST",
        "/polls/new/",
        &cookie,
        &format!("csrfmiddlewaretoken={token}&question_text=What%27s+%3Cnew%3E%3F"),
    );
    assert_eq!(status, 303, "{head}");
    let detail = between(&head, "location: ", "\r\n").to_owned();
    assert!(
        detail.starts_with("/polls/") && detail.ends_with('/'),
        "{detail}"
    );
    let (_, _, body) = request(port, "GET", "/polls/", "", "");
    assert!(body.contains("What&#x27;s &lt;new&gt;?"), "escaped: {body}");

    // Add a choice, vote for it, see the result.
    let (status, _, _) = request(
        port,
        "POST",
        &format!("{detail}choices/"),
        &cookie,
        &format!("csrfmiddlewaretoken={token}&choice_text=Not+much"),
    );
    assert_eq!(status, 303);
    let (_, _, page) = request(port, "GET", &detail, "", "");
    let choice = between(&page, r#"name="choice" id="choice1" value=""#, "\"").to_owned();
    let (status, _, page) = request(
        port,
        "POST",
        &format!("{detail}vote/"),
        &cookie,
        &format!("csrfmiddlewaretoken={token}"),
    );
    assert_eq!(status, 422);
    assert!(page.contains("You didn&#x27;t select a choice."), "{page}");
    let (status, head, _) = request(
        port,
        "POST",
        &format!("{detail}vote/"),
        &cookie,
        &format!("csrfmiddlewaretoken={token}&choice={choice}"),
    );
    assert_eq!(status, 303, "{head}");
    // The thanks wait in the visitor's session for the next page, once.
    let session = format!("sessionid={}", between(&head, "sessionid=", ";"));
    let (_, _, page) = request(port, "GET", &format!("{detail}results/"), &session, "");
    assert!(page.contains("Not much -- 1 vote<"), "{page}");
    assert!(
        page.contains(r#"<p class="success">Thanks for voting.</p>"#),
        "{page}"
    );
    let (_, _, page) = request(port, "GET", &format!("{detail}results/"), &session, "");
    assert!(!page.contains("Thanks for voting."), "{page}");
    let (status, _, _) = request(port, "GET", "/polls/999/", "", "");
    assert_eq!(status, 404);
    drop(server);
    let _ = std::fs::remove_file(&db);
}

/// Two instances of the site on one PostgreSQL (and Redis): a login made
/// through the first is honoured by the second, and a logout through the
/// second ends it for the first — with sessions in Redis and in the
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_accepts_the_first_ones_sessions() {
    use estate::orm::Backend;
    use estate::test::{REDIS, TestDatabase, service};
    let Some(created) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let Some(redis) = service(REDIS) else { return };
    let test_db = created.unwrap();
    let url = test_db.url().unwrap();
    let base = [
        ("ESTATE_DEBUG", "true"),
        ("DATABASE_URL", url.as_str()),
        (
            "ESTATE_SECRET_KEY",
            "shared-secret-key-for-both-instances-0123456789",
        ),
    ];
    let migrate = command(&["migrate"]).envs(base).output().unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let create = command(&["createsuperuser", "--noinput"])
        .envs(base)
        .env("ESTATE_SUPERUSER_USERNAME", "ann")
        .env("ESTATE_SUPERUSER_PASSWORD", "plum-crumble-42")
        .output()
        .unwrap();
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );

    for engine in ["redis", "database"] {
        let mut envs = base.to_vec();
        envs.push(("ESTATE_SESSIONS__ENGINE", engine));
        envs.push(("ESTATE_SESSIONS__REDIS_URL", redis.as_str()));
        let first = start(&envs);
        let second = start(&envs);

        // Log in through the first: its form, its CSRF cookie and token.
        let (status, head, page) = request(first.port, "GET", "/accounts/login/", "", "");
        assert_eq!(status, 200, "{engine}: {page}");
        let secret = between(&head, "csrftoken=", ";").to_owned();
        let token = between(&page, "name=\"csrfmiddlewaretoken\" value=\"", "\"").to_owned();
        let body = format!("username=ann&password=plum-crumble-42&csrfmiddlewaretoken={token}");
        let (status, head, _) = request(
            first.port,
            "POST",
            "/accounts/login/",
            &format!("csrftoken={secret}"),
            &body,
        );
        assert_eq!(status, 303, "{engine}: {head}");
        let session = between(&head, "sessionid=", ";").to_owned();
        let csrf = between(&head, "csrftoken=", ";").to_owned();
        let cookies = format!("sessionid={session}; csrftoken={csrf}");

        // The second knows her.
        let (_, _, home) = request(second.port, "GET", "/", &cookies, "");
        assert!(home.starts_with("Hello, ann."), "{engine}: {home}");
        // Logging out through the second ends it for the first.
        let (_, _, page) = request(
            second.port,
            "GET",
            "/accounts/password_change/",
            &cookies,
            "",
        );
        let token = between(&page, "name=\"csrfmiddlewaretoken\" value=\"", "\"").to_owned();
        let (status, _, _) = request(
            second.port,
            "POST",
            "/accounts/logout/",
            &cookies,
            &format!("csrfmiddlewaretoken={token}"),
        );
        assert_eq!(status, 200, "{engine}");
        let (_, _, home) = request(first.port, "GET", "/", &cookies, "");
        assert!(home.starts_with("Welcome."), "{engine}: {home}");
    }
    test_db.drop_database().await.unwrap();
}

/// The signup page: errors shown again, then a new user logged in at once.
#[test]
fn visitors_sign_up_and_are_logged_in() {
    let db = std::env::temp_dir().join(format!("estate-signup-{}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", db.display());
    let migrate = command(&["migrate"])
        .env("ESTATE_DEBUG", "true")
        .env("DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let server = start(&[("ESTATE_DEBUG", "true"), ("DATABASE_URL", &url)]);
    let port = server.port;
    let (status, head, page) = request(port, "GET", "/signup/", "", "");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<h1>Sign up</h1>"), "{page}");
    let cookie = format!("csrftoken={}", between(&head, "csrftoken=", ";"));
    let token = between(&page, "name=\"csrfmiddlewaretoken\" value=\"", "\"").to_owned();
    let post = |fields: &str| {
        request(
            port,
            "POST",
            "/signup/",
            &cookie,
            &format!("csrfmiddlewaretoken={token}&{fields}"),
        )
    };
    let (_, _, page) = post("username=bad+name&password1=x&password2=x");
    assert!(page.contains("Enter a valid username."), "{page}");
    let (_, _, page) = post("username=newbie&password1=x&password2=y");
    assert!(
        page.contains("The two password fields didn’t match."),
        "{page}"
    );
    let (_, _, page) = post("username=newbie&password1=newbie123&password2=newbie123");
    assert!(
        page.contains("The password is too similar to the username."),
        "{page}"
    );
    let (status, head, _) = post(
        "username=newbie&email=new%40example.com&password1=toffee-apple-77&password2=toffee-apple-77",
    );
    assert_eq!(status, 303, "{head}");
    let session = format!("sessionid={}", between(&head, "sessionid=", ";"));
    let (_, _, home) = request(port, "GET", "/", &session, "");
    assert!(home.starts_with("Hello, newbie."), "{home}");
    let (_, _, polls) = request(port, "GET", "/polls/", &session, "");
    assert!(polls.contains("Welcome, newbie!"), "{polls}");
    let (_, _, page) = post("username=newbie&password1=toffee-apple-77&password2=toffee-apple-77");
    assert!(
        page.contains("A user with that username already exists."),
        "{page}"
    );
    drop(server);
    let _ = std::fs::remove_file(&db);
}

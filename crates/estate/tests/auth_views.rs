//! The account pages through real HTTP, on every backend: login with a
//! same-site `next` only, logout by POST, password change; CSRF on every
//! form; failed logins limited per account and per address (in memory and
//! in Redis, shared by two instances) and recovering after the lockout.

mod common;

use std::time::Duration;

use estate::auth::{Auth, User, create_user};
use estate::cli::CommandOutput;
use estate::db::Database;
use estate::orm::Model;
use estate::prelude::*;
use estate::settings::SettingsLoader;
use estate::test::{REDIS, TestResponse, TestServer, each_backend, service};

use common::debug_app_with;

const PASSWORD: &str = "correct horse battery";

fn site(db: &Database, settings: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    debug_app_with(settings)
        .database(db.clone())
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .route("/", get(|| async { "home" }))
}

async fn prepare(db: &Database) {
    let out = CommandOutput::capture();
    site(db, |s| s)
        .run_with_args(["site", "migrate"], out.clone())
        .await
        .unwrap();
}

async fn add_user(server: &TestServer, db: &Database, name: &str) {
    let auth = server.context().get::<Auth>().unwrap().clone();
    create_user(
        &auth,
        db,
        name,
        &format!("{name}@example.com"),
        Some(PASSWORD),
    )
    .await
    .unwrap();
}

async fn post_login(server: &TestServer, fields: &[(&str, &str)]) -> TestResponse {
    server.post("/accounts/login/").form(fields).send().await
}

#[tokio::test]
async fn login_goes_only_to_same_site_next_urls() {
    each_backend(async |db| {
        prepare(&db).await;
        let server = TestServer::start(site(&db, |s| s)).await;
        add_user(&server, &db, "ann").await;

        let page = server.get("/accounts/login/?next=/polls/").send().await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.text();
        assert!(html.contains("<h1>Log in</h1>"), "{html}");
        assert!(html.contains(r#"name="csrfmiddlewaretoken""#), "{html}");
        assert!(
            html.contains(r#"<input type="text" name="username""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<input type="password" name="password""#),
            "{html}"
        );
        assert!(html.contains(r#"name="next" value="/polls/""#), "{html}");

        let ok = post_login(
            &server,
            &[
                ("username", "ann"),
                ("password", PASSWORD),
                ("next", "/polls/"),
            ],
        )
        .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        assert_eq!(ok.header("location"), Some("/polls/"));
        assert_eq!(ok.cookie("sessionid").map(str::len), Some(32));
        // No next: the login_redirect_url.
        let ok = post_login(&server, &[("username", "ann"), ("password", PASSWORD)]).await;
        assert_eq!(ok.header("location"), Some("/"));
        // Another site, however written, is never the target.
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "https://evil.example/polls/",
            "javascript:alert(1)",
        ] {
            let response = post_login(
                &server,
                &[("username", "ann"), ("password", PASSWORD), ("next", evil)],
            )
            .await;
            assert_eq!(response.header("location"), Some("/"), "{evil}");
            let response = server
                .post(&format!(
                    "/accounts/login/?next={}",
                    evil.replace('/', "%2F")
                        .replace('\\', "%5C")
                        .replace(':', "%3A")
                ))
                .form(&[("username", "ann"), ("password", PASSWORD)])
                .send()
                .await;
            assert_eq!(
                response.header("location"),
                Some("/"),
                "{evil} in the query"
            );
            let page = server
                .get(&format!(
                    "/accounts/login/?next={}",
                    evil.replace('\\', "%5C")
                ))
                .send()
                .await;
            assert!(
                page.text().contains(r#"name="next" value="""#),
                "{evil} not offered back"
            );
        }
        // This site's absolute URL is fine.
        let host = server.addr().to_string();
        let next = format!("http://{host}/polls/?page=2");
        let response = post_login(
            &server,
            &[("username", "ann"), ("password", PASSWORD), ("next", &next)],
        )
        .await;
        assert_eq!(response.header("location"), Some(next.as_str()));

        // Wrong credentials: the form again, with Django's message.
        let wrong = post_login(&server, &[("username", "ann"), ("password", "nope")]).await;
        assert_eq!(wrong.status, StatusCode::OK);
        let html = wrong.text();
        assert!(
            html.contains("Please enter a correct username and password."),
            "{html}"
        );
        assert!(
            html.contains(r#"value="ann""#),
            "the username is kept: {html}"
        );
        assert!(!html.contains("nope"), "the password is not shown again");
        assert_eq!(wrong.cookie("sessionid"), None);
        let empty = post_login(&server, &[("username", ""), ("password", "")]).await;
        assert!(empty.text().contains("This field is required."));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn every_account_form_needs_its_csrf_token_and_logout_needs_post() {
    each_backend(async |db| {
        prepare(&db).await;
        let server = TestServer::start(site(&db, |s| s)).await;
        add_user(&server, &db, "ann").await;
        for path in [
            "/accounts/login/",
            "/accounts/logout/",
            "/accounts/password_change/",
        ] {
            let response = server
                .post(path)
                .without_csrf_token()
                .form(&[("username", "ann"), ("password", PASSWORD)])
                .send()
                .await;
            assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
        }
        let session = post_login(&server, &[("username", "ann"), ("password", PASSWORD)])
            .await
            .cookie("sessionid")
            .unwrap()
            .to_owned();
        let get = server
            .get("/accounts/logout/")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED);
        let out = server
            .post("/accounts/logout/")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(out.status, StatusCode::OK);
        assert!(out.text().contains("<h1>Logged out</h1>"));
        assert_eq!(out.cookie("sessionid"), Some(""));
        // Logged out: the password page wants a login.
        let page = server
            .get("/accounts/password_change/")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(
            page.header("location"),
            Some("/accounts/login/?next=%2Faccounts%2Fpassword_change%2F")
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    each_backend(async |db| {
        prepare(&db).await;
        let server = TestServer::start(site(&db, |s| s)).await;
        add_user(&server, &db, "ann").await;
        let login = || post_login(&server, &[("username", "ann"), ("password", PASSWORD)]);
        let here = login().await.cookie("sessionid").unwrap().to_owned();
        let elsewhere = login().await.cookie("sessionid").unwrap().to_owned();

        let page = server
            .get("/accounts/password_change/")
            .cookie("sessionid", &here)
            .send()
            .await;
        let html = page.text();
        assert!(
            html.contains("Your password must contain at least 8 characters."),
            "{html}"
        );
        let change = |fields: Vec<(&'static str, String)>| {
            let here = here.clone();
            let server = &server;
            async move {
                let fields: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                server
                    .post("/accounts/password_change/")
                    .cookie("sessionid", &here)
                    .form(&fields)
                    .send()
                    .await
            }
        };
        let wrong_old = change(vec![
            ("old_password", "nope".into()),
            ("new_password1", "plum-crumble-42".into()),
            ("new_password2", "plum-crumble-42".into()),
        ])
        .await;
        assert!(
            wrong_old
                .text()
                .contains("Your old password was entered incorrectly.")
        );
        let mismatch = change(vec![
            ("old_password", PASSWORD.into()),
            ("new_password1", "plum-crumble-42".into()),
            ("new_password2", "plum-crumble-43".into()),
        ])
        .await;
        assert!(
            mismatch
                .text()
                .contains("The two password fields didn’t match."),
            "{}",
            mismatch.text()
        );
        let weak = change(vec![
            ("old_password", PASSWORD.into()),
            ("new_password1", "password".into()),
            ("new_password2", "password".into()),
        ])
        .await;
        assert!(weak.text().contains("This password is too common."));
        let stored = User::objects()
            .get(&db, User::USERNAME.eq("ann"))
            .await
            .unwrap();
        let auth = server.context().get::<Auth>().unwrap().clone();
        assert!(
            stored.check_password(auth.hashers(), PASSWORD),
            "unchanged so far"
        );

        let done = change(vec![
            ("old_password", PASSWORD.into()),
            ("new_password1", "plum-crumble-42".into()),
            ("new_password2", "plum-crumble-42".into()),
        ])
        .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        assert_eq!(
            done.header("location"),
            Some("/accounts/password_change/done/")
        );
        let here = done.cookie("sessionid").unwrap().to_owned();
        let page = server
            .get("/accounts/password_change/done/")
            .cookie("sessionid", &here)
            .send()
            .await;
        assert!(page.text().contains("Your password was changed."));
        let other = server
            .get("/accounts/password_change/done/")
            .cookie("sessionid", &elsewhere)
            .send()
            .await;
        assert_eq!(
            other.status,
            StatusCode::SEE_OTHER,
            "the other session is logged out"
        );
        // The new password logs in; the old does not.
        let old = post_login(&server, &[("username", "ann"), ("password", PASSWORD)]).await;
        assert_eq!(old.status, StatusCode::OK);
        let new = post_login(
            &server,
            &[("username", "ann"), ("password", "plum-crumble-42")],
        )
        .await;
        assert_eq!(new.status, StatusCode::SEE_OTHER);
        server.shutdown().await;
    })
    .await;
}

fn throttled(s: SettingsLoader) -> SettingsLoader {
    s.set("auth.login_failures_per_account", 3)
        .set("auth.login_failures_per_address", 5)
        .set("auth.login_lockout", 1)
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_address_and_recover() {
    each_backend(async |db| {
        prepare(&db).await;
        let server = TestServer::start(site(&db, throttled)).await;
        add_user(&server, &db, "ann").await;
        add_user(&server, &db, "bob").await;
        for _ in 0..3 {
            let response = post_login(&server, &[("username", "ann"), ("password", "guess")]).await;
            assert_eq!(response.status, StatusCode::OK);
        }
        // Locked: even the right password is refused, with a clear reason.
        let locked = post_login(&server, &[("username", "ann"), ("password", PASSWORD)]).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(locked.header("retry-after"), Some("1"));
        assert!(
            locked
                .text()
                .contains("Too many failed login attempts. Please try again in 1 minute.")
        );
        assert_eq!(locked.cookie("sessionid"), None);
        // Another account from the same address still works, until the
        // address has failed 5 times in all.
        let bob = post_login(&server, &[("username", "bob"), ("password", PASSWORD)]).await;
        assert_eq!(bob.status, StatusCode::SEE_OTHER);
        for name in ["carl", "dora"] {
            post_login(&server, &[("username", name), ("password", "guess")]).await;
        }
        let bob = post_login(&server, &[("username", "bob"), ("password", PASSWORD)]).await;
        assert_eq!(bob.status, StatusCode::TOO_MANY_REQUESTS);
        // After the lockout, logins work again.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let ann = post_login(&server, &[("username", "ann"), ("password", PASSWORD)]).await;
        assert_eq!(ann.status, StatusCode::SEE_OTHER);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn redis_counts_failures_for_every_instance() {
    let Some(url) = service(REDIS) else { return };
    let db = Database::connect("sqlite::memory:").await.unwrap();
    prepare(&db).await;
    // Unique names: the counters live in a shared Redis.
    let name = format!("user{}", std::process::id());
    let redis_settings = |url: String| {
        move |s: SettingsLoader| {
            throttled(s)
                .set("auth.login_throttle_redis_url", url)
                .set("auth.login_failures_per_address", 0)
                // One site: both instances share the key (and the counts).
                .set(
                    "secret_key",
                    format!("redis-throttle-test-{}", std::process::id()),
                )
        }
    };
    let first = TestServer::start(site(&db, redis_settings(url.clone()))).await;
    let second = TestServer::start(site(&db, redis_settings(url.clone()))).await;
    add_user(&first, &db, &name).await;
    for server in [&first, &second, &first] {
        let response = post_login(server, &[("username", &name), ("password", "guess")]).await;
        assert_eq!(response.status, StatusCode::OK);
    }
    let locked = post_login(&second, &[("username", &name), ("password", PASSWORD)]).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    // The two servers count in memory separately: the lock seen by the
    // second comes from Redis.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ok = post_login(&first, &[("username", &name), ("password", PASSWORD)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    first.shutdown().await;
    second.shutdown().await;
}

/// Many guesses at once: counted before the password is checked, so no
/// more than the limit get a check, however they are timed.
#[tokio::test]
async fn concurrent_guesses_do_not_slip_past_the_limit() {
    each_backend(async |db| {
        prepare(&db).await;
        let server = TestServer::start(site(&db, |s| {
            s.set("auth.login_failures_per_account", 5)
                .set("auth.login_failures_per_address", 0)
        }))
        .await;
        add_user(&server, &db, "ann").await;
        let guesses = (0..30).map(|i| {
            let guess = format!("guess-{i}");
            let server = &server;
            async move {
                post_login(server, &[("username", "ann"), ("password", guess.as_str())])
                    .await
                    .status
            }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let checked = statuses.iter().filter(|s| **s == StatusCode::OK).count();
        let refused = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((checked, refused), (5, 25), "{statuses:?}");
        // The account itself stays locked, even for the right password;
        // other spellings never log in as ann (where the database treats
        // them as her name they share her count, else they name nobody).
        let locked = post_login(&server, &[("username", "ann"), ("password", PASSWORD)]).await;
        assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
        for name in ["ANN", " ann ", "Ann", "ànn", "ａnn"] {
            let response = post_login(&server, &[("username", name), ("password", PASSWORD)]).await;
            assert_ne!(response.status, StatusCode::SEE_OTHER, "{name}");
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_next_with_stray_whitespace_is_trimmed_not_a_500() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    prepare(&db).await;
    let server = TestServer::start(site(&db, |s| s)).await;
    add_user(&server, &db, "ann").await;
    let response = post_login(
        &server,
        &[
            ("username", "ann"),
            ("password", PASSWORD),
            ("next", "\n/polls/ "),
        ],
    )
    .await;
    assert_eq!(response.status, StatusCode::SEE_OTHER);
    assert_eq!(response.header("location"), Some("/polls/"));
    let response = server
        .post("/accounts/login/?next=%0A%2Fpolls%2F")
        .form(&[("username", "ann"), ("password", PASSWORD)])
        .send()
        .await;
    assert_eq!(response.header("location"), Some("/polls/"));
    server.shutdown().await;
}

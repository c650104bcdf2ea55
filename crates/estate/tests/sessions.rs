//! Sessions as a visitor meets them: a counter kept across requests in the
//! database (every backend), the signed cookie and Redis; keys rotated at
//! login and forgotten at logout; client-chosen, tampered and expired
//! sessions refused; `clearsessions`; configuration errors.

mod common;

use std::time::Duration;

use estate::cli::CommandOutput;
use estate::db::{Database, Db, RawSql, params};
use estate::orm::Model;
use estate::prelude::*;
use estate::sessions::{Session, SessionExpiry, StoredSession};
use estate::settings::SettingsLoader;
use estate::test::{REDIS, TestServer, each_backend, service};

use common::{debug_app_with, startup_error};

async fn count(session: Session) -> estate::Result<String> {
    let visits: u32 = session.get("visits").unwrap_or(0) + 1;
    session.insert("visits", visits)?;
    Ok(visits.to_string())
}

async fn peek(session: Session) -> String {
    session
        .get::<u32>("visits")
        .map_or_else(|| "none".to_owned(), |n| n.to_string())
}

async fn login(session: Session) -> estate::Result<String> {
    session.cycle_key();
    session.insert("user", "ann")?;
    Ok("welcome".to_owned())
}

async fn logout(session: Session) -> &'static str {
    session.flush();
    "bye"
}

async fn until_browser_closes(session: Session) -> estate::Result<&'static str> {
    session.set_expiry(SessionExpiry::AtBrowserClose);
    session.insert("visits", 1)?;
    Ok("ok")
}

async fn one_hour(session: Session) -> estate::Result<&'static str> {
    session.set_expiry(SessionExpiry::After(Duration::from_secs(3600)));
    session.insert("visits", 1)?;
    Ok("ok")
}

/// Loads the session, then its row disappears (a logout in another tab)
/// before this request saves.
async fn raced_by_logout(session: Session, db: Db) -> estate::Result<&'static str> {
    StoredSession::objects().delete(&db).await?;
    session.insert("visits", 99)?;
    Ok("too late")
}

fn site(settings: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    debug_app_with(settings)
        .app(estate::sessions::app())
        .route("/count", get(count))
        .route("/peek", get(peek))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/browser", get(until_browser_closes))
        .route("/hour", get(one_hour))
        .route("/plain", get(|| async { "no session here" }))
}

fn database_site(db: &Database) -> App {
    site(|s| s)
        .database(db.clone())
        .route("/race", get(raced_by_logout))
}

async fn command(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

async fn rows(db: &Database) -> i64 {
    db.fetch_one("SELECT COUNT(*) FROM estate_session", params![])
        .await
        .unwrap()
        .get::<i64, _>(0)
        .unwrap()
}

#[tokio::test]
async fn database_sessions_keep_data_rotate_at_login_and_end_at_logout() {
    each_backend(async |db| {
        let (result, out) = command(database_site(&db), &["migrate"]).await;
        result.unwrap();
        assert!(out.contains("sessions.0001_initial"), "{out}");
        let server = TestServer::start(database_site(&db)).await;

        // First visit: a new session, stored, with a safe cookie.
        let first = server.get("/count").send().await;
        assert_eq!(first.text(), "1");
        let header = first.set_cookie("sessionid").unwrap().to_owned();
        assert!(header.contains("; HttpOnly"), "{header}");
        assert!(header.contains("; SameSite=Lax"), "{header}");
        assert!(header.contains("; Path=/"), "{header}");
        assert!(header.contains("; Max-Age=1209600"), "{header}");
        assert!(!header.contains("Secure"), "{header}");
        assert_eq!(first.header("vary"), Some("Cookie"));
        let key = first.cookie("sessionid").unwrap().to_owned();
        assert_eq!(key.len(), 32);
        assert_eq!(rows(&db).await, 1);
        let stored = StoredSession::objects()
            .get(&db, StoredSession::SESSION_KEY.eq(key.as_str()))
            .await
            .unwrap();
        assert!(
            !stored.session_data.contains("visits"),
            "signed and compressed"
        );

        // The same visitor again.
        let second = server.get("/count").cookie("sessionid", &key).send().await;
        assert_eq!(second.text(), "2");
        assert_eq!(second.cookie("sessionid"), Some(key.as_str()));
        // Reading alone writes nothing.
        let read = server.get("/peek").cookie("sessionid", &key).send().await;
        assert_eq!(read.text(), "2");
        assert_eq!(read.set_cookie("sessionid"), None);
        assert_eq!(read.header("vary"), Some("Cookie"));
        // A page without a session neither reads nor varies.
        let plain = server.get("/plain").cookie("sessionid", &key).send().await;
        assert_eq!(plain.set_cookie("sessionid"), None);
        assert_eq!(plain.header("vary"), None);

        // Login: same data, new key; the old key is worthless.
        let login = server.post("/login").cookie("sessionid", &key).send().await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.text());
        let new_key = login.cookie("sessionid").unwrap().to_owned();
        assert_ne!(new_key, key);
        assert_eq!(rows(&db).await, 1);
        let read = server
            .get("/peek")
            .cookie("sessionid", &new_key)
            .send()
            .await;
        assert_eq!(read.text(), "2");
        let old = server.get("/peek").cookie("sessionid", &key).send().await;
        assert_eq!(old.text(), "none");
        assert!(old.set_cookie("sessionid").unwrap().contains("Max-Age=0"));

        // Logout: the row and the cookie go.
        let logout = server
            .post("/logout")
            .cookie("sessionid", &new_key)
            .send()
            .await;
        assert_eq!(logout.text(), "bye");
        assert_eq!(logout.cookie("sessionid"), Some(""));
        assert!(
            logout
                .set_cookie("sessionid")
                .unwrap()
                .contains("Max-Age=0")
        );
        assert_eq!(rows(&db).await, 0);
        let after = server
            .get("/peek")
            .cookie("sessionid", &new_key)
            .send()
            .await;
        assert_eq!(after.text(), "none");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn chosen_tampered_expired_and_deleted_sessions_are_refused() {
    each_backend(async |db| {
        command(database_site(&db), &["migrate"]).await.0.unwrap();
        let server = TestServer::start(database_site(&db)).await;

        // A key the client made up is not adopted (no session fixation).
        let chosen = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let response = server
            .get("/count")
            .cookie("sessionid", chosen)
            .send()
            .await;
        assert_eq!(response.text(), "1");
        let key = response.cookie("sessionid").unwrap().to_owned();
        assert_ne!(key, chosen);
        // Malformed values never reach the database.
        for junk in ["' OR 1=1 --", "short", &"x".repeat(300)] {
            let response = server.get("/peek").cookie("sessionid", junk).send().await;
            assert_eq!(response.text(), "none", "{junk}");
        }

        // Data written to the table without the secret key is refused.
        db.execute(
            "UPDATE estate_session SET session_data = 'eyJ2aXNpdHMiOjUwfQ:forged'",
            params![],
        )
        .await
        .unwrap();
        let response = server.get("/peek").cookie("sessionid", &key).send().await;
        assert_eq!(response.text(), "none");

        // Expired sessions are gone, and clearsessions deletes them.
        let fresh = server
            .get("/count")
            .send()
            .await
            .cookie("sessionid")
            .unwrap()
            .to_owned();
        StoredSession::objects()
            .update(
                &db,
                [StoredSession::EXPIRE_DATE.set(
                    estate::orm::chrono::Utc::now() - estate::orm::chrono::Duration::hours(1),
                )],
            )
            .await
            .unwrap();
        let response = server.get("/peek").cookie("sessionid", &fresh).send().await;
        assert_eq!(response.text(), "none");
        let (result, out) = command(database_site(&db), &["clearsessions"]).await;
        result.unwrap();
        assert_eq!(out, "Removed 2 expired sessions.\n");
        assert_eq!(rows(&db).await, 0);

        // A session deleted while a request ran is not brought back.
        let key = server
            .get("/count")
            .send()
            .await
            .cookie("sessionid")
            .unwrap()
            .to_owned();
        let response = server.get("/race").cookie("sessionid", &key).send().await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST);
        assert!(
            response
                .text()
                .contains("logged out in a concurrent request"),
            "{}",
            response.text()
        );
        assert_eq!(rows(&db).await, 0);
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expiry_can_follow_the_browser_or_a_chosen_age() {
    each_backend(async |db| {
        command(database_site(&db), &["migrate"]).await.0.unwrap();
        let server = TestServer::start(database_site(&db)).await;
        let response = server.get("/browser").send().await;
        let header = response.set_cookie("sessionid").unwrap();
        assert!(!header.contains("Max-Age"), "{header}");
        let response = server.get("/hour").send().await;
        assert!(
            response
                .set_cookie("sessionid")
                .unwrap()
                .contains("Max-Age=3600")
        );
        let key = response.cookie("sessionid").unwrap();
        let stored = StoredSession::objects()
            .get(&db, StoredSession::SESSION_KEY.eq(key))
            .await
            .unwrap();
        let left = stored.expire_date - estate::orm::chrono::Utc::now();
        assert!((3500..=3600).contains(&left.num_seconds()), "{left}");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn cookie_settings_are_applied() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let app = |db: &Database| {
        site(|s| {
            s.set("sessions.cookie_name", "sid")
                .set("sessions.cookie_age", 600)
                .set("sessions.cookie_samesite", "Strict")
                .set("sessions.save_every_request", true)
                .set("security.session_cookie_secure", true)
        })
        .database(db.clone())
    };
    command(app(&db), &["migrate"]).await.0.unwrap();
    let server = TestServer::start(app(&db)).await;
    let response = server.get("/count").send().await;
    let header = response.set_cookie("sid").unwrap().to_owned();
    assert!(header.contains("; Max-Age=600"), "{header}");
    assert!(header.contains("; SameSite=Strict"), "{header}");
    assert!(header.contains("; Secure"), "{header}");
    // save_every_request: even a read renews the cookie.
    let key = response.cookie("sid").unwrap();
    let read = server.get("/peek").cookie("sid", key).send().await;
    assert_eq!(read.text(), "1");
    assert_eq!(read.cookie("sid"), Some(key));
    server.shutdown().await;
}

#[tokio::test]
async fn signed_cookie_sessions_need_no_server_storage() {
    let server = TestServer::start(site(|s| s.set("sessions.engine", "signed_cookies"))).await;
    let first = server.get("/count").send().await;
    assert_eq!(first.text(), "1");
    let cookie = first.cookie("sessionid").unwrap().to_owned();
    assert_eq!(cookie.matches(':').count(), 2, "value:timestamp:signature");
    let second = server
        .get("/count")
        .cookie("sessionid", &cookie)
        .send()
        .await;
    assert_eq!(second.text(), "2");
    let cookie = second.cookie("sessionid").unwrap().to_owned();
    // Changing the data breaks the signature: a fresh session.
    let (data, rest) = cookie.split_once(':').unwrap();
    let forged = format!("{}x:{rest}", &data[..data.len() - 1]);
    let response = server
        .get("/peek")
        .cookie("sessionid", &forged)
        .send()
        .await;
    assert_eq!(response.text(), "none");
    let response = server
        .post("/logout")
        .cookie("sessionid", &cookie)
        .send()
        .await;
    assert_eq!(response.cookie("sessionid"), Some(""));
    server.shutdown().await;
}

#[tokio::test]
async fn redis_sessions_expire_in_redis() {
    let Some(url) = service(REDIS) else { return };
    let prefix_probe = redis::Client::open(url.as_str()).unwrap();
    let mut redis_conn = prefix_probe
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let url_for_app = url.clone();
    let server = TestServer::start(site(move |s| {
        s.set("sessions.engine", "redis")
            .set("sessions.redis_url", url_for_app)
    }))
    .await;
    let first = server.get("/count").send().await;
    assert_eq!(first.text(), "1");
    let key = first.cookie("sessionid").unwrap().to_owned();
    let redis_key = format!("estate:session:{key}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&redis_key)
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert!((1_209_500..=1_209_600).contains(&ttl), "{ttl}");
    let second = server.get("/count").cookie("sessionid", &key).send().await;
    assert_eq!(second.text(), "2");
    let login = server.post("/login").cookie("sessionid", &key).send().await;
    let new_key = login.cookie("sessionid").unwrap().to_owned();
    let old_exists: bool = redis::cmd("EXISTS")
        .arg(&redis_key)
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert!(!old_exists);
    let logout = server
        .post("/logout")
        .cookie("sessionid", &new_key)
        .send()
        .await;
    assert_eq!(logout.cookie("sessionid"), Some(""));
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("estate:session:{new_key}"))
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert!(!exists);
    server.shutdown().await;
}

#[tokio::test]
async fn misconfigured_sessions_stop_startup_with_the_fix() {
    let error = startup_error(site(|s| s)).await;
    assert!(error.contains("no database is configured"), "{error}");
    assert!(error.contains("DATABASE_URL"), "{error}");

    assert!(error.contains("sessions.E002"), "{error}");
    let error = startup_error(site(|s| s.set("sessions.engine", "redis"))).await;
    assert!(error.contains("sessions.redis_url is not set"), "{error}");
    assert!(error.contains("sessions.E003"), "{error}");

    let error = startup_error(site(|s| {
        s.set("sessions.engine", "redis")
            .set("sessions.redis_url", "redis://127.0.0.1:1")
    }))
    .await;
    assert!(error.contains("redis://127.0.0.1:1"), "{error}");

    let error = SettingsLoader::new()
        .set("debug", true)
        .set("sessions.engine", "mongo")
        .load()
        .map(|settings| App::with_settings(settings).app(estate::sessions::app()));
    let error = match error {
        Ok(app) => startup_error(app).await,
        Err(err) => err.to_string(),
    };
    assert!(error.contains("sessions.engine"), "{error}");
    assert!(error.contains("database"), "{error}");

    // A handler asking for a session without the app.
    let server = TestServer::start(debug_app_with(|s| s).route("/peek", get(peek))).await;
    let response = server.get("/peek").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response.text().contains("estate::sessions::app()"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn checks_and_migrations_match_the_settings_and_model() {
    let (result, out) = command(
        site(|s| {
            s.set("sessions.engine", "signed_cookies")
                .set("sessions.cookie_samesite", "None")
                .set("sessions.cookie_httponly", false)
        }),
        &["check"],
    )
    .await;
    assert!(result.is_err(), "{out}");
    assert!(out.contains("sessions.E001"), "{out}");
    assert!(out.contains("sessions.W001"), "{out}");

    let db = Database::connect("sqlite::memory:").await.unwrap();
    let (result, out) = command(site(|s| s).database(db), &["makemigrations", "--check"]).await;
    result.unwrap();
    assert_eq!(out, "No changes detected\n");
}

#[tokio::test]
async fn rotated_secret_keys_keep_sessions_through_the_fallbacks() {
    each_backend(async |db| {
        let keyed = |key: &'static str, fallbacks: Vec<&'static str>| {
            site(move |s| {
                s.set("secret_key", key)
                    .set("secret_key_fallbacks", fallbacks)
            })
            .database(db.clone())
        };
        command(keyed("old-key-old-key-old-key", vec![]), &["migrate"])
            .await
            .0
            .unwrap();
        let server = TestServer::start(keyed("old-key-old-key-old-key", vec![])).await;
        let session = server
            .get("/count")
            .send()
            .await
            .cookie("sessionid")
            .unwrap()
            .to_owned();
        server.shutdown().await;

        let server = TestServer::start(keyed("new-key-new-key-new-key", vec![])).await;
        let response = server
            .get("/peek")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(response.text(), "none", "another key: refused");
        server.shutdown().await;

        let server = TestServer::start(keyed(
            "new-key-new-key-new-key",
            vec!["old-key-old-key-old-key"],
        ))
        .await;
        let response = server
            .get("/count")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(response.text(), "2", "the old key as a fallback: accepted");
        server.shutdown().await;
        // Saved again under the new key: the fallback is no longer needed.
        let server = TestServer::start(keyed("new-key-new-key-new-key", vec![])).await;
        let response = server
            .get("/peek")
            .cookie("sessionid", &session)
            .send()
            .await;
        assert_eq!(response.text(), "2");
        server.shutdown().await;
    })
    .await;
}

/// A store in memory that can be switched off, like a Redis going away.
#[derive(Default)]
struct FlakyStore {
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    data: std::sync::Mutex<std::collections::HashMap<String, estate::sessions::SessionData>>,
}

impl FlakyStore {
    fn check(&self) -> Result<(), estate::sessions::SessionError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(estate::sessions::SessionError::Unavailable(
                "switched off".into(),
            ));
        }
        Ok(())
    }
}

impl estate::sessions::SessionStore for FlakyStore {
    fn load<'a>(
        &'a self,
        cookie: &'a str,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<Option<estate::sessions::SessionData>, estate::sessions::SessionError>,
    > {
        Box::pin(async move {
            self.check()?;
            Ok(self.data.lock().unwrap().get(cookie).cloned())
        })
    }

    fn save<'a>(
        &'a self,
        cookie: Option<&'a str>,
        data: &'a estate::sessions::SessionData,
        _age: Duration,
    ) -> futures_util::future::BoxFuture<'a, Result<String, estate::sessions::SessionError>> {
        Box::pin(async move {
            self.check()?;
            let key = cookie.map_or_else(
                || estate::crypto::random_string_from(32, b"abcdefghijklmnopqrstuvwxyz0123456789"),
                str::to_owned,
            );
            self.data.lock().unwrap().insert(key.clone(), data.clone());
            Ok(key)
        })
    }

    fn delete<'a>(
        &'a self,
        cookie: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<(), estate::sessions::SessionError>> {
        Box::pin(async move {
            self.check()?;
            self.data.lock().unwrap().remove(cookie);
            Ok(())
        })
    }

    fn clear_expired(
        &self,
    ) -> futures_util::future::BoxFuture<'_, Result<u64, estate::sessions::SessionError>> {
        Box::pin(async { Ok(0) })
    }
}

#[tokio::test]
async fn a_logout_while_the_store_is_down_is_not_pretended() {
    let provided = FlakyStore::default();
    let down = provided.down.clone();
    let app = debug_app_with(|s| s)
        .app(
            AppModule::new("flaky").on_startup(move |mut startup| async move {
                startup.provide(estate::sessions::Sessions::new(
                    provided,
                    estate::sessions::SessionSettings::default(),
                    false,
                ));
                Ok(startup)
            }),
        )
        .route("/count", get(count))
        .route("/peek", get(peek))
        .route("/logout", post(logout));
    let server = TestServer::start(app).await;
    let key = server
        .get("/count")
        .send()
        .await
        .cookie("sessionid")
        .unwrap()
        .to_owned();
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    // Down: the session reads as empty (fail closed)...
    assert_eq!(
        server
            .get("/peek")
            .cookie("sessionid", &key)
            .send()
            .await
            .text(),
        "none"
    );
    // ...and a logout says it could not be done, while removing the cookie.
    let out = server
        .post("/logout")
        .cookie("sessionid", &key)
        .send()
        .await;
    assert_eq!(
        out.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        out.text()
    );
    assert!(out.set_cookie("sessionid").unwrap().contains("Max-Age=0"));
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        server
            .get("/peek")
            .cookie("sessionid", &key)
            .send()
            .await
            .text(),
        "1"
    );
    let out = server
        .post("/logout")
        .cookie("sessionid", &key)
        .send()
        .await;
    assert_eq!(out.text(), "bye");
    assert_eq!(
        server
            .get("/peek")
            .cookie("sessionid", &key)
            .send()
            .await
            .text(),
        "none"
    );
    server.shutdown().await;
}

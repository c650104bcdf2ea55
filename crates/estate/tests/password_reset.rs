//! Password reset by email through real HTTP, on every backend: the same
//! answer whether or not the address has an account, the email in the
//! outbox, the link working once, expired and forged links refused.

mod common;

use std::time::Duration;

use estate::auth::{Auth, User, create_user};
use estate::cli::CommandOutput;
use estate::db::Database;
use estate::mail::{Mailer, SentEmail};
use estate::orm::Model;
use estate::prelude::*;
use estate::settings::SettingsLoader;
use estate::test::{TestServer, each_backend};

use common::debug_app_with;

const PASSWORD: &str = "correct horse battery";
const NEW_PASSWORD: &str = "plum-crumble-42";

fn site(db: &Database, settings: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    debug_app_with(|s| settings(s.set("mail.backend", "memory")))
        .database(db.clone())
        .app(estate::sessions::app())
        .app(estate::auth::app())
}

async fn start(
    db: &Database,
    settings: impl FnOnce(SettingsLoader) -> SettingsLoader,
) -> TestServer {
    let out = CommandOutput::capture();
    site(db, |s| s)
        .run_with_args(["site", "migrate"], out)
        .await
        .unwrap();
    let server = TestServer::start(site(db, settings)).await;
    let auth = server.context().get::<Auth>().unwrap().clone();
    create_user(&auth, db, "ann", "ann@example.com", Some(PASSWORD))
        .await
        .unwrap();
    create_user(&auth, db, "nopass", "nopass@example.com", None)
        .await
        .unwrap();
    create_user(&auth, db, "gone", "gone@example.com", Some(PASSWORD))
        .await
        .unwrap();
    User::objects()
        .filter(User::USERNAME.eq("gone"))
        .update(db, [User::IS_ACTIVE.set(false)])
        .await
        .unwrap();
    server
}

/// The outbox once it holds `n` messages (they are sent in the background).
async fn outbox(server: &TestServer, n: usize) -> Vec<SentEmail> {
    let mailer = server.context().get::<Mailer>().unwrap().clone();
    for _ in 0..100 {
        let sent = mailer.outbox();
        if sent.len() >= n {
            return sent;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mailer.outbox()
}

fn link_path(email: &SentEmail, server: &TestServer) -> String {
    let prefix = format!("http://{}", server.addr());
    let line = email
        .text()
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no link in {}", email.text()))
        .to_owned();
    line[prefix.len()..].to_owned()
}

#[tokio::test]
async fn a_reset_link_arrives_by_email_and_works_once() {
    each_backend(async |db| {
        let server = start(&db, |s| s).await;
        let form = server.get("/accounts/password_reset/").send().await;
        assert!(
            form.text().contains(r#"type="email" name="email""#),
            "{}",
            form.text()
        );

        // The same answer for every address; mail only for a usable account.
        for email in [
            "ANN@example.com",
            "nobody@example.com",
            "nopass@example.com",
            "gone@example.com",
        ] {
            let response = server
                .post("/accounts/password_reset/")
                .form(&[("email", email)])
                .send()
                .await;
            assert_eq!(response.status, StatusCode::SEE_OTHER, "{email}");
            assert_eq!(
                response.header("location"),
                Some("/accounts/password_reset/done/"),
                "{email}"
            );
        }
        let sent = outbox(&server, 1).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sent_later = server.context().get::<Mailer>().unwrap().outbox();
        assert_eq!(sent_later.len(), 1, "only ann has a usable, active account");
        let email = &sent[0];
        assert_eq!(email.to(), ["ann@example.com"]);
        assert_eq!(
            email.subject(),
            format!("Password reset on {}", server.addr())
        );
        assert!(
            email
                .text()
                .contains("Your username, in case you’ve forgotten: ann"),
            "{}",
            email.text()
        );
        let link = link_path(email, &server);
        assert!(
            link.starts_with("/accounts/reset/MQ/"),
            "ann is user 1: {link}"
        );

        // The link moves its token into the session, then asks for a password.
        let browser = server.client();
        let opened = browser.get(&link).send().await;
        assert_eq!(opened.status, StatusCode::SEE_OTHER);
        let form_path = opened.header("location").unwrap().to_owned();
        assert!(form_path.ends_with("/set-password/"), "{form_path}");
        let page = browser.get(&form_path).send().await;
        assert!(
            page.text().contains("Enter new password"),
            "{}",
            page.text()
        );
        // The form page without the session: invalid.
        let stranger = server.get(&form_path).send().await;
        assert!(stranger.text().contains("Password reset unsuccessful"));

        let mismatch = browser
            .post(&form_path)
            .form(&[("new_password1", NEW_PASSWORD), ("new_password2", "other")])
            .send()
            .await;
        assert!(
            mismatch.text().contains("didn’t match"),
            "{}",
            mismatch.text()
        );
        let weak = browser
            .post(&form_path)
            .form(&[("new_password1", "12345678"), ("new_password2", "12345678")])
            .send()
            .await;
        assert!(
            weak.text().contains("This password is entirely numeric."),
            "{}",
            weak.text()
        );
        let done = browser
            .post(&form_path)
            .form(&[
                ("new_password1", NEW_PASSWORD),
                ("new_password2", NEW_PASSWORD),
            ])
            .send()
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
        assert_eq!(done.header("location"), Some("/accounts/reset/done/"));
        assert!(
            browser
                .get("/accounts/reset/done/")
                .send()
                .await
                .text()
                .contains("Your password has been set.")
        );

        // The new password logs in, the old does not; the link is spent.
        let login = |password: &'static str| {
            server
                .post("/accounts/login/")
                .form(&[("username", "ann"), ("password", password)])
                .send()
        };
        assert_eq!(login(PASSWORD).await.status, StatusCode::OK);
        assert_eq!(login(NEW_PASSWORD).await.status, StatusCode::SEE_OTHER);
        let again = server.client().get(&link).send().await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(again.text().contains("Password reset unsuccessful"));
        server.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expired_forged_and_malformed_links_are_refused() {
    each_backend(async |db| {
        let server = start(&db, |s| s.set("auth.password_reset_timeout", 1)).await;
        server
            .post("/accounts/password_reset/")
            .form(&[("email", "ann@example.com")])
            .send()
            .await;
        let sent = outbox(&server, 1).await;
        let link = link_path(&sent[0], &server);
        let (base, token) = link.trim_end_matches('/').rsplit_once('/').unwrap();
        let last = if token.ends_with('0') { '1' } else { '0' };
        let forged = format!("{base}/{}{last}/", &token[..token.len() - 1]);
        for bad in [
            forged.as_str(),
            "/accounts/reset/garbage!/1-abc/",
            "/accounts/reset/OTk5/1-abc/",
            "/accounts/reset/MQ/set-password/",
        ] {
            let response = server.client().get(bad).send().await;
            assert_eq!(response.status, StatusCode::OK, "{bad}");
            assert!(
                response.text().contains("Password reset unsuccessful"),
                "{bad}"
            );
        }
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let expired = server.client().get(&link).send().await;
        assert!(expired.text().contains("Password reset unsuccessful"));
        // The form needs its CSRF token like every other.
        let response = server
            .post("/accounts/password_reset/")
            .without_csrf_token()
            .form(&[("email", "ann@example.com")])
            .send()
            .await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        server.shutdown().await;
    })
    .await;
}

/// `POST http://site/... HTTP/1.1` with `Host: evil.example`: the host in
/// the request target is the one checked, and the only one the email can
/// name.
#[tokio::test]
async fn absolute_form_requests_cannot_put_another_host_in_the_link() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let server = start(&db, |s| s).await;
    let secret = "abcdefghijklmnopqrstuvwxyz012345";
    let body = "email=ann%40example.com";
    let request = format!(
        "POST http://{addr}/accounts/password_reset/ HTTP/1.1\r\nHost: evil.example\r\n\
         Cookie: csrftoken={secret}\r\nX-CSRFToken: {secret}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len(),
        addr = server.addr()
    );
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 303"), "{response}");
    let sent = outbox(&server, 1).await;
    assert_eq!(sent.len(), 1);
    let text = sent[0].text();
    assert!(!text.contains("evil.example"), "{text}");
    assert!(
        text.contains(&format!("http://{}/accounts/reset/", server.addr())),
        "{text}"
    );
    server.shutdown().await;
}

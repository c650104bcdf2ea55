//! Sending email as a project does: a handler sending through the memory
//! backend (read back from the outbox), the file and console backends,
//! `sendtestemail`, header injection, the `[mail]` settings, and the SMTP
//! backend against a real SMTP server in the test (plain, login, STARTTLS,
//! TLS, connection reuse, refusals, a refused connection and a timeout).

mod common;
#[path = "mail/smtp_server.rs"]
mod smtp_server;

use std::time::{Duration, Instant};

use estate::cli::CommandOutput;
use estate::mail::backends::{ConsoleBackend, SmtpBackend};
use estate::mail::{EmailMessage, MailError, Mailer, send_mail};
use estate::prelude::*;
use estate::settings::{MailBackendKind, MailSettings, SettingsLoader, SmtpSecurity};
use estate::test::TestServer;

use common::{debug_app_with, startup_error};
use smtp_server::{Behaviour, CERT, SmtpServer};

async fn signup(mailer: Mailer) -> estate::Result<&'static str> {
    mailer
        .send(
            EmailMessage::new()
                .subject("Welcome, Ann")
                .text("Confirm your address: https://example.com/confirm/abc")
                .html("<p>Confirm <a href=\"https://example.com/confirm/abc\">here</a></p>")
                .to("Ann <ann@example.com>")
                .bcc("audit@example.com"),
        )
        .await?;
    Ok("check your inbox")
}

async fn contact(mailer: Mailer) -> estate::Result<&'static str> {
    send_mail(
        &mailer,
        "Thanks",
        "We got your message.",
        Some("Support <support@example.com>"),
        &["ann@example.com", "bob@example.com"],
        None,
    )
    .await?;
    Ok("sent")
}

async fn injected(mailer: Mailer) -> String {
    let result = mailer
        .send(
            EmailMessage::new()
                .subject("Hello\r\nBcc: everyone@example.com")
                .text("spam")
                .to("ann@example.com"),
        )
        .await;
    match result {
        Err(err) => err.to_string(),
        Ok(()) => "sent".to_owned(),
    }
}

fn site(settings: impl FnOnce(SettingsLoader) -> SettingsLoader) -> App {
    debug_app_with(settings)
        .route("/signup", post(signup))
        .route("/contact", post(contact))
        .route("/injected", post(injected))
}

fn memory_site() -> App {
    site(|s| s.set("mail.backend", "memory"))
}

async fn command(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

fn mail_settings(extra: impl FnOnce(SettingsLoader) -> SettingsLoader) -> MailSettings {
    extra(SettingsLoader::new().set("debug", true))
        .load()
        .expect("valid test settings")
        .mail
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "estate-mail-{name}-{}",
        estate::crypto::get_random_string(12)
    ))
}

#[tokio::test]
async fn a_handler_sends_through_the_memory_backend_and_the_outbox_shows_it() {
    let server = TestServer::start(memory_site()).await;
    let mailer = server.context().get::<Mailer>().unwrap().clone();
    assert_eq!(mailer.backend_name(), "memory");
    assert!(mailer.outbox().is_empty());

    let response = server.post("/signup").send().await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text());
    assert_eq!(response.text(), "check your inbox");
    let outbox = mailer.outbox();
    assert_eq!(outbox.len(), 1);
    let sent = &outbox[0];
    assert_eq!(sent.subject(), "Welcome, Ann");
    assert_eq!(sent.from(), "webmaster@localhost");
    assert_eq!(sent.to(), ["Ann <ann@example.com>"]);
    assert_eq!(sent.bcc(), ["audit@example.com"]);
    assert_eq!(sent.recipients(), ["ann@example.com", "audit@example.com"]);
    assert_eq!(
        sent.text(),
        "Confirm your address: https://example.com/confirm/abc"
    );
    assert_eq!(
        sent.html(),
        Some("<p>Confirm <a href=\"https://example.com/confirm/abc\">here</a></p>")
    );
    let raw = sent.raw_text();
    assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
    assert!(
        raw.contains("Content-Type: text/plain; charset=utf-8"),
        "{raw}"
    );
    assert!(
        raw.contains("Content-Type: text/html; charset=utf-8"),
        "{raw}"
    );
    assert!(
        !raw.contains("audit@example.com"),
        "bcc stays out of the headers"
    );

    let response = server.post("/contact").send().await;
    assert_eq!(response.text(), "sent");
    let outbox = mailer.outbox();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[1].subject(), "Thanks");
    assert_eq!(outbox[1].from(), "Support <support@example.com>");
    assert_eq!(outbox[1].to(), ["ann@example.com", "bob@example.com"]);
    assert_eq!(outbox[1].html(), None);

    mailer.clear_outbox();
    assert!(mailer.outbox().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn header_injection_is_refused_before_anything_is_sent() {
    let server = TestServer::start(memory_site()).await;
    let mailer = server.context().get::<Mailer>().unwrap().clone();
    let response = server.post("/injected").send().await;
    assert_eq!(
        response.text(),
        "refused to send: the subject contains a line break or control character \
         (header injection)"
    );
    assert!(mailer.outbox().is_empty());

    // send_many checks every message first: nothing goes out.
    let good = EmailMessage::new().subject("ok").to("ann@example.com");
    let bad = EmailMessage::new()
        .subject("ok")
        .to("ann@example.com")
        .header("X-Note", "a\nBcc: victim@example.com");
    let err = mailer.send_many([good.clone(), bad]).await.unwrap_err();
    assert!(matches!(err, MailError::HeaderInjection { .. }), "{err:?}");
    assert!(mailer.outbox().is_empty());
    mailer.send_many([good.clone(), good]).await.unwrap();
    assert_eq!(mailer.outbox().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn mail_errors_in_handlers_are_500_pages() {
    let app = memory_site().route(
        "/bad",
        post(|mailer: Mailer| async move {
            mailer
                .send(EmailMessage::new().subject("x").to("not-an-address"))
                .await?;
            Ok::<_, estate::Error>("sent")
        }),
    );
    let server = TestServer::start(app).await;
    let response = server.post("/bad").send().await;
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        response
            .text()
            .contains("invalid email address &quot;not-an-address&quot; in to"),
        "{}",
        response.text()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_file_backend_writes_one_eml_file_per_message() {
    let dir = temp_dir("files").join("outgoing");
    let path = dir.to_string_lossy().into_owned();
    let server = TestServer::start(site(|s| {
        s.set("mail.backend", "file").set("mail.file_path", path)
    }))
    .await;
    assert_eq!(
        server.post("/signup").send().await.text(),
        "check your inbox"
    );
    assert_eq!(server.post("/contact").send().await.text(), "sent");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.extension().unwrap() == "eml"));
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let welcome = texts
        .iter()
        .find(|t| t.contains("Subject: Welcome, Ann\r\n"))
        .expect("the signup message");
    assert!(
        welcome.contains("To: Ann <ann@example.com>\r\n"),
        "{welcome}"
    );
    assert!(welcome.contains("Confirm your address"), "{welcome}");
    assert!(texts.iter().any(|t| t.contains("Subject: Thanks\r\n")));
    server.shutdown().await;
    std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn the_console_backend_prints_whole_messages() {
    let out = CommandOutput::capture();
    let settings = mail_settings(|s| s);
    assert_eq!(
        settings.backend,
        MailBackendKind::Console,
        "DEBUG's default"
    );
    let mailer = Mailer::new(ConsoleBackend::writing_to(out.clone()), &settings);
    assert_eq!(mailer.backend_name(), "console");
    mailer
        .send(
            EmailMessage::new()
                .subject("Printed")
                .text("Printed body")
                .to("ann@example.com"),
        )
        .await
        .unwrap();
    let printed = out.captured();
    assert!(printed.contains("Subject: Printed\r\n"), "{printed}");
    assert!(
        printed.contains("From: webmaster@localhost\r\n"),
        "{printed}"
    );
    assert!(printed.contains("To: ann@example.com\r\n"), "{printed}");
    assert!(printed.contains("\r\n\r\nPrinted body"), "{printed}");
    assert!(
        printed.ends_with(&format!("\n{}\n", "-".repeat(79))),
        "{printed}"
    );
}

#[tokio::test]
async fn sendtestemail_sends_to_addresses_and_admins() {
    let out = CommandOutput::capture();
    let settings = mail_settings(|s| {
        s.set(
            "mail.admins",
            vec!["Ops <ops@example.com>", "dev@example.com"],
        )
        .set("mail.server_email", "server@example.com")
    });
    let console = Mailer::new(ConsoleBackend::writing_to(out.clone()), &settings);
    let app = debug_app_with(|s| s).mailer(console);
    let (result, printed) = {
        let mut argv = vec![
            "site",
            "sendtestemail",
            "ann@example.com",
            "bob@example.com",
        ];
        argv.push("--admins");
        let result = app.run_with_args(argv, out.clone()).await;
        (result, out.captured())
    };
    result.unwrap();
    assert!(
        printed.contains("Subject: Test email from "),
        "the console shows the message: {printed}"
    );
    assert!(printed.contains("If you're reading this, it was successful."));
    assert!(
        printed.contains("To: ann@example.com, bob@example.com\r\n"),
        "{printed}"
    );
    assert!(
        printed
            .contains("Sent a test email to ann@example.com, bob@example.com (backend: console)."),
        "{printed}"
    );
    // The admins' copy: from server_email, with the subject prefix.
    assert!(
        printed.contains("Subject: [Estate] Test email from "),
        "{printed}"
    );
    assert!(
        printed.contains("From: server@example.com\r\n"),
        "{printed}"
    );
    assert!(
        printed.contains("To: Ops <ops@example.com>, dev@example.com\r\n"),
        "{printed}"
    );
    assert!(printed.contains("This email was sent to the site admins."));
    assert!(
        printed.contains(
            "Sent a test email to the admins: Ops <ops@example.com>, dev@example.com (backend: console)."
        ),
        "{printed}"
    );
}

#[tokio::test]
async fn sendtestemail_errors_are_clear() {
    let (result, _) = command(memory_site(), &["sendtestemail"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("give at least one address"), "{err}");

    let (result, _) = command(memory_site(), &["sendtestemail", "--admins"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("mail.admins is empty"), "{err}");

    let (result, _) = command(memory_site(), &["sendtestemail", "ann@"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("sendtestemail: invalid email address \"ann@\" in to"),
        "{err}"
    );

    let (result, out) = command(memory_site(), &["sendtestemail", "ann@example.com"]).await;
    result.unwrap();
    assert_eq!(
        out,
        "Sent a test email to ann@example.com (backend: memory).\n"
    );

    let (result, out) = command(memory_site(), &["--help"]).await;
    result.unwrap();
    assert!(out.contains("sendtestemail"), "{out}");
}

// ---- settings ----

#[test]
fn mail_settings_have_django_like_defaults() {
    let debug = mail_settings(|s| s);
    assert_eq!(debug.backend, MailBackendKind::Console);
    assert_eq!(debug.default_from_email, "webmaster@localhost");
    assert_eq!(debug.server_email, "root@localhost");
    assert_eq!(debug.subject_prefix, "[Estate] ");
    assert_eq!(debug.smtp_host, "localhost");
    assert_eq!(debug.smtp_port, 25);
    assert_eq!(debug.smtp_security, SmtpSecurity::None);
    assert_eq!(debug.smtp_timeout, Duration::from_secs(10));
    assert_eq!(debug.smtp_username, None);
    assert!(debug.admins.is_empty());

    let production = common::production().load().unwrap().mail;
    assert_eq!(production.backend, MailBackendKind::Smtp);

    let submission = mail_settings(|s| s.set("mail.smtp_port", 587)).smtp_security;
    assert_eq!(submission, SmtpSecurity::StartTls);
    let smtps = mail_settings(|s| s.set("mail.smtp_port", 465)).smtp_security;
    assert_eq!(smtps, SmtpSecurity::Tls);
    let explicit = mail_settings(|s| {
        s.set("mail.smtp_port", 2525)
            .set("mail.smtp_security", "STARTTLS")
    });
    assert_eq!(explicit.smtp_security, SmtpSecurity::StartTls);
}

#[test]
fn mail_settings_come_from_the_environment_and_hide_the_password() {
    let settings = SettingsLoader::new()
        .set("debug", true)
        .env([
            ("ESTATE_MAIL__BACKEND", "memory"),
            ("ESTATE_MAIL__SMTP_HOST", "smtp.example.com"),
            ("ESTATE_MAIL__SMTP_PORT", "2525"),
            ("ESTATE_MAIL__SMTP_USERNAME", "mailer"),
            ("ESTATE_MAIL__SMTP_PASSWORD", "hunter2-secret"),
            ("ESTATE_MAIL__SMTP_TIMEOUT", "3s"),
            ("ESTATE_MAIL__ADMINS", "ops@example.com,dev@example.com"),
            ("ESTATE_MAIL__DEFAULT_FROM_EMAIL", "Shop <shop@example.com>"),
        ])
        .load()
        .unwrap();
    let mail = &settings.mail;
    assert_eq!(mail.backend, MailBackendKind::Memory);
    assert_eq!(mail.smtp_host, "smtp.example.com");
    assert_eq!(mail.smtp_port, 2525);
    assert_eq!(mail.smtp_username.as_deref(), Some("mailer"));
    assert_eq!(
        mail.smtp_password.as_ref().map(|p| p.expose()),
        Some("hunter2-secret")
    );
    assert_eq!(mail.smtp_timeout, Duration::from_secs(3));
    assert_eq!(mail.admins, ["ops@example.com", "dev@example.com"]);
    assert_eq!(mail.default_from_email, "Shop <shop@example.com>");
    assert_eq!(
        format!("{}", settings.source_of("mail.backend")),
        "environment variable ESTATE_MAIL__BACKEND"
    );
    let printed = format!("{settings:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    let backend = format!("{:?}", SmtpBackend::from_settings(mail));
    assert!(!backend.contains("hunter2"), "{backend}");
    assert!(backend.contains("smtp.example.com:2525"), "{backend}");
}

#[test]
fn mail_settings_errors_name_the_key_and_the_fix() {
    let error = |extra: fn(SettingsLoader) -> SettingsLoader| {
        extra(SettingsLoader::new().set("debug", true))
            .load()
            .unwrap_err()
            .to_string()
    };
    let err = error(|s| s.set("mail.backend", "file"));
    assert!(err.starts_with("missing setting `mail.file_path`"), "{err}");
    assert!(err.contains("file_path = \"sent-mail\""), "{err}");

    let err = error(|s| s.set("mail.smtp_security", "ssl"));
    assert_eq!(
        err,
        "invalid setting `mail.smtp_security` = \"ssl\" (from code): expected one of \
         \"none\", \"starttls\", \"tls\""
    );

    let err = error(|s| s.set("mail.backend", "sendmail"));
    assert!(
        err.contains("expected one of \"console\", \"smtp\", \"file\", \"memory\""),
        "{err}"
    );

    let err = error(|s| s.set("mail.smtp_username", "bob"));
    assert!(
        err.starts_with("missing setting `mail.smtp_password`"),
        "{err}"
    );

    let err = error(|s| s.set("mail.smtp_password", "pw"));
    assert!(
        err.starts_with("missing setting `mail.smtp_username`"),
        "{err}"
    );

    let err = error(|s| s.set("mail.default_from_email", "not an address"));
    assert!(
        err.starts_with("invalid setting `mail.default_from_email` = \"not an address\""),
        "{err}"
    );

    let err = error(|s| s.set("mail.admins", vec!["ops@example.com", "nobody"]));
    assert!(
        err.starts_with("invalid setting `mail.admins` = \"nobody\""),
        "{err}"
    );

    let err = error(|s| s.set("mail.smtp_port", 70000));
    assert!(err.contains("a port from 1 to 65535"), "{err}");

    let err = error(|s| s.set("mail.smtp_timeout", "0s"));
    assert!(err.contains("mail.smtp_timeout"), "{err}");

    let err = error(|s| s.set("mail.subject_prefix", "[x]\n"));
    assert!(err.contains("without line breaks"), "{err}");

    let err = error(|s| s.set("mail.smtp_hots", "x"));
    assert_eq!(
        err,
        "unknown setting `mail.smtp_hots` (in code): did you mean `mail.smtp_host`?"
    );
}

#[tokio::test]
async fn a_file_backend_without_a_folder_stops_startup() {
    let toml = "debug = true\n[mail]\nbackend = \"file\"\n";
    let dir = temp_dir("settings");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("estate.toml");
    std::fs::write(&file, toml).unwrap();
    let err = match SettingsLoader::new().file(&file).load() {
        Ok(_) => panic!("loaded"),
        Err(err) => err.to_string(),
    };
    assert!(err.contains("missing setting `mail.file_path`"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();

    // Through the app too: the error is the startup error.
    let app = App::new()
        .setting("debug", true)
        .setting("mail.backend", "file");
    let err = startup_error(app).await;
    assert!(err.contains("mail.file_path"), "{err}");
}

// ---- SMTP ----

fn smtp_mailer(
    port: u16,
    extra: impl FnOnce(SettingsLoader) -> SettingsLoader,
    trust_test_cert: bool,
) -> Mailer {
    let settings = mail_settings(|s| {
        extra(
            s.set("mail.backend", "smtp")
                .set("mail.smtp_host", "127.0.0.1")
                .set("mail.smtp_port", i64::from(port))
                .set("mail.smtp_timeout", "5s")
                .set("mail.default_from_email", "Site <site@example.com>"),
        )
    });
    let mut backend = SmtpBackend::from_settings(&settings);
    if trust_test_cert {
        backend = backend.add_root_certificate(CERT).unwrap();
    }
    Mailer::new(backend, &settings)
}

fn report() -> EmailMessage {
    EmailMessage::new()
        .subject("Monthly report")
        .text("Numbers are up.\r\n.A line starting with a dot.\r\nThat's all.")
        .html("<p>Numbers are <b>up</b>.</p>")
        .to("Ann <ann@example.com>")
        .cc("bob@example.com")
        .bcc("audit@example.com")
        .header("X-Report", "monthly")
        .attach("numbers.csv", "text/csv", b"month,total\njan,10\n".to_vec())
}

#[tokio::test]
async fn smtp_delivers_with_the_envelope_headers_and_body() {
    let server = SmtpServer::start(Behaviour::default()).await;
    let mailer = smtp_mailer(server.port, |s| s, false);
    mailer.send(report()).await.unwrap();
    let received = server.received();
    assert_eq!(received.len(), 1);
    let message = &received[0];
    assert!(!message.ehlo.is_empty());
    assert_eq!(message.login, None);
    assert!(!message.tls);
    assert_eq!(message.mail_from, "site@example.com");
    assert_eq!(
        message.rcpt_to,
        ["ann@example.com", "bob@example.com", "audit@example.com"]
    );
    let data = &message.data;
    assert!(data.contains("From: Site <site@example.com>\r\n"), "{data}");
    assert!(data.contains("To: Ann <ann@example.com>\r\n"), "{data}");
    assert!(data.contains("Cc: bob@example.com\r\n"), "{data}");
    assert!(data.contains("Subject: Monthly report\r\n"), "{data}");
    assert!(data.contains("X-Report: monthly\r\n"), "{data}");
    assert!(!data.contains("audit@example.com"), "no Bcc header: {data}");
    assert!(data.contains("Content-Type: multipart/mixed"), "{data}");
    assert!(
        data.contains("Content-Type: multipart/alternative"),
        "{data}"
    );
    assert!(data.contains("<p>Numbers are <b>up</b>.</p>"), "{data}");
    assert!(data.contains("filename=\"numbers.csv\""), "{data}");
    // A body line starting with a dot survives SMTP's dot-stuffing.
    assert!(
        data.contains("\r\n.A line starting with a dot.\r\n"),
        "{data}"
    );
}

#[tokio::test]
async fn smtp_logs_in_and_reuses_its_connection() {
    let server = SmtpServer::start(Behaviour {
        credentials: Some(("mailer".into(), "s3cret pass".into())),
        ..Behaviour::default()
    })
    .await;
    let mailer = smtp_mailer(
        server.port,
        |s| {
            s.set("mail.smtp_username", "mailer")
                .set("mail.smtp_password", "s3cret pass")
        },
        false,
    );
    let message = || {
        EmailMessage::new()
            .subject("Hi")
            .text("one")
            .to("ann@example.com")
    };
    mailer.send(message()).await.unwrap();
    // Let the finished connection go back to the pool.
    tokio::time::sleep(Duration::from_millis(200)).await;
    mailer.send(message().text("two")).await.unwrap();
    assert_eq!(
        server.connections(),
        1,
        "the second message reused the connection"
    );
    mailer
        .send_many([message().text("three"), message().text("four")])
        .await
        .unwrap();
    let received = server.received();
    assert_eq!(received.len(), 4);
    for message in &received {
        assert_eq!(
            message.login,
            Some(("mailer".to_owned(), "s3cret pass".to_owned()))
        );
    }
    assert!(["PLAIN", "LOGIN"].contains(&received[0].mechanism.as_deref().unwrap()));
    assert!(
        received[1].data.contains("\r\n\r\ntwo"),
        "{}",
        received[1].data
    );
    // Back-to-back sends may open a second connection while the first is
    // being returned to the pool; never one per message.
    assert!(
        server.connections() <= 2,
        "{} connections",
        server.connections()
    );
}

#[tokio::test]
async fn smtp_refused_logins_and_recipients_are_named_without_the_password() {
    let server = SmtpServer::start(Behaviour {
        credentials: Some(("mailer".into(), "right".into())),
        unknown_users: vec!["ghost@example.com".into()],
        ..Behaviour::default()
    })
    .await;
    let wrong = smtp_mailer(
        server.port,
        |s| {
            s.set("mail.smtp_username", "mailer")
                .set("mail.smtp_password", "wrong-password")
        },
        false,
    );
    let err = wrong
        .send(EmailMessage::new().subject("x").to("ann@example.com"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MailError::Auth { .. }), "{err:?}");
    assert_eq!(
        text,
        format!(
            "the SMTP server 127.0.0.1:{} refused the login of user \"mailer\": 535 5.7.8 \
             Authentication credentials invalid (check mail.smtp_username and \
             mail.smtp_password)",
            server.port
        )
    );
    assert!(!text.contains("wrong-password") && !format!("{err:?}").contains("wrong-password"));
    assert_eq!(server.failed_logins().len(), 1);

    let anonymous = smtp_mailer(server.port, |s| s, false);
    let err = anonymous
        .send(EmailMessage::new().subject("x").to("ann@example.com"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("requires a login: 530"), "{err}");

    let right = smtp_mailer(
        server.port,
        |s| {
            s.set("mail.smtp_username", "mailer")
                .set("mail.smtp_password", "right")
        },
        false,
    );
    let err = right
        .send(EmailMessage::new().subject("x").to("ghost@example.com"))
        .await
        .unwrap_err();
    match &err {
        MailError::Rejected { code, reply, .. } => {
            assert_eq!(*code, 550);
            assert!(reply.contains("no such user"), "{reply}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // The next message goes through all the same.
    right
        .send(EmailMessage::new().subject("y").to("ann@example.com"))
        .await
        .unwrap();
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn smtp_over_implicit_tls_and_starttls() {
    let tls = SmtpServer::start(Behaviour {
        implicit_tls: true,
        credentials: Some(("u".into(), "p".into())),
        ..Behaviour::default()
    })
    .await;
    let mailer = smtp_mailer(
        tls.port,
        |s| {
            s.set("mail.smtp_security", "tls")
                .set("mail.smtp_username", "u")
                .set("mail.smtp_password", "p")
        },
        true,
    );
    mailer.send(report()).await.unwrap();
    let received = tls.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].login, Some(("u".into(), "p".into())));

    let starttls = SmtpServer::start(Behaviour {
        starttls: true,
        ..Behaviour::default()
    })
    .await;
    let mailer = smtp_mailer(
        starttls.port,
        |s| s.set("mail.smtp_security", "starttls"),
        true,
    );
    mailer.send(report()).await.unwrap();
    let received = starttls.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls, "the message went after STARTTLS");
    assert_eq!(received[0].mail_from, "site@example.com");

    // An untrusted certificate is refused.
    let untrusting = smtp_mailer(tls.port, |s| s.set("mail.smtp_security", "tls"), false);
    let err = untrusting.send(report()).await.unwrap_err();
    assert!(matches!(err, MailError::Tls { .. }), "{err:?}");
    assert!(
        err.to_string().contains("TLS with the SMTP server"),
        "{err}"
    );

    // STARTTLS required but not offered: nothing is sent in plain text.
    let plain = SmtpServer::start(Behaviour::default()).await;
    let mailer = smtp_mailer(
        plain.port,
        |s| s.set("mail.smtp_security", "starttls"),
        true,
    );
    let err = mailer.send(report()).await.unwrap_err();
    assert!(matches!(err, MailError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(plain.received().is_empty());
}

#[tokio::test]
async fn a_refused_connection_fails_quickly_and_names_the_server() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = smtp_mailer(port, |s| s, false);
    let started = Instant::now();
    let err = mailer
        .send(EmailMessage::new().subject("x").to("ann@example.com"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, MailError::Connection { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "cannot talk to the SMTP server 127.0.0.1:{port}: "
        )),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");

    // sendtestemail reports it the same way.
    let settings_port = i64::from(port);
    let app = debug_app_with(|s| {
        s.set("mail.backend", "smtp")
            .set("mail.smtp_host", "127.0.0.1")
            .set("mail.smtp_port", settings_port)
    });
    let (result, _) = command(app, &["sendtestemail", "ann@example.com"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "sendtestemail: cannot talk to the SMTP server 127.0.0.1:{port}"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_and_the_next_message_starts_afresh() {
    let silent = SmtpServer::start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let mailer = smtp_mailer(silent.port, |s| s.set("mail.smtp_timeout", "300ms"), false);
    let started = Instant::now();
    let err = mailer
        .send(EmailMessage::new().subject("x").to("ann@example.com"))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(matches!(err, MailError::Timeout { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the SMTP server 127.0.0.1:{} did not answer within 300ms (mail.smtp_timeout)",
            silent.port
        )
    );
    let err = mailer
        .send(EmailMessage::new().subject("y").to("ann@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, MailError::Timeout { .. }), "{err:?}");
    assert_eq!(silent.connections(), 2, "a new connection after a timeout");
}

#[tokio::test]
async fn a_server_hanging_mid_session_is_left_for_a_fresh_connection() {
    let server = SmtpServer::start(Behaviour {
        hang_after: Some(2),
        ..Behaviour::default()
    })
    .await;
    let mailer = smtp_mailer(server.port, |s| s.set("mail.smtp_timeout", "500ms"), false);
    let message = |text: &str| {
        EmailMessage::new()
            .subject("s")
            .text(text)
            .to("ann@example.com")
    };
    mailer.send(message("one")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server takes the second message but never confirms it.
    let err = mailer.send(message("two")).await.unwrap_err();
    assert!(matches!(err, MailError::Timeout { .. }), "{err:?}");
    assert_eq!(server.connections(), 1);
    // The hung connection is not reused: the third message gets a new one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    mailer.send(message("three")).await.unwrap();
    assert_eq!(server.connections(), 2);
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(
        received[2].data.contains("\r\n\r\nthree"),
        "{}",
        received[2].data
    );
}

//! Settings from files, the environment and code; errors that name the key,
//! the source and the expected form; typed app sections.

mod common;

use std::path::PathBuf;

use estate::prelude::*;
use estate::settings::{SettingsError, SettingsLoader, Source};
use estate::test::TestServer;
use serde::Deserialize;

/// A settings file unique to one test.
fn write_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("estate-settings-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("estate.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn file_values_are_typed_and_env_overrides_them() {
    let path = write_file(
        "typed",
        r#"
        debug = true
        allowed_hosts = ["example.com", ".example.org"]
        database_url = "sqlite://file.db"
        [limits]
        max_body_size = "10MiB"
        request_timeout = "5s"
        [logging]
        format = "json"
        "#,
    );
    let settings = SettingsLoader::new()
        .file(&path)
        .env([
            ("ESTATE_LIMITS__REQUEST_TIMEOUT", "0"),
            ("ESTATE_ALLOWED_HOSTS", "a.test, b.test"),
            ("DATABASE_URL", "postgres://db/app"),
        ])
        .load()
        .unwrap();
    assert!(settings.debug);
    assert_eq!(settings.limits.max_body_size, 10 * 1024 * 1024);
    assert_eq!(
        settings.limits.request_timeout, None,
        "0 turns the timeout off"
    );
    assert_eq!(settings.allowed_hosts, ["a.test", "b.test"]);
    assert_eq!(settings.database_url.as_deref(), Some("postgres://db/app"));
    assert_eq!(settings.logging.format, estate::settings::LogFormat::Json);
    assert_eq!(
        settings.source_of("limits.max_body_size"),
        Source::File(path)
    );
    assert_eq!(
        settings.source_of("allowed_hosts"),
        Source::Env("ESTATE_ALLOWED_HOSTS".into())
    );
    assert_eq!(settings.source_of("server.addr"), Source::Default);
}

#[test]
fn invalid_values_name_the_key_the_source_and_the_expected_form() {
    let path = write_file(
        "invalid",
        "debug = true\n[limits]\nmax_body_size = \"huge\"\n",
    );
    let err = SettingsLoader::new().file(&path).load().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`limits.max_body_size` = \"huge\""), "{text}");
    assert!(
        text.contains(&format!("from file {}", path.display())),
        "{text}"
    );
    assert!(
        text.contains("expected a size such as \"2.5MiB\""),
        "{text}"
    );

    let err = SettingsLoader::new()
        .env([("ESTATE_DEBUG", "perhaps")])
        .load()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid setting `debug` = \"perhaps\" (from environment variable ESTATE_DEBUG): \
         expected true or false"
    );

    let err = SettingsLoader::new()
        .set("debug", true)
        .env([("ESTATE_LOGGING__FORMAT", "xml")])
        .load()
        .unwrap_err();
    assert!(err.to_string().contains("`logging.format`"), "{err}");
    assert!(err.to_string().contains("\"text\" or \"json\""), "{err}");

    let err = SettingsLoader::new()
        .set("debug", true)
        .set("security.x_frame_options", "ALLOWALL")
        .load()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`security.x_frame_options` = \"ALLOWALL\""),
        "{err}"
    );
    assert!(err.to_string().contains("one of DENY, SAMEORIGIN"), "{err}");
    // Any case is accepted, and sent as the header spells it.
    let settings = SettingsLoader::new()
        .set("debug", true)
        .set("security.x_frame_options", "sameorigin")
        .load()
        .unwrap();
    assert_eq!(settings.security.x_frame_options, "SAMEORIGIN");
}

#[test]
fn unknown_keys_in_the_file_are_errors_with_a_suggestion() {
    let path = write_file("unknown", "debgu = true\n");
    let err = SettingsLoader::new().file(&path).load().unwrap_err();
    assert!(matches!(err, SettingsError::Unknown { .. }));
    assert!(err.to_string().contains("unknown setting `debgu`"), "{err}");
    assert!(err.to_string().contains("did you mean `debug`?"), "{err}");

    let path = write_file(
        "unknown-section-key",
        "debug = true\n[limits]\nmax_body = 5\n",
    );
    let err = SettingsLoader::new().file(&path).load().unwrap_err();
    assert!(
        err.to_string()
            .contains("did you mean `limits.max_body_size`?"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_the_file_and_line() {
    let path = write_file("syntax", "debug = true\nallowed_hosts = [\"a\"\n");
    let err = SettingsLoader::new().file(&path).load().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("is not valid TOML"), "{text}");
    assert!(text.contains("line 2") || text.contains(":2:"), "{text}");

    let err = SettingsLoader::new()
        .file("/nonexistent/estate.toml")
        .load()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read settings file /nonexistent/estate.toml")
    );
}

#[test]
fn production_needs_a_secret_key_and_debug_makes_one() {
    let err = SettingsLoader::new().load().unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("missing setting `secret_key`"), "{text}");
    assert!(text.contains("ESTATE_SECRET_KEY"), "{text}");

    let debug = SettingsLoader::new().set("debug", true).load().unwrap();
    assert!(debug.secret_key_is_generated());
    assert!(debug.secret_key.expose().len() > 50);
    assert!(debug.warnings()[0].contains("random key for this run"));
    assert_eq!(format!("{:?}", debug.secret_key), "SecretKey(****)");
}

#[test]
fn variables_read_by_commands_are_not_taken_for_settings() {
    let settings = SettingsLoader::new()
        .set("debug", true)
        .env([
            ("ESTATE_SUPERUSER_PASSWORD", "secret"),
            ("ESTATE_SUPERUSER_USERNAME", "admin"),
            ("ESTATE_TEST_POSTGRES", "postgres://x/y"),
            ("ESTATE_DEBGU", "true"),
        ])
        .load()
        .unwrap();
    let warnings = settings.warnings().join("\n");
    assert!(
        !warnings.contains("SUPERUSER") && !warnings.contains("TEST_"),
        "{warnings}"
    );
    assert!(
        warnings.contains("ignoring environment variable ESTATE_DEBGU"),
        "a typo still warns: {warnings}"
    );
}

#[derive(Debug, Deserialize)]
struct PollsSettings {
    page_size: u32,
    #[serde(default)]
    title: String,
}

fn polls_app() -> AppModule {
    AppModule::new("polls")
        .settings::<PollsSettings>("polls")
        .route(
            "/size",
            get(|ctx: AppContext| async move {
                let polls = ctx.settings().section::<PollsSettings>();
                format!("{} {}", polls.page_size, polls.title)
            }),
        )
}

#[tokio::test]
async fn apps_declare_typed_sections() {
    let path = write_file(
        "section",
        "debug = true\n[polls]\npage_size = 25\ntitle = \"Polls\"\n",
    );
    let settings = SettingsLoader::new().file(&path).load().unwrap();
    let server = TestServer::start(App::with_settings(settings).app(polls_app())).await;
    assert_eq!(server.get("/size").send().await.text(), "25 Polls");
    server.shutdown().await;
}

#[tokio::test]
async fn section_errors_name_the_key_and_source() {
    let path = write_file(
        "section-bad",
        "debug = true\n[polls]\npage_size = \"many\"\n",
    );
    let settings = SettingsLoader::new().file(&path).load().unwrap();
    let err = common::startup_error(App::with_settings(settings).app(polls_app())).await;
    let text = err;
    assert!(
        text.contains("invalid setting `polls.page_size` = \"many\""),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("PollsSettings"), "{text}");

    let settings = SettingsLoader::new().set("debug", true).load().unwrap();
    let err = common::startup_error(App::with_settings(settings).app(polls_app())).await;
    let text = err;
    assert!(text.contains("missing setting `polls.page_size`"), "{text}");
    assert!(text.contains("ESTATE_POLLS__PAGE_SIZE"), "{text}");

    let settings = SettingsLoader::new()
        .set("debug", true)
        .env([("ESTATE_POLLS__PAGE_SIZE", "-3")])
        .load()
        .unwrap();
    let err = common::startup_error(App::with_settings(settings).app(polls_app())).await;
    assert!(
        err.contains("environment variable ESTATE_POLLS__PAGE_SIZE"),
        "{err}"
    );
}

#[tokio::test]
async fn undeclared_sections_in_the_file_are_refused() {
    let path = write_file("section-unknown", "debug = true\n[pols]\npage_size = 5\n");
    let settings = SettingsLoader::new().file(&path).load().unwrap();
    let err = common::startup_error(App::with_settings(settings).app(polls_app())).await;
    let text = err;
    assert!(text.contains("unknown setting `pols.page_size`"), "{text}");
    assert!(text.contains("did you mean `polls.page_size`?"), "{text}");
}

#[tokio::test]
async fn code_settings_sit_under_the_file() {
    let path = write_file("code", "[limits]\nmax_body_size = 100\n");
    let app = App::new()
        .setting("secret_key", common::SECRET)
        .setting("allowed_hosts", vec!["127.0.0.1"])
        .setting("limits.max_body_size", 5)
        .route("/", post(|body: String| async move { body }));
    let out = estate::cli::CommandOutput::capture();
    // `--settings` points at the file; the file's 100 beats the code's 5.
    let file = path.display().to_string();
    app.run_with_args(["site", "--settings", &file, "check"], out.clone())
        .await
        .unwrap();
    assert!(out.captured().contains("no issues"), "{}", out.captured());
}

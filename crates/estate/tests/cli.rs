//! The management command line: help, app commands, `check --deploy`.

mod common;

use std::io::Write;

use estate::cli::{CheckMessage, CommandOutput};
use estate::prelude::*;

use common::{SECRET, debug_app, production_app};

async fn run(app: App, args: &[&str]) -> (estate::Result<()>, String) {
    let out = CommandOutput::capture();
    let mut argv = vec!["site"];
    argv.extend_from_slice(args);
    let result = app.run_with_args(argv, out.clone()).await;
    (result, out.captured())
}

fn greet() -> ManagementCommand {
    ManagementCommand::new("greet", "Say hello to someone", |ctx| async move {
        let name = ctx
            .args
            .get_one::<String>("name")
            .cloned()
            .unwrap_or_default();
        let debug = ctx.app.settings().debug;
        writeln!(ctx.out(), "Hello, {name}! (debug={debug})")?;
        Ok(())
    })
    .arg(clap::Arg::new("name").required(true))
}

#[tokio::test]
async fn help_lists_every_command_with_its_description() {
    let app = debug_app().app(AppModule::new("polls").command(greet()));
    let (result, out) = run(app, &["--help"]).await;
    result.unwrap();
    for line in [
        "runserver",
        "Start the web server",
        "check",
        "Inspect the project for common problems",
        "routes",
        "List every route",
        "greet",
        "Say hello to someone",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    // No command at all prints the same help.
    let (result, bare) = run(debug_app(), &[]).await;
    result.unwrap();
    assert!(bare.contains("runserver"), "{bare}");
}

#[tokio::test]
async fn app_commands_run_with_their_arguments_and_the_settings() {
    let app = debug_app().app(AppModule::new("polls").command(greet()));
    let (result, out) = run(app, &["greet", "Ada"]).await;
    result.unwrap();
    assert_eq!(out, "Hello, Ada! (debug=true)\n");

    let app = debug_app().app(AppModule::new("polls").command(greet()));
    let (result, _) = run(app, &["greet"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("<name>"), "{err}");
}

#[tokio::test]
async fn unknown_and_duplicate_commands_are_clear_errors() {
    let (result, _) = run(debug_app(), &["chek"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("unrecognized subcommand 'chek'"), "{err}");
    assert!(err.contains("check"), "suggests the near command: {err}");

    let app = debug_app()
        .command(greet())
        .app(AppModule::new("polls").command(greet()));
    let (result, _) = run(app, &["routes"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("two management commands are named `greet`"),
        "{err}"
    );
}

#[tokio::test]
async fn check_deploy_lists_the_production_findings() {
    let app = production_app(|s| {
        s.set("secret_key", "too-short")
            .set("security.x_frame_options", "SAMEORIGIN")
    });
    let (result, out) = run(app, &["check", "--deploy"]).await;
    result.expect("warnings alone do not fail");
    for id in [
        "security.W004",
        "security.W008",
        "security.W009",
        "security.W012",
        "security.W016",
        "security.W019",
    ] {
        assert!(out.contains(id), "missing {id} in:\n{out}");
    }
    assert!(!out.contains("security.W018"), "DEBUG is off: {out}");
    assert!(out.contains("WARNINGS:"), "{out}");

    let (result, out) = run(debug_app().allow_any_host(), &["check", "--deploy"]).await;
    result.unwrap();
    assert!(out.contains("security.W018"), "{out}");
    assert!(out.contains("estate.W001"), "{out}");
    assert!(
        out.contains("security.W009"),
        "a generated key is not a deploy key: {out}"
    );

    // --fail-level warning turns the findings into a failing exit.
    let (result, _) = run(
        production_app(|s| s),
        &["check", "--deploy", "--fail-level", "warning"],
    )
    .await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("at or above the fail level")
    );
}

#[tokio::test]
async fn a_hardened_configuration_passes_check_deploy() {
    let app = production_app(|s| {
        s.set("secret_key", SECRET)
            .set("security.hsts_seconds", 31_536_000)
            .set("security.hsts_include_subdomains", true)
            .set("security.hsts_preload", true)
            .set("security.ssl_redirect", true)
            .set("security.session_cookie_secure", true)
            .set("security.csrf_cookie_secure", true)
    });
    let (result, out) = run(app, &["check", "--deploy", "--fail-level", "warning"]).await;
    result.unwrap();
    assert_eq!(out, "System check identified no issues (0 silenced).\n");
}

#[tokio::test]
async fn app_checks_run_and_errors_stop_runserver() {
    let module = AppModule::new("polls").check(|_| {
        vec![
            CheckMessage::error("polls.E001", "The polls app needs a database.")
                .hint("Set DATABASE_URL."),
        ]
    });
    let (result, out) = run(debug_app().app(module), &["check"]).await;
    assert!(result.is_err());
    assert!(
        out.contains("?: (polls.E001) The polls app needs a database.\n\tHINT: Set DATABASE_URL."),
        "{out}"
    );

    let module =
        AppModule::new("polls").check(|_| vec![CheckMessage::error("polls.E001", "Broken.")]);
    let (result, out) = run(debug_app().app(module), &["runserver", "127.0.0.1:0"]).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("system check found errors"), "{err}");
    assert!(out.contains("polls.E001"), "{out}");
}

#[tokio::test]
async fn runserver_rejects_a_bad_address() {
    let (result, _) = run(debug_app(), &["runserver", "localhost"]).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("\"localhost\" is not a port or address:port"),
        "{err}"
    );
}

#[tokio::test]
async fn startup_hooks_provide_values_to_handlers_and_commands() {
    #[derive(Clone)]
    struct Greeting(String);
    let module = AppModule::new("greeter")
        .on_startup(|mut startup| async move {
            let debug = startup.settings().debug;
            startup.provide(Greeting(format!("hi (debug={debug})")));
            Ok(startup)
        })
        .command(ManagementCommand::new(
            "say",
            "Print the greeting",
            |ctx| async move {
                let greeting = ctx.app.context().get::<Greeting>().unwrap().0.clone();
                writeln!(ctx.out(), "{greeting}")?;
                Ok(())
            },
        ));
    let (result, out) = run(debug_app().app(module), &["say"]).await;
    result.unwrap();
    assert_eq!(out, "hi (debug=true)\n");

    let failing = AppModule::new("broken")
        .on_startup(|_startup| async move { Err(Error::msg("cannot reach the payment service")) });
    let (result, _) = run(debug_app().app(failing), &["check"]).await;
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("cannot reach the payment service")
    );
}

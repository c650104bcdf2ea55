//! `estate-bench`: the servers that `bench/run` load-tests with `wrk`.
//!
//! Every target answers the two TechEmpower tests with the same handlers, so
//! the only difference between them is the stack around those handlers:
//!
//! - `GET /json` → `{"message":"Hello, World!"}` (`application/json`),
//!   serialised with serde_json on every request;
//! - `GET /plaintext` → `Hello, World!` (`text/plain`).
//!
//! Targets:
//!
//! - `axum`: a bare `axum::serve` of a `Router`, the baseline;
//! - `estate-default`: an Estate app with its whole default stack, in
//!   production mode (DEBUG off, allowed hosts set, no access log);
//! - `estate-minimal`: the same app with every optional part off: each
//!   `App::without_*` opt-out (compression, request ids, health endpoints,
//!   security headers, CSRF protection) and the request timeout. Routing,
//!   the host check, body limits, panic catching, error pages and the
//!   server's protections stay on.
//!
//! ```text
//! estate-bench --target <estate-default|estate-minimal|axum> --addr 127.0.0.1:8080 [--threads 1]
//! ```
//!
//! The server runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Json;
use axum::serve::ListenerExt;
use estate::App;
use estate::settings::SettingsLoader;
use serde::Serialize;
use tokio::net::TcpListener;

/// The command line, for `--help` and errors.
const USAGE: &str = "usage: estate-bench --target <estate-default|estate-minimal|axum> \
                     --addr 127.0.0.1:PORT [--threads N]";

/// A production-shaped secret key (50+ characters) so that the app starts
/// exactly as a deployed one would.
const SECRET_KEY: &str = "estate-bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz";

/// The server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Estate with its default stack.
    EstateDefault,
    /// Estate without compression, request ids or the request timeout.
    EstateMinimal,
    /// Bare axum.
    Axum,
}

impl Target {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "estate-default" => Some(Target::EstateDefault),
            "estate-minimal" => Some(Target::EstateMinimal),
            "axum" => Some(Target::Axum),
            _ => None,
        }
    }
}

/// The command line.
#[derive(Debug)]
struct Args {
    target: Target,
    addr: SocketAddr,
    threads: usize,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let (mut target, mut addr, mut threads) = (None, None, 1);
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--target" => {
                    let name = value()?;
                    target = Some(
                        Target::parse(&name).ok_or_else(|| format!("unknown target {name:?}"))?,
                    );
                }
                "--addr" => {
                    let text = value()?;
                    addr = Some(text.parse().map_err(|_| format!("bad address {text:?}"))?);
                }
                "--threads" => {
                    let text = value()?;
                    threads = text
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| format!("bad thread count {text:?}"))?;
                }
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(Args {
            target: target.ok_or("--target is required")?,
            addr: addr.ok_or("--addr is required")?,
            threads,
        })
    }
}

/// The `json` test's body.
#[derive(Serialize)]
struct Message {
    message: &'static str,
}

/// `GET /json`: serialised per request, as the TechEmpower rules require.
async fn json() -> Json<Message> {
    Json(Message {
        message: "Hello, World!",
    })
}

/// `GET /plaintext`.
async fn plaintext() -> &'static str {
    "Hello, World!"
}

/// Bare axum: the baseline. Sets `TCP_NODELAY` like Estate's server does.
async fn serve_axum(listener: TcpListener) -> estate::Result<()> {
    let router = axum::Router::new()
        .route("/json", axum::routing::get(json))
        .route("/plaintext", axum::routing::get(plaintext));
    let listener = listener.tap_io(|stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(estate::server::shutdown_signal())
        .await?;
    Ok(())
}

/// An Estate app in production mode; `minimal` turns every optional part off.
async fn serve_estate(listener: TcpListener, minimal: bool) -> estate::Result<()> {
    let mut settings = SettingsLoader::new()
        .set("debug", false)
        .set("secret_key", SECRET_KEY)
        .set("allowed_hosts", vec!["127.0.0.1", "localhost"])
        .set("logging.access_log", false);
    if minimal {
        settings = settings.set("limits.request_timeout", 0);
    }
    let mut app = App::with_settings(settings.load()?)
        .route("/json", estate::routing::get(json))
        .route("/plaintext", estate::routing::get(plaintext));
    if minimal {
        // Every opt-out the App has, the unsafe ones included: what is left
        // is the framework itself (routing, the host check, body limits,
        // panic catching, error pages, the server's protections).
        app = app
            .without_compression()
            .without_request_ids()
            .without_health_endpoints()
            .without_security_headers()
            .without_csrf_protection();
    }
    app.build()
        .await?
        .serve(listener, estate::server::shutdown_signal())
        .await?;
    Ok(())
}

/// Starts the runtime with `args.threads` workers and serves until a signal.
fn run(args: Args) -> estate::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.addr).await?;
        // Serve from a worker thread, not the thread blocked in `block_on`.
        let server = match args.target {
            Target::Axum => tokio::spawn(serve_axum(listener)),
            Target::EstateDefault => tokio::spawn(serve_estate(listener, false)),
            Target::EstateMinimal => tokio::spawn(serve_estate(listener, true)),
        };
        server.await?
    })
}

fn main() -> ExitCode {
    if std::env::args().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("estate-bench: {problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("estate-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

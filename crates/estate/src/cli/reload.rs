//! `runserver --reload`: rebuild and restart the server when the project's
//! sources change — Django's autoreloader, for a compiled language.
//!
//! The command becomes a supervisor. It binds the address once and hands the
//! listening socket to every server process it starts (as file descriptor 3
//! with `LISTEN_FDS=1`, the systemd socket-activation convention, read back
//! by [`inherited_listener`]). So a restart never refuses a connection: the
//! new server starts on the same socket before the old one is told to stop,
//! and whatever arrives in between waits in the socket's queue, which the
//! supervisor keeps open.
//!
//! It polls the sources twice a second (`*.rs` under `src/`, `Cargo.toml`,
//! `Cargo.lock`, `build.rs`, `estate.toml`, `.env`): polling a few hundred
//! files costs nothing and works on every file system, editor and
//! container. On a change it runs `cargo build` for this very binary (same
//! package, binary, profile and target folder) while the old server keeps
//! serving. A failed build stops the old server; the supervisor then
//! answers every request with the compiler's output (also printed in the
//! terminal), and that page reloads itself once a server is back.
//! Templates and static files need none of this: in DEBUG they are read
//! from disk when they change.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::ffi::OsString;
use std::io::{BufRead as _, BufReader, IsTerminal as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use command_fds::{CommandFdExt as _, FdMapping};
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;

use super::command::CommandOutput;
use crate::error::{Error, Result};

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(500);
/// How long a change is left to settle: editors save in several steps.
const SETTLE: Duration = Duration::from_millis(200);
/// The header on the supervisor's own pages; the page reloads once a
/// response comes without it.
const MARKER: &str = "x-estate-reload";

/// The listening socket a reloading `runserver` passed to this process, or
/// `None` when it was started otherwise.
pub(crate) fn inherited_listener() -> Result<Option<TcpListener>> {
    listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .map_err(|err| {
            Error::msg(format!(
                "runserver: LISTEN_FDS is set, but file descriptor 3 is not a listening TCP \
                 socket ({err}); unset LISTEN_FDS"
            ))
        })
}

/// Runs the supervisor on `addr` until Ctrl-C or SIGTERM. `grace` is how
/// long a stopping server may take to finish its requests.
pub(crate) async fn supervise(mut out: CommandOutput, addr: &str, grace: Duration) -> Result<()> {
    let build = Build::of_this_binary()?;
    let listener = TcpListener::bind(addr)
        .map_err(|err| Error::msg(format!("cannot listen on {addr}: {err}")).with_source(err))?;
    writeln!(
        out,
        "Estate is serving on http://{}/ and rebuilds when the sources in {} change; quit \
         with Ctrl-C",
        listener.local_addr()?,
        build.root.display()
    )?;
    let mut seen = sources(&build.root, &build.watched);
    let mut server = Some(build.start_server(&listener)?);
    let mut page: Option<JoinHandle<()>> = None;
    let mut shutdown = std::pin::pin!(crate::server::shutdown_signal());
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(POLL) => {}
        }
        if let Some(status) = server
            .as_mut()
            .and_then(|child| child.try_wait().ok().flatten())
        {
            server = None;
            writeln!(
                out,
                "The server stopped ({status}); save a file to rebuild and restart it"
            )?;
            page = Some(serve_page(
                &listener,
                StatusCode::SERVICE_UNAVAILABLE,
                stopped_page(&status.to_string()),
            )?);
        }
        let now = sources(&build.root, &build.watched);
        if now == seen {
            continue;
        }
        tokio::time::sleep(SETTLE).await;
        let now = sources(&build.root, &build.watched);
        writeln!(out, "{} changed: rebuilding", changed(&seen, &now))?;
        seen = now;
        let building = build.clone();
        let built = tokio::select! {
            () = &mut shutdown => break,
            built = tokio::task::spawn_blocking(move || building.run()) => built
                .map_err(|err| Error::msg(format!("the build task failed: {err}")))??,
        };
        match built {
            Ok(()) => {
                if let Some(task) = page.take() {
                    task.abort();
                    // Aborting is asynchronous: wait, so it accepts no more.
                    let _ = task.await;
                }
                // The new server shares the socket before the old one
                // stops accepting: no gap.
                let old = server.replace(build.start_server(&listener)?);
                if let Some(mut old) = old {
                    stop(&mut old, grace).await;
                }
                writeln!(out, "Restarted")?;
            }
            Err(output) => {
                if let Some(mut old) = server.take() {
                    stop(&mut old, grace).await;
                }
                if let Some(task) = page.take() {
                    task.abort();
                    // Aborting is asynchronous: wait, so it accepts no more.
                    let _ = task.await;
                }
                page = Some(serve_page(
                    &listener,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    build_failed_page(&output),
                )?);
                writeln!(
                    out,
                    "The build failed (above; the browser shows it too); save a fix to rebuild"
                )?;
            }
        }
    }
    if let Some(task) = page.take() {
        task.abort();
    }
    if let Some(mut child) = server.take() {
        stop(&mut child, grace).await;
    }
    Ok(())
}

/// How to rebuild and start this very binary.
#[derive(Clone, Debug)]
struct Build {
    /// The package folder (`CARGO_MANIFEST_DIR`, which `cargo run` sets).
    root: PathBuf,
    /// The binary as it was at startup: after a rebuild, the running
    /// process's own path reads "... (deleted)" on Linux.
    exe: PathBuf,
    cargo: OsString,
    /// `--bin NAME` or `--example NAME`, the profile and the target folder.
    cargo_args: Vec<OsString>,
    /// The folders of Rust sources, relative to `root`: `src`, and
    /// `examples` for an example.
    watched: Vec<PathBuf>,
}

impl Build {
    fn of_this_binary() -> Result<Build> {
        let root = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .ok_or_else(|| {
                Error::msg(
                    "runserver --reload rebuilds the project with cargo: start it with `cargo \
                     run -- runserver --reload` (CARGO_MANIFEST_DIR is not set)",
                )
            })?;
        let exe = std::env::current_exe()?;
        let name = exe
            .file_stem()
            .ok_or_else(|| Error::msg("runserver --reload: this binary has no file name"))?
            .to_owned();
        let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut cargo_args: Vec<OsString> = Vec::new();
        let mut watched = vec![PathBuf::from("src")];
        if dir.file_name().is_some_and(|n| n == "examples") {
            cargo_args.extend(["--example".into(), name]);
            watched.push(PathBuf::from("examples"));
            dir.pop();
        } else {
            cargo_args.extend(["--bin".into(), name]);
        }
        // target/<profile folder>/binary: "debug" is the dev profile.
        match dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {}
            Some("release") => cargo_args.push("--release".into()),
            Some(profile) => cargo_args.extend(["--profile".into(), profile.into()]),
            None => {
                return Err(Error::msg(format!(
                    "runserver --reload: {} is not in a cargo target folder; start it with \
                     `cargo run -- runserver --reload`",
                    exe.display()
                )));
            }
        }
        if let Some(target) = dir.parent() {
            cargo_args.extend(["--target-dir".into(), target.as_os_str().to_owned()]);
        }
        cargo_args.extend([
            "--manifest-path".into(),
            root.join("Cargo.toml").into_os_string(),
        ]);
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Ok(Build {
            root,
            exe,
            cargo,
            cargo_args,
            watched,
        })
    }

    /// `cargo build`, its output shown in the terminal as it comes; on
    /// failure, that output.
    fn run(&self) -> Result<std::result::Result<(), String>> {
        let color = if std::io::stderr().is_terminal() {
            "always"
        } else {
            "never"
        };
        let mut cargo = Command::new(&self.cargo)
            .arg("build")
            .args(&self.cargo_args)
            .args(["--color", color])
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                Error::msg(format!(
                    "runserver --reload cannot run {}: {err}",
                    self.cargo.to_string_lossy()
                ))
            })?;
        let mut output = String::new();
        if let Some(stderr) = cargo.stderr.take() {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            // Bytes, not `lines()`: a line that is not UTF-8 must not end
            // the supervisor (and leave cargo unwaited).
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                let _ = std::io::stderr().write_all(&line);
                output.push_str(&strip_ansi(&String::from_utf8_lossy(&line)));
                line.clear();
            }
        }
        Ok(if cargo.wait()?.success() {
            Ok(())
        } else {
            Err(output)
        })
    }

    /// This binary again with the same arguments but `--reload`, on
    /// `listener`.
    fn start_server(&self, listener: &TcpListener) -> Result<Server> {
        let args: Vec<OsString> = std::env::args_os()
            .skip(1)
            .filter(|arg| arg != "--reload")
            .collect();
        let mut command = Command::new(&self.exe);
        command
            .args(args)
            .env("LISTEN_FDS", "1")
            // The socket stays open in the supervisor: no load balancer to
            // wait for between two builds.
            .env("ESTATE_SERVER__SHUTDOWN_DELAY", "0s")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES");
        command
            .fd_mappings(vec![FdMapping {
                parent_fd: listener.try_clone()?.into(),
                child_fd: 3,
            }])
            .map_err(|_| Error::msg("runserver --reload: file descriptor 3 mapped twice"))?;
        command.spawn().map(Server).map_err(|err| {
            Error::msg(format!(
                "runserver --reload cannot start {}: {err}",
                self.exe.display()
            ))
        })
    }
}

/// A server process that is killed if the supervisor lets go of it on an
/// error path (a plain `Child` would keep serving stale code on the port).
struct Server(Child);

impl std::ops::Deref for Server {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Asks a server to stop (SIGTERM: it finishes its requests), and kills it
/// if it is still running after `grace` and two more seconds.
async fn stop(child: &mut Child, grace: Duration) {
    if !matches!(child.try_wait(), Ok(None)) {
        return; // Already gone (and reaped: its pid may be someone else's).
    }
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + grace + Duration::from_secs(2);
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The files whose change needs a rebuild, with their modification times.
fn sources(root: &Path, watched: &[PathBuf]) -> BTreeMap<PathBuf, SystemTime> {
    let mut found = BTreeMap::new();
    for name in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "estate.toml",
        ".env",
    ] {
        note(&root.join(name), &mut found);
    }
    let mut folders: Vec<PathBuf> = watched.iter().map(|folder| root.join(folder)).collect();
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && !hidden => folders.push(path),
                Ok(kind) if kind.is_file() && path.extension().is_some_and(|e| e == "rs") => {
                    note(&path, &mut found);
                }
                _ => {}
            }
        }
    }
    found
}

fn note(path: &Path, found: &mut BTreeMap<PathBuf, SystemTime>) {
    if let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) {
        found.insert(path.to_path_buf(), modified);
    }
}

/// "src/main.rs" or "src/main.rs and 2 other files": what changed.
fn changed(
    before: &BTreeMap<PathBuf, SystemTime>,
    after: &BTreeMap<PathBuf, SystemTime>,
) -> String {
    let mut paths: Vec<&PathBuf> = after
        .iter()
        .filter(|(path, time)| before.get(*path) != Some(*time))
        .map(|(path, _)| path)
        .chain(before.keys().filter(|path| !after.contains_key(*path)))
        .collect();
    paths.dedup();
    match paths.as_slice() {
        [] => "A source file".to_owned(),
        [one] => one.display().to_string(),
        [first, rest @ ..] => format!(
            "{} and {} other file{}",
            first.display(),
            rest.len(),
            if rest.len() == 1 { "" } else { "s" }
        ),
    }
}

/// Cargo's colours removed (`ESC [ ... letter`), for the browser.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn build_failed_page(output: &str) -> String {
    page(
        "Build failed",
        "Fix the error and save: the server rebuilds, and this page reloads when it is back.",
        output,
    )
}

fn stopped_page(status: &str) -> String {
    page(
        "The server stopped",
        "The terminal shows why. Save a file to rebuild and restart it; this page reloads \
         when it is back.",
        &format!("The server process exited: {status}."),
    )
}

fn page(title: &str, advice: &str, detail: &str) -> String {
    use crate::templates::escape_html;
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>body{{font:15px/1.5 system-ui,sans-serif;margin:2rem;\
         color:#222}}h1{{color:#b00020;font-size:1.5rem}}pre{{background:#f6f6f6;\
         padding:1rem;overflow:auto;white-space:pre-wrap;font-size:13px}}\
         @media (prefers-color-scheme:dark){{body{{background:#121212;color:#ddd}}\
         pre{{background:#1e1e1e}}h1{{color:#ff6b6b}}}}</style></head><body>\
         <h1>{title}</h1><p>{advice}</p><pre>{detail}</pre><script>\
         setInterval(function(){{fetch(location.href,{{method:'HEAD',cache:'no-store'}})\
         .then(function(r){{if(!r.headers.get('{MARKER}'))location.reload()}},function(){{}})\
         }},1000)</script></body></html>",
        title = escape_html(title),
        advice = escape_html(advice),
        detail = escape_html(detail),
    )
}

/// Answers every request on `listener` with `html` until the task is
/// aborted (while no server runs). One request per connection, so no
/// browser stays attached to the supervisor once a server is back.
fn serve_page(listener: &TcpListener, status: StatusCode, html: String) -> Result<JoinHandle<()>> {
    let listener = listener.try_clone()?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let html = bytes::Bytes::from(html);
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let html = html.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let response = Response::builder()
                        .status(status)
                        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
                        .header(http::header::CACHE_CONTROL, "no-store")
                        .header(MARKER, "1")
                        .body(Full::new(html.clone()))
                        .expect("static headers are valid");
                    async move { Ok::<_, Infallible>(response) }
                });
                let connection = http1::Builder::new()
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(10), connection).await;
            });
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_stripped_for_the_browser() {
        assert_eq!(
            strip_ansi("\u{1b}[0m\u{1b}[1m\u{1b}[38;5;9merror[E0425]\u{1b}[0m: cannot find"),
            "error[E0425]: cannot find"
        );
    }

    #[test]
    fn the_change_names_the_file() {
        let t0 = SystemTime::UNIX_EPOCH;
        let t1 = t0 + Duration::from_secs(1);
        let before = BTreeMap::from([("src/a.rs".into(), t0), ("src/b.rs".into(), t0)]);
        let after = BTreeMap::from([("src/a.rs".into(), t1), ("src/b.rs".into(), t0)]);
        assert_eq!(changed(&before, &after), "src/a.rs");
        let after = BTreeMap::from([("src/a.rs".into(), t1), ("src/c.rs".into(), t0)]);
        assert_eq!(changed(&before, &after), "src/a.rs and 2 other files");
    }

    #[test]
    fn the_page_escapes_compiler_output() {
        let html = build_failed_page("expected `<T>` & found `()`");
        assert!(
            html.contains("expected `&lt;T&gt;` &amp; found `()`"),
            "{html}"
        );
    }

    #[test]
    fn only_rust_sources_and_project_files_are_watched() {
        let root = std::env::temp_dir().join(format!("estate-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/app/templates")).unwrap();
        std::fs::create_dir_all(root.join("src/.hidden")).unwrap();
        for file in [
            "Cargo.toml",
            "README.md",
            "src/main.rs",
            "src/app/mod.rs",
            "src/app/templates/index.html",
            "src/.hidden/x.rs",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        let mut watched: Vec<String> = sources(&root, &[PathBuf::from("src")])
            .keys()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        watched.sort();
        assert_eq!(watched, ["Cargo.toml", "src/app/mod.rs", "src/main.rs"]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

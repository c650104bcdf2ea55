//! The HTTP/1.1 server: hyper with a header-read timeout (slowloris
//! protection), `ConnectInfo` for client addresses, and graceful shutdown on
//! SIGINT/SIGTERM that lets in-flight requests finish within a grace period
//! (after an optional delay during which the readiness probe fails, for load
//! balancers).

mod connection_timer;
mod phase;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;

use self::connection_timer::ConnectionTimer;
use self::phase::{Phase, PhaseSignal, PhaseWatch};
use tokio::net::TcpListener;

use crate::http::EstateService;

/// How the server treats connections.
#[derive(Clone, Debug)]
pub(crate) struct ServerOptions {
    pub(crate) header_read_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) shutdown_delay: Duration,
}

/// Serves `service` on `listener` until `shutdown` completes; then the
/// readiness probe fails while the server keeps accepting for the shutdown
/// delay (so load balancers notice first), then it stops accepting and waits
/// up to the grace period for open requests.
pub(crate) async fn serve(
    listener: TcpListener,
    service: EstateService,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    // Every connection task holds a clone of `open`; when all are dropped,
    // `closed.recv()` returns None and shutdown is complete.
    let (open, mut closed) = tokio::sync::mpsc::channel::<()>(1);
    let phase = PhaseSignal::default();
    let connections = Connections {
        service: service.clone(),
        header_read_timeout: options.header_read_timeout,
        open,
        phase: phase.clone(),
    };
    connections.accept_until(&listener, shutdown).await;
    service.begin_draining();
    if !options.shutdown_delay.is_zero() {
        tracing::info!(
            target: "estate::server",
            delay_secs = options.shutdown_delay.as_secs_f64(),
            "shutting down: the readiness probe answers 503; still serving during the delay"
        );
        connections
            .accept_until(&listener, tokio::time::sleep(options.shutdown_delay))
            .await;
    }
    drop(listener);
    drop(connections);
    phase.advance(Phase::Draining);
    tracing::info!(
        target: "estate::server",
        grace_secs = options.shutdown_grace.as_secs_f64(),
        "shutting down: no new connections; waiting for in-flight requests"
    );
    if tokio::time::timeout(options.shutdown_grace, closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            target: "estate::server",
            "grace period over: closing connections with requests still running"
        );
        phase.advance(Phase::Closing);
        let _ = tokio::time::timeout(Duration::from_secs(1), closed.recv()).await;
    }
    Ok(())
}

/// What each connection task needs.
struct Connections {
    service: EstateService,
    header_read_timeout: Duration,
    open: tokio::sync::mpsc::Sender<()>,
    phase: PhaseSignal,
}

impl Connections {
    /// Accepts connections and serves each in its own task until `until`
    /// completes.
    async fn accept_until(&self, listener: &TcpListener, until: impl Future<Output = ()>) {
        let mut until = std::pin::pin!(until);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(connection) => connection,
                    Err(err) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(target: "estate::server", error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut until => return,
            };
            self.spawn(stream, peer);
        }
    }

    fn spawn(&self, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let service = self.service.clone();
        let extensions = connection_extensions(peer);
        let handler = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // (hyper's own entries, such as the upgrade handle, are kept.)
            let from_hyper = std::mem::replace(request.extensions_mut(), extensions.clone());
            request.extensions_mut().extend(from_hyper);
            service.handle(request)
        });
        let connection = http1::Builder::new()
            .timer(ConnectionTimer::default())
            .header_read_timeout(self.header_read_timeout)
            // Head and body go out in one buffer and one `send`: most
            // responses are a few kilobytes, for which copying the body once
            // costs less than hyper's queue of separate buffers (~400
            // instructions a request; bench/README.md). A large body is
            // copied in chunks up to hyper's buffer limit.
            .writev(false)
            .serve_connection(TokioIo::new(stream), handler)
            .with_upgrades();
        let open = self.open.clone();
        let mut phase: PhaseWatch = self.phase.watch();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                biased;
                result = connection.as_mut() => result,
                () = phase.reached_async(Phase::Draining) => {
                    // Finish the request in flight (if any), then close;
                    // past the grace period, drop it (closing the socket).
                    connection.as_mut().graceful_shutdown();
                    tokio::select! {
                        biased;
                        result = connection.as_mut() => result,
                        () = phase.reached_async(Phase::Closing) => Ok(()),
                    }
                }
            };
            if let Err(err) = result {
                tracing::debug!(target: "estate::server", %peer, error = %err, "connection ended with an error");
            }
            drop(open);
        });
    }
}

/// The extensions each request on a connection starts with: its
/// `ConnectInfo`, in a map already sized for what the core and axum add
/// (the core's values, the matched path, the path parameters). Built fresh
/// per request, the map would start with room for three entries and be
/// rebuilt at the fourth; cloning this one allocates the larger table once.
fn connection_extensions(peer: SocketAddr) -> http::Extensions {
    /// Placeholders that make the map grow, removed again (removing does
    /// not shrink it).
    #[derive(Clone, Copy)]
    struct Room<const N: u8>;
    let mut extensions = http::Extensions::new();
    extensions.insert(ConnectInfo(peer));
    extensions.insert(Room::<1>);
    extensions.insert(Room::<2>);
    extensions.insert(Room::<3>);
    extensions.remove::<Room<1>>();
    extensions.remove::<Room<2>>();
    extensions.remove::<Room<3>>();
    extensions
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

/// The address a listener actually bound (port 0 becomes a real port).
pub(crate) fn local_addr(listener: &TcpListener) -> std::io::Result<SocketAddr> {
    listener.local_addr()
}

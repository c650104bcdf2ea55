//! A small but real SMTP server for the tests, on 127.0.0.1 at an
//! ephemeral port: EHLO/HELO, STARTTLS, AUTH PLAIN and LOGIN, MAIL, RCPT,
//! DATA (with dot-unstuffing), RSET, NOOP, QUIT. It records every message
//! with its envelope, and every login attempt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The test server's certificate (self-signed for 127.0.0.1 and localhost,
/// valid for a century), which clients must be told to trust.
pub(crate) const CERT: &[u8] = include_bytes!("cert.pem");
const KEY: &[u8] = include_bytes!("key.pem");

/// One message as the server received it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Received {
    /// The EHLO (or HELO) argument.
    pub ehlo: String,
    /// The credentials the client logged in with, if any.
    pub login: Option<(String, String)>,
    /// `PLAIN` or `LOGIN`.
    pub mechanism: Option<String>,
    /// Whether the session was encrypted.
    pub tls: bool,
    /// `MAIL FROM` address.
    pub mail_from: String,
    /// `RCPT TO` addresses.
    pub rcpt_to: Vec<String>,
    /// The message, dot-unstuffed, CRLF line ends.
    pub data: String,
}

/// How the server behaves.
#[derive(Clone, Default)]
pub(crate) struct Behaviour {
    /// Require this login before MAIL FROM.
    pub credentials: Option<(String, String)>,
    /// TLS from the first byte (port-465 style).
    pub implicit_tls: bool,
    /// Offer STARTTLS.
    pub starttls: bool,
    /// Refuse these recipients with 550.
    pub unknown_users: Vec<String>,
    /// Accept connections but never answer.
    pub silent: bool,
    /// Stop answering (without closing) once this many messages arrived:
    /// a server that hangs mid-session.
    pub hang_after: Option<usize>,
}

/// A running server.
pub(crate) struct SmtpServer {
    /// Where it listens.
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    failed_logins: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone)]
struct Shared {
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
    failed_logins: Arc<Mutex<Vec<(String, String)>>>,
    acceptor: Option<TlsAcceptor>,
}

impl SmtpServer {
    /// Starts a server behaving so.
    pub(crate) async fn start(behaviour: Behaviour) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let failed_logins = Arc::new(Mutex::new(Vec::new()));
        let acceptor = (behaviour.implicit_tls || behaviour.starttls).then(tls_acceptor);
        let shared = Shared {
            behaviour,
            received: received.clone(),
            failed_logins: failed_logins.clone(),
            acceptor,
        };
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = connection(stream, shared).await;
                });
            }
        });
        SmtpServer {
            port,
            received,
            connections,
            failed_logins,
            task,
        }
    }

    /// Messages received so far.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Refused logins so far.
    pub(crate) fn failed_logins(&self) -> Vec<(String, String)> {
        self.failed_logins.lock().unwrap().clone()
    }
}

fn tls_acceptor() -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(CERT)
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(KEY).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    TlsAcceptor::from(Arc::new(config))
}

async fn connection(stream: TcpStream, shared: Shared) -> std::io::Result<()> {
    if shared.behaviour.silent {
        // Hold the connection open without a word.
        let mut stream = stream;
        let mut buf = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await? > 0 {}
        return Ok(());
    }
    let acceptor = shared.acceptor.clone();
    if shared.behaviour.implicit_tls {
        let tls = acceptor.unwrap().accept(stream).await?;
        session(tls, &shared, true, false).await?;
        return Ok(());
    }
    if let Some(plain) = session(stream, &shared, false, shared.behaviour.starttls).await? {
        let tls = acceptor.unwrap().accept(plain).await?;
        session(tls, &shared, true, false).await?;
    }
    Ok(())
}

/// Speaks SMTP until QUIT (returns `None`) or STARTTLS (returns the stream
/// to encrypt, after which the client starts over with EHLO).
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    shared: &Shared,
    tls: bool,
    offer_starttls: bool,
) -> std::io::Result<Option<S>> {
    let mut stream = BufReader::new(stream);
    if !tls || shared.behaviour.implicit_tls {
        stream
            .get_mut()
            .write_all(b"220 test.invalid ESMTP ready\r\n")
            .await?;
    }
    let mut current = Received {
        tls,
        ..Received::default()
    };
    let mut authenticated = false;
    loop {
        let Some(line) = read_line(&mut stream).await? else {
            return Ok(None);
        };
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
            current.ehlo = line[5..].to_owned();
            let mut lines = vec!["250-test.invalid".to_owned()];
            if shared.behaviour.credentials.is_some() {
                lines.push("250-AUTH PLAIN LOGIN".to_owned());
            }
            if offer_starttls {
                lines.push("250-STARTTLS".to_owned());
            }
            lines.push("250-8BITMIME".to_owned());
            lines.push("250 SMTPUTF8".to_owned());
            lines.join("\r\n")
        } else if upper == "STARTTLS" && offer_starttls {
            stream
                .get_mut()
                .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                .await?;
            return Ok(Some(stream.into_inner()));
        } else if upper.starts_with("AUTH PLAIN") {
            let encoded = match line.get(11..).filter(|rest| !rest.is_empty()) {
                Some(initial) => initial.to_owned(),
                None => {
                    stream.get_mut().write_all(b"334 \r\n").await?;
                    read_line(&mut stream).await?.unwrap_or_default()
                }
            };
            let decoded = decode(&encoded);
            let mut parts = decoded.split('\0').skip(1);
            let user = parts.next().unwrap_or_default().to_owned();
            let password = parts.next().unwrap_or_default().to_owned();
            login(
                shared,
                &mut current,
                &mut authenticated,
                "PLAIN",
                user,
                password,
            )
        } else if upper == "AUTH LOGIN" {
            stream.get_mut().write_all(b"334 VXNlcm5hbWU6\r\n").await?;
            let user = decode(&read_line(&mut stream).await?.unwrap_or_default());
            stream.get_mut().write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
            let password = decode(&read_line(&mut stream).await?.unwrap_or_default());
            login(
                shared,
                &mut current,
                &mut authenticated,
                "LOGIN",
                user,
                password,
            )
        } else if upper.starts_with("MAIL FROM:") {
            if shared.behaviour.credentials.is_some() && !authenticated {
                "530 5.7.0 Authentication required".to_owned()
            } else {
                current.mail_from = angle(&line[10..]);
                current.rcpt_to.clear();
                "250 2.1.0 OK".to_owned()
            }
        } else if upper.starts_with("RCPT TO:") {
            let address = angle(&line[8..]);
            if shared.behaviour.unknown_users.contains(&address) {
                format!("550 5.1.1 <{address}>: no such user here")
            } else {
                current.rcpt_to.push(address);
                "250 2.1.5 OK".to_owned()
            }
        } else if upper == "DATA" {
            stream
                .get_mut()
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                let Some(line) = read_line(&mut stream).await? else {
                    return Ok(None);
                };
                if line == "." {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
                data.push_str("\r\n");
            }
            current.data = data;
            let count = {
                let mut received = shared.received.lock().unwrap();
                received.push(current.clone());
                received.len()
            };
            if shared.behaviour.hang_after == Some(count) {
                // Read on without a word until the client gives up.
                while read_line(&mut stream).await?.is_some() {}
                return Ok(None);
            }
            "250 2.0.0 OK queued".to_owned()
        } else if upper == "RSET" {
            current.mail_from.clear();
            current.rcpt_to.clear();
            "250 2.0.0 OK".to_owned()
        } else if upper == "NOOP" {
            "250 2.0.0 OK".to_owned()
        } else if upper == "QUIT" {
            stream.get_mut().write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(None);
        } else {
            "502 5.5.2 Command not recognized".to_owned()
        };
        stream.get_mut().write_all(reply.as_bytes()).await?;
        stream.get_mut().write_all(b"\r\n").await?;
    }
}

fn login(
    shared: &Shared,
    current: &mut Received,
    authenticated: &mut bool,
    mechanism: &str,
    user: String,
    password: String,
) -> String {
    let expected = shared.behaviour.credentials.clone().unwrap_or_default();
    if (user.as_str(), password.as_str()) == (expected.0.as_str(), expected.1.as_str()) {
        *authenticated = true;
        current.login = Some((user, password));
        current.mechanism = Some(mechanism.to_owned());
        "235 2.7.0 Authentication successful".to_owned()
    } else {
        shared.failed_logins.lock().unwrap().push((user, password));
        "535 5.7.8 Authentication credentials invalid".to_owned()
    }
}

async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    if stream.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    Ok(Some(line.trim_end_matches(['\r', '\n']).to_owned()))
}

fn decode(text: &str) -> String {
    String::from_utf8(STANDARD.decode(text.trim()).unwrap_or_default()).unwrap_or_default()
}

/// `<a@b.c> SIZE=12` → `a@b.c`.
fn angle(text: &str) -> String {
    let text = text.trim();
    let end = text.find('>').map_or(text.len(), |i| i + 1);
    text[..end]
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

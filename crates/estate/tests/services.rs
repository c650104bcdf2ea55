//! The outside services CI provides answer on the URLs it exports, and the
//! skip/require switch works. Later database tests rely on both.

use std::time::Duration;

use estate::test::{MYSQL, POSTGRES, REDIS, service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `scheme://user@host:port/db` → `host:port`.
fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:{default_port}")
    }
}

async fn connect(url: &str, default_port: u16) -> TcpStream {
    let addr = host_port(url, default_port);
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr))
        .await
        .unwrap_or_else(|_| panic!("timed out connecting to {addr}"))
        .unwrap_or_else(|err| panic!("cannot connect to {addr} ({url}): {err}"))
}

async fn read_some(stream: &mut TcpStream, at_least: usize) -> Vec<u8> {
    let mut buf = vec![0u8; 512];
    let mut filled = 0;
    while filled < at_least {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf[filled..]))
            .await
            .expect("the server answers")
            .expect("read");
        assert!(n > 0, "the server closed the connection");
        filled += n;
    }
    buf.truncate(filled);
    buf
}

#[tokio::test]
async fn postgres_answers() {
    let Some(url) = service(POSTGRES) else { return };
    let mut stream = connect(&url, 5432).await;
    // SSLRequest: length 8, code 80877103. A PostgreSQL server answers with
    // one byte, 'S' or 'N'.
    stream
        .write_all(&[0, 0, 0, 8, 4, 210, 22, 47])
        .await
        .unwrap();
    let answer = read_some(&mut stream, 1).await;
    assert!(
        matches!(answer[0], b'S' | b'N'),
        "not PostgreSQL: {answer:?}"
    );
}

#[tokio::test]
async fn mysql_answers() {
    let Some(url) = service(MYSQL) else { return };
    let mut stream = connect(&url, 3306).await;
    // The server speaks first: a handshake packet whose payload starts with
    // protocol version 10.
    let greeting = read_some(&mut stream, 5).await;
    assert_eq!(
        greeting[4], 10,
        "not a MySQL/MariaDB handshake: {greeting:?}"
    );
}

#[tokio::test]
async fn redis_answers() {
    let Some(url) = service(REDIS) else { return };
    let mut stream = connect(&url, 6379).await;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let answer = read_some(&mut stream, 7).await;
    assert_eq!(answer, b"+PONG\r\n");
}

#[test]
fn urls_split_into_host_and_port() {
    assert_eq!(
        host_port("postgres://postgres@127.0.0.1:5432/test", 1),
        "127.0.0.1:5432"
    );
    assert_eq!(host_port("redis://127.0.0.1", 6379), "127.0.0.1:6379");
    assert_eq!(host_port("mysql://root:pw@db:3307/x", 3306), "db:3307");
}

//! Running the project binary in tests: commands, a server on a free
//! port, and small blocking HTTP helpers.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_project");

pub fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // An empty directory: no estate.toml is picked up by accident.
        .current_dir(std::env::temp_dir());
    cmd
}

/// A blocking HTTP/1.1 GET on a fresh connection.
pub fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    pub lines: mpsc::Receiver<String>,
    /// The log lines up to "serving on".
    pub early: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn start(envs: &[(&str, &str)]) -> Server {
    start_at("127.0.0.1:0", envs)
}

/// `runserver` on `addr` (`127.0.0.1:PORT`); returns once it serves.
pub fn start_at(addr: &str, envs: &[(&str, &str)]) -> Server {
    let mut child = command(&["runserver", addr])
        .envs(envs.iter().copied())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    let mut port = None;
    let mut early = Vec::new();
    while port.is_none() {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("the server logs its address");
        if let Some(rest) = line.split("serving on http://127.0.0.1:").nth(1) {
            port = rest.split('/').next().and_then(|p| p.parse().ok());
        }
        early.push(line);
    }
    Server {
        child,
        port: port.unwrap(),
        lines,
        early,
    }
}

/// A blocking HTTP/1.1 request: (status, head, body).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    cookie: &str,
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{cookie}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .map(|i| i + start.len())
        .unwrap_or_else(|| panic!("no {start:?} in {text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap()]
}

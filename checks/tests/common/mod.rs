//! Helpers shared by the integration tests that run the `raftlab` binary.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const EXE: &str = env!("CARGO_BIN_EXE_raftlab");

/// Runs `raftlab args`, killing it (and failing the test) after `limit`; returns
/// its exit code, stdout and stderr.
pub fn raftlab(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_path = dir.path().join("out");
    let err_path = dir.path().join("err");
    let mut child = Command::new(EXE)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("out file"))
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .spawn()
        .expect("spawn raftlab");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("raftlab {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |p| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&out_path), read(&err_path))
}

/// An address on loopback that nothing listens on (the OS picks the port; it is
/// free once the probe closes).
#[allow(dead_code)] // not every test binary serves HTTP
pub fn free_addr() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = probe.local_addr().expect("local addr").port();
    format!("127.0.0.1:{port}")
}

/// A minimal HTTP/1.0 request (the Explorer's web server): (status code, body).
#[allow(dead_code)]
pub fn http(method: &str, addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, body.to_string()))
}

/// Kills the process it holds when dropped, so a failing test leaves no server.
#[allow(dead_code)]
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! Local clusters of node processes: used by `raftlab cluster`, the benchmark and the
//! integration tests. Each node is a separate process (the `raftlab node` command),
//! so that killing one with SIGKILL is a real crash.

use std::fs::{self, File};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One node process, killed (SIGKILL) when dropped so that no test or tool leaves
/// nodes behind.
pub struct NodeProc {
    /// 0-based server index.
    pub index: usize,
    pub addr: SocketAddr,
    pub data: PathBuf,
    exe: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl NodeProc {
    /// Starts `exe node --id index+1 --peers ... --data data extra...`, its stderr
    /// going to `data/node.log`.
    pub fn spawn(
        exe: &Path,
        index: usize,
        peers: &[SocketAddr],
        data: &Path,
        extra: &[String],
    ) -> io::Result<NodeProc> {
        let peers_arg: Vec<String> = peers.iter().map(|a| a.to_string()).collect();
        let mut args = vec![
            "node".to_string(),
            "--id".into(),
            (index + 1).to_string(),
            "--peers".into(),
            peers_arg.join(","),
            "--data".into(),
            data.display().to_string(),
        ];
        args.extend(extra.iter().cloned());
        let mut p = NodeProc {
            index,
            addr: peers[index],
            data: data.to_path_buf(),
            exe: exe.to_path_buf(),
            args,
            log: data.join("node.log"),
            child: None,
        };
        p.start()?;
        Ok(p)
    }

    /// (Re)starts the process with the same arguments.
    pub fn start(&mut self) -> io::Result<()> {
        self.kill9();
        fs::create_dir_all(&self.data)?;
        let log = File::options().create(true).append(true).open(&self.log)?;
        let child = Command::new(&self.exe)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        Ok(())
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none() && self.child.is_some()
    }

    /// The exit status, if the process has exited (reaping it).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                Some(status)
            }
            _ => None,
        }
    }

    /// A crash: SIGKILL, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A clean stop: SIGTERM (the node finishes its step and exits), SIGKILL after
    /// `grace`.
    pub fn terminate(&mut self, grace: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        if let Ok(pid) = i32::try_from(c.id()) {
            // SAFETY: kill(2) with a pid of our own child, which we have not yet reaped,
            // so the pid cannot have been reused.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + grace;
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                return c.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last `lines` lines the node wrote to its log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A base port such that `n` consecutive UDP ports on 127.0.0.1 are free right now,
/// chosen at random so that concurrent tests rarely collide.
pub fn free_base_port(n: usize) -> io::Result<u16> {
    for _ in 0..200 {
        let base = fastrand::u16(20_000..60_000);
        let ok = (0..n).all(|i| UdpSocket::bind(("127.0.0.1", base + i as u16)).is_ok());
        if ok {
            return Ok(base);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "found no run of free UDP ports on 127.0.0.1",
    ))
}

//! `--processes P` on one machine: this process is process 0 and starts P-1 more
//! of the same binary over loopback, each told its place with `--hostfile FILE
//! --process I`, exactly as a user would start them on several machines.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Set in the environment of the processes `spawn` starts: they are process 0's
/// helpers, and leave the talking to it.
pub const SPAWNED: &str = "RAFTLAB_SPAWNED_WORKER";

/// The worker processes this process started, and their host file. Dropping it
/// kills the ones still running and deletes the host file.
pub struct Local {
    children: Mutex<Vec<(usize, Child)>>,
    pub hostfile: PathBuf,
    pub addresses: Vec<String>,
}

/// Free loopback addresses, one per process. (Another program could take a port
/// between this and the process binding it: the process then fails to listen and
/// says so.)
pub fn free_addresses(n: usize) -> Result<Vec<String>, String> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find a free loopback port: {e}"))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Starts processes 1 to `processes - 1` as `exe args --hostfile FILE --process I`,
/// with a host file of free loopback ports. Their stdout is discarded (process 0
/// prints the report); their stderr is this one's.
pub fn spawn(exe: &Path, args: &[OsString], processes: usize) -> Result<Local, String> {
    let addresses = free_addresses(processes)?;
    let hostfile = std::env::temp_dir().join(format!(
        "raftlab-timely-{}-{}.hosts",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::write(&hostfile, addresses.join("\n") + "\n")
        .map_err(|e| format!("cannot write the host file {}: {e}", hostfile.display()))?;
    let local = Local {
        children: Mutex::new(Vec::new()),
        hostfile,
        addresses,
    };
    for i in 1..processes {
        let child = Command::new(exe)
            .args(args)
            .arg("--hostfile")
            .arg(&local.hostfile)
            .arg("--process")
            .arg(i.to_string())
            .env(SPAWNED, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start worker process {i} ({}): {e}", exe.display()))?;
        if let Ok(mut c) = local.children.lock() {
            c.push((i, child));
        }
    }
    Ok(local)
}

impl Local {
    /// Err if a worker process has already exited (while the run still needs it).
    pub fn alive(&self) -> Result<(), String> {
        let Ok(mut children) = self.children.lock() else {
            return Ok(());
        };
        for (i, child) in children.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("worker process {i} exited early ({status})"));
            }
        }
        Ok(())
    }

    /// Waits (at most `within`) for every worker process to exit; Err names one
    /// that failed or would not stop (it is then killed).
    pub fn finish(&self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        let Ok(mut children) = self.children.lock() else {
            return Ok(());
        };
        let mut failure = None;
        for (i, child) in children.iter_mut() {
            loop {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => break,
                    Ok(Some(status)) => {
                        failure.get_or_insert(format!("worker process {i} failed ({status})"));
                        break;
                    }
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        failure.get_or_insert(format!("worker process {i} did not finish"));
                        break;
                    }
                }
            }
        }
        children.clear();
        failure.map_or(Ok(()), Err)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Ok(mut children) = self.children.lock() {
            for (_, child) in children.iter_mut() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = std::fs::remove_file(&self.hostfile);
    }
}

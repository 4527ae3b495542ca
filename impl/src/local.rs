//! Local clusters of node processes: used by `raftlab cluster`, the benchmark and the
//! integration tests. Each node is a separate process (the `raftlab node` command),
//! so that killing one with SIGKILL is a real crash.

use crate::auth::Secret;
use crate::link::Link;
use crate::wire::NodeStatus;
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

    /// `S1`.. : the paper's name of this node.
    pub fn name(&self) -> String {
        raft_model::name::server(raft_model::Id::from(self.index))
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// CPU time (user + system) the running process has used (Linux: /proc).
    pub fn cpu_time(&self) -> Option<Duration> {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid()?)).ok()?;
        // The fields after the command name, which is in parentheses.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let per_s = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
        let ticks = utime.checked_add(stime)?;
        Some(Duration::from_secs_f64(ticks as f64 / per_s.max(1) as f64))
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
/// chosen at random so that concurrent tests rarely collide, and below 32,768:
/// the operating system hands out ephemeral ports (Linux's default range is
/// 32,768 to 60,999) to every socket bound to port 0, a client's among them, which
/// could otherwise take a port of a cluster that has not started yet.
pub fn free_base_port(n: usize) -> io::Result<u16> {
    for _ in 0..200 {
        let base = 20_000 + (crate::random::u64() % 12_000) as u16;
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

/// A local cluster of node processes on consecutive loopback ports: what
/// `raftlab cluster`, `chaos`, `trace record`, `bench cluster` and the tests
/// drive. Its nodes are killed when it is dropped.
pub struct LocalCluster {
    pub procs: Vec<NodeProc>,
    pub addrs: Vec<SocketAddr>,
    /// How clients reach it: addresses, cluster id, secret.
    pub link: Link,
}

impl LocalCluster {
    /// Starts `n` nodes (`exe node ...`) on 127.0.0.1:`base_port`.., node i keeping
    /// its data in `data/node-i`, each with the `extra` arguments. The cluster id
    /// is kept in `data/cluster-id` (a fresh random one the first time).
    pub fn spawn(
        exe: &Path,
        n: usize,
        base_port: u16,
        data: &Path,
        extra: &[String],
    ) -> io::Result<LocalCluster> {
        LocalCluster::spawn_with_secret(exe, n, base_port, data, extra, None)
    }

    /// [`LocalCluster::spawn`], every node with the secret in `secret_file`.
    pub fn spawn_with_secret(
        exe: &Path,
        n: usize,
        base_port: u16,
        data: &Path,
        extra: &[String],
        secret_file: Option<&Path>,
    ) -> io::Result<LocalCluster> {
        let addrs = crate::link::local_addrs(base_port, n);
        let cluster = crate::cluster_id::settle(data, None, crate::random::cluster_id)
            .map_err(io::Error::other)?;
        let secret = match secret_file {
            Some(p) => Some(Secret::from_file(p).map_err(io::Error::other)?),
            None => None,
        };
        let mut args = extra.to_vec();
        args.extend(["--cluster-id".into(), crate::cluster_id::text(cluster)]);
        if let Some(p) = secret_file {
            args.extend(["--secret-file".into(), p.display().to_string()]);
        }
        let mut procs = Vec::with_capacity(n);
        for i in 0..n {
            let dir = data.join(format!("node-{}", i + 1));
            procs.push(NodeProc::spawn(exe, i, &addrs, &dir, &args)?);
        }
        let link = Link::new(addrs.clone(), cluster, secret);
        Ok(LocalCluster { procs, addrs, link })
    }

    /// Each node's status (`None`: no answer within `timeout`).
    pub fn statuses(&self, timeout: Duration) -> Vec<Option<NodeStatus>> {
        self.link.status_all(timeout).unwrap_or_default()
    }

    /// Polls the nodes until `pred` holds; the last statuses seen if `within` passes.
    pub fn wait_for(
        &self,
        within: Duration,
        pred: impl Fn(&[Option<NodeStatus>]) -> bool,
    ) -> Result<Vec<Option<NodeStatus>>, Vec<Option<NodeStatus>>> {
        let deadline = Instant::now() + within;
        loop {
            let st = self.statuses(Duration::from_millis(200));
            if pred(&st) {
                return Ok(st);
            }
            if Instant::now() > deadline {
                return Err(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a leader of a term above `after` that every node in `live` answers
    /// for and follows (the same term, the leader as its hint).
    pub fn wait_leader(
        &self,
        live: &[usize],
        after: u64,
        within: Duration,
    ) -> Result<(usize, u64), String> {
        let st = self
            .wait_for(within, |st| agreed_leader(st, live, after).is_some())
            .map_err(|_| {
                format!(
                    "no leader above term {after} that every live node follows within {:.0} s",
                    within.as_secs_f64()
                )
            })?;
        agreed_leader(&st, live, after).ok_or_else(|| "the leader changed".to_string())
    }

    /// Waits until node `i` holds the leader's log and commit index.
    pub fn wait_caught_up(&self, i: usize, leader: usize, within: Duration) -> Result<(), String> {
        self.wait_for(within, |st| match (st.get(leader), st.get(i)) {
            (Some(Some(l)), Some(Some(s))) => {
                s.log_len == l.log_len && s.commit_index == l.commit_index
            }
            _ => false,
        })
        .map(drop)
        .map_err(|_| {
            format!(
                "{} did not catch up within {:.0} s",
                raft_model::name::server(raft_model::Id::from(i)),
                within.as_secs_f64()
            )
        })
    }

    /// Waits until every node answers, one leads, and all have committed as far as
    /// the leader: a settled cluster to measure from.
    pub fn settle(&mut self, within: Duration) -> Result<(usize, u64), String> {
        let settled = |st: &[Option<NodeStatus>]| {
            let (leader, _) = crate::link::leader_of(st)?;
            let commit = st.get(leader)?.as_ref()?.commit_index;
            st.iter()
                .all(|s| s.as_ref().is_some_and(|s| s.commit_index == commit))
                .then(|| crate::link::leader_of(st))
                .flatten()
        };
        match self.wait_for(within, |st| settled(st).is_some()) {
            Ok(st) => settled(&st).ok_or_else(|| "the leader changed".to_string()),
            Err(_) => {
                let down: Vec<String> = self
                    .procs
                    .iter_mut()
                    .filter_map(|p| p.try_wait().map(|s| format!("{} {s}", p.name())))
                    .collect();
                Err(format!(
                    "the cluster did not settle within {:.0} s (exited: {})",
                    within.as_secs_f64(),
                    if down.is_empty() {
                        "none".into()
                    } else {
                        down.join(", ")
                    }
                ))
            }
        }
    }

    /// Stops every node cleanly (SIGTERM, then SIGKILL after `grace`).
    pub fn stop(&mut self, grace: Duration) {
        for p in self.procs.iter_mut() {
            p.terminate(grace);
        }
    }
}

/// The leader of a term above `after` that every node in `live` answers for and
/// follows, if there is one.
pub fn agreed_leader(
    st: &[Option<NodeStatus>],
    live: &[usize],
    after: u64,
) -> Option<(usize, u64)> {
    let up: Vec<&NodeStatus> = live.iter().filter_map(|&i| st.get(i)?.as_ref()).collect();
    let l = up
        .iter()
        .filter(|s| s.role == raft_model::Role::Leader && s.term > after)
        .max_by_key(|s| s.term)?;
    let (li, term) = (l.index, l.term);
    let agreed = up.len() == live.len()
        && up
            .iter()
            .all(|s| s.term == term && (s.index == li || s.leader_hint == Some(li)));
    agreed.then_some((li as usize, term))
}

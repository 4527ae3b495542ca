//! Real clusters on loopback: separate `raftlab node` processes, killed on drop.
//!
//! Every test has a hard deadline (a watchdog kills its nodes and the test binary
//! if it is exceeded), every wait is bounded, and ports are chosen at random among
//! free ones so that tests can run in parallel.

mod common;
use common::raftlab;
use raft_impl::client::{self, Completed};
use raft_impl::local::{agreed_leader, free_base_port, LocalCluster};
use raft_impl::wire::{self, NodeStatus, Wire};
use raft_model::{ClientRequest, Id, Msg, Op, OpResult, RequestVote, Role};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::EXE;

/// Kills the test's nodes and exits the test binary if the test runs past its
/// deadline: a hung test must fail, not hang CI.
struct Watchdog {
    done: Arc<AtomicBool>,
}

impl Watchdog {
    fn new(name: &'static str, limit: Duration, pids: Arc<Mutex<Vec<u32>>>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let deadline = Instant::now() + limit;
            while Instant::now() < deadline {
                if d.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("test {name} exceeded its {limit:?} deadline: killing its nodes");
            for pid in pids.lock().map(|p| p.clone()).unwrap_or_default() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            std::process::exit(101);
        });
        Watchdog { done }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// A local cluster (the same driver as `raftlab trace record` and the benchmark)
/// with a watchdog, and waits that fail the test with every node's status and log.
struct TestCluster {
    nodes: LocalCluster,
    /// The nodes' data, removed when the test ends.
    _dir: tempfile::TempDir,
    pids: Arc<Mutex<Vec<u32>>>,
    _watchdog: Watchdog,
}

impl std::ops::Deref for TestCluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        &self.nodes
    }
}

impl std::ops::DerefMut for TestCluster {
    fn deref_mut(&mut self) -> &mut LocalCluster {
        &mut self.nodes
    }
}

impl TestCluster {
    fn start(name: &'static str, n: usize, limit: Duration) -> Self {
        Self::start_with(name, n, limit, &[])
    }

    fn start_with(name: &'static str, n: usize, limit: Duration, extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let dir = tempfile::tempdir().expect("temp dir");
        let base = free_base_port(n).expect("free ports");
        let pids = Arc::new(Mutex::new(Vec::new()));
        let watchdog = Watchdog::new(name, limit, pids.clone());
        let nodes =
            LocalCluster::spawn(EXE.as_ref(), n, base, dir.path(), &extra).expect("spawn nodes");
        let c = TestCluster {
            nodes,
            _dir: dir,
            pids,
            _watchdog: watchdog,
        };
        c.note_pids();
        c
    }

    fn note_pids(&self) {
        let pids: Vec<u32> = self.procs.iter().filter_map(|p| p.pid()).collect();
        *self.pids.lock().expect("pid list") = pids;
    }

    fn restart(&mut self, i: usize) {
        self.procs[i].start().expect("restart node");
        self.note_pids();
    }

    fn statuses(&self) -> Vec<Option<NodeStatus>> {
        self.link
            .status_all(Duration::from_millis(300))
            .expect("status socket")
    }

    /// Polls the nodes until `pred` holds, or panics (with every node's status and
    /// log) after `within`.
    fn wait_for(
        &mut self,
        what: &str,
        within: Duration,
        pred: impl Fn(&[Option<NodeStatus>]) -> bool,
    ) -> Vec<Option<NodeStatus>> {
        match self.nodes.wait_for(within, pred) {
            Ok(st) => st,
            Err(st) => {
                let logs: Vec<String> = self
                    .procs
                    .iter()
                    .map(|p| format!("--- S{} log:\n{}", p.index + 1, p.log_tail(15)))
                    .collect();
                panic!(
                    "timed out after {within:?} waiting for {what}\nstatuses: {st:#?}\n{}",
                    logs.join("\n")
                );
            }
        }
    }

    /// Waits for a leader whose term is above `after`, that the nodes that answer
    /// agree on.
    fn wait_leader(&mut self, after: u64) -> (usize, u64) {
        let answering = |st: &[Option<NodeStatus>]| -> Vec<usize> {
            (0..st.len()).filter(|&i| st[i].is_some()).collect()
        };
        let st = self.wait_for("an agreed leader", Duration::from_secs(15), |st| {
            agreed_leader(st, &answering(st), after).is_some()
        });
        agreed_leader(&st, &answering(&st), after).expect("leader")
    }

    fn run(&self, ops: Vec<Op>) -> Vec<Completed> {
        client::run_ops(&self.link, ops, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("client failed: {e}"))
    }

    fn get(&self, key: &str) -> Option<String> {
        match &self.run(vec![get(key)])[0].result {
            OpResult::Value(v) => v.as_ref().map(|v| v.to_string()),
            OpResult::Done => panic!("a get answered like a write"),
        }
    }
}

fn put(k: &str, v: &str) -> Op {
    Op::Put {
        key: k.into(),
        value: v.into(),
    }
}

fn append(k: &str, v: &str) -> Op {
    Op::Append {
        key: k.into(),
        value: v.into(),
    }
}

fn get(k: &str) -> Op {
    Op::Get { key: k.into() }
}

fn role(st: &[Option<NodeStatus>], i: usize) -> Option<Role> {
    st[i].as_ref().map(|s| s.role)
}

/// `raftlab client --cluster ADDRS rest...` against the cluster at `addrs`.
fn client_cli(addrs: &[SocketAddr], rest: &[&str]) -> (Option<i32>, String, String) {
    let cluster = cluster_arg(addrs);
    let mut args = vec!["client", "--cluster", &cluster];
    args.extend_from_slice(rest);
    raftlab(&args, Duration::from_secs(10))
}

/// `raftlab client status --json` against the cluster at `addrs`.
fn status_json(addrs: &[SocketAddr]) -> (Option<i32>, String, String) {
    client_cli(addrs, &["status", "--json"])
}

fn cluster_arg(addrs: &[SocketAddr]) -> String {
    addrs
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn three_nodes_elect_one_leader() {
    let mut c = TestCluster::start("elect", 3, Duration::from_secs(30));
    let (leader, term) = c.wait_leader(0);
    let st = c.statuses();
    let leaders: Vec<usize> = (0..3)
        .filter(|i| role(&st, *i) == Some(Role::Leader))
        .collect();
    assert_eq!(leaders, vec![leader], "exactly one leader: {st:#?}");
    for s in st.iter().flatten() {
        assert_eq!(s.term, term);
        assert_eq!(
            s.dropped.total(),
            0,
            "nothing dropped in a healthy cluster: {s:#?}"
        );
    }
    // The CLI's JSON view agrees.
    let (code, out, err) = status_json(&c.addrs);
    assert_eq!(code, Some(0), "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).expect("status --json is JSON");
    let rows = rows.as_array().expect("a JSON array");
    assert_eq!(rows.len(), 3);
    let leader_rows: Vec<_> = rows.iter().filter(|r| r["role"] == "leader").collect();
    assert_eq!(leader_rows.len(), 1, "{out}");
    assert_eq!(leader_rows[0]["id"], leader + 1);
    for key in [
        "id",
        "addr",
        "role",
        "term",
        "log_len",
        "commit_index",
        "dropped",
    ] {
        assert!(
            rows[0].get(key).is_some(),
            "status --json lacks {key}: {out}"
        );
    }
}

#[test]
fn writes_then_reads_return_the_right_values() {
    let mut c = TestCluster::start("writes", 3, Duration::from_secs(60));
    c.wait_leader(0);
    let ops: Vec<Op> = (0..200)
        .map(|i| put(&format!("k{i}"), &format!("v{i}")))
        .collect();
    let done = c.run(ops);
    assert_eq!(done.len(), 200);
    assert!(done.iter().all(|d| d.result == OpResult::Done));
    c.run(vec![
        append("k7", "+a"),
        append("k7", "+b"),
        append("fresh", "x"),
    ]);
    // Reads by another client, through the log.
    let reads: Vec<Op> = (0..200).map(|i| get(&format!("k{i}"))).collect();
    let got = c.run(reads);
    for (i, d) in got.iter().enumerate() {
        let want = if i == 7 {
            "v7+a+b".to_string()
        } else {
            format!("v{i}")
        };
        assert_eq!(
            d.result,
            OpResult::Value(Some(want.as_str().into())),
            "k{i}"
        );
    }
    assert_eq!(c.get("fresh").as_deref(), Some("x"));
    assert_eq!(c.get("never-written"), None);
    // The CLI, with an explicit --cluster, reads the same.
    let (code, out, err) = raftlab(
        &["client", "--cluster", &cluster_arg(&c.addrs), "get", "k7"],
        Duration::from_secs(15),
    );
    assert_eq!((code, out.trim()), (Some(0), "v7+a+b"), "{err}");
    // Every node ends up with the whole log committed.
    c.wait_for("all nodes committed", Duration::from_secs(10), |st| {
        let commits: Vec<u64> = st.iter().flatten().map(|s| s.commit_index).collect();
        commits.len() == 3 && commits.iter().all(|&x| x == commits[0] && x >= 405)
    });
}

#[test]
fn killed_leader_is_replaced_and_catches_up_after_restart() {
    let mut c = TestCluster::start("failover", 3, Duration::from_secs(60));
    let (old, term) = c.wait_leader(0);
    c.run((0..50).map(|i| put(&format!("a{i}"), "1")).collect());
    c.procs[old].kill9();
    let (new, new_term) = c.wait_leader(term);
    assert_ne!(new, old);
    assert!(new_term > term);
    // Writes continue with two of three nodes.
    c.run((0..50).map(|i| put(&format!("b{i}"), "2")).collect());
    c.restart(old);
    let st = c.wait_for("the old leader caught up", Duration::from_secs(15), |st| {
        let (Some(l), Some(o)) = (st[new].as_ref(), st[old].as_ref()) else {
            return false;
        };
        o.role == Role::Follower && o.log_len == l.log_len && o.commit_index == l.commit_index
    });
    let restarted = st[old].as_ref().expect("status");
    assert!(restarted.commit_index >= 100, "{restarted:#?}");
    assert_eq!(c.get("a49").as_deref(), Some("1"));
    assert_eq!(c.get("b49").as_deref(), Some("2"));
}

#[test]
fn full_restart_loses_nothing_acknowledged() {
    let mut c = TestCluster::start("restart", 3, Duration::from_secs(60));
    c.wait_leader(0);
    let acked = c.run(
        (0..100)
            .map(|i| put(&format!("k{i}"), &format!("v{i}")))
            .collect(),
    );
    assert_eq!(acked.len(), 100);
    // Crash every node at once: only what was fsynced survives.
    for p in &mut c.procs {
        p.kill9();
    }
    // With no node up, the client fails clearly and in time.
    let (code, _, err) = raftlab(
        &[
            "client",
            "--cluster",
            &cluster_arg(&c.addrs),
            "--timeout",
            "1s",
            "put",
            "x",
            "1",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("no leader with a majority"), "{err}");
    let (code, out, _) = status_json(&c.addrs);
    assert_eq!(code, Some(3));
    assert_eq!(out.matches("\"unreachable\"").count(), 3, "{out}");

    for i in 0..3 {
        c.restart(i);
    }
    c.wait_leader(0);
    let got = c.run((0..100).map(|i| get(&format!("k{i}"))).collect());
    for (i, d) in got.iter().enumerate() {
        let want = format!("v{i}");
        assert_eq!(
            d.result,
            OpResult::Value(Some(want.as_str().into())),
            "k{i}"
        );
    }
}

#[test]
fn partitioned_minority_leader_cannot_commit() {
    let mut c = TestCluster::start("partition", 3, Duration::from_secs(60));
    let (old, term) = c.wait_leader(0);
    c.run(vec![put("before", "1")]);
    let others: Vec<usize> = (0..3).filter(|i| *i != old).collect();
    let before = c.statuses()[old].as_ref().expect("status").clone();

    // Cut the leader from both others (through the CLI, as a user would).
    let cut = format!("{},{}", others[0] + 1, others[1] + 1);
    let node = (old + 1).to_string();
    let (code, out, err) = client_cli(&c.addrs, &["fault", "--node", &node, "--partition", &cut]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("cut from"), "{out}");

    // Hand the old leader a write directly: it appends it but cannot commit it.
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = wire::random_client_id();
    let req = Wire::Raft {
        src: me,
        dst: Id::from(old),
        msg: Msg::ClientRequest(ClientRequest {
            seq: 1,
            op: put("minority", "lost"),
        }),
    };
    sock.send_to(&c.link.encode(&req).expect("encode"), c.addrs[old])
        .expect("send");
    // Meanwhile the majority elects a leader of its own.
    let st = c.wait_for("a majority leader", Duration::from_secs(15), |st| {
        others.iter().any(|&i| {
            st[i]
                .as_ref()
                .is_some_and(|s| s.role == Role::Leader && s.term > term)
        })
    });
    let o = st[old].as_ref().expect("old leader answers status");
    assert_eq!(o.role, Role::Leader, "cut off, it still believes it leads");
    assert_eq!(o.log_len, before.log_len + 1, "it appended the write");
    assert_eq!(
        o.commit_index, before.commit_index,
        "but could not commit it"
    );
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    if let Ok((len, _)) = sock.recv_from(&mut buf) {
        let w = c.link.decode(&buf[..len]);
        assert!(
            !matches!(
                w,
                Some(Wire::Raft {
                    msg: Msg::ClientReply { .. },
                    ..
                })
            ),
            "a minority leader answered a write: {w:?}"
        );
    }
    c.run(vec![put("after", "2")]);

    // Heal: the old leader steps down and its uncommitted entry is gone.
    let (code, _, err) = client_cli(&c.addrs, &["fault", "--node", &node, "--heal"]);
    assert_eq!(code, Some(0), "{err}");
    let (_, new_term) = c.wait_leader(term);
    assert!(new_term > term);
    assert_eq!(c.get("minority"), None, "an uncommitted write survived");
    assert_eq!(c.get("before").as_deref(), Some("1"));
    assert_eq!(c.get("after").as_deref(), Some("2"));
    let st = c.statuses();
    assert!(st[old].as_ref().is_some_and(|s| s.dropped.partitioned > 0));
}

#[test]
fn malformed_and_foreign_datagrams_are_counted_and_ignored() {
    let mut c = TestCluster::start("foreign", 3, Duration::from_secs(30));
    let (leader, term) = c.wait_leader(0);
    let target = (leader + 1) % 3;
    let addr = c.addrs[target];
    let before = c.statuses()[target].as_ref().expect("status").clone();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let send = |bytes: &[u8]| {
        sock.send_to(bytes, addr).expect("send");
    };
    // Malformed: garbage, the right magic with garbage, a truncated datagram.
    send(b"hello");
    send(b"RLB\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
    let vote = |src: Id, dst: Id| Wire::Raft {
        src,
        dst,
        msg: Msg::RequestVote(RequestVote {
            term: term + 1000,
            last_log_index: 1_000_000,
            last_log_term: term + 1000,
        }),
    };
    let encode = |w: &Wire| c.link.encode(w).expect("encode");
    let forged = encode(&vote(Id::from(leader), Id::from(target)));
    send(&forged[..forged.len() - 1]);
    // Oversize.
    send(&vec![0u8; wire::MAX_DATAGRAM + 1]);
    // Foreign: a server's id from a non-member address; a client id sending a server
    // message; an id in neither range; a datagram for another node.
    send(&forged);
    send(&encode(&vote(wire::random_client_id(), Id::from(target))));
    send(&encode(&vote(Id::from(1000usize), Id::from(target))));
    send(&encode(&vote(Id::from(leader), Id::from(leader))));

    let st = c.wait_for("the counters", Duration::from_secs(5), |st| {
        st[target]
            .as_ref()
            .is_some_and(|s| s.dropped.total() >= before.dropped.total() + 8)
    });
    let s = st[target].as_ref().expect("status");
    assert_eq!(s.dropped.malformed - before.dropped.malformed, 3, "{s:#?}");
    assert_eq!(s.dropped.oversize - before.dropped.oversize, 1, "{s:#?}");
    assert_eq!(s.dropped.foreign - before.dropped.foreign, 4, "{s:#?}");
    // None of it reached the actor: a forged vote request with a far higher term
    // would have moved every node's term.
    assert!(st.iter().flatten().all(|s| s.term < term + 1000), "{st:#?}");
    assert_eq!(c.wait_leader(0).1, term, "the leader was not disturbed");
    c.run(vec![put("still", "works")]);
    assert_eq!(c.get("still").as_deref(), Some("works"));
}

#[test]
fn corrupt_storage_makes_the_node_refuse_to_start() {
    let mut c = TestCluster::start("corrupt", 3, Duration::from_secs(30));
    c.wait_leader(0);
    c.run(vec![put("k", "v")]);
    c.procs[0].kill9();
    // The first segment of the log, and in it the first frame (the checkpoint that
    // every later frame builds on): damage there is never a torn write.
    let mut segments: Vec<_> = std::fs::read_dir(&c.procs[0].data)
        .expect("data directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_string());
            name.is_some_and(|n| n.starts_with("wal-") && n.ends_with(".log"))
        })
        .collect();
    segments.sort();
    let file = segments
        .first()
        .expect("a log segment after a write")
        .clone();
    let mut bytes = std::fs::read(&file).expect("read the segment");
    bytes[raft_impl::wal::segment::SEGMENT_HEADER + 13] ^= 0x01;
    std::fs::write(&file, &bytes).expect("corrupt it");
    let data = c.procs[0].data.display().to_string();
    let (code, _, err) = raftlab(
        &[
            "node",
            "--id",
            "1",
            "--peers",
            &cluster_arg(&c.addrs),
            "--data",
            &data,
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&file.display().to_string()),
        "names the file: {err}"
    );
    assert!(err.contains("checksum"), "says what is wrong: {err}");
    assert!(err.contains("Refusing to start"), "{err}");
    assert!(err.contains("restore"), "says what to do: {err}");
    // The file was left as it was, for the operator to inspect.
    assert_eq!(std::fs::read(&file).expect("still there"), bytes);
}

#[test]
fn cluster_command_reports_the_leader_and_stops_cleanly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = free_base_port(3).expect("ports");
    let out_path = dir.path().join("out");
    let pids = Arc::new(Mutex::new(Vec::new()));
    let _w = Watchdog::new("cluster-cmd", Duration::from_secs(30), pids.clone());
    let child = Command::new(EXE)
        .args([
            "cluster",
            "--nodes",
            "3",
            "--base-port",
            &base.to_string(),
            "--data",
        ])
        .arg(dir.path().join("data"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("out"))
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cluster");
    pids.lock().expect("pids").push(child.id());
    // If an assertion fails below, still stop the cluster (which stops its nodes),
    // and signal it only while it has not been reaped, so its pid is still its own.
    struct StopOnDrop(std::process::Child);
    impl Drop for StopOnDrop {
        fn drop(&mut self) {
            if let Ok(None) = self.0.try_wait() {
                let _ = Command::new("kill")
                    .args(["-INT", &self.0.id().to_string()])
                    .status();
                let deadline = Instant::now() + Duration::from_secs(5);
                while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
    let mut child = StopOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(15);
    while !std::fs::read_to_string(&out_path)
        .unwrap_or_default()
        .contains("leader: S")
    {
        assert!(Instant::now() < deadline, "no leader reported");
        std::thread::sleep(Duration::from_millis(50));
    }
    let addrs = client::local_addrs(base, 3);
    let link = raft_impl::link::Link::discover(addrs.clone(), None, Duration::from_secs(3))
        .expect("the cluster names its id");
    let done = client::run_ops(&link, vec![put("x", "1")], Duration::from_secs(10));
    assert!(done.is_ok(), "{done:?}");
    let _ = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "cluster did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(status.success(), "{out}");
    assert!(out.contains("all nodes stopped"), "{out}");
    // Every node process is gone: its port can be bound again.
    for a in addrs {
        assert!(
            UdpSocket::bind(a).is_ok(),
            "{a} is still in use after the cluster stopped"
        );
    }
}

#[test]
fn lossy_duplicating_reordering_network_still_serves_correctly() {
    let mut c = TestCluster::start_with(
        "faults",
        3,
        Duration::from_secs(60),
        &[
            "--drop",
            "0.1",
            "--duplicate",
            "0.1",
            "--delay",
            "0.2",
            "--delay-ms",
            "30",
        ],
    );
    c.wait_leader(0);
    let n = 60;
    c.run((0..n).map(|i| append("log", &format!("{i},"))).collect());
    let want: String = (0..n).map(|i| format!("{i},")).collect();
    // Each append applied exactly once, in order, despite duplicates and retries.
    assert_eq!(c.get("log").as_deref(), Some(want.as_str()));
    let st = c.statuses();
    let unsent = |f: fn(&raft_impl::wire::Unsent) -> u64| -> u64 {
        st.iter().flatten().map(|s| f(&s.unsent)).sum()
    };
    assert!(unsent(|u| u.injected_drops) > 0, "{st:#?}");
    assert!(unsent(|u| u.injected_duplicates) > 0, "{st:#?}");
    assert!(unsent(|u| u.injected_delays) > 0, "{st:#?}");
}

/// Bytes of the log's files (segments and snapshots) in a node's data directory.
fn data_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("data dir")
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("wal-") || name.starts_with("snap-")
        })
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// A follower killed while the others go on for several snapshot intervals
/// catches up by InstallSnapshot (the entries it lacks are compacted everywhere),
/// and every data directory holds about one interval of log, not every write.
#[test]
fn a_follower_far_behind_catches_up_by_install_snapshot_and_data_stays_bounded() {
    let interval = 100;
    let mut c = TestCluster::start_with(
        "snapshot",
        3,
        Duration::from_secs(90),
        &["--snapshot-interval", "100"],
    );
    let (leader, _) = c.wait_leader(0);
    let f = (leader + 1) % 3;
    c.run((0..20).map(|i| put(&format!("k{}", i % 10), "x")).collect());
    c.procs[f].kill9();
    // 1,000 writes of 100 bytes to 10 keys: ten snapshot intervals.
    let value = "v".repeat(100);
    c.run(
        (0..1000)
            .map(|i| put(&format!("k{}", i % 10), &value))
            .collect(),
    );
    let st = c.statuses();
    let l = st[leader].as_ref().expect("leader status");
    assert!(l.snapshot_index >= 1000, "{l:#?}");
    c.restart(f);
    let st = c.wait_for(
        "the follower caught up",
        Duration::from_secs(20),
        |st| match (st[leader].as_ref(), st[f].as_ref()) {
            (Some(l), Some(s)) => s.log_len == l.log_len && s.commit_index == l.commit_index,
            _ => false,
        },
    );
    let s = st[f].as_ref().expect("follower status");
    eprintln!(
        "S{}: log to {}, snapshot at {}, {} snapshot(s) received",
        f + 1,
        s.log_len,
        s.snapshot_index,
        s.snapshots_received
    );
    assert!(s.snapshots_received >= 1, "{s:#?}");
    assert!(s.snapshot_index >= 1000, "{s:#?}");
    assert_eq!(c.get("k9").as_deref(), Some(value.as_str()));
    // The log on disk: at most about one interval of 150-byte entries past the
    // snapshot (and a small snapshot of ten keys), where 1,020 writes without
    // snapshots would take over 150 KB.
    for i in 0..3 {
        let bytes = data_bytes(&c.procs[i].data);
        eprintln!("S{}: {bytes} bytes of log and snapshot on disk", i + 1);
        assert!(
            bytes < 3 * interval * 150,
            "S{}: {bytes} bytes on disk",
            i + 1
        );
    }
}

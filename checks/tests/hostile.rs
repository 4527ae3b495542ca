//! Hostile datagrams against real nodes on loopback: the findings of issue 14
//! replayed, each refused (and counted) by the model's rules at the node's door,
//! the node still up and the cluster still serving.
//!
//! A forger takes the port of a peer it stopped (as an attacker on the machine
//! could) and speaks as that peer.

mod common;
use common::{raftlab, EXE};
use raft_impl::client;
use raft_impl::faults::FaultPatch;
use raft_impl::local::{free_base_port, LocalCluster};
use raft_impl::wire::{self, NodeStatus, Wire};
use raft_model::replication::accept;
use raft_model::{AppendEntries, ClientRequest, Entry, Id, Msg, Op, RequestVote, Role};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

struct Cluster {
    nodes: LocalCluster,
    _dir: tempfile::TempDir,
}

fn start(extra: &[&str], secret: Option<&[u8]>) -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret_file = secret.map(|s| {
        let p = dir.path().join("secret");
        std::fs::write(&p, s).expect("write secret");
        p
    });
    let base = free_base_port(3).expect("free ports");
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let nodes = LocalCluster::spawn_with_secret(
        EXE.as_ref(),
        3,
        base,
        &dir.path().join("data"),
        &extra,
        secret_file.as_deref(),
    )
    .expect("spawn");
    Cluster { nodes, _dir: dir }
}

impl Cluster {
    fn leader(&self) -> (usize, u64) {
        self.nodes
            .wait_leader(&[0, 1, 2], 0, Duration::from_secs(15))
            .expect("a leader")
    }

    fn status(&self, i: usize) -> NodeStatus {
        let st = self.nodes.statuses(Duration::from_millis(500));
        st.get(i).cloned().flatten().expect("the node answers")
    }

    /// Stops server `j` and returns a socket on its address.
    fn impersonate(&mut self, j: usize) -> UdpSocket {
        self.nodes.procs[j].kill9();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match UdpSocket::bind(self.nodes.addrs[j]) {
                Ok(s) => return s,
                Err(e) if Instant::now() > deadline => panic!("cannot take S{}'s port: {e}", j + 1),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn forge(&self, sock: &UdpSocket, src: usize, dst: usize, msg: Msg) {
        let w = Wire::Raft {
            src: Id::from(src),
            dst: Id::from(dst),
            msg,
        };
        let bytes = self.nodes.link.encode(&w).expect("encode");
        sock.send_to(&bytes, self.nodes.addrs[dst]).expect("send");
    }

    /// Waits until node `i`'s refusals for `reason` reach `n`.
    fn refused(&self, i: usize, reason: &str, n: u64) -> NodeStatus {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let s = self.status(i);
            if s.dropped.refused.get(reason).copied().unwrap_or(0) >= n {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "S{} did not refuse {reason}: {:#?}",
                i + 1,
                s.dropped
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn put(&self, k: &str, v: &str) {
        client::run_ops(&self.nodes.link, vec![put(k, v)], Duration::from_secs(15))
            .unwrap_or_else(|e| panic!("put {k}: {e}"));
    }
}

fn put(k: &str, v: &str) -> Op {
    Op::Put {
        key: k.into(),
        value: v.into(),
    }
}

/// Finding 1: a success whose match index is past the leader's log crashed the
/// leader at its next heartbeat.
#[test]
fn a_match_index_past_the_leaders_log_is_refused_and_the_leader_lives() {
    let mut c = start(&[], None);
    let (l, term) = c.leader();
    c.put("a", "1");
    let f = (l + 2) % 3;
    let sock = c.impersonate(f);
    let len = c.status(l).log_len;
    c.forge(&sock, f, l, accept(term, len + 5));
    let s = c.refused(l, "beyond what was sent", 1);
    eprintln!(
        "finding 1: S{} refused AppendEntriesReply(ok, match {}) with a log of {len}: {:?}",
        l + 1,
        len + 5,
        s.dropped.refused
    );
    std::thread::sleep(Duration::from_millis(300)); // several heartbeats
    assert!(c.nodes.procs[l].is_running(), "the leader died");
    let s = c.status(l);
    assert_eq!((s.role, s.term), (Role::Leader, term));
    c.put("b", "2");
}

/// Findings 2 and 3: a forged match index of u64::MAX made a cut-off leader
/// acknowledge a write; a forged term of u64::MAX wrapped terms.
#[test]
fn a_match_index_or_a_term_out_of_range_is_refused() {
    let mut c = start(&[], None);
    let (l, term) = c.leader();
    let (f1, f2) = ((l + 1) % 3, (l + 2) % 3);
    // Cut the leader from its one live follower; the forger plays the other.
    let cut = FaultPatch {
        partition: Some([f1 as u64].into_iter().collect()),
        ..FaultPatch::default()
    };
    c.nodes
        .link
        .set_faults(l, cut, Duration::from_secs(3))
        .expect("partition");
    let sock = c.impersonate(f2);
    // A client's write reaches the leader only.
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let me = wire::random_client_id();
    let req = Wire::Raft {
        src: me,
        dst: Id::from(l),
        msg: Msg::ClientRequest(ClientRequest {
            seq: 1,
            op: put("lonely", "1"),
        }),
    };
    let bytes = c.nodes.link.encode(&req).expect("encode");
    client.send_to(&bytes, c.nodes.addrs[l]).expect("send");
    std::thread::sleep(Duration::from_millis(200));
    let before = c.status(l);
    c.forge(&sock, f2, l, accept(term, u64::MAX));
    c.forge(
        &sock,
        f2,
        l,
        Msg::RequestVote(RequestVote {
            term: u64::MAX,
            last_log_index: u64::MAX,
            last_log_term: u64::MAX,
        }),
    );
    c.forge(
        &sock,
        f2,
        f1,
        Msg::RequestVote(RequestVote {
            term: u64::MAX,
            last_log_index: 0,
            last_log_term: 0,
        }),
    );
    c.refused(l, "index out of range", 1);
    let s = c.refused(l, "term out of range", 1);
    c.refused(f1, "term out of range", 1);
    eprintln!(
        "findings 2, 3: S{} refused match u64::MAX and term u64::MAX: {:?}",
        l + 1,
        s.dropped.refused
    );
    assert_eq!(s.commit_index, before.commit_index, "the write committed");
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    if let Ok((n, _)) = client.recv_from(&mut buf) {
        let w = c.nodes.link.decode(&buf[..n]);
        assert!(
            !matches!(
                w,
                Some(Wire::Raft {
                    msg: Msg::ClientReply { .. },
                    ..
                })
            ),
            "a write was acknowledged by a cut-off leader: {w:?}"
        );
    }
    for i in [l, f1] {
        let t = c.status(i).term;
        assert!(t < 1000, "S{} reached term {t}", i + 1);
    }
}

/// Finding 4: operations over the limit entered the log from a server's address,
/// and AppendEntries carrying them no longer fitted a datagram.
#[test]
fn oversized_operations_are_refused_whatever_the_source() {
    let mut c = start(&[], None);
    let (l, term) = c.leader();
    let f1 = (l + 1) % 3;
    let f2 = (l + 2) % 3;
    let sock = c.impersonate(f2);
    let big = put("big", &"x".repeat(30_000));
    c.forge(
        &sock,
        f2,
        l,
        Msg::ClientRequest(ClientRequest {
            seq: 1,
            op: big.clone(),
        }),
    );
    c.forge(
        &sock,
        f2,
        f1,
        Msg::AppendEntries(AppendEntries {
            term,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: vec![Entry {
                term,
                client: wire::random_client_id(),
                seq: 1,
                op: big,
            }],
            leader_commit: 0,
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let (a, b) = loop {
        let (a, b) = (c.status(l), c.status(f1));
        if a.dropped.oversize >= 1 && b.dropped.oversize >= 1 {
            break (a, b);
        }
        assert!(
            Instant::now() < deadline,
            "{:#?} {:#?}",
            a.dropped,
            b.dropped
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!(
        "finding 4: a 30 KB operation refused by S{} (oversize {}) and in an AppendEntries by S{} \
         (oversize {})",
        l + 1,
        a.dropped.oversize,
        f1 + 1,
        b.dropped.oversize
    );
    // Large entries still replicate: batches are capped in bytes.
    let v = "y".repeat(1000);
    let ops: Vec<Op> = (0..100).map(|i| put(&format!("k{i}"), &v)).collect();
    client::run_ops(&c.nodes.link, ops, Duration::from_secs(30)).expect("large writes");
    assert_eq!(
        c.status(l).unsent.too_large,
        0,
        "an AppendEntries did not fit"
    );
}

/// Finding 5: concurrent clients drew the same id from a clock-seeded generator,
/// and shared a trace file. Ids now come from the OS; each process has its file.
#[test]
fn concurrent_clients_draw_distinct_ids_and_each_process_writes_its_own_file() {
    let c = start(&[], None);
    c.leader();
    let trace = tempfile::tempdir().expect("temp dir");
    let cluster: Vec<String> = c.nodes.addrs.iter().map(|a| a.to_string()).collect();
    let cluster = cluster.join(",");
    let tdir = trace.path().display().to_string();
    let children: Vec<_> = (0..24)
        .map(|i| {
            std::process::Command::new(EXE)
                .args([
                    "client",
                    "--cluster",
                    &cluster,
                    "--trace",
                    &tdir,
                    "put",
                    &format!("k{i}"),
                    "v",
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn client")
        })
        .collect();
    for mut ch in children {
        assert!(ch.wait().expect("wait").success());
    }
    let mut ids = std::collections::BTreeSet::new();
    let mut files = 0;
    for e in std::fs::read_dir(trace.path()).expect("trace dir") {
        let path = e.expect("entry").path();
        let actors = raft_checks::trace::load::load_file(&path).expect("a trace file");
        assert_eq!(
            actors.len(),
            1,
            "{}: one client process, one session",
            path.display()
        );
        ids.insert(usize::from(actors[0].node));
        files += 1;
    }
    assert_eq!(files, 24, "one trace file per process");
    assert_eq!(ids.len(), 24, "distinct client ids");
}

/// Finding 6: control datagrams were obeyed from anywhere, with any delay.
#[test]
fn control_requests_need_the_secret_and_sane_values() {
    // No secret: a delay of u64::MAX is refused by the CLI and by the node.
    let c = start(&[], None);
    c.leader();
    let cluster: Vec<String> = c.nodes.addrs.iter().map(|a| a.to_string()).collect();
    let (code, _, err) = raftlab(
        &[
            "client",
            "--cluster",
            &cluster.join(","),
            "fault",
            "--node",
            "1",
            "--delay-ms",
            "18446744073709551615",
        ],
        Duration::from_secs(10),
    );
    assert_eq!(code, Some(2), "{err}");
    let patch = FaultPatch {
        delay_max_ms: Some(u64::MAX),
        ..FaultPatch::default()
    };
    let e = c
        .nodes
        .link
        .set_faults(0, patch, Duration::from_secs(3))
        .expect_err("refused");
    assert!(e.contains("at most 10000"), "{e}");
    eprintln!("finding 6: delay u64::MAX refused: {e}");
    drop(c);

    // With a secret: untagged, wrongly tagged and bit-flipped control datagrams
    // are all refused; the tagged one is obeyed.
    let c = start(&[], Some(b"a secret of the test cluster"));
    c.leader();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let w = Wire::Control {
        nonce: 1,
        patch: FaultPatch {
            drop: Some(0.5),
            ..FaultPatch::default()
        },
    };
    let untagged = wire::encode(c.nodes.link.cluster, &w, None).expect("encode");
    let tagged = c.nodes.link.encode(&w).expect("encode");
    let mut sent = 1;
    sock.send_to(&untagged, c.nodes.addrs[0]).expect("send");
    for i in 0..tagged.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = tagged.clone();
            b[i] ^= bit;
            sock.send_to(&b, c.nodes.addrs[0]).expect("send");
            sent += 1;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let s = loop {
        let s = c.status(0);
        if s.dropped.unauthenticated >= sent {
            break s;
        }
        assert!(Instant::now() < deadline, "{:#?}", s.dropped);
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(s.faults.drop, 0.0, "a forged control request was obeyed");
    eprintln!(
        "finding 6: {sent} untagged or bit-flipped control datagrams refused (unauthenticated {})",
        s.dropped.unauthenticated
    );
    c.nodes
        .link
        .set_faults(
            0,
            FaultPatch {
                drop: Some(0.25),
                ..FaultPatch::default()
            },
            Duration::from_secs(3),
        )
        .expect("the secret's holder is obeyed");
}

/// Nodes of another cluster on the same ports are ignored and counted.
#[test]
fn datagrams_of_another_cluster_are_ignored_and_counted() {
    let c = start(&[], None);
    let (l, term) = c.leader();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let other = c.nodes.link.cluster.wrapping_add(1).max(1);
    let w = Wire::Raft {
        src: wire::random_client_id(),
        dst: Id::from(l),
        msg: Msg::ClientRequest(ClientRequest {
            seq: 1,
            op: put("x", "other"),
        }),
    };
    for _ in 0..5 {
        let b = wire::encode(other, &w, None).expect("encode");
        sock.send_to(&b, c.nodes.addrs[l]).expect("send");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.status(l).dropped.other_cluster < 5 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.status(l).term, term);
}

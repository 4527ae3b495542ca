//! `raftlab trace record`: a real local cluster run through a fault scenario, with
//! every node and client recording its trace, then checked against the model.

use clap::Args;
use raft_impl::client::{self, ClientError};
use raft_impl::faults::FaultPatch;
use raft_impl::host_fault::HostFault;
use raft_impl::local::{free_base_port, LocalCluster};
use raft_impl::trace::ClientTrace;
use raft_model::Op;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Record a run of a real local cluster with faults injected, then check it.
///
/// Starts N `raftlab node` processes (data in a temporary directory) and two
/// clients, all recording into DIR, and plays a scenario: client operations, then
/// each fault asked for (a leader killed with SIGKILL and restarted, a leader cut
/// from the others and healed, a follower killed and restarted), with operations
/// after each; message loss, duplication and delay for the whole run. Then the
/// nodes are stopped cleanly and the trace is checked as by `raftlab trace check`.
///
/// Exit codes: 0 recorded and every rule holds; 1 a rule is broken; 2 bad usage or
/// an unreadable trace; 3 the cluster did not do what the scenario needs (no leader
/// in time, a client got no answer; the trace so far is still checked), or a rule
/// was not decided.
#[derive(Args, Debug)]
pub struct RecordArgs {
    /// The directory for the trace files (must not hold a trace already).
    dir: PathBuf,
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Client operations per phase (each of two clients does this many).
    #[arg(long, default_value_t = 3)]
    ops: usize,
    /// Kill the leader (SIGKILL) after the first phase, and restart it later.
    #[arg(long)]
    kill_leader: bool,
    /// Cut the leader from every other server, then heal.
    #[arg(long)]
    partition_leader: bool,
    /// Kill a follower (SIGKILL) and restart it.
    #[arg(long)]
    kill_follower: bool,
    /// Probability that a node drops a datagram it sends.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = crate::probability)]
    drop: f64,
    /// Probability that a node sends a datagram twice.
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = crate::probability)]
    duplicate: f64,
    /// Probability that a node holds a datagram back (up to 30 ms).
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = crate::probability)]
    delay: f64,
    /// Keep the cluster running this long after the last phase (e.g. 500ms), so
    /// that the trace shows an idle cluster's heartbeats and timers too.
    #[arg(long, default_value = "0s", value_parser = parse_duration_or_zero)]
    linger: Duration,
    /// (A small --snapshot-interval with --kill-follower makes the follower catch
    /// up by InstallSnapshot.)
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Port of node 1 (node i uses BASE+i-1) [default: a free run of ports]
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Test only: break every node's host in this way (see `raftlab node`).
    #[arg(long, hide = true, value_name = "NAME", value_parser = clap::value_parser!(HostFault))]
    host_fault: Option<HostFault>,
}

pub fn main(args: &RecordArgs) -> i32 {
    if args.nodes == 0 || args.nodes > 9 {
        return crate::usage_error("--nodes: give 1 to 9");
    }
    let holds_trace = std::fs::read_dir(&args.dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
    });
    if holds_trace {
        return crate::usage_error(&format!(
            "{} already holds trace files: give an empty or new directory",
            args.dir.display()
        ));
    }
    let data = std::env::temp_dir().join(format!(
        "raftlab-record-{}-{}",
        std::process::id(),
        fastrand_suffix()
    ));
    let outcome = record(args, &data);
    let _ = std::fs::remove_dir_all(&data);
    if let Err(e) = &outcome {
        eprintln!("error: the scenario did not complete: {e}");
    }
    match super::check_and_print(&args.dir, args.json, false, args.json) {
        0 if outcome.is_err() => 3,
        code => code,
    }
}

fn fastrand_suffix() -> u64 {
    raft_impl::node::nonce()
}

/// The scenario's cluster: the nodes, and where the clients record (one file
/// for every client of this process).
struct Cluster {
    nodes: LocalCluster,
    trace: Arc<ClientTrace>,
}

/// How long the scenario waits for a leader or a node to catch up.
const WAIT: Duration = Duration::from_secs(15);

impl Cluster {
    /// Two clients at once: each appends `ops` values to key x; then one reads x.
    fn phase(&self, name: &str, ops: usize) -> Result<(), String> {
        let handles: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|who| {
                let link = self.nodes.link.clone();
                let trace = self.trace.clone();
                let ops: Vec<Op> = (0..ops)
                    .map(|i| Op::Append {
                        key: "x".into(),
                        value: format!("{who}{name}{i},").into(),
                    })
                    .collect();
                std::thread::spawn(move || {
                    client::run_ops_traced(&link, ops, Duration::from_secs(15), Some(&trace))
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| "a client thread panicked".to_string())?
                .map_err(|e: ClientError| format!("phase {name}: {e}"))?;
        }
        client::run_ops_traced(
            &self.nodes.link,
            vec![Op::Get { key: "x".into() }],
            Duration::from_secs(15),
            Some(&self.trace),
        )
        .map_err(|e| format!("phase {name}: {e}"))?;
        Ok(())
    }
}

fn record(args: &RecordArgs, data: &Path) -> Result<(), String> {
    let n = args.nodes;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raftlab itself: {e}"))?;
    let base = match args.base_port {
        Some(b) => b,
        None => free_base_port(n).map_err(|e| e.to_string())?,
    };
    let mut extra: Vec<String> = vec![
        "--quiet".into(),
        "--trace".into(),
        args.dir.display().to_string(),
    ];
    for (flag, p) in [
        ("--drop", args.drop),
        ("--duplicate", args.duplicate),
        ("--delay", args.delay),
    ] {
        if p > 0.0 {
            extra.extend([flag.to_string(), p.to_string()]);
        }
    }
    if args.delay > 0.0 {
        extra.extend(["--delay-ms".to_string(), "30".to_string()]);
    }
    if let Some(f) = args.host_fault {
        extra.extend(["--host-fault".to_string(), f.to_string()]);
    }
    extra.extend(args.snapshots.node_args());
    let nodes = LocalCluster::spawn(&exe, n, base, data, &extra)
        .map_err(|e| format!("cannot start the nodes: {e}"))?;
    let trace = ClientTrace::create(&args.dir)
        .map_err(|e| format!("cannot create the clients' trace file: {e}"))?;
    let mut c = Cluster {
        nodes,
        trace: Arc::new(trace),
    };
    let result = scenario(args, &mut c);
    // A clean stop, so that every node's trace ends with a stop record.
    c.nodes.stop(Duration::from_secs(3));
    result
}

fn scenario(args: &RecordArgs, c: &mut Cluster) -> Result<(), String> {
    let n = args.nodes;
    let all: Vec<usize> = (0..n).collect();
    let (mut leader, mut term) = c.nodes.wait_leader(&all, 0, WAIT)?;
    c.phase("1", args.ops)?;
    if args.kill_leader {
        c.nodes.procs[leader].kill9();
        let rest: Vec<usize> = all.iter().copied().filter(|i| *i != leader).collect();
        let old = leader;
        (leader, term) = c.nodes.wait_leader(&rest, term, WAIT)?;
        c.phase("2", args.ops)?;
        c.nodes.procs[old]
            .start()
            .map_err(|e| format!("cannot restart {}: {e}", c.nodes.procs[old].name()))?;
        c.nodes.wait_caught_up(old, leader, WAIT)?;
        c.phase("3", args.ops)?;
    }
    if args.partition_leader {
        let others: std::collections::BTreeSet<u64> = all
            .iter()
            .filter(|i| **i != leader)
            .map(|i| *i as u64)
            .collect();
        let cut = FaultPatch {
            partition: Some(others),
            ..FaultPatch::default()
        };
        c.nodes
            .link
            .set_faults(leader, cut, Duration::from_secs(3))?;
        let rest: Vec<usize> = all.iter().copied().filter(|i| *i != leader).collect();
        let old = leader;
        (_, term) = c.nodes.wait_leader(&rest, term, WAIT)?;
        c.phase("4", args.ops)?;
        let heal = FaultPatch {
            partition: Some(Default::default()),
            ..FaultPatch::default()
        };
        c.nodes.link.set_faults(old, heal, Duration::from_secs(3))?;
        (leader, term) = c.nodes.wait_leader(&all, term.saturating_sub(1), WAIT)?;
        c.nodes.wait_caught_up(old, leader, WAIT)?;
        c.phase("5", args.ops)?;
    }
    if args.kill_follower {
        let f = (leader + 1) % n;
        // Kill it idle, not in the middle of a save: a crash while saving may leave
        // the old storage or the new one, and the check must accept either.
        std::thread::sleep(Duration::from_millis(200));
        c.nodes.procs[f].kill9();
        c.phase("6", args.ops)?;
        c.nodes.procs[f]
            .start()
            .map_err(|e| format!("cannot restart {}: {e}", c.nodes.procs[f].name()))?;
        // The restarted follower catches up while the clients work; no wait for it,
        // so that a host that breaks it (a test-only fault) still ends in time.
        c.phase("7", args.ops)?;
    }
    let _ = term;
    std::thread::sleep(args.linger);
    Ok(())
}

/// A duration as for the other commands (`500ms`, `2s`), or zero.
fn parse_duration_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim() == "0" {
        return Ok(Duration::ZERO);
    }
    crate::parse_duration(s)
}

//! `raftlab cluster`: N local nodes as separate processes, with the leader shown as
//! it changes.

use clap::Args;
use raft_impl::client::{self, DEFAULT_BASE_PORT, DEFAULT_NODES};
use raft_impl::local::LocalCluster;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Start a local cluster: N `raftlab node` processes on 127.0.0.1.
///
/// Node i (1-based) listens on 127.0.0.1:BASE+i-1 and keeps its state in DIR/node-i,
/// its log in DIR/node-i/node.log. The cluster id is chosen at the first start and
/// kept in DIR/cluster-id (and each node's directory): datagrams of another
/// cluster on the same ports are ignored. The cluster prints who is leader as it
/// changes.
/// It restarts nothing by itself: a node you kill stays down (restart it with the
/// `raftlab node` command line printed at start). Ctrl-C stops all nodes cleanly.
/// Running it again on the same DIR restarts the nodes from their saved state.
#[derive(Args, Debug)]
pub struct ClusterArgs {
    /// Number of nodes.
    #[arg(long, default_value_t = DEFAULT_NODES)]
    nodes: usize,
    /// Directory for the nodes' data (DIR/node-1, DIR/node-2, ...).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Port of node 1; node i uses BASE+i-1.
    #[arg(long, default_value_t = DEFAULT_BASE_PORT, value_name = "BASE")]
    base_port: u16,
    /// Record every node's steps in DIR/node-I.jsonl (run clients with
    /// `raftlab client --trace DIR` too); check with `raftlab trace check DIR`.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// The cluster's shared secret (see `raftlab node --help`); clients then need
    /// `--secret-file` too.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
}

pub fn main(args: &ClusterArgs) -> i32 {
    let n = args.nodes;
    if n == 0 || n > raft_model::server_set::MAX_SERVERS {
        return crate::usage_error(&format!(
            "--nodes {n}: give 1 to {}",
            raft_model::server_set::MAX_SERVERS
        ));
    }
    if args.base_port as usize + n > 65_536 {
        return crate::usage_error("--base-port is too high for that many nodes");
    }
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot find the raftlab executable to start nodes with: {e}");
            return 1;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("warning: cannot catch Ctrl-C ({e}); nodes may be left running");
    }
    let mut extra: Vec<String> = match &args.trace {
        Some(t) => vec!["--trace".into(), t.display().to_string()],
        None => Vec::new(),
    };
    extra.extend(args.snapshots.node_args());
    let cluster = LocalCluster::spawn_with_secret(
        &exe,
        n,
        args.base_port,
        &args.data,
        &extra,
        args.secret_file.as_deref(),
    );
    let mut nodes = match cluster {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot start the nodes: {e}");
            return 1;
        }
    };
    let addrs = nodes.addrs.clone();
    let link = nodes.link.clone();
    let procs = &mut nodes.procs;
    let peers: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    println!(
        "raftlab cluster: {n} nodes, cluster id {}, data in {}",
        raft_impl::cluster_id::text(link.cluster),
        args.data.display()
    );
    for p in procs.iter() {
        println!(
            "  {}  {}  pid {}  log {}",
            p.name(),
            p.addr,
            p.pid().map_or("-".into(), |p| p.to_string()),
            p.log_path().display()
        );
    }
    let mut trace_arg = match &args.trace {
        Some(t) => format!(" --trace {}", t.display()),
        None => String::new(),
    };
    let secret_arg = match &args.secret_file {
        Some(f) => format!(" --secret-file {}", f.display()),
        None => String::new(),
    };
    if args.snapshots.snapshot_interval != raft_impl::node::DEFAULT_SNAPSHOT_INTERVAL {
        trace_arg += &format!(" {}", args.snapshots.node_args().join(" "));
    }
    println!(
        "restart a node by hand with: {} node --id I --peers {} --data {}/node-I{trace_arg}{secret_arg}",
        exe.display(),
        peers.join(","),
        args.data.display()
    );
    if let Some(t) = &args.trace {
        println!(
            "recording the nodes' traces in {0}. Record every client too (raftlab client \
             --trace {0} ...): a delivery from a client that left no trace cannot be shown \
             to have been sent, and `raftlab trace check {0}` reports it",
            t.display()
        );
    }
    if args.secret_file.is_some() {
        println!("try: raftlab client{secret_arg} put x 1; raftlab client{secret_arg} status");
    } else {
        println!("try: raftlab client put x 1; raftlab client get x; raftlab client status");
    }
    println!("Ctrl-C stops all nodes.");

    let start = Instant::now();
    let mut shown: Option<Option<(usize, u64)>> = None;
    let mut exited = vec![false; n];
    while !stop.load(Ordering::Relaxed) {
        for (i, p) in procs.iter_mut().enumerate() {
            if exited[i] {
                continue;
            }
            if let Some(status) = p.try_wait() {
                exited[i] = true;
                println!(
                    "[{:7.2}s] {} exited ({status}); last lines of {}:\n{}",
                    start.elapsed().as_secs_f64(),
                    p.name(),
                    p.log_path().display(),
                    indent(&p.log_tail(5))
                );
            }
        }
        if exited.iter().all(|e| *e) {
            eprintln!("error: every node has exited; see their logs above");
            return 1;
        }
        let statuses = link
            .status_all(Duration::from_millis(150))
            .unwrap_or_default();
        let leader = client::leader_of(&statuses);
        if shown != Some(leader) {
            let t = start.elapsed().as_secs_f64();
            match leader {
                Some((i, term)) => println!(
                    "[{t:7.2}s] leader: {} (term {term})",
                    raft_model::name::server(raft_model::Id::from(i))
                ),
                None => println!("[{t:7.2}s] no leader"),
            }
            shown = Some(leader);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let running = procs
        .iter_mut()
        .map(|p| p.is_running())
        .filter(|r| *r)
        .count();
    println!("stopping {running} running node(s)...");
    stop_all(procs);
    println!("all nodes stopped (nodes restarted by hand are not ours to stop)");
    0
}

fn stop_all(procs: &mut [raft_impl::local::NodeProc]) {
    for p in procs.iter_mut() {
        p.terminate(Duration::from_secs(3));
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}\n"))
        .collect::<String>()
        .trim_end()
        .to_string()
}

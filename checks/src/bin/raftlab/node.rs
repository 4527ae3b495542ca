//! `raftlab node`: one Raft server as a real UDP process.

use clap::Args;
use raft_impl::faults::{FaultPatch, Faults};
use raft_impl::host_fault::HostFault;
use raft_impl::node::{self, NodeConfig};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Run one Raft node: the model's server actor over UDP, with durable storage.
///
/// Node N (1-based, so S1 is node 1, as in the model's names) listens on the N-th
/// address of --peers and keeps its persistent state in --data. Stop it with Ctrl-C
/// or SIGTERM; kill -9 is a crash it recovers from. Role and term changes go to stderr.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// This node's id, 1-based: node 1 is S1 and listens on the first --peers address.
    #[arg(long)]
    id: usize,
    /// Every server's address, in id order (S1 first), comma-separated; the same list
    /// on every node.
    #[arg(
        long,
        value_delimiter = ',',
        required = true,
        value_name = "ADDR,ADDR,..."
    )]
    peers: Vec<SocketAddr>,
    /// Directory of this node's persistent state (created if missing; a missing state
    /// file means a fresh node).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    #[command(flatten)]
    faults: FaultArgs,
    /// Do not print role and term changes.
    #[arg(long, short)]
    quiet: bool,
    /// Record every step in DIR/node-ID.jsonl (continued across restarts); check it
    /// with `raftlab trace check DIR`.
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    /// The cluster's id (16 hex digits). Kept in --data on the first start; a
    /// later start with another id is refused [default: the kept one, or for a
    /// fresh directory one derived from --peers, which every node started by hand
    /// with the same --peers agrees on]
    #[arg(long, value_name = "HEX", value_parser = crate::cluster_id)]
    cluster_id: Option<u64>,
    /// A file whose bytes (16 at least) are the cluster's shared secret: every
    /// datagram in and out is tagged with an HMAC-SHA256 of it, and control
    /// requests are taken from any address that has it. Without one, control
    /// requests are taken from this machine only.
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// Test only: break the host on purpose (send-before-save, restart-empty,
    /// restart-older-save, flip-message, fire-cancelled-timer), to show that
    /// `raftlab trace check` notices.
    #[arg(long, hide = true, value_name = "NAME", value_parser = clap::value_parser!(HostFault))]
    host_fault: Option<HostFault>,
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
}

/// Fault injection settings, for `node` at start and `client fault` while running.
#[derive(Args, Debug, Clone)]
pub struct FaultArgs {
    /// Probability (0 to 1) that the node drops a datagram it sends.
    #[arg(long, value_name = "P", value_parser = crate::probability)]
    pub drop: Option<f64>,
    /// Probability (0 to 1) that the node sends a datagram twice.
    #[arg(long, value_name = "P", value_parser = crate::probability)]
    pub duplicate: Option<f64>,
    /// Probability (0 to 1) that the node holds a datagram back (see --delay-ms).
    #[arg(long, value_name = "P", value_parser = crate::probability)]
    pub delay: Option<f64>,
    /// Longest hold-back for --delay, in milliseconds, at most 10000 [default: 100].
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(0..=raft_impl::faults::MAX_DELAY_MS))]
    pub delay_ms: Option<u64>,
    /// Cut this node from these servers (1-based ids, comma-separated): it neither
    /// sends to them nor accepts their messages. Clients still reach it.
    #[arg(long, value_delimiter = ',', value_name = "ID,ID,...")]
    pub partition: Option<Vec<usize>>,
}

impl FaultArgs {
    /// The settings given, as a patch; ids checked against a cluster of `servers`.
    pub fn patch(&self, servers: usize) -> Result<FaultPatch, String> {
        let partition = match &self.partition {
            None => None,
            Some(ids) => Some(to_indices(ids, servers, "--partition")?),
        };
        Ok(FaultPatch {
            drop: self.drop,
            duplicate: self.duplicate,
            delay: self.delay,
            delay_max_ms: self.delay_ms,
            partition,
        })
    }
}

/// 1-based ids as 0-based indices, refusing ids outside `1..=servers`.
pub fn to_indices(ids: &[usize], servers: usize, flag: &str) -> Result<BTreeSet<u64>, String> {
    ids.iter()
        .map(|&i| {
            if (1..=servers).contains(&i) {
                Ok(i as u64 - 1)
            } else {
                Err(format!(
                    "{flag} {i}: server ids run from 1 to {servers} (S1 is 1)"
                ))
            }
        })
        .collect()
}

pub fn main(args: &NodeArgs) -> i32 {
    let n = args.peers.len();
    if args.id == 0 || args.id > n {
        return crate::usage_error(&format!(
            "--id {} is not among the {n} --peers: ids are 1-based and run from 1 to {n}",
            args.id
        ));
    }
    let me = raft_model::name::server(raft_model::Id::from(args.id - 1));
    let mut faults = Faults::none();
    if let Err(e) = args.faults.patch(n).and_then(|p| faults.apply(&p)) {
        return crate::usage_error(&e);
    }
    let secret = match crate::secret_from(args.secret_file.as_deref()) {
        Ok(s) => s,
        Err(e) => return crate::usage_error(&e),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("warning: cannot catch Ctrl-C/SIGTERM ({e}); stopping will be abrupt");
    }
    let cfg = NodeConfig {
        index: args.id - 1,
        peers: args.peers.clone(),
        data_dir: args.data.clone(),
        faults,
        verbose: !args.quiet,
        trace: args.trace.clone(),
        host_fault: args.host_fault,
        cluster_id: args.cluster_id,
        secret,
        snapshot_interval: args.snapshots.snapshot_interval,
    };
    let mut node = match node::Node::start(cfg) {
        Ok(node) => node,
        Err(node::NodeError::Config(m)) => return crate::usage_error(&m),
        Err(e) => {
            eprintln!("error: {me}: {e}");
            return 1;
        }
    };
    if let Some(f) = args.host_fault {
        eprintln!("{me}: test-only host fault on: {f}");
    }
    if !args.quiet {
        let st = node.status(0);
        eprintln!(
            "{me}: listening on {} with {} peers, cluster {}{}; faults: {}",
            args.peers[args.id - 1],
            n - 1,
            raft_impl::cluster_id::text(st.cluster_id),
            if args.secret_file.is_some() {
                ", every datagram tagged with the secret"
            } else {
                ""
            },
            st.faults
        );
    }
    match node.run(&stop) {
        Ok(()) => {
            if !args.quiet {
                eprintln!("{me}: stopped");
            }
            0
        }
        Err(e) => {
            eprintln!("error: {me}: {e}");
            1
        }
    }
}

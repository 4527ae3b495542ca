//! `raftlab client`: key/value operations, node status and fault control.

use crate::node::{to_indices, FaultArgs};
use clap::{Args, Subcommand};
use raft_impl::client::{self, ClientError};
use raft_impl::faults::FaultPatch;
use raft_impl::link::Link;
use raft_impl::trace::ClientTrace;
use raft_impl::wire::NodeStatus;
use raft_model::{name, Id, Op, OpResult, Role};
use std::time::Duration;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Talk to a running cluster: put, append, get, status, fault.
///
/// With no --cluster, talks to the addresses `raftlab cluster` uses by default
/// (127.0.0.1:7000, :7001, :7002). Writes and reads go through the Raft log
/// (linearizable); the client follows leader hints and retries with the same
/// sequence number, so a write is applied once.
///
/// Exit codes: 0 done; 1 the key is absent (get); 2 bad usage; 3 no answer in time
/// (no leader with a majority, or the nodes are not running).
#[derive(Args, Debug)]
pub struct ClientArgs {
    #[command(flatten)]
    link: crate::LinkArgs,
    /// Give up after this long, e.g. 500ms, 10s.
    #[arg(long, global = true, default_value = "10s", value_parser = crate::parse_duration)]
    timeout: Duration,
    /// Record the client's steps in DIR/clients-RANDOM.jsonl (put, append, get),
    /// for `raftlab trace check DIR`.
    #[arg(long, global = true, value_name = "DIR")]
    trace: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Subcommand, Debug)]
enum ClientCommand {
    /// Set KEY to VALUE.
    Put { key: String, value: String },
    /// Append VALUE to KEY's value (an absent key counts as empty).
    Append { key: String, value: String },
    /// Print KEY's value (exit code 1 if the key is absent).
    Get { key: String },
    /// Each node's role, term, log length, commit index and dropped datagrams. A node
    /// that does not answer is listed as unreachable.
    Status {
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Change a running node's fault injection, e.g. `fault --node 1 --partition 2,3`
    /// to cut S1 from S2 and S3, then `fault --node 1 --heal`.
    Fault(FaultCmd),
}

#[derive(Args, Debug)]
struct FaultCmd {
    /// The node to change (1-based id).
    #[arg(long)]
    node: usize,
    #[command(flatten)]
    faults: FaultArgs,
    /// Remove the node's partition.
    #[arg(long, conflicts_with = "partition")]
    heal: bool,
    /// Remove every fault from the node (drop, duplicate, delay, partition).
    #[arg(long)]
    clear: bool,
}

pub fn main(args: &ClientArgs) -> i32 {
    let op = match &args.command {
        ClientCommand::Put { key, value } => Op::Put {
            key: key.as_str().into(),
            value: value.as_str().into(),
        },
        ClientCommand::Append { key, value } => Op::Append {
            key: key.as_str().into(),
            value: value.as_str().into(),
        },
        ClientCommand::Get { key } => Op::Get {
            key: key.as_str().into(),
        },
        ClientCommand::Status { json } => return status(args, *json),
        ClientCommand::Fault(f) => return fault(args, f),
    };
    if let Err(e) = args.link.secret() {
        return crate::usage_error(&e);
    }
    let link = match args.link.link(args.timeout.min(Duration::from_secs(3))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    let trace = match args.trace.as_deref().map(ClientTrace::create).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot create a trace file in --trace: {e}");
            return 2;
        }
    };
    match client::run_ops_traced(&link, vec![op], args.timeout, trace.as_ref()) {
        Ok(done) => {
            let Some(c) = done.first() else {
                eprintln!("error: the operation completed without a result");
                return 3;
            };
            eprintln!(
                "answered by {} in {:.1} ms",
                name::server(Id::from(c.server)),
                c.latency.as_secs_f64() * 1000.0
            );
            match &c.result {
                OpResult::Done => {
                    println!("ok");
                    0
                }
                OpResult::Value(Some(v)) => {
                    println!("{v}");
                    0
                }
                OpResult::Value(None) => {
                    eprintln!("the key is absent");
                    1
                }
            }
        }
        Err(ClientError::Usage(m)) => crate::usage_error(&m),
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}

#[derive(Tabled)]
struct StatusRow {
    node: String,
    address: String,
    role: String,
    term: String,
    log: String,
    commit: String,
    #[tabled(rename = "leader hint")]
    leader: String,
    dropped: String,
    faults: String,
}

fn role_name(r: Role) -> &'static str {
    match r {
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

fn dropped_summary(s: &NodeStatus) -> String {
    let d = &s.dropped;
    if d.total() == 0 {
        return "0".into();
    }
    let mut parts: Vec<String> = [
        ("oversize", d.oversize),
        ("malformed", d.malformed),
        ("foreign", d.foreign),
        ("partitioned", d.partitioned),
        ("other cluster", d.other_cluster),
        ("unauthenticated", d.unauthenticated),
    ]
    .iter()
    .filter(|(_, v)| *v > 0)
    .map(|(k, v)| format!("{k} {v}"))
    .collect();
    parts.extend(d.refused.iter().map(|(k, v)| format!("refused: {k} {v}")));
    format!("{} ({})", d.total(), parts.join(", "))
}

fn status(args: &ClientArgs, json: bool) -> i32 {
    let wait = args.timeout.min(Duration::from_millis(1500));
    let secret = match args.link.secret() {
        Ok(s) => s,
        Err(e) => return crate::usage_error(&e),
    };
    // Status is answered whatever cluster a request names: ask with the id given,
    // or as a stranger, and show each node's own.
    let cluster = args.link.cluster_id.unwrap_or(raft_impl::wire::ANY_CLUSTER);
    let probe = Link::new(args.link.cluster.clone(), cluster, secret);
    let answers = match probe.status_all(wait) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot open a socket: {e}");
            return 3;
        }
    };
    if json {
        let rows: Vec<serde_json::Value> = args
            .link
            .cluster
            .iter()
            .zip(&answers)
            .enumerate()
            .map(|(i, (addr, s))| match s {
                Some(s) => serde_json::json!({
                    "id": i + 1,
                    "addr": addr.to_string(),
                    "role": role_name(s.role),
                    "term": s.term,
                    "log_len": s.log_len,
                    "snapshot_index": s.snapshot_index,
                    "commit_index": s.commit_index,
                    "leader_hint": s.leader_hint.map(|l| l + 1),
                    "dropped": s.dropped,
                    "unsent": s.unsent,
                    "faults": s.faults,
                    "saves": s.saves,
                    "cluster_id": raft_impl::cluster_id::text(s.cluster_id),
                }),
                None => serde_json::json!({
                    "id": i + 1,
                    "addr": addr.to_string(),
                    "role": "unreachable",
                    "term": null,
                    "log_len": null,
                    "commit_index": null,
                    "dropped": null,
                }),
            })
            .collect();
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => print_out(&s),
            Err(e) => eprintln!("error: cannot encode JSON: {e}"),
        }
    } else {
        let rows: Vec<StatusRow> = args
            .link
            .cluster
            .iter()
            .zip(&answers)
            .enumerate()
            .map(|(i, (addr, s))| {
                let node = name::server(Id::from(i));
                let address = addr.to_string();
                match s {
                    Some(s) => StatusRow {
                        node,
                        address,
                        role: role_name(s.role).into(),
                        term: s.term.to_string(),
                        log: s.log_len.to_string(),
                        commit: s.commit_index.to_string(),
                        leader: s
                            .leader_hint
                            .map_or("-".into(), |l| name::server(Id::from(l as usize))),
                        dropped: dropped_summary(s),
                        faults: s.faults.to_string(),
                    },
                    None => StatusRow {
                        node,
                        address,
                        role: "unreachable".into(),
                        term: "-".into(),
                        log: "-".into(),
                        commit: "-".into(),
                        leader: "-".into(),
                        dropped: "-".into(),
                        faults: "-".into(),
                    },
                }
            })
            .collect();
        print_out(&Table::new(rows).with(Style::sharp()).to_string());
    }
    if answers.iter().all(Option::is_none) {
        eprintln!(
            "error: no node answered within {:.1} s: is the cluster running (`raftlab cluster`), \
             and does --cluster list its addresses?",
            wait.as_secs_f64()
        );
        return 3;
    }
    0
}

/// Prints a line on stdout; a closed pipe (`| head`) is not worth a panic.
fn print_out(s: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{s}");
}

fn fault(args: &ClientArgs, f: &FaultCmd) -> i32 {
    let n = args.link.cluster.len();
    let index = match to_indices(&[f.node], n, "--node") {
        Ok(set) => set.into_iter().next().unwrap_or(0) as usize,
        Err(e) => return crate::usage_error(&e),
    };
    let mut patch = match f.faults.patch(n) {
        Ok(p) => p,
        Err(e) => return crate::usage_error(&e),
    };
    if f.clear {
        patch = FaultPatch {
            drop: Some(0.0),
            duplicate: Some(0.0),
            delay: Some(0.0),
            partition: Some(Default::default()),
            ..patch
        };
    }
    if f.heal {
        patch.partition = Some(Default::default());
    }
    if patch == FaultPatch::default() {
        return crate::usage_error(
            "nothing to change: give --drop, --duplicate, --delay, --delay-ms, --partition, \
             --heal or --clear",
        );
    }
    let link = match args.link.link(args.timeout.min(Duration::from_secs(3))) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e}");
            return 3;
        }
    };
    match link.set_faults(index, patch, args.timeout.min(Duration::from_secs(3))) {
        Ok(now) => {
            println!("{}: faults now: {now}", name::server(Id::from(index)));
            0
        }
        Err(e) => {
            eprintln!("error: {}: {e}", name::server(Id::from(index)));
            3
        }
    }
}

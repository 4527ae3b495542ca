//! `raftlab chaos`: a local cluster under a workload of concurrent clients and a
//! fault schedule, then healed, read back and judged by `trace check`.

use clap::Args;
use judge::{judge, watch_leaders};
use pictures::redraw;
use raft_impl::local::{free_base_port, LocalCluster};
use raft_impl::nemesis::{Fault, Nemesis};
use raft_impl::trace::ClientTrace;
use raft_impl::workload::{self, WorkloadOptions};
use report::{print_report, ChaosReport};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run a workload on a local cluster under a fault schedule, and judge the run.
///
/// Starts N nodes (data in DIR/nodes, traces in DIR/trace), runs --clients
/// concurrent clients in this process (sessions of puts, appends and gets over
/// --keys keys, closed loop or --rate operations per second) for --duration,
/// while a nemesis strikes: a quiet spell of --quiet, then one fault from
/// --faults for --fault-length, again and again (kill -9 a node, restarted at
/// the window's end; restart one cleanly; cut one off; loss, duplication or
/// delay on every node; a node that restarts gets its faults back). The --seed
/// fixes the choices. Then everything is healed, the cluster settles, every key
/// is read back, the nodes stop, and `trace check` judges the whole run: every
/// step against the model, every invariant, and linearizability of every
/// operation, so an acknowledged write that was lost shows as a history that is
/// not linearizable. Writes DIR/latency.svg, DIR/throughput.svg, DIR/history.json
/// and DIR/report.json.
///
/// Exit codes: 0 every rule holds (nothing acknowledged was lost); 1 a rule is
/// broken; 2 bad usage; 3 nothing broken but not proved (the linearizability
/// search was undecided, or the cluster did not settle or answer the read-back).
#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Directory of the run (must not hold one already): nodes/, trace/, pictures.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Port of node 1 (node i uses BASE+i-1) [default: a free run of ports]
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Keys the clients use.
    #[arg(long, default_value_t = 16)]
    keys: usize,
    /// How long the workload runs, e.g. 60s, 10m.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    duration: Duration,
    /// Operations per second in all [default: closed loop]
    #[arg(long)]
    rate: Option<f64>,
    /// Faults to choose from: kill, restart, partition, loss[:P], dup[:P],
    /// delay[:MS] (comma-separated; none: no faults).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "kill,restart,partition,loss:0.1,dup:0.05,delay:50"
    )]
    faults: Vec<Fault>,
    /// Quiet spell before each fault.
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    quiet: Duration,
    /// How long each fault lasts.
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    fault_length: Duration,
    /// Seed of the fault choices and the operations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// A client gives up on an operation unanswered this long.
    #[arg(long, default_value = "2s", value_parser = crate::parse_duration)]
    op_timeout: Duration,
    /// The cluster's shared secret (see `raftlab node --help`).
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
    /// Draw the pictures of the run in --data again (from its history.json and
    /// report.json), and do nothing else.
    #[arg(long)]
    redraw: bool,
}

mod judge;
mod pictures;
mod report;

pub fn main(args: &ChaosArgs) -> i32 {
    if args.nodes == 0 || args.nodes > 9 || args.clients == 0 || args.keys == 0 {
        return crate::usage_error("--nodes 1 to 9; --clients and --keys at least 1");
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return crate::usage_error("--rate must be a positive number of operations per second");
    }
    let trace_dir = args.data.join("trace");
    if args.redraw {
        return match redraw(&args.data) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                2
            }
        };
    }
    if trace_dir.exists() || args.data.join("nodes").exists() {
        return crate::usage_error(&format!(
            "{} already holds a run: give a new directory",
            args.data.display()
        ));
    }
    match run(args, &trace_dir) {
        Ok(report) => {
            print_report(&report, args.json);
            exit_code(&report)
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn exit_code(r: &ChaosReport) -> i32 {
    match (r.trace_check_ok, r.trace_check_decided) {
        (false, _) => 1,
        (true, true) if r.settled.is_ok() && r.read_back.is_ok() => 0,
        _ => 3,
    }
}

fn run(args: &ChaosArgs, trace_dir: &Path) -> Result<ChaosReport, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raftlab itself: {e}"))?;
    let base = match args.base_port {
        Some(b) => b,
        None => free_base_port(args.nodes).map_err(|e| e.to_string())?,
    };
    let mut extra = vec![
        "--quiet".to_string(),
        "--trace".into(),
        trace_dir.display().to_string(),
    ];
    extra.extend(args.snapshots.node_args());
    let mut c = LocalCluster::spawn_with_secret(
        &exe,
        args.nodes,
        base,
        &args.data.join("nodes"),
        &extra,
        args.secret_file.as_deref(),
    )
    .map_err(|e| format!("cannot start the nodes: {e}"))?;
    let all: Vec<usize> = (0..args.nodes).collect();
    c.wait_leader(&all, 0, Duration::from_secs(20))?;
    let trace = Arc::new(
        ClientTrace::create(trace_dir).map_err(|e| format!("cannot create a trace file: {e}"))?,
    );
    eprintln!(
        "chaos: {} nodes on 127.0.0.1:{base}.., {} clients, {:.0} s, faults {:?}, seed {}",
        args.nodes,
        args.clients,
        args.duration.as_secs_f64(),
        args.faults.iter().map(Fault::name).collect::<Vec<_>>(),
        args.seed
    );
    let t0 = Instant::now();
    let until = t0 + args.duration;
    let o = WorkloadOptions {
        clients: args.clients,
        keys: args.keys,
        ops_per_session: 100,
        op_timeout: args.op_timeout,
        rate: args.rate,
        seed: args.seed,
    };
    let link = c.link.clone();
    let wl_trace = trace.clone();
    let clients = std::thread::spawn(move || workload::run(&link, &o, Some(wl_trace), t0, until));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let link = c.link.clone();
        let done = done.clone();
        std::thread::spawn(move || watch_leaders(&link, &done, t0, until))
    };
    let mut nemesis = Nemesis::new(
        args.faults.clone(),
        args.quiet,
        args.fault_length,
        args.seed,
        args.nodes,
    );
    nemesis.run(&mut c, t0, until);
    let ops = clients.join().map_err(|_| "a client thread panicked")?;
    done.store(true, Ordering::Relaxed);
    let leader_changes = watcher.join().unwrap_or(0);
    eprintln!("chaos: {} operations; healing and settling", ops.len());
    nemesis.heal_all(&mut c);
    let settled = c.settle(Duration::from_secs(30)).map(drop);
    let read_back = workload::read_back(&c.link, args.keys, Some(&trace), Duration::from_secs(30))
        .map(|v| v.len());
    c.stop(Duration::from_secs(5));
    drop(trace);
    judge(
        args,
        trace_dir,
        ops,
        nemesis.windows,
        leader_changes,
        settled,
        read_back,
    )
}

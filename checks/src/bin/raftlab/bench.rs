//! `raftlab bench cluster`: throughput, latency and fail-over time of a real local
//! cluster (separate node processes, loopback UDP, fsync on every save).

use clap::{Args, Subcommand};
use raft_impl::client::{self, ClientError, Completed};
use raft_impl::local::{free_base_port, LocalCluster};
use raft_model::Op;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Measure a real local cluster (see `raftlab bench cluster --help`).
#[derive(Subcommand, Debug)]
#[command(
    about = "Measure real local clusters (throughput, latency, fail-over time) and the timely engine"
)]
pub enum BenchCommand {
    /// Benchmark a local cluster: committed writes per second and latency
    /// percentiles, then leader fail-over time over repeated kill -9 of the leader.
    ///
    /// Starts its own nodes (separate processes on free loopback ports, data in a
    /// temporary directory unless --data is given), with fsync on every save.
    Cluster(BenchClusterArgs),
    /// The timely engine's check with several layouts (processes x workers) side
    /// by side: time, unique states/s, peak RSS of every process, RSS bytes per
    /// state and bytes exchanged between processes per state.
    Timely(crate::bench_timely::BenchTimelyArgs),
}

#[derive(Args, Debug)]
pub struct BenchClusterArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Writes per throughput run.
    #[arg(long, default_value_t = 2000)]
    writes: usize,
    /// Concurrent clients of each throughput run, comma-separated (one run each).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    clients: Vec<usize>,
    /// Leader kills (kill -9) for the fail-over measurement; 0 skips it.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// Keep the nodes' data here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Record traces of the nodes and the clients in DIR (to measure what recording
    /// costs: compare with a run without it; check with `raftlab trace check DIR`).
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
}

pub fn main(cmd: &BenchCommand) -> i32 {
    match cmd {
        BenchCommand::Timely(args) => match crate::bench_timely::main(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
        BenchCommand::Cluster(args) => match bench_cluster(args) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
    }
}

#[derive(Tabled)]
struct ThroughputRow {
    clients: usize,
    writes: usize,
    #[tabled(rename = "seconds")]
    secs: String,
    #[tabled(rename = "writes/s")]
    rate: String,
    #[tabled(rename = "p50 ms")]
    p50: String,
    #[tabled(rename = "p90 ms")]
    p90: String,
    #[tabled(rename = "p99 ms")]
    p99: String,
    #[tabled(rename = "max ms")]
    max: String,
}

#[derive(Tabled)]
struct FailoverRow {
    measure: &'static str,
    kills: usize,
    #[tabled(rename = "median ms")]
    median: String,
    #[tabled(rename = "worst ms")]
    worst: String,
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The benchmark's cluster: the nodes, and where the clients record (if they do).
struct Cluster {
    nodes: LocalCluster,
    trace: Option<PathBuf>,
}

impl Cluster {
    fn run_ops(&self, ops: Vec<Op>, timeout: Duration) -> Result<Vec<Completed>, ClientError> {
        client::run_ops_traced(&self.nodes.addrs, ops, timeout, self.trace.as_deref())
    }
}

fn puts(prefix: &str, count: usize) -> Vec<Op> {
    (0..count)
        .map(|i| Op::Put {
            key: format!("{prefix}-{i}").into(),
            value: format!("value-{i:08}").into(),
        })
        .collect()
}

fn bench_cluster(args: &BenchClusterArgs) -> Result<(), String> {
    let n = args.nodes;
    if n == 0 || args.clients.contains(&0) {
        return Err("--nodes and every --clients count must be at least 1".into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raftlab itself: {e}"))?;
    let base = free_base_port(n).map_err(|e| e.to_string())?;
    let (dir, temporary) = match &args.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("raftlab-bench-{}", std::process::id())),
            true,
        ),
    };
    let mut extra = vec!["--quiet".to_string()];
    if let Some(t) = &args.trace {
        extra.extend(["--trace".to_string(), t.display().to_string()]);
    }
    let nodes = LocalCluster::spawn(&exe, n, base, &dir, &extra)
        .map_err(|e| format!("cannot start the nodes: {e}"))?;
    let mut cluster = Cluster {
        nodes,
        trace: args.trace.clone(),
    };
    let result = run(&mut cluster, args);
    drop(cluster);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run(cluster: &mut Cluster, args: &BenchClusterArgs) -> Result<(), String> {
    let n = args.nodes;
    println!(
        "raftlab bench cluster: {n} node processes on 127.0.0.1, UDP, fsync on every save \
         (temp file + fsync + rename + directory fsync), election timeout 300-600 ms, \
         heartbeat 50 ms, {}",
        match &cluster.trace {
            Some(t) => format!("recording traces in {}", t.display()),
            None => "no trace".to_string(),
        }
    );
    cluster.nodes.settle(Duration::from_secs(15))?;
    cluster
        .run_ops(puts("warmup", 50), Duration::from_secs(30))
        .map_err(|e| format!("warm-up failed: {e}"))?;

    let mut rows = Vec::new();
    for &c in &args.clients {
        let per = (args.writes / c).max(1);
        let start = Instant::now();
        let handles: Vec<_> = (0..c)
            .map(|k| {
                let addrs = cluster.nodes.addrs.clone();
                let trace = cluster.trace.clone();
                let ops = puts(&format!("bench-{c}-{k}"), per);
                std::thread::spawn(move || {
                    client::run_ops_traced(&addrs, ops, Duration::from_secs(120), trace.as_deref())
                })
            })
            .collect();
        let mut lat: Vec<Duration> = Vec::new();
        for h in handles {
            let done: Vec<Completed> = h
                .join()
                .map_err(|_| "a client thread panicked".to_string())?
                .map_err(|e| format!("throughput run with {c} client(s): {e}"))?;
            lat.extend(done.iter().map(|d| d.latency));
        }
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        rows.push(ThroughputRow {
            clients: c,
            writes: lat.len(),
            secs: format!("{secs:.2}"),
            rate: format!("{:.0}", lat.len() as f64 / secs),
            p50: ms(quantile(&lat, 0.50)),
            p90: ms(quantile(&lat, 0.90)),
            p99: ms(quantile(&lat, 0.99)),
            max: ms(lat.last().copied().unwrap_or_default()),
        });
    }
    println!("\nCommitted writes (each answered by the leader once committed and applied)");
    println!("{}", Table::new(rows).with(Style::sharp()));

    if args.kills == 0 {
        return Ok(());
    }
    let mut elected = Vec::new();
    let mut writable = Vec::new();
    for k in 0..args.kills {
        let (leader, term) = cluster.nodes.settle(Duration::from_secs(20))?;
        let t0 = Instant::now();
        cluster.nodes.procs[leader].kill9();
        let addrs = cluster.nodes.addrs.clone();
        let trace = cluster.trace.clone();
        let writer = std::thread::spawn(move || {
            let r = client::run_ops_traced(
                &addrs,
                puts(&format!("failover-{k}"), 1),
                Duration::from_secs(20),
                trace.as_deref(),
            );
            (r, t0.elapsed())
        });
        let live: Vec<SocketAddr> = (0..n)
            .filter(|i| *i != leader)
            .map(|i| cluster.nodes.addrs[i])
            .collect();
        let deadline = t0 + Duration::from_secs(20);
        loop {
            let st = client::status_all(&live, Duration::from_millis(100)).unwrap_or_default();
            if client::leader_of(&st).is_some_and(|(_, t)| t > term) {
                elected.push(t0.elapsed());
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("kill {}: no new leader within 20 s", k + 1));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (r, took) = writer
            .join()
            .map_err(|_| "the writer thread panicked".to_string())?;
        r.map_err(|e| format!("kill {}: write after fail-over: {e}", k + 1))?;
        writable.push(took);
        cluster.nodes.procs[leader]
            .start()
            .map_err(|e| format!("cannot restart S{}: {e}", leader + 1))?;
        eprint!("\rkill {}/{}", k + 1, args.kills);
    }
    eprintln!();
    elected.sort();
    writable.sort();
    let rows = vec![
        FailoverRow {
            measure: "kill -9 leader -> new leader elected",
            kills: elected.len(),
            median: ms(quantile(&elected, 0.5)),
            worst: ms(elected.last().copied().unwrap_or_default()),
        },
        FailoverRow {
            measure: "kill -9 leader -> a new write committed",
            kills: writable.len(),
            median: ms(quantile(&writable, 0.5)),
            worst: ms(writable.last().copied().unwrap_or_default()),
        },
    ];
    println!("\nLeader fail-over (the killed node is restarted and caught up between kills)");
    println!("{}", Table::new(rows).with(Style::sharp()));
    Ok(())
}

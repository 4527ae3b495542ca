//! `raftlab bench cluster`: throughput, latency, data-directory size, restart time
//! and fail-over time of real local clusters (separate node processes, loopback
//! UDP, group commit with one fdatasync of the log per batch).

use clap::Args;
use raft_impl::client::{self, Completed};
use raft_impl::link::Link;
use raft_impl::local::{free_base_port, LocalCluster};
use raft_impl::trace::ClientTrace;
use raft_impl::wire::NodeStatus;
use raft_model::Op;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmark local clusters: committed writes per second and latency
/// percentiles after a given number of writes, the data directories' size, how
/// long a restarted follower takes to answer and to catch up, then leader
/// fail-over time over repeated kill -9 of the leader.
///
/// Each (writes, clients) pair is a run on a fresh cluster (separate processes
/// on free loopback ports, data in a temporary directory unless --data is
/// given): it first fills the log with writes from 64 clients (or more), then
/// measures the last --probe writes with the given number of clients, so that
/// runs with the same --probe compare throughput at different log lengths.
/// Progress goes to stderr; exit 1 if a run fails.
#[derive(Args, Debug)]
pub struct BenchClusterArgs {
    /// Nodes in the cluster.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Writes per run, comma-separated: each is a run (per --clients count) that
    /// ends with that many writes committed.
    #[arg(long, value_delimiter = ',', default_value = "2000")]
    writes: Vec<usize>,
    /// Concurrent clients of the measured writes, comma-separated (one run each).
    #[arg(long, value_delimiter = ',', default_value = "1,8")]
    clients: Vec<usize>,
    /// Writes measured at the end of each run (at most the run's writes); the ones
    /// before them fill the log.
    #[arg(long, default_value_t = 10_000)]
    probe: usize,
    /// Leader kills (kill -9) for the fail-over measurement; 0 skips it.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// Keep the nodes' data here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Port of node 1 (node i uses BASE+i-1) [default: a free run of ports, for
    /// each run]
    #[arg(long, value_name = "BASE")]
    base_port: Option<u16>,
    /// Record traces of the nodes and the clients in DIR/RUN (to measure what
    /// recording costs: compare with a run without it; check each with
    /// `raftlab trace check DIR/RUN`).
    #[arg(long, value_name = "DIR")]
    trace: Option<PathBuf>,
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
    /// Write to this many distinct keys in all, each write overwriting one (the
    /// store then stays this large); without it every write is to a new key.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    keys: Option<u64>,
    /// Print one JSON object (the runs and the fail-over figures) instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn main(args: &BenchClusterArgs) -> i32 {
    match bench_cluster(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// One run: a fresh cluster filled with writes, then the measured ones.
#[derive(Serialize)]
struct RunReport {
    clients: usize,
    /// Writes committed before the measured ones (warm-up and fill).
    writes_before: usize,
    /// Writes measured.
    writes: usize,
    seconds: f64,
    writes_per_s: f64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// The fill's rate (64 clients or more), if there was a fill.
    fill_writes_per_s: Option<f64>,
    /// CPU time (user + system) the node processes spent per 1,000 measured
    /// writes, all nodes together: what a write costs the servers, whatever the
    /// machine's other load does to the rate.
    node_cpu_ms_per_1000_writes: Option<f64>,
    /// Bytes in each node's data directory at the end of the run.
    data_dir_bytes: Vec<u64>,
    /// Log entries on the leader at the end of the run.
    log_entries: u64,
    /// A follower killed (-9) at the end of the run and started again: until it
    /// answers a status request (storage recovered, socket bound), and until it
    /// is a follower holding the leader's log and commit index.
    restart_answers_ms: f64,
    restart_caught_up_ms: f64,
}

#[derive(Serialize)]
struct FailoverReport {
    kills: usize,
    elected_median_ms: f64,
    elected_worst_ms: f64,
    writable_median_ms: f64,
    writable_worst_ms: f64,
}

#[derive(Serialize)]
struct Report {
    nodes: usize,
    probe: usize,
    runs: Vec<RunReport>,
    failover: Option<FailoverReport>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// The `q` quantile of sorted `v` (nearest rank).
fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// `count` puts, each to a new key named after `prefix`, or with `keys` to one
/// of `keys` shared keys.
fn puts(prefix: &str, count: usize, keys: Option<u64>) -> Vec<Op> {
    (0..count)
        .map(|i| Op::Put {
            key: match keys {
                Some(m) => format!("key-{}", fastrand::u64(0..m)).into(),
                None => format!("{prefix}-{i}").into(),
            },
            value: format!("value-{i:08}").into(),
        })
        .collect()
}

/// Where the benchmark keeps its clusters' data, and whether to delete it.
struct Place {
    dir: PathBuf,
    temporary: bool,
    trace: Option<PathBuf>,
    exe: PathBuf,
}

fn bench_cluster(args: &BenchClusterArgs) -> Result<(), String> {
    if args.nodes == 0 || args.clients.contains(&0) || args.writes.contains(&0) {
        return Err("--nodes and every --clients and --writes count must be at least 1".into());
    }
    if args.probe == 0 {
        return Err("--probe must be at least 1".into());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raftlab itself: {e}"))?;
    let place = match &args.data {
        Some(d) => Place {
            dir: d.clone(),
            temporary: false,
            trace: args.trace.clone(),
            exe,
        },
        None => Place {
            dir: std::env::temp_dir().join(format!("raftlab-bench-{}", std::process::id())),
            temporary: true,
            trace: args.trace.clone(),
            exe,
        },
    };
    if !args.json {
        println!(
            "raftlab bench cluster: {} node processes on 127.0.0.1, UDP, fsync on: each batch \
             of steps appends one frame to the log and fdatasyncs it before its messages \
             leave; election timeout 300-600 ms, heartbeat 50 ms, {}",
            args.nodes,
            match &args.trace {
                Some(t) => format!("recording traces in {}/RUN", t.display()),
                None => "no trace".to_string(),
            }
        );
    }
    let result = runs(args, &place);
    if place.temporary {
        let _ = std::fs::remove_dir_all(&place.dir);
    }
    let report = result?;
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        println!("{text}");
    } else {
        print_tables(&report);
    }
    Ok(())
}

fn runs(args: &BenchClusterArgs, place: &Place) -> Result<Report, String> {
    let mut reports = Vec::new();
    for &w in &args.writes {
        for &c in &args.clients {
            eprintln!(
                "run: {w} writes, the last {} by {c} client(s)",
                args.probe.min(w)
            );
            reports.push(one_run(args, place, w, c)?);
        }
    }
    let failover = if args.kills == 0 {
        None
    } else {
        let mut cluster = start(args, place, "failover")?;
        Some(failover(&mut cluster, args)?)
    };
    Ok(Report {
        nodes: args.nodes,
        probe: args.probe,
        runs: reports,
        failover,
    })
}

/// A fresh, settled, warmed-up cluster for the run named `name`.
fn start(args: &BenchClusterArgs, place: &Place, name: &str) -> Result<Cluster, String> {
    let base = match args.base_port {
        Some(b) => b,
        None => free_base_port(args.nodes).map_err(|e| e.to_string())?,
    };
    let mut extra = vec!["--quiet".to_string()];
    extra.extend(args.snapshots.node_args());
    let trace = place.trace.as_ref().map(|t| t.join(name));
    if let Some(t) = &trace {
        extra.extend(["--trace".to_string(), t.display().to_string()]);
    }
    let dir = place.dir.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut nodes = LocalCluster::spawn(&place.exe, args.nodes, base, &dir, &extra)
        .map_err(|e| format!("cannot start the nodes: {e}"))?;
    nodes.settle(Duration::from_secs(15))?;
    let trace = match &trace {
        Some(t) => Some(Arc::new(
            ClientTrace::create(t).map_err(|e| format!("cannot create a client trace: {e}"))?,
        )),
        None => None,
    };
    let cluster = Cluster {
        nodes,
        trace,
        dir,
        keys: args.keys,
    };
    cluster.writes(50, 1, "warmup")?;
    Ok(cluster)
}

/// The benchmark's cluster: the nodes, where they keep their data, and where the
/// clients record (if they do).
struct Cluster {
    nodes: LocalCluster,
    trace: Option<Arc<ClientTrace>>,
    dir: PathBuf,
    keys: Option<u64>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.nodes.stop(Duration::from_secs(2));
    }
}

impl Cluster {
    /// CPU milliseconds the node processes have used so far.
    fn node_cpu(&self) -> Option<f64> {
        let mut total = 0.0;
        for p in &self.nodes.procs {
            total += p.cpu_time()?.as_secs_f64() * 1000.0;
        }
        Some(total)
    }

    /// `total` writes by `clients` concurrent clients: their latencies (sorted) and
    /// the seconds they took.
    fn writes(
        &self,
        total: usize,
        clients: usize,
        prefix: &str,
    ) -> Result<(Vec<Duration>, f64), String> {
        let per = total.div_ceil(clients);
        let start = Instant::now();
        let handles: Vec<_> = (0..clients)
            .map(|k| {
                let link = self.nodes.link.clone();
                let trace = self.trace.clone();
                let n = per.min(total.saturating_sub(k * per));
                let ops = puts(&format!("{prefix}-{k}"), n, self.keys);
                std::thread::spawn(move || {
                    client::run_ops_traced(&link, ops, Duration::from_secs(300), trace.as_deref())
                })
            })
            .collect();
        let mut lat = Vec::with_capacity(total);
        for h in handles {
            let done: Vec<Completed> = h
                .join()
                .map_err(|_| "a client thread panicked".to_string())?
                .map_err(|e| format!("{prefix} with {clients} client(s): {e}"))?;
            lat.extend(done.iter().map(|d| d.latency));
        }
        lat.sort();
        Ok((lat, start.elapsed().as_secs_f64()))
    }
}

fn one_run(
    args: &BenchClusterArgs,
    place: &Place,
    w: usize,
    c: usize,
) -> Result<RunReport, String> {
    let mut cluster = start(args, place, &format!("w{w}-c{c}"))?;
    let probe = args.probe.min(w);
    let fill = w - probe;
    let fill_writes_per_s = if fill > 0 {
        let (lat, secs) = cluster.writes(fill, c.max(64), "fill")?;
        // Measure from a settled cluster: every follower has caught up.
        cluster.nodes.settle(Duration::from_secs(60))?;
        Some((lat.len() as f64 / secs).round())
    } else {
        None
    };
    let cpu_before = cluster.node_cpu();
    let (lat, secs) = cluster.writes(probe, c, "bench")?;
    let node_cpu_ms_per_1000_writes = match (cpu_before, cluster.node_cpu()) {
        (Some(a), Some(b)) => {
            Some(((b - a) * 1000.0 / lat.len().max(1) as f64 * 10.0).round() / 10.0)
        }
        _ => None,
    };
    let (leader, _) = cluster.nodes.settle(Duration::from_secs(20))?;
    let log_entries = status_of(&cluster.nodes.link, leader).map_or(0, |s| s.log_len);
    let data_dir_bytes = (0..args.nodes)
        .map(|i| dir_bytes(&cluster.dir.join(format!("node-{}", i + 1))))
        .collect();
    let (answers, caught_up) = restart_follower(&mut cluster, leader)?;
    Ok(RunReport {
        clients: c,
        writes_before: 50 + fill,
        writes: lat.len(),
        seconds: (secs * 100.0).round() / 100.0,
        writes_per_s: (lat.len() as f64 / secs).round(),
        p50_ms: ms(quantile(&lat, 0.50)),
        p90_ms: ms(quantile(&lat, 0.90)),
        p99_ms: ms(quantile(&lat, 0.99)),
        max_ms: ms(lat.last().copied().unwrap_or_default()),
        fill_writes_per_s,
        node_cpu_ms_per_1000_writes,
        data_dir_bytes,
        log_entries,
        restart_answers_ms: ms(answers),
        restart_caught_up_ms: ms(caught_up),
    })
}

/// Node `i`'s status, if it answers at once.
fn status_of(link: &Link, i: usize) -> Option<NodeStatus> {
    let one = Link::new(vec![*link.addrs.get(i)?], link.cluster, link.secret.clone());
    one.status_all(Duration::from_millis(50))
        .ok()?
        .pop()
        .flatten()
}

/// Bytes of the files in `dir` (the node's own log of stderr excluded).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != "node.log")
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

mod faults;
mod tables;

use faults::{failover, restart_follower};
use tables::print_tables;

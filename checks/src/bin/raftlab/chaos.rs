//! `raftlab chaos`: a local cluster under a workload of concurrent clients and a
//! fault schedule, then healed, read back and judged by `trace check`.

use clap::Args;
use raft_checks::properties::LINEARIZABILITY;
use raft_checks::render::chaos_svg;
use raft_checks::trace::check::{check_with, CheckOptions, Report};
use raft_checks::trace::load::load;
use raft_checks::trace::merge::merge;
use raft_impl::local::{free_base_port, LocalCluster};
use raft_impl::nemesis::{Fault, Nemesis, Window};
use raft_impl::trace::ClientTrace;
use raft_impl::workload::{self, OpRecord, Outcome, WorkloadOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tabled::settings::Style;
use tabled::{Table, Tabled};

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

#[derive(Serialize)]
struct Counts {
    attempted: usize,
    acknowledged: usize,
    failed: usize,
    indeterminate: usize,
}

#[derive(Serialize, Tabled)]
struct WindowRow {
    #[tabled(rename = "window")]
    what: String,
    #[tabled(rename = "from s")]
    from_s: String,
    #[tabled(rename = "to s")]
    to_s: String,
    #[tabled(rename = "ops started")]
    started: usize,
    answered: usize,
    #[tabled(rename = "availability")]
    availability: String,
    #[tabled(rename = "answered/s")]
    rate: String,
}

#[derive(Serialize)]
struct ChaosReport {
    dir: String,
    nodes: usize,
    clients: usize,
    duration_s: f64,
    seed: u64,
    operations: Counts,
    /// By the linearizability check of the whole history: `Some(0)` if it is
    /// linearizable, `None` if it is not (an acknowledged operation's effect is
    /// missing or wrong), or undecided.
    acknowledged_writes_lost: Option<u64>,
    lost_detail: String,
    leader_changes: usize,
    windows: Vec<WindowRow>,
    fault_windows: Vec<Window>,
    settled: Result<(), String>,
    read_back: Result<usize, String>,
    trace_files: usize,
    trace_bytes: u64,
    trace_steps: usize,
    trace_check_seconds: f64,
    trace_check_ok: bool,
    trace_check_decided: bool,
    latency_svg: String,
    throughput_svg: String,
    trace_report: Report,
}

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

/// Counts leader changes (a leader of a new term seen) until `done`.
fn watch_leaders(
    link: &raft_impl::link::Link,
    done: &AtomicBool,
    _t0: Instant,
    until: Instant,
) -> usize {
    let mut last: Option<(usize, u64)> = None;
    let mut changes = 0;
    while !done.load(Ordering::Relaxed) && Instant::now() < until + Duration::from_secs(1) {
        let st = link
            .status_all(Duration::from_millis(150))
            .unwrap_or_default();
        if let Some(l) = raft_impl::link::leader_of(&st) {
            if last.is_some_and(|p| p.1 < l.1) {
                changes += 1;
            }
            if last.is_none_or(|p| p.1 < l.1) {
                last = Some(l);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    changes
}

#[allow(clippy::too_many_arguments)]
fn judge(
    args: &ChaosArgs,
    trace_dir: &Path,
    ops: Vec<OpRecord>,
    windows: Vec<Window>,
    leader_changes: usize,
    settled: Result<(), String>,
    read_back: Result<usize, String>,
) -> Result<ChaosReport, String> {
    let duration_s = args.duration.as_secs_f64();
    let (files, bytes) = dir_size(trace_dir);
    eprintln!(
        "chaos: checking the trace ({files} files, {:.1} MB)",
        bytes as f64 / 1e6
    );
    let started = Instant::now();
    let run = load(trace_dir).map_err(|e| e.to_string())?;
    let merged = merge(&run);
    let mut last = Instant::now();
    let mut progress = |done: usize, total: usize| {
        if last.elapsed() >= Duration::from_secs(2) {
            last = Instant::now();
            eprintln!(
                "trace check: {:.0}% ({done} of {total} events, {:.0} s)",
                100.0 * done as f64 / total.max(1) as f64,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let report = check_with(&run, &merged, CheckOptions::default(), Some(&mut progress));
    let check_s = started.elapsed().as_secs_f64();
    let title = format!(
        "raftlab chaos: {} nodes, {} clients, seed {}",
        args.nodes, args.clients, args.seed
    );
    let (latency_path, throughput_path) = draw(&args.data, &ops, &windows, duration_s, &title)?;
    write(
        &args.data.join("history.json"),
        serde_json::to_string(&ops).map_err(|e| e.to_string())?,
    )?;
    let lin = report.rules.iter().find(|r| r.rule == LINEARIZABILITY);
    let (lost, lost_detail) = match lin {
        Some(r) if r.failures > 0 => (
            None,
            r.first
                .as_ref()
                .map_or(String::new(), |f| format!("{}: {}", f.expected, f.recorded)),
        ),
        Some(r) if r.undecided => (None, format!("undecided: {}", r.note)),
        Some(r) => (Some(0), format!("linearizable ({})", r.note)),
        None => (None, "no linearizability rule".into()),
    };
    let count = |o: Outcome| ops.iter().filter(|x| x.outcome == o).count();
    let r = ChaosReport {
        dir: args.data.display().to_string(),
        nodes: args.nodes,
        clients: args.clients,
        duration_s,
        seed: args.seed,
        operations: Counts {
            attempted: ops.len(),
            acknowledged: count(Outcome::Ok),
            failed: count(Outcome::Fail),
            indeterminate: count(Outcome::Info),
        },
        acknowledged_writes_lost: lost,
        lost_detail,
        leader_changes,
        windows: window_rows(&ops, &windows, duration_s),
        fault_windows: windows.clone(),
        settled,
        read_back,
        trace_files: files,
        trace_bytes: bytes,
        trace_steps: report.steps,
        trace_check_seconds: check_s,
        trace_check_ok: report.ok,
        trace_check_decided: report.decided,
        latency_svg: latency_path.display().to_string(),
        throughput_svg: throughput_path.display().to_string(),
        trace_report: report,
    };
    write(
        &args.data.join("report.json"),
        serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?,
    )?;
    Ok(r)
}

fn write(p: &Path, text: String) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// Writes DIR/latency.svg and DIR/throughput.svg; their paths.
fn draw(
    dir: &Path,
    ops: &[OpRecord],
    windows: &[Window],
    duration_s: f64,
    title: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let latency_path = dir.join("latency.svg");
    let throughput_path = dir.join("throughput.svg");
    write(
        &latency_path,
        chaos_svg::latency(ops, windows, duration_s, &format!("{title}: latency")),
    )?;
    write(
        &throughput_path,
        chaos_svg::throughput(ops, windows, duration_s, &format!("{title}: throughput")),
    )?;
    Ok((latency_path, throughput_path))
}

/// The pictures of the run in `dir`, drawn again from what it wrote.
fn redraw(dir: &Path) -> Result<(), String> {
    let read = |name: &str| -> Result<serde_json::Value, String> {
        let p = dir.join(name);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let ops: Vec<OpRecord> =
        serde_json::from_value(read("history.json")?).map_err(|e| format!("history.json: {e}"))?;
    let r = read("report.json")?;
    let windows: Vec<Window> = match r.get("fault_windows") {
        Some(w) => serde_json::from_value(w.clone()).map_err(|e| format!("report.json: {e}"))?,
        // Reports written before fault_windows: from the table's rows.
        None => r["windows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|w| {
                        let what = w["what"].as_str()?;
                        let (fault, node) = match what.rsplit_once(" S") {
                            Some((f, n)) if n.parse::<usize>().is_ok() => (f, n.parse().ok()),
                            _ => (what, None),
                        };
                        Some(Window {
                            fault: fault.to_string(),
                            node,
                            start_s: w["from_s"].as_str()?.parse().ok()?,
                            end_s: w["to_s"].as_str()?.parse().ok()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let title = format!(
        "raftlab chaos: {} nodes, {} clients, seed {}",
        r["nodes"], r["clients"], r["seed"]
    );
    let duration = r["duration_s"].as_f64().unwrap_or(1.0);
    let (a, b) = draw(dir, &ops, &windows, duration, &title)?;
    println!("{}\n{}", a.display(), b.display());
    Ok(())
}

/// Availability in each fault window and in the quiet time between them.
fn window_rows(ops: &[OpRecord], windows: &[Window], duration_s: f64) -> Vec<WindowRow> {
    let row = |what: String, from: f64, to: f64, inside: &dyn Fn(f64) -> bool| {
        let started: Vec<&OpRecord> = ops.iter().filter(|o| inside(o.start_s)).collect();
        let answered = started.iter().filter(|o| o.outcome == Outcome::Ok).count();
        let span = (to - from).max(1e-9);
        WindowRow {
            what,
            from_s: format!("{from:.1}"),
            to_s: format!("{to:.1}"),
            started: started.len(),
            answered,
            availability: if started.is_empty() {
                "-".into()
            } else {
                format!("{:.1}%", 100.0 * answered as f64 / started.len() as f64)
            },
            rate: format!("{:.0}", answered as f64 / span),
        }
    };
    let mut rows: Vec<WindowRow> = windows
        .iter()
        .map(|w| {
            row(w.to_string(), w.start_s, w.end_s, &|t| {
                t >= w.start_s && t < w.end_s
            })
        })
        .collect();
    let quiet = |t: f64| !windows.iter().any(|w| t >= w.start_s && t < w.end_s);
    let faulty: f64 = windows.iter().map(|w| w.end_s - w.start_s).sum();
    let mut q = row("no fault".into(), 0.0, duration_s, &quiet);
    q.rate = format!("{:.0}", q.answered as f64 / (duration_s - faulty).max(1e-9));
    q.from_s = "-".into();
    q.to_s = "-".into();
    rows.push(q);
    rows
}

fn dir_size(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
        })
        .unwrap_or((0, 0))
}

fn print_report(r: &ChaosReport, json: bool) {
    if json {
        match serde_json::to_string_pretty(r) {
            Ok(s) => crate::trace::print_out(&s),
            Err(e) => eprintln!("error: {e}"),
        }
        return;
    }
    let o = &r.operations;
    let mut s = format!(
        "raftlab chaos {}: {} nodes, {} clients, {:.0} s, seed {}\n\
         operations: {} attempted, {} acknowledged, {} failed (reads not answered), {} \
         indeterminate (writes not answered)\n\
         acknowledged writes lost: {} ({})\n\
         leader changes: {}\n",
        r.dir,
        r.nodes,
        r.clients,
        r.duration_s,
        r.seed,
        o.attempted,
        o.acknowledged,
        o.failed,
        o.indeterminate,
        r.acknowledged_writes_lost
            .map_or("not shown to be none".to_string(), |n| n.to_string()),
        r.lost_detail,
        r.leader_changes,
    );
    s.push_str(&Table::new(&r.windows).with(Style::sharp()).to_string());
    s.push_str(&format!(
        "\nsettled after healing: {}; read back: {}\n\
         trace: {} files, {:.1} MB, {} steps; trace check took {:.1} s\n\
         pictures: {}\n          {}\n",
        match &r.settled {
            Ok(()) => "yes".to_string(),
            Err(e) => format!("NO ({e})"),
        },
        match &r.read_back {
            Ok(n) => format!("{n} keys"),
            Err(e) => format!("FAILED ({e})"),
        },
        r.trace_files,
        r.trace_bytes as f64 / 1e6,
        r.trace_steps,
        r.trace_check_seconds,
        r.latency_svg,
        r.throughput_svg
    ));
    s.push_str(&crate::trace::render(&r.trace_report));
    crate::trace::print_out(&s);
}

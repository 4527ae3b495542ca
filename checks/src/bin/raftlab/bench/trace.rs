//! `raftlab bench trace`: how fast `trace check` judges runs of growing length,
//! on runs simulated in this process (the model's handlers behind a simulated
//! host, recorded with the real recorder: see `raft_checks::trace::synth`).

use clap::Args;
use raft_checks::trace::check::{check_streamed, check_with, CheckOptions};
use raft_checks::trace::load::load;
use raft_checks::trace::merge::merge;
use raft_checks::trace::synth::{synthesize, SynthOptions};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Args, Debug)]
pub struct BenchTraceArgs {
    /// Run lengths (handler calls), comma-separated; one run each.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    steps: Vec<usize>,
    /// Clients working at once.
    #[arg(long, default_value_t = 3)]
    clients: usize,
    /// A client's pause between two operations, simulated (longer: a log that
    /// grows more slowly per step).
    #[arg(long, default_value = "5ms", value_parser = crate::parse_duration)]
    think: Duration,
    /// Also judge runs up to this many steps with the registry's functions on whole
    /// states (the reference), side by side.
    #[arg(long, default_value_t = 100_000)]
    full_up_to: usize,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep each simulated run in DIR/STEPS (to check or draw it again).
    #[arg(long, value_name = "DIR")]
    keep: Option<std::path::PathBuf>,
    /// The simulated servers snapshot as nodes do (`raftlab node --help`).
    #[command(flatten)]
    snapshots: crate::args::SnapshotArgs,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Row {
    steps: usize,
    operations: usize,
    kills: usize,
    log_len: usize,
    trace_bytes: u64,
    simulate_s: f64,
    load_s: f64,
    /// The merge alone, on one thread (`trace check` merges while it checks:
    /// `check_s` includes it).
    merge_s: f64,
    /// Merge and check as `trace check` runs them (at once, on two threads).
    check_s: f64,
    /// Steps per second of merge + check.
    steps_per_s: f64,
    /// Steps per second of load + merge + check.
    steps_per_s_with_load: f64,
    full_check_s: Option<f64>,
    verdict: &'static str,
}

#[derive(Tabled)]
struct Line {
    steps: usize,
    #[tabled(rename = "log")]
    log_len: usize,
    #[tabled(rename = "trace MB")]
    mb: String,
    #[tabled(rename = "load s")]
    load: String,
    #[tabled(rename = "merge+check s")]
    check: String,
    #[tabled(rename = "steps/s")]
    rate: String,
    #[tabled(rename = "steps/s with load")]
    rate_load: String,
    #[tabled(rename = "whole-state judge s")]
    full: String,
    verdict: &'static str,
}

pub fn main(args: &BenchTraceArgs) -> i32 {
    let mut rows = Vec::new();
    for &n in &args.steps {
        match bench_one(args, n) {
            Ok(r) => rows.push(r),
            Err(e) => {
                eprintln!("error: {n} steps: {e}");
                return 1;
            }
        }
    }
    if args.json {
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        println!(
            "raftlab bench trace: simulated 3-server runs, {} clients, 2% loss, 2% duplication, \
             a server killed every 3 s (simulated); files loaded on every core, merged on one thread while checked on another",
            args.clients
        );
        let lines: Vec<Line> = rows
            .iter()
            .map(|r| Line {
                steps: r.steps,
                log_len: r.log_len,
                mb: format!("{:.1}", r.trace_bytes as f64 / 1e6),
                load: format!("{:.2}", r.load_s),
                check: format!("{:.2}", r.check_s),
                rate: format!("{:.0}", r.steps_per_s),
                rate_load: format!("{:.0}", r.steps_per_s_with_load),
                full: r.full_check_s.map_or("-".into(), |s| {
                    format!("{s:.2} ({:.1}x)", s / r.check_s.max(1e-9))
                }),
                verdict: r.verdict,
            })
            .collect();
        println!("{}", Table::new(lines).with(Style::sharp()));
    }
    if rows.iter().all(|r| r.verdict == "ok") {
        0
    } else {
        1
    }
}

fn bench_one(args: &BenchTraceArgs, steps: usize) -> Result<Row, String> {
    let tmp = match &args.keep {
        Some(d) => d.join(steps.to_string()),
        None => std::env::temp_dir().join(format!(
            "raftlab-bench-trace-{}-{steps}",
            std::process::id()
        )),
    };
    let _ = std::fs::remove_dir_all(&tmp);
    let o = SynthOptions {
        clients: args.clients,
        steps,
        seed: args.seed,
        drop: 0.02,
        duplicate: 0.02,
        kill_every: Some(Duration::from_secs(3)),
        keys: 16,
        think: args.think,
        snapshot_interval: args.snapshots.snapshot_interval,
        ..SynthOptions::default()
    };
    let t = Instant::now();
    let s = synthesize(&tmp, &o).map_err(|e| e.to_string())?;
    let simulate_s = t.elapsed().as_secs_f64();
    let bytes = dir_bytes(&tmp);
    let t = Instant::now();
    let run = load(&tmp).map_err(|e| e.to_string())?;
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = check_streamed(&run, CheckOptions::default(), None);
    let check_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let merged = merge(&run);
    let merge_s = t.elapsed().as_secs_f64();
    let full_check_s = (steps <= args.full_up_to).then(|| {
        let t = Instant::now();
        let full = check_with(&run, &merged, CheckOptions { full_judge: true }, None);
        let took = t.elapsed().as_secs_f64();
        if full.ok != report.ok {
            eprintln!("warning: the two judges disagree on {steps} steps");
        }
        took
    });
    if args.keep.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let verdict = match (report.ok, report.decided) {
        (true, true) => "ok",
        (true, false) => "undecided",
        _ => "FAILED",
    };
    Ok(Row {
        steps: report.steps,
        operations: s.operations,
        kills: s.kills,
        log_len: s.log_len,
        trace_bytes: bytes,
        simulate_s,
        load_s,
        merge_s,
        check_s,
        steps_per_s: report.steps as f64 / check_s.max(1e-9),
        steps_per_s_with_load: report.steps as f64 / (load_s + check_s).max(1e-9),
        full_check_s,
        verdict,
    })
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

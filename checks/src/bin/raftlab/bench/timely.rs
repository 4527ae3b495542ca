//! `raftlab bench timely`: the timely engine's check run with several layouts
//! (processes x workers) side by side on this machine: time, throughput, peak
//! RSS of every process, and bytes per state (memory and exchanged).

use crate::{parse_duration, BoundsArgs};
use clap::Args;
use raft_checks::bounds::{describe, flags};
use serde::Serialize;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Args, Debug)]
pub struct BenchTimelyArgs {
    #[command(flatten)]
    bounds: BoundsArgs,
    /// Layouts to run, as PROCESSESxWORKERS, comma-separated (one check each, one
    /// after the other, each a fresh set of processes).
    #[arg(long, value_delimiter = ',', default_value = "1x1,1x2,2x1")]
    layouts: Vec<String>,
    /// Turn symmetry reduction off.
    #[arg(long)]
    no_symmetry: bool,
    /// Give each check at most this long (e.g. 10m).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One layout's run.
#[derive(Serialize, Debug)]
struct Run {
    processes: usize,
    workers: usize,
    exhaustive: bool,
    unique_states: u64,
    elapsed_s: f64,
    unique_per_s: f64,
    /// CPU seconds of all processes (on a shared machine elapsed time also counts
    /// the waits for a core).
    cpu_s: f64,
    /// Peak RSS of each process.
    peak_rss_bytes: Vec<u64>,
    /// All processes' peak RSS over the unique states.
    rss_bytes_per_state: f64,
    /// Bytes sent between processes over the unique states.
    exchanged_bytes_per_state: f64,
    /// The largest process's share of the unique states.
    largest_share: f64,
}

#[derive(Tabled)]
struct Row {
    layout: String,
    #[tabled(rename = "unique states")]
    unique: u64,
    time: String,
    #[tabled(rename = "unique/s")]
    rate: String,
    #[tabled(rename = "CPU")]
    cpu: String,
    #[tabled(rename = "CPU µs/state")]
    cpu_per_state: String,
    #[tabled(rename = "peak RSS per process")]
    rss: String,
    #[tabled(rename = "RSS bytes/state")]
    rss_per_state: String,
    #[tabled(rename = "exchanged bytes/state")]
    exchanged: String,
    exhaustive: bool,
}

fn layout(s: &str) -> Result<(usize, usize), String> {
    let (p, w) = s
        .split_once('x')
        .ok_or_else(|| format!("--layouts: '{s}' is not PROCESSESxWORKERS (e.g. 2x1)"))?;
    let n = |v: &str| v.trim().parse::<usize>().ok().filter(|n| *n > 0);
    match (n(p), n(w)) {
        (Some(p), Some(w)) => Ok((p, w)),
        _ => Err(format!(
            "--layouts: '{s}' needs positive numbers (e.g. 2x1)"
        )),
    }
}

pub fn main(args: &BenchTimelyArgs) -> Result<(), String> {
    let bounds = args.bounds.bounds();
    bounds.validate()?;
    let layouts: Vec<(usize, usize)> = args
        .layouts
        .iter()
        .map(|s| layout(s))
        .collect::<Result<_, _>>()?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find raftlab: {e}"))?;
    let mut bound_args: Vec<String> = Vec::new();
    for (flag, value) in flags(&bounds) {
        bound_args.push(format!("--{flag}"));
        bound_args.extend(value);
    }
    if !args.json {
        println!("raftlab bench timely: {}", describe(&bounds));
    }
    let mut runs = Vec::new();
    for (processes, workers) in layouts {
        if !args.json {
            eprintln!("  running {processes} process(es) x {workers} worker(s) ...");
        }
        let mut cmd = Command::new(&exe);
        cmd.args(["check", "--engine", "timely", "--json", "-q"])
            .args(["--processes", &processes.to_string()])
            .args(["--workers", &workers.to_string()])
            .args(&bound_args);
        if args.no_symmetry {
            cmd.arg("--no-symmetry");
        }
        if let Some(t) = args.timeout {
            cmd.args(["--timeout", &format!("{}ms", t.as_millis())]);
        }
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run raftlab: {e}"))?;
        let report: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
            format!(
                "the {processes}x{workers} check printed no report: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
        runs.push(run(&report, processes, workers));
    }
    if args.json {
        let v = serde_json::json!({ "bounds": bounds, "runs": runs });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    let rows: Vec<Row> = runs.iter().map(row).collect();
    println!("{}", Table::new(rows).with(Style::sharp()));
    Ok(())
}

fn run(report: &Value, processes: usize, workers: usize) -> Run {
    let unique = report["unique_states"].as_u64().unwrap_or(0);
    let elapsed = report["elapsed_s"].as_f64().unwrap_or(0.0);
    let per: Vec<&Value> = report["per_process"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let rss: Vec<u64> = per
        .iter()
        .map(|p| p["peak_rss_bytes"].as_u64().unwrap_or(0))
        .collect();
    let exchanged: u64 = per.iter().filter_map(|p| p["bytes_sent"].as_u64()).sum();
    let cpu: f64 = per.iter().filter_map(|p| p["cpu_s"].as_f64()).sum();
    let largest = per
        .iter()
        .filter_map(|p| p["unique_states"].as_u64())
        .max()
        .unwrap_or(0);
    let per_state = |b: u64| b as f64 / unique.max(1) as f64;
    Run {
        processes,
        workers,
        exhaustive: report["exhaustive"].as_bool().unwrap_or(false),
        unique_states: unique,
        elapsed_s: elapsed,
        unique_per_s: unique as f64 / elapsed.max(1e-9),
        cpu_s: cpu,
        rss_bytes_per_state: per_state(rss.iter().sum()),
        peak_rss_bytes: rss,
        exchanged_bytes_per_state: per_state(exchanged),
        largest_share: largest as f64 / unique.max(1) as f64,
    }
}

fn row(r: &Run) -> Row {
    let mib = |b: &u64| format!("{:.0} MiB", *b as f64 / (1024.0 * 1024.0));
    Row {
        layout: format!("{} x {}", r.processes, r.workers),
        unique: r.unique_states,
        time: format!("{:.1} s", r.elapsed_s),
        rate: format!("{:.0}", r.unique_per_s),
        cpu: format!("{:.1} s", r.cpu_s),
        cpu_per_state: format!("{:.1}", r.cpu_s * 1e6 / r.unique_states.max(1) as f64),
        rss: r
            .peak_rss_bytes
            .iter()
            .map(mib)
            .collect::<Vec<_>>()
            .join(" + "),
        rss_per_state: format!("{:.0}", r.rss_bytes_per_state),
        exchanged: format!("{:.0}", r.exchanged_bytes_per_state),
        exhaustive: r.exhaustive,
    }
}

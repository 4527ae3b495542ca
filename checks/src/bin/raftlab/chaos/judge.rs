//! Judging a chaos run: leader changes seen while it ran, then the trace check,
//! the pictures and the report written beside the run.

use super::pictures::{draw, write};
use super::report::{dir_size, window_rows, ChaosReport, Counts};
use super::ChaosArgs;
use raft_checks::properties::LINEARIZABILITY;
use raft_checks::trace::check::{check_with, CheckOptions};
use raft_checks::trace::load::load;
use raft_checks::trace::merge::merge;
use raft_impl::nemesis::Window;
use raft_impl::workload::{OpRecord, Outcome};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Counts leader changes (a leader of a new term seen) until `done`.
pub(super) fn watch_leaders(
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
pub(super) fn judge(
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

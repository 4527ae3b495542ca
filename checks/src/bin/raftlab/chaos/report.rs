//! The chaos report: its rows, the availability per fault window, and how it prints.

use raft_checks::trace::check::Report;
use raft_impl::nemesis::Window;
use raft_impl::workload::{OpRecord, Outcome};
use serde::Serialize;
use std::path::Path;
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Serialize)]
pub(super) struct Counts {
    pub(super) attempted: usize,
    pub(super) acknowledged: usize,
    pub(super) failed: usize,
    pub(super) indeterminate: usize,
}

#[derive(Serialize, Tabled)]
pub(super) struct WindowRow {
    #[tabled(rename = "window")]
    pub(super) what: String,
    #[tabled(rename = "from s")]
    pub(super) from_s: String,
    #[tabled(rename = "to s")]
    pub(super) to_s: String,
    #[tabled(rename = "ops started")]
    pub(super) started: usize,
    pub(super) answered: usize,
    #[tabled(rename = "availability")]
    pub(super) availability: String,
    #[tabled(rename = "answered/s")]
    pub(super) rate: String,
}

#[derive(Serialize)]
pub(super) struct ChaosReport {
    pub(super) dir: String,
    pub(super) nodes: usize,
    pub(super) clients: usize,
    pub(super) duration_s: f64,
    pub(super) seed: u64,
    pub(super) operations: Counts,
    /// By the linearizability check of the whole history: `Some(0)` if it is
    /// linearizable, `None` if it is not (an acknowledged operation's effect is
    /// missing or wrong), or undecided.
    pub(super) acknowledged_writes_lost: Option<u64>,
    pub(super) lost_detail: String,
    pub(super) leader_changes: usize,
    pub(super) windows: Vec<WindowRow>,
    pub(super) fault_windows: Vec<Window>,
    pub(super) settled: Result<(), String>,
    pub(super) read_back: Result<usize, String>,
    pub(super) trace_files: usize,
    pub(super) trace_bytes: u64,
    pub(super) trace_steps: usize,
    pub(super) trace_check_seconds: f64,
    pub(super) trace_check_ok: bool,
    pub(super) trace_check_decided: bool,
    pub(super) latency_svg: String,
    pub(super) throughput_svg: String,
    pub(super) trace_report: Report,
}

pub(super) fn window_rows(ops: &[OpRecord], windows: &[Window], duration_s: f64) -> Vec<WindowRow> {
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

pub(super) fn dir_size(dir: &Path) -> (usize, u64) {
    std::fs::read_dir(dir)
        .map(|es| {
            es.filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .fold((0, 0), |(n, b), m| (n + 1, b + m.len()))
        })
        .unwrap_or((0, 0))
}

pub(super) fn print_report(r: &ChaosReport, json: bool) {
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

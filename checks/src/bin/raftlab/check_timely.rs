//! `raftlab check --engine timely`: the check on timely dataflow, on worker
//! threads here, on `--processes P` local processes, or on the machines of a
//! `--hostfile` (each started with its own `--process I`).

use crate::check::CheckArgs;
use crate::{parse_duration, usage_error};
use clap::Args;
use raft_checks::bounds::{describe, Bounds};
use raft_checks::checker::distributed::{self, Spread, CONNECT_TIMEOUT};
use raft_checks::checker::timely::cluster::{read_hostfile, Cluster};
use raft_checks::checker::timely::launch::{self, Local};
use raft_checks::checker::timely::{Layout, ProcessStats};
use raft_checks::checker::{Engine, Report, RunOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Exit code of a run that failed (a process died, could not connect, or was
/// refused): nothing is proved.
pub const RUN_FAILED: i32 = 4;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Engine")]
pub struct EngineArgs {
    /// Which engine checks: stateright (this process's threads, on stateright's
    /// model API; depth-first by default, on raftlab's own search) or timely
    /// (breadth-first on timely dataflow, with symmetry
    /// reduction: worker threads, and processes on one or several machines; see
    /// the README's "Past one machine").
    #[arg(long, value_enum, default_value_t = Engine::Stateright)]
    pub engine: Engine,
    /// timely: worker threads in each process [default: the cores, shared among
    /// --processes]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// timely: run this many processes on this machine, connected over loopback;
    /// this one is process 0, starts the others and prints the report.
    #[arg(long, value_name = "P")]
    pub processes: Option<usize>,
    /// timely: a run on several machines: a file of one host:port per process,
    /// process 0 first. Start the same raftlab binary with the same flags on
    /// every host, each with its own --process; process 0 prints the report.
    #[arg(long, value_name = "FILE", requires = "process")]
    pub hostfile: Option<PathBuf>,
    /// timely: this process's line in the --hostfile, counting from 0.
    #[arg(long, value_name = "I", requires = "hostfile")]
    pub process: Option<usize>,
    /// timely: how long processes wait for each other to start and connect
    /// [default: 60s]
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Option<Duration>,
}

impl EngineArgs {
    /// A timely-only flag given to the stateright engine, if any.
    pub fn not_for_stateright(&self) -> Option<&'static str> {
        if self.workers.is_some() {
            Some("--workers")
        } else if self.processes.is_some() {
            Some("--processes")
        } else if self.hostfile.is_some() {
            Some("--hostfile")
        } else if self.connect_timeout.is_some() {
            Some("--connect-timeout")
        } else {
            None
        }
    }
}

pub fn main(args: &CheckArgs, bounds: &Bounds, opts: &RunOptions) -> i32 {
    if let Some(flag) = args.run.not_for_timely() {
        return usage_error(&format!("{flag} does not apply to --engine timely"));
    }
    let e = &args.engine;
    let process = e.process.unwrap_or(0);
    // Messages of the worker processes say whose they are.
    let who = if process == 0 {
        String::new()
    } else {
        format!("process {process}: ")
    };
    let (spread, local) = match spread(e) {
        Ok(s) => s,
        Err(Problem::Usage(m)) => return usage_error(&format!("{who}{m}")),
        Err(Problem::Failed(m)) => return failed(&who, &m),
    };
    if process == 0 && !args.json {
        print_header(bounds, opts, &spread, local.is_some());
    }
    let result = distributed::check(bounds, opts, &spread);
    if let (Some(local), Ok(_)) = (&local, &result) {
        if let Err(m) = local.finish(Duration::from_secs(30)) {
            eprintln!("warning: {m}");
        }
    }
    match result {
        Ok(Some(report)) => {
            crate::check::print_outcome(&report, args);
            if !args.json {
                print_processes(&report);
            }
            report.exit_code()
        }
        Ok(None) => {
            if !args.run.quiet() && std::env::var_os(launch::SPAWNED).is_none() {
                eprintln!("{who}done; process 0 prints the report");
            }
            0
        }
        Err(m) => failed(&who, &m),
    }
}

enum Problem {
    Usage(String),
    Failed(String),
}

/// Where the workers run, from the flags; starts the local worker processes of
/// `--processes`.
fn spread(e: &EngineArgs) -> Result<(Spread, Option<Arc<Local>>), Problem> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let connect_timeout = e.connect_timeout.unwrap_or(CONNECT_TIMEOUT);
    if e.workers == Some(0) {
        return Err(Problem::Usage("--workers must be at least 1".into()));
    }
    if e.processes == Some(0) {
        return Err(Problem::Usage("--processes must be at least 1".into()));
    }
    if let (Some(file), Some(process)) = (&e.hostfile, e.process) {
        let addresses = read_hostfile(file).map_err(Problem::Usage)?;
        if let Some(p) = e.processes.filter(|p| *p != addresses.len()) {
            return Err(Problem::Usage(format!(
                "--processes {p} but the host file lists {} processes",
                addresses.len()
            )));
        }
        if process >= addresses.len() {
            return Err(Problem::Usage(format!(
                "--process {process}: the host file lists processes 0 to {}",
                addresses.len() - 1
            )));
        }
        let layout = Layout::Cluster(Cluster {
            addresses,
            process,
            connect_timeout,
        });
        let workers = e.workers.unwrap_or(cores);
        return Ok((spread_of(workers, layout, None), None));
    }
    let processes = e.processes.unwrap_or(1);
    let workers = e.workers.unwrap_or((cores / processes).max(1));
    if processes == 1 {
        return Ok((spread_of(workers, Layout::Threads, None), None));
    }
    let exe = std::env::current_exe().map_err(|err| {
        Problem::Failed(format!("cannot find this program to start it again: {err}"))
    })?;
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let local = Arc::new(launch::spawn(&exe, &args, processes).map_err(Problem::Failed)?);
    let layout = Layout::Cluster(Cluster {
        addresses: local.addresses.clone(),
        process: 0,
        connect_timeout,
    });
    let watch = Arc::clone(&local);
    let alive: Arc<dyn Fn() -> Result<(), String> + Send + Sync> = Arc::new(move || watch.alive());
    Ok((spread_of(workers, layout, Some(alive)), Some(local)))
}

fn spread_of(
    workers: usize,
    layout: Layout,
    alive: Option<Arc<dyn Fn() -> Result<(), String> + Send + Sync>>,
) -> Spread {
    Spread {
        workers,
        layout,
        alive,
    }
}

fn failed(who: &str, message: &str) -> i32 {
    eprintln!("{who}error: {message}");
    eprintln!("{who}The check did not finish: nothing is proved.");
    RUN_FAILED
}

fn print_header(b: &Bounds, o: &RunOptions, s: &Spread, spawned: bool) {
    let processes = match &s.layout {
        Layout::Threads => 1,
        Layout::Cluster(c) => c.addresses.len(),
    };
    println!("raftlab check: Raft model");
    println!("  bounds:   {}", describe(b));
    println!(
        "  checker:  timely, breadth-first, {processes} process(es){} x {} worker(s), symmetry {}{}",
        if spawned { " on this machine" } else { "" },
        s.workers,
        if o.symmetry {
            format!(
                "on ({})",
                raft_checks::model::RaftModel::new(b.clone()).symmetry().describe()
            )
        } else {
            "off".into()
        },
        crate::check::limits(o),
    );
    println!();
}

#[derive(Tabled)]
struct ProcessRow {
    process: usize,
    workers: usize,
    #[tabled(rename = "unique states")]
    unique: u64,
    #[tabled(rename = "states explored")]
    states: u64,
    #[tabled(rename = "states sent to others")]
    sent: u64,
    #[tabled(rename = "bytes sent")]
    bytes: String,
    #[tabled(rename = "peak RSS")]
    rss: String,
    #[tabled(rename = "CPU")]
    cpu: String,
}

fn mib(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    }
}

fn print_processes(r: &Report) {
    let Some(d) = &r.distributed else {
        return;
    };
    let rows: Vec<ProcessRow> = d.per_process.iter().map(row).collect();
    println!("Per process:");
    println!("{}", Table::new(rows).with(Style::sharp()));
}

fn row(p: &ProcessStats) -> ProcessRow {
    ProcessRow {
        process: p.process,
        workers: p.workers,
        unique: p.unique_states,
        states: p.states,
        sent: p.states_sent_remote,
        bytes: mib(p.bytes_sent),
        rss: p.peak_rss_bytes.map_or("-".into(), mib),
        cpu: p.cpu_s.map_or("-".into(), |s| format!("{s:.1} s")),
    }
}

//! `raftlab trace`: check a recorded run against the model, draw it, step through
//! it in the Explorer, record one.

use clap::{Args, Subcommand};
use raft_checks::trace::check::{self as trace_check, Failure, Report};
use raft_checks::trace::load as trace_load;
use std::io::Write;
use std::path::PathBuf;
use tabled::settings::Style;
use tabled::{Table, Tabled};

mod explore;
mod record;
mod show;

/// Recorded runs of real nodes: check them against the model, draw them.
#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Prove that a recorded run is a behaviour of the model.
    ///
    /// Reads DIR/*.jsonl (recorded with `raftlab cluster --trace DIR`, `raftlab node
    /// --trace DIR`, `raftlab client --trace DIR`) and checks, printing a table of
    /// rules with what each checked: every step replays through the model's
    /// handlers to the recorded state and commands; timeouts fire set timers;
    /// restarts read the storage last made durable; every delivered message was
    /// sent earlier (duplicates and losses are counted); messages left only after
    /// the saves before them were durable; the records merge into one global order;
    /// every server invariant holds on every global state along it; the clients'
    /// operations are linearizable.
    ///
    /// The nodes are assumed to share a clock (one machine): the global order
    /// follows the recorded times where causality leaves a choice.
    ///
    /// Exit codes: 0 every rule holds; 1 a rule is broken (the first bad record is
    /// named: actor, step, file and line, expected and recorded values); 2 the
    /// traces cannot be read (a file or line that is not a trace record); 3 no
    /// rule is broken but one was not decided (the linearizability search, which
    /// is exponential at worst, stopped at its budget): nothing is proved.
    Check(CheckArgs),
    /// Draw a recorded run as a message sequence diagram (SVG).
    Show(show::ShowArgs),
    /// Step through a recorded run in stateright's Explorer, as a path of the model.
    ///
    /// Checks DIR exactly as `raftlab trace check` does and opens only a run in
    /// which every rule holds. The run's global order becomes a path of a model
    /// whose actors are the run's: its servers, and its clients (C1.. as `trace
    /// check` names them) with their recorded operations. Each recorded step is the
    /// model's action for it (a delivery, a timeout, a kill as a crash, a restart
    /// as a recovery from the last save), taken by the model itself, and the acting
    /// actor's state after it must equal the recorded one. First starts are the
    /// model's initial state. Messages never delivered are dropped right after they
    /// are sent (a lossy network); a run that delivered a message more often than
    /// it was sent gets the duplicating network, where a message stays deliverable
    /// until its last delivery. A delivery or timeout after which the actor's state
    /// is unchanged and nothing is sent has no step in stateright (except a
    /// delivery on the unordered network, which uses the message up): such steps
    /// are left out, and counted. Prints what the path covers and the link to its
    /// last state, then serves the Explorer.
    ///
    /// Whatever cannot be mapped faithfully (a client that restarted, a restart
    /// from a storage older than the last save) ends the path at the last faithful
    /// step, and the output says what was left out and why.
    ///
    /// Exit codes: 0 served (runs until stopped), or printed with --no-serve or
    /// --json; 1 the run is not a behaviour of the model (the check's table is
    /// printed), or the model leaves the run (a bug: the step is named); 2 the
    /// traces cannot be read, or bad usage (e.g. the address is in use); 3 the
    /// check did not decide a rule, as for `trace check`.
    Explore(explore::ExploreArgs),
    /// Record a run of a real local cluster with faults injected, and check it.
    Record(record::RecordArgs),
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The directory of trace files.
    dir: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Judge every global state with the property functions on whole states (the
    /// reference the incremental judge is tested against; slow on long runs).
    #[arg(long)]
    whole_states: bool,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn main(cmd: &TraceCommand) -> i32 {
    match cmd {
        TraceCommand::Check(a) => check(a),
        TraceCommand::Show(a) => show::main(a),
        TraceCommand::Explore(a) => explore::main(a),
        TraceCommand::Record(a) => record::main(a),
    }
}

fn check(args: &CheckArgs) -> i32 {
    check_and_print(&args.dir, args.json, args.whole_states, args.quiet)
}

/// Loads and checks the traces in `dir` (`whole_states`: with the reference judge
/// of whole global states; `quiet`: no progress on stderr), prints the report (a
/// table, or JSON), and returns the exit code: 2 if the traces cannot be read.
pub fn check_and_print(dir: &std::path::Path, json: bool, whole_states: bool, quiet: bool) -> i32 {
    let run = match trace_load::load(dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let opts = trace_check::CheckOptions {
        full_judge: whole_states,
    };
    let started = std::time::Instant::now();
    let mut last = started;
    let mut progress = |done: usize, total: usize| {
        if !quiet && last.elapsed() >= std::time::Duration::from_secs(2) {
            last = std::time::Instant::now();
            eprintln!(
                "trace check: {:.0}% ({done} of {total} events, {:.0} s)",
                100.0 * done as f64 / total.max(1) as f64,
                started.elapsed().as_secs_f64()
            );
        }
    };
    // Merged while it is checked, on two threads.
    let report = trace_check::check_streamed(&run, opts, Some(&mut progress));
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => print_out(&s),
            Err(e) => {
                eprintln!("error: cannot encode the report: {e}");
                return 2;
            }
        }
    } else {
        print_out(&render(&report));
    }
    exit_code(&report)
}

/// 0 every rule holds, 1 a rule is broken, 3 nothing broken but undecided.
pub fn exit_code(r: &Report) -> i32 {
    match (r.ok, r.decided) {
        (false, _) => 1,
        (true, false) => 3,
        (true, true) => 0,
    }
}

#[derive(Tabled)]
struct Row {
    rule: String,
    checked: String,
    result: String,
}

/// The report as a person reads it: a summary line, the table of rules, and the
/// first failure in full.
pub fn render(r: &Report) -> String {
    let rows: Vec<Row> = r
        .rules
        .iter()
        .map(|x| Row {
            rule: x.rule.to_string(),
            checked: format!("{} {}", x.checked, x.unit),
            result: match (x.failures, x.note.is_empty()) {
                (0, _) if x.undecided => format!("UNDECIDED ({})", x.note),
                (0, true) => "ok".into(),
                (0, false) => format!("ok ({})", x.note),
                (n, _) => format!("FAILED ({n})"),
            },
        })
        .collect();
    let mut out = format!(
        "trace {}: {} servers, {} clients, {} steps, {} restarts ({} after a crash); checked in \
         {:.2} s\n",
        r.dir, r.servers, r.clients, r.steps, r.restarts, r.crashes, r.seconds
    );
    out.push_str(&Table::new(rows).with(Style::sharp()).to_string());
    out.push('\n');
    match &r.first_failure {
        None if r.decided => {
            out.push_str("every rule holds: the run is a behaviour of the model\n")
        }
        None => {
            out.push_str("no rule is broken, but not every rule was decided: nothing is proved\n")
        }
        Some(f) => out.push_str(&failure_text(f)),
    }
    out
}

pub fn failure_text(f: &Failure) -> String {
    format!(
        "first bad record: {} step {} ({}:{}, at {:.6} s)\n  rule:     {}\n  event:    {}\n  \
         expected: {}\n  recorded: {}\n",
        f.node, f.step, f.file, f.line, f.time_s, f.rule, f.event, f.expected, f.recorded
    )
}

/// Prints on stdout; a closed pipe (`| head`) is not worth a panic.
pub fn print_out(s: &str) {
    let _ = writeln!(std::io::stdout(), "{s}");
}

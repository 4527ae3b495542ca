//! `raftlab trace`: check a recorded run against the model, draw it, record one.

use clap::{Args, Subcommand};
use raft_checks::trace_check::{self, Failure, Report};
use raft_checks::trace_load;
use std::io::Write;
use std::path::PathBuf;
use tabled::settings::Style;
use tabled::{Table, Tabled};

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
}

pub fn main(cmd: &TraceCommand) -> i32 {
    match cmd {
        TraceCommand::Check(a) => check(a),
        TraceCommand::Show(a) => show::main(a),
        TraceCommand::Record(a) => record::main(a),
    }
}

fn check(args: &CheckArgs) -> i32 {
    let run = match trace_load::load(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let report = trace_check::check(&run);
    if args.json {
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

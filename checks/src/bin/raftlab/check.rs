//! `raftlab check`: output of a check, as tables or JSON.

use crate::check_timely::{self, EngineArgs};
use crate::{usage_error, BoundsArgs, RunArgs};
use clap::Args;
use raft_checks::bounds::{describe, Bounds};
use raft_checks::checker::{self, Engine, Found, Report, RunOptions, Status, Strategy};
use raft_checks::explorer::{explore_command, url, DEFAULT_ADDR};
use raft_checks::render::text::StepRow;
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub bounds: BoundsArgs,
    #[command(flatten)]
    pub run: RunArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Where the printed `raftlab explore` command serves, and so where the
    /// printed counterexample links point.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_ADDR)]
    pub explorer_addr: String,
    /// Also print how often the check took each decision of the server's handlers
    /// (every rule of Figure 2, each arm of the consistency check, stale replies,
    /// client-request cases), as TLC's coverage does. Every report says which it
    /// never took.
    #[arg(long)]
    pub coverage: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn main(args: &CheckArgs) -> i32 {
    let bounds = args.bounds.bounds();
    if let Err(e) = bounds.validate() {
        return usage_error(&e);
    }
    let opts = args.run.options();
    if args.engine.engine == Engine::Timely {
        return check_timely::main(args, &bounds, &opts);
    }
    if let Some(flag) = args.engine.not_for_stateright() {
        return usage_error(&format!("{flag} is for --engine timely"));
    }
    if opts.threads == 0 {
        return usage_error("--threads must be at least 1");
    }
    if !args.json {
        print_header(&bounds, &opts);
    }
    let report = checker::check(&bounds, &opts);
    print_outcome(&report, args);
    report.exit_code()
}

fn print_header(b: &Bounds, o: &RunOptions) {
    println!("raftlab check: Raft model");
    println!("  bounds:   {}", describe(b));
    println!(
        "  checker:  {} with {} thread(s), symmetry {}{}",
        o.strategy,
        o.threads,
        if o.symmetry && o.strategy != Strategy::Bfs {
            format!(
                "on ({})",
                raft_checks::model::RaftModel::new(b.clone())
                    .symmetry()
                    .describe()
            )
        } else {
            "off".into()
        },
        limits(o),
    );
    println!();
}

/// The report, as JSON or as tables (with the coverage if asked for).
pub fn print_outcome(report: &Report, args: &CheckArgs) {
    if args.json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: could not encode the report as JSON: {e}"),
        }
    } else {
        print_report(report, &args.explorer_addr);
        if args.coverage {
            print_coverage(report);
        }
    }
}

/// The header's note of the limits that make a run not exhaustive, if any are set.
pub fn limits(o: &RunOptions) -> String {
    let depth = o.max_depth.map(|d| format!(", max depth {d}"));
    let time = o
        .timeout
        .map(|t| format!(", timeout {:.0} s", t.as_secs_f64()));
    format!("{}{}", depth.unwrap_or_default(), time.unwrap_or_default())
}

#[derive(Tabled)]
struct PropRow {
    property: &'static str,
    kind: &'static str,
    result: String,
}

#[derive(Tabled)]
struct StepTableRow {
    step: usize,
    action: String,
    server: String,
    #[tabled(rename = "message or timer")]
    detail: String,
    #[tabled(rename = "after the step")]
    after: String,
}

fn status_text(r: &Report, s: Status) -> String {
    match s {
        Status::Holds if r.exhaustive => "holds".into(),
        Status::Holds => "no violation found (not exhaustive)".into(),
        Status::Violated => "VIOLATED".into(),
        Status::Witnessed => "witnessed".into(),
        Status::NotWitnessed => "not witnessed".into(),
    }
}

pub fn print_report(r: &Report, explorer: &str) {
    let rows: Vec<PropRow> = r
        .properties
        .iter()
        .map(|p| PropRow {
            property: p.name,
            kind: p.expectation,
            result: status_text(r, p.status),
        })
        .collect();
    println!("{}", Table::new(rows).with(Style::sharp()));
    println!(
        "unique states: {}   states explored: {}   max depth: {}   elapsed: {:.1} s   {:.0} unique states/s",
        r.unique_states, r.states, r.max_depth, r.elapsed_s, r.states_per_s
    );
    match &r.incomplete {
        None => println!("exhaustive: yes (every reachable state within the bounds was checked)"),
        Some(why) => println!("exhaustive: no ({why})"),
    }
    println!("coverage: {}", r.coverage.summary());
    for p in r.violated() {
        println!();
        let how = match p.found {
            Some(Found::Shortest) => "shortest counterexample",
            Some(Found::Minimised) => {
                "minimised counterexample (no step can be left out; a shorter one may exist: \
                 give the breadth-first search more time, e.g. --shortest-within 5m)"
            }
            None => "counterexample",
        };
        let steps = p.counterexample.as_deref().unwrap_or(&[]);
        println!("{} VIOLATED: {how}, {} steps", p.name, steps.len());
        print_steps(steps);
        if let Some(path) = &p.explorer_path {
            println!(
                "Step through it in the Explorer: run `{}` and open",
                explore_command(&r.bounds, explorer)
            );
            println!("  {}", url(explorer, Some(path)));
        }
    }
    if r.violated().is_empty() && r.bounds.mutants != raft_model::MutantSet::NONE {
        println!();
        println!("note: the mutant was not caught at these bounds; `raftlab mutants` lists the bounds that expose it, and `raftlab check --mutant NAME` with no bound flags uses them.");
    }
    println!();
    match r.exit_code() {
        0 => println!("PROVED within the bounds above: every Always property holds in every reachable state, and every Sometimes property was witnessed."),
        1 if !r.violated().is_empty() => println!("FAILED: a safety property is violated (counterexample above)."),
        1 => println!("FAILED: a Sometimes property was never witnessed, so the bounds are too tight for the check to mean much."),
        _ => println!("INCONCLUSIVE: no violation found, but the run was not exhaustive, so nothing is proved."),
    }
}

pub fn print_steps(steps: &[StepRow]) {
    let rows: Vec<StepTableRow> = steps
        .iter()
        .map(|s| StepTableRow {
            step: s.step,
            action: s.action.clone(),
            server: s.server.clone(),
            detail: s.detail.clone(),
            after: s.after.clone(),
        })
        .collect();
    println!("{}", Table::new(rows).with(Style::sharp()));
}

#[derive(Tabled)]
struct CoverageRow {
    decision: String,
    what: &'static str,
    times: String,
}

/// Every decision of the server's handlers and how often the check took it.
pub fn print_coverage(r: &Report) {
    let rows: Vec<CoverageRow> = r
        .coverage
        .decisions
        .iter()
        .map(|d| CoverageRow {
            decision: d.decision.clone(),
            what: d.text,
            times: if d.count == 0 {
                "NEVER".into()
            } else {
                d.count.to_string()
            },
        })
        .collect();
    println!();
    println!("Coverage of the server's handlers (how often the search took each decision):");
    println!("{}", Table::new(rows).with(Style::sharp()));
}

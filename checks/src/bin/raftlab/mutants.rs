//! `raftlab mutants`: every known Raft bug must be caught.

use crate::check::print_steps;
use crate::usage_error;
use clap::Args;
use raft_checks::bounds::describe;
use raft_checks::checker::catalogue;
use raft_checks::checker::mutant_pool;
use raft_checks::checker::mutants::Row;
use raft_checks::explorer::{explore_command, url, DEFAULT_ADDR};
use raft_model::Mutant;
use std::time::{Duration, Instant};
use tabled::settings::Style;
use tabled::{Table, Tabled};

#[derive(Args)]
pub struct MutantsArgs {
    /// Only these mutants (repeatable; default: all).
    #[arg(long = "only", value_name = "NAME", value_parser = clap::value_parser!(Mutant))]
    only: Vec<Mutant>,
    /// Print each mutant's counterexample, step by step.
    #[arg(long, short)]
    verbose: bool,
    /// Checks run at once, one thread each (default: all cores). Each mutant needs
    /// two: the correct model at its bounds, then the search for its bug.
    #[arg(long)]
    threads: Option<usize>,
    /// Print a JSON array of rows instead of tables.
    #[arg(long)]
    json: bool,
    /// Where the printed `raftlab explore` commands serve, and so where the printed
    /// counterexample links point.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_ADDR)]
    explorer_addr: String,
}

#[derive(Tabled)]
struct TableRow {
    mutant: &'static str,
    #[tabled(rename = "violated property")]
    property: String,
    steps: String,
    states: usize,
    search: String,
    #[tabled(rename = "correct model")]
    baseline: String,
}

pub fn main(args: &MutantsArgs) -> i32 {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 {
        return usage_error("--threads must be at least 1");
    }
    let cases: Vec<_> = catalogue::catalogue()
        .into_iter()
        .filter(|c| args.only.is_empty() || args.only.contains(&c.mutant))
        .collect();
    eprintln!(
        "checking {} mutant(s), each against the correct model at its bounds, {threads} check(s) at a time",
        cases.len()
    );
    let started = Instant::now();
    let every = Some(Duration::from_secs(10));
    let rows = mutant_pool::run_all(&cases, threads, every, |row| {
        eprintln!("  {:<26} {}", row.mutant, verdict(row));
        eprintln!("  {:<26} {}", "", describe(&row.bounds));
    });
    let wall = started.elapsed().as_secs_f64();
    if args.json {
        match serde_json::to_string_pretty(&rows) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: could not encode the rows as JSON: {e}"),
        }
    } else {
        print_table(&rows);
        println!(
            "{} mutant(s) in {wall:.1} s, {threads} check(s) at a time (search: the mutant's; correct model: the same bounds without it, shared by mutants at the same bounds)",
            rows.len()
        );
        print_links(&rows, &args.explorer_addr);
        if args.verbose {
            for r in &rows {
                println!();
                println!("{}: {} ({})", r.mutant, verdict(r), describe(&r.bounds));
                print_steps(&r.counterexample);
            }
        }
    }
    let escaped: Vec<_> = rows
        .iter()
        .filter(|r| !r.caught)
        .map(|r| r.mutant)
        .collect();
    if escaped.is_empty() {
        if !args.json {
            println!("\nEvery mutant was caught, and the correct model passes the same checks.");
        }
        0
    } else {
        eprintln!("\nFAILED: not caught: {}", escaped.join(", "));
        1
    }
}

fn verdict(r: &Row) -> String {
    if !r.baseline_holds {
        "NOT CAUGHT: the correct model does not pass these bounds".to_string()
    } else if let (Some(p), Some(n)) = (r.property, r.length) {
        let kind = if r.shortest { "shortest" } else { "minimised" };
        format!("caught: {p} violated, {kind} counterexample {n} steps")
    } else {
        "ESCAPED: no property violated".to_string()
    }
}

/// Each counterexample's Explorer link, with the command that serves its model.
fn print_links(rows: &[Row], explorer: &str) {
    let linked: Vec<&Row> = rows.iter().filter(|r| r.explorer_path.is_some()).collect();
    if linked.is_empty() {
        return;
    }
    println!();
    println!("Step through a counterexample in the Explorer: run the command, open the link.");
    for r in linked {
        if let Some(path) = &r.explorer_path {
            println!("  {}", explore_command(&r.bounds, explorer));
            println!("    {}", url(explorer, Some(path)));
        }
    }
}

fn print_table(rows: &[Row]) {
    let table: Vec<TableRow> = rows
        .iter()
        .map(|r| TableRow {
            mutant: r.mutant,
            property: match (r.caught, r.property) {
                (true, Some(p)) => p.to_string(),
                (false, _) if !r.baseline_holds => "(correct model fails too)".into(),
                _ => "ESCAPED".into(),
            },
            steps: match (r.length, r.shortest) {
                (Some(n), true) => n.to_string(),
                (Some(n), false) => format!("{n} (minimised)"),
                (None, _) => "-".into(),
            },
            states: r.states,
            search: format!("{:.1} s", r.elapsed_s),
            baseline: format!("{:.1} s", r.baseline_s),
        })
        .collect();
    println!("{}", Table::new(table).with(Style::sharp()));
}

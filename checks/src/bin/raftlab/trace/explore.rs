//! `raftlab trace explore`: a validated recorded run, opened in stateright's
//! Explorer as a path of the model.

use super::{exit_code, print_out, render};
use crate::usage_error;
use clap::Args;
use raft_checks::bounds::describe;
use raft_checks::checker::counterexample::explorer_path;
use raft_checks::explorer::{self as explore, DEFAULT_ADDR};
use raft_checks::trace::check::Report;
use raft_checks::trace::explore::{self as trace_explore, OpenError, Summary, TracePath};
use serde::Serialize;
use stateright::Model;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The directory of trace files.
    dir: PathBuf,
    /// Address for the Explorer's web server.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,
    /// Print the link and what the path covers, and exit without serving (the link
    /// opens in an Explorer that `raftlab trace explore DIR` serves).
    #[arg(long)]
    no_serve: bool,
    /// Print one JSON object (the link, the path, the model's bounds, what the path
    /// covers) and exit without serving.
    #[arg(long)]
    json: bool,
    /// Worker threads for the page's "Run to completion" (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(Serialize)]
struct JsonOut<'a> {
    dir: String,
    link: String,
    /// The Explorer's path: action indices from the initial state.
    path: &'a str,
    steps: usize,
    bounds: &'a raft_checks::bounds::Bounds,
    summary: &'a Summary,
    seconds: Times,
}

/// Where the time goes, in seconds.
#[derive(Serialize, Clone, Copy)]
struct Times {
    read_and_checked: f64,
    mapped: f64,
    /// Replaying the path in the model to find each action's index.
    encoded: f64,
}

pub fn main(args: &ExploreArgs) -> i32 {
    let started = Instant::now();
    let (report, p) = match trace_explore::open(&args.dir) {
        Ok(opened) => opened,
        Err(OpenError::Unreadable(e)) => {
            eprintln!("error: {e}");
            return 2;
        }
        Err(OpenError::NotABehaviour(report)) => return refuse(args, &report),
        Err(OpenError::Diverged(d)) => {
            eprintln!(
                "error: {d}\nThe run passed `raftlab trace check`, so the model should take \
                 every step it took: this is a bug in raftlab (the mapping of the run to the \
                 model, or the checks). No path is opened."
            );
            return 1;
        }
    };
    let opened = started.elapsed().as_secs_f64();
    let encoding = Instant::now();
    let Some(encoded) = explorer_path(&p.model, &p.actions) else {
        eprintln!(
            "error: the path built from the run does not replay in the model: a bug in \
             raftlab. No path is opened."
        );
        return 1;
    };
    let serve = !(args.no_serve || args.json);
    if serve {
        if let Err(e) = explore::can_listen(&args.addr) {
            return usage_error(&e);
        }
    }
    let times = Times {
        read_and_checked: opened - p.summary.seconds,
        mapped: p.summary.seconds,
        encoded: encoding.elapsed().as_secs_f64(),
    };
    let link = explore::url(&args.addr, Some(&encoded));
    if args.json {
        let out = JsonOut {
            dir: args.dir.display().to_string(),
            link,
            path: &encoded,
            steps: p.actions.len(),
            bounds: &p.model.bounds,
            summary: &p.summary,
            seconds: times,
        };
        return match serde_json::to_string_pretty(&out) {
            Ok(s) => {
                print_out(&s);
                0
            }
            Err(e) => {
                eprintln!("error: cannot encode the result: {e}");
                2
            }
        };
    }
    print_out(&text(args, &report, &p, &link, times));
    if !serve {
        return 0;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    match explore::serve(p.model, &args.addr, threads) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// The run is not shown to be a behaviour of the model: say why, as `trace check`.
fn refuse(args: &ExploreArgs, report: &Report) -> i32 {
    if args.json {
        match serde_json::to_string_pretty(report) {
            Ok(s) => print_out(&s),
            Err(e) => eprintln!("error: cannot encode the report: {e}"),
        }
    } else {
        print_out(&render(report));
    }
    eprintln!(
        "error: not opened: only a run that `raftlab trace check` validates (every rule \
         holds) is opened in the Explorer"
    );
    exit_code(report)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn text(args: &ExploreArgs, report: &Report, p: &TracePath, link: &str, t: Times) -> String {
    let s = &p.summary;
    let mut out = format!(
        "raftlab trace explore: {} in stateright's Explorer\n",
        args.dir.display()
    );
    let line = |out: &mut String, label: &str, text: String| {
        out.push_str(&format!("  {label:<10} {text}\n"));
    };
    line(
        &mut out,
        "checked:",
        format!(
            "every rule of `raftlab trace check` holds ({} recorded, {}, {} after a crash)",
            plural(report.steps, "step", "steps"),
            plural(report.restarts as usize, "restart", "restarts"),
            report.crashes
        ),
    );
    line(&mut out, "model:", describe(&p.model.bounds));
    if let (Some(first), Some(last)) = (s.clients.first(), s.clients.last()) {
        line(
            &mut out,
            "clients:",
            format!(
                "{}..{} are the run's clients in the order they first recorded, as `trace \
                 check` names them ({} is {}), each with its recorded operations",
                first.name, last.name, first.name, first.real
            ),
        );
    }
    line(&mut out, "network:", s.network_reason());
    line(
        &mut out,
        "path:",
        format!(
            "{}: {}, {}, {}, {}, {} (read and checked in {:.0} ms, mapped in {:.0} ms, \
             linked in {:.0} ms)",
            plural(p.actions.len(), "step", "steps"),
            plural(s.deliveries, "delivery", "deliveries"),
            plural(s.timeouts, "timeout", "timeouts"),
            plural(s.crashes, "crash", "crashes"),
            plural(s.restarts, "restart", "restarts"),
            plural(s.drops, "drop", "drops"),
            t.read_and_checked * 1000.0,
            t.mapped * 1000.0,
            t.encoded * 1000.0,
        ),
    );
    line(
        &mut out,
        "mapped:",
        format!(
            "the {} first starts are the model's initial state (it starts every actor at \
             once; a first start reads no storage, so it is the same state whenever it \
             happened)",
            s.starts
        ),
    );
    let more = |out: &mut String, text: String| out.push_str(&format!("  {:<10} {text}\n", ""));
    if s.crashes > 0 {
        more(
            &mut out,
            "a kill is Crash, the start after it Recover from the model's last save, which \
             is the storage the real node read"
                .into(),
        );
    }
    let ignored: Vec<String> = [
        (s.ignored_deliveries, "delivery", "deliveries"),
        (s.ignored_timeouts, "timeout", "timeouts"),
    ]
    .into_iter()
    .filter(|(k, ..)| *k > 0)
    .map(|(k, one, many)| plural(k, one, many))
    .collect();
    if !ignored.is_empty() {
        more(
            &mut out,
            format!(
                "{} of the run are not steps of the path: the model's handler changed \
                 nothing and sent nothing there, and stateright has no step for that (the \
                 state is the same with or without them)",
                ignored.join(" and ")
            ),
        );
    }
    match &s.left_out {
        None => line(
            &mut out,
            "left out:",
            "nothing: every recorded step is in the path or changes nothing".into(),
        ),
        Some(l) => line(
            &mut out,
            "LEFT OUT:",
            format!(
                "the path ends before {} ({}): {}; {} recorded steps from there on are not \
                 in the path",
                l.at, l.event, l.why, l.records_not_mapped
            ),
        ),
    }
    let last = p
        .actions
        .last()
        .map_or("the initial state".to_string(), |a| {
            p.model.format_action(a)
        });
    line(&mut out, "ends with:", last);
    line(&mut out, "link:", link.to_string());
    if !(args.no_serve || args.json) {
        out.push('\n');
        out.push_str(
            "The link opens the Explorer at the end of the path, with the whole path listed:\n\
             select a step to see the properties judged on the state it leads to, and that\n\
             state (one line per server, the messages in flight, the history so far). The\n\
             Explorer serves this model only (these clients, these bounds). Stop it with\n\
             Ctrl-C.",
        );
    }
    out
}

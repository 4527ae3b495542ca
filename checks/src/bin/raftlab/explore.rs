//! `raftlab explore`: stateright's Explorer for the model `raftlab check` checks.

use crate::{usage_error, BoundsArgs};
use clap::Args;
use raft_checks::bounds::describe;
use raft_checks::checker::counterexample::explorer_path;
use raft_checks::explorer::{self as explore, DEFAULT_ADDR};
use raft_checks::model::RaftModel;
use stateright::Model;

#[derive(Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    bounds: BoundsArgs,
    /// Address for the Explorer's web server.
    #[arg(long, default_value = DEFAULT_ADDR)]
    addr: String,
    /// Check that this path exists in the model and print its link: the part after
    /// `#/steps/` of a link printed by `raftlab check` or `raftlab mutants`, or the
    /// whole link.
    #[arg(long)]
    path: Option<String>,
    /// Worker threads for the page's "Run to completion" (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

pub fn main(args: &ExploreArgs) -> i32 {
    let bounds = args.bounds.bounds();
    if let Err(e) = bounds.validate() {
        return usage_error(&e);
    }
    let model = RaftModel::new(bounds.clone());
    let path = match &args.path {
        None => None,
        Some(p) => match explore::decode(&model, p) {
            Ok(actions) => Some(actions),
            Err(e) => {
                return usage_error(&format!(
                    "--path does not exist in this model: {e}. A link opens only in an \
                     Explorer started with the flags `raftlab check` printed with it."
                ))
            }
        },
    };
    if let Err(e) = explore::can_listen(&args.addr) {
        return usage_error(&e);
    }
    println!("raftlab explore: stateright's Explorer for the Raft model");
    println!("  bounds:  {}", describe(&bounds));
    println!("  open:    {}", explore::url(&args.addr, None));
    if let Some(actions) = &path {
        if let Some(encoded) = explorer_path(&model, actions) {
            let last = actions
                .last()
                .map_or("the initial state".to_string(), |a| model.format_action(a));
            println!(
                "  path:    {} ({} steps, ending with: {last})",
                explore::url(&args.addr, Some(&encoded)),
                actions.len()
            );
        }
    }
    println!();
    println!("Each step shows the properties judged on the state it leads to, one line per");
    println!("server (role, term, vote, log terms with | after the committed prefix, commit");
    println!("index, key/value contents), and the messages in flight. \"Run to completion\"");
    println!("checks the whole model breadth-first, without symmetry reduction, and then");
    println!("links every counterexample it found. Stop the Explorer with Ctrl-C.");
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    match explore::serve(model, &args.addr, threads) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

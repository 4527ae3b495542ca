//! `raftlab`: the command-line workbench.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod args;
mod bench;
mod chaos;
mod check;
mod check_timely;
mod client;
mod cluster;
mod explore;
mod mutants;
mod node;
mod trace;

pub use args::{
    cluster_id, parse_duration, probability, secret_from, usage_error, BoundsArgs, LinkArgs,
    RunArgs,
};

// The checker clones and drops millions of small states: mimalloc does that markedly
// faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "raftlab",
    version,
    about = "A model-checked verification workbench for Raft",
    long_about = "raftlab checks the Raft algorithm exhaustively within stated bounds.\n\
                  The algorithm is written once (crate raft-model) and explored by the\n\
                  stateright model checker.\n\n\
                  Exit codes: 0 proved within the bounds; 1 a property was violated or a\n\
                  Sometimes property was never witnessed; 2 bad usage; 3 no violation\n\
                  found, but the run was not exhaustive (so nothing is proved); 4 a run on\n\
                  timely failed (a process died, could not connect, or was refused), so\n\
                  nothing is proved."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Model-check Raft: prove the safety properties within the bounds, or print a
    /// counterexample (a shortest one where breadth-first search finds it in time).
    Check(check::CheckArgs),
    /// Re-introduce known Raft bugs one at a time and show that the checker catches
    /// every one, with a shortest counterexample where breadth-first search reaches
    /// it, while the correct model passes the same bounds (exit 1 if any escapes).
    Mutants(mutants::MutantsArgs),
    /// Serve stateright's Explorer (a web UI) for the model `check` checks with the
    /// same flags: step through runs, open the counterexamples `check` and
    /// `mutants` link to, and see which properties hold in each state.
    ///
    /// Open the printed address in a browser. The page lists a run's steps and the
    /// steps enabled next; for the selected step it shows which properties hold in
    /// the state it leads to, then that state: one line per server (role, term,
    /// vote, log terms with | after the committed prefix, commit index, key/value
    /// contents), the messages in flight, and the run's history.
    ///
    /// The links that `check` and `mutants` print (http://127.0.0.1:3000/#/steps/0/4/1)
    /// name each step by its position among the enabled actions, so they open only
    /// in an Explorer serving the same model: run the command printed with them.
    ///
    /// Nothing is explored until the page asks. Its "Run to completion" button
    /// checks the whole model breadth-first, without symmetry reduction (slower
    /// than `check`), then links every counterexample it found. The page can step
    /// beyond the bounds; such states say so.
    ///
    /// Exit codes: 2 bad flags, a --path not in the model, or an address that
    /// cannot be listened on; otherwise it serves until stopped (Ctrl-C).
    Explore(explore::ExploreArgs),
    Node(node::NodeArgs),
    Cluster(cluster::ClusterArgs),
    Client(client::ClientArgs),
    Chaos(chaos::ChaosArgs),
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Recorded runs of real nodes: check them against the model (`trace check`),
    /// draw them (`trace show`), step through them in the Explorer (`trace
    /// explore`), record one with faults (`trace record`).
    #[command(subcommand)]
    Trace(trace::TraceCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => check::main(&args),
        Command::Mutants(args) => mutants::main(&args),
        Command::Explore(args) => explore::main(&args),
        Command::Node(args) => node::main(&args),
        Command::Cluster(args) => cluster::main(&args),
        Command::Client(args) => client::main(&args),
        Command::Chaos(args) => chaos::main(&args),
        Command::Bench(cmd) => bench::main(&cmd),
        Command::Trace(cmd) => trace::main(&cmd),
    };
    ExitCode::from(code as u8)
}

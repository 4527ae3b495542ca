//! `raftlab`: the command-line workbench.

use clap::{Args, Parser, Subcommand};
use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::run::{self, RunOptions, Strategy};
use raft_model::{Mutant, MutantSet};
use std::process::ExitCode;
use std::time::Duration;

mod cli_bench;
mod cli_check;
mod cli_client;
mod cli_cluster;
mod cli_explore;
mod cli_mutants;
mod cli_node;
mod cli_trace;

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
                  found, but the run was not exhaustive (so nothing is proved)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Model-check Raft: prove the safety properties within the bounds, or print the
    /// shortest counterexample.
    Check(CheckArgs),
    /// Re-introduce known Raft bugs one at a time and show that the checker catches
    /// every one with a shortest counterexample (exit 1 if any escapes).
    Mutants(cli_mutants::MutantsArgs),
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
    Explore(cli_explore::ExploreArgs),
    Node(cli_node::NodeArgs),
    Cluster(cli_cluster::ClusterArgs),
    Client(cli_client::ClientArgs),
    #[command(subcommand)]
    Bench(cli_bench::BenchCommand),
    /// Recorded runs of real nodes: check them against the model (`trace check`),
    /// draw them (`trace show`), step through them in the Explorer (`trace
    /// explore`), record one with faults (`trace record`).
    #[command(subcommand)]
    Trace(cli_trace::TraceCommand),
}

/// What to check: the model's bounds. Shared by every command that builds a model.
/// A flag left out takes the default bound, or, with a single --mutant, the bound
/// at which `raftlab mutants` exposes that mutant.
#[derive(Args, Clone, Debug)]
pub struct BoundsArgs {
    /// Raft servers in the cluster (even sizes are allowed) [default: 3]
    #[arg(long)]
    servers: Option<usize>,
    /// Key/value clients [default: 1]
    #[arg(long)]
    clients: Option<usize>,
    /// Operations per client: appends of distinct values to key x; with 2 or more,
    /// the last one is a get of x [default: 2: an append, then a get]
    #[arg(long)]
    ops: Option<usize>,
    /// Highest term any server may reach [default: 3]
    #[arg(long)]
    max_term: Option<u64>,
    /// Longest log any server may hold [default: 3]
    #[arg(long)]
    max_log: Option<usize>,
    /// Server crashes in a run, in total; a crashed server may restart from its
    /// storage [default: 1]
    #[arg(long)]
    crashes: Option<usize>,
    /// Network semantics: unordered (each message delivered at most once, any order),
    /// duplicating (any message any number of times), ordered (FIFO per pair)
    /// [default: unordered]
    #[arg(long, value_parser = clap::value_parser!(NetworkKind))]
    network: Option<NetworkKind>,
    /// Messages may also be lost.
    #[arg(long)]
    lossy: bool,
    /// Most messages in flight at once (on the duplicating network: most distinct
    /// messages ever sent) [default: the fewest with which a leader can be elected:
    /// 3 for 3 servers, 4 for 4, 6 for 5]
    #[arg(long)]
    max_in_flight: Option<usize>,
    /// Most messages in flight from one actor to another [default: no limit]
    #[arg(long)]
    max_per_channel: Option<usize>,
    /// Most entries one AppendEntries carries [default: 64]
    #[arg(long)]
    max_batch: Option<usize>,
    /// Switch on a known Raft bug (repeatable); `raftlab mutants` lists them.
    #[arg(long = "mutant", value_name = "NAME", value_parser = clap::value_parser!(Mutant))]
    mutants: Vec<Mutant>,
}

impl BoundsArgs {
    pub fn bounds(&self) -> Bounds {
        let base = match self.mutants.as_slice() {
            [one] => raft_checks::mutants::case(*one).map(|c| c.bounds),
            _ => None,
        }
        .unwrap_or_default();
        let servers = self.servers.unwrap_or(base.servers);
        let in_flight_default = if self.servers.is_some() {
            Bounds::least_in_flight(servers)
        } else {
            base.max_in_flight
        };
        Bounds {
            servers,
            clients: self.clients.unwrap_or(base.clients),
            ops_per_client: self.ops.unwrap_or(base.ops_per_client),
            max_term: self.max_term.unwrap_or(base.max_term),
            max_log: self.max_log.unwrap_or(base.max_log),
            crashes: self.crashes.unwrap_or(base.crashes),
            network: self.network.unwrap_or(base.network),
            lossy: self.lossy || base.lossy,
            max_in_flight: self.max_in_flight.unwrap_or(in_flight_default),
            max_batch: self.max_batch.unwrap_or(base.max_batch),
            max_per_channel: self.max_per_channel.unwrap_or(base.max_per_channel),
            mutants: self.mutants.iter().fold(MutantSet::NONE, |s, m| s.with(*m)),
        }
    }
}

/// How to run the checker.
#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Symmetry reduction: treat states that differ only by a renaming of servers as
    /// one (on by default; used by dfs and simulation, never by bfs).
    #[arg(long, overrides_with = "no_symmetry")]
    symmetry: bool,
    /// Turn symmetry reduction off.
    #[arg(long)]
    no_symmetry: bool,
    /// Search strategy: dfs (default; the proof), bfs (shortest paths, more memory),
    /// simulation (random runs, never exhaustive).
    #[arg(long, default_value = "dfs", value_parser = clap::value_parser!(Strategy))]
    strategy: Strategy,
    /// Stop at this depth (the report then says the run was not exhaustive).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Stop after this long, e.g. 90s, 10m (the report then says not exhaustive).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Seed for --strategy simulation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    pub fn options(&self) -> RunOptions {
        let mut o = RunOptions::default();
        if let Some(t) = self.threads {
            o.threads = t;
        }
        o.symmetry = !self.no_symmetry;
        o.strategy = self.strategy;
        o.max_depth = self.max_depth;
        o.timeout = self.timeout;
        o.seed = self.seed;
        o.progress = if self.quiet {
            None
        } else {
            Some(Duration::from_secs(5))
        };
        o
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration: write e.g. 90, 90s, 10m or 1h"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("'{s}': unknown unit '{unit}' (use ms, s, m or h)")),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(format!("'{s}': a duration must be positive"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    bounds: BoundsArgs,
    #[command(flatten)]
    run: RunArgs,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check(args) => cli_check::main(&args),
        Command::Mutants(args) => cli_mutants::main(&args),
        Command::Explore(args) => cli_explore::main(&args),
        Command::Node(args) => cli_node::main(&args),
        Command::Cluster(args) => cli_cluster::main(&args),
        Command::Client(args) => cli_client::main(&args),
        Command::Bench(cmd) => cli_bench::main(&cmd),
        Command::Trace(cmd) => cli_trace::main(&cmd),
    };
    ExitCode::from(code as u8)
}

/// Prints a usage error and returns exit code 2.
pub fn usage_error(msg: &str) -> i32 {
    eprintln!("error: {msg}");
    2
}

pub use run::check;

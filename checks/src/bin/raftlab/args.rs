//! The flags that several subcommands share: what to check (the bounds), how to
//! run the checker, and the parsers for durations and probabilities.

use clap::Args;
use raft_checks::bounds::{Bounds, NetworkKind, Profile};
use raft_checks::checker::catalogue::base_bounds;
use raft_checks::checker::{RunOptions, Strategy};
use raft_model::{Mutant, MutantSet};
use std::time::Duration;

/// What to check: the model's bounds. Shared by every command that builds a model.
/// A flag left out takes the default bound, or, with a single --mutant, the bound
/// at which `raftlab mutants` exposes that mutant.
#[derive(Args, Clone, Debug)]
pub struct BoundsArgs {
    /// Start from a named bound set (flags given as well override its bounds):
    /// `default` (6.5 million states, 5 to 10 seconds on two cores), `thorough`
    /// (the default with a third term: 39 million states, about a minute and
    /// 0.9 GB), or `deep` (2 clients, 2 crashes, 4 messages in flight, one per
    /// channel, term 2, log 2: 126 million states, 3 to 4 minutes and 2.1 GB);
    /// see README "Profiles".
    #[arg(long, value_enum, value_name = "NAME")]
    profile: Option<Profile>,
    /// Raft servers in the cluster (even sizes are allowed) [default: 3]
    #[arg(long)]
    servers: Option<usize>,
    /// Key/value clients [default: 1]
    #[arg(long)]
    clients: Option<usize>,
    /// Operations per client: appends to key x; with 2 or more, of distinct
    /// values, and the last one is a get of x [default: 2: an append, then a
    /// get]. With 1, no client reads, so every client appends the same value,
    /// and symmetry reduction permutes the (alike) clients too
    #[arg(long)]
    ops: Option<usize>,
    /// Highest term any server may reach [default: 2]
    #[arg(long)]
    max_term: Option<u64>,
    /// Longest log any server may hold [default: 3]
    #[arg(long)]
    max_log: Option<usize>,
    /// Server crashes in a run, in total; a crashed server may restart from its
    /// storage [default: 2]
    #[arg(long)]
    crashes: Option<usize>,
    /// Network semantics [default: unordered]
    #[arg(long, value_enum)]
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
    /// Let any server take a snapshot at its commit index at any moment (and drop
    /// its log up to it); leaders then send InstallSnapshot to followers that need
    /// compacted entries.
    #[arg(long)]
    snapshots: bool,
    /// Switch on a known Raft bug (repeatable); `raftlab mutants` lists them.
    #[arg(long = "mutant", value_name = "NAME", value_parser = clap::value_parser!(Mutant))]
    mutants: Vec<Mutant>,
}

impl BoundsArgs {
    pub fn bounds(&self) -> Bounds {
        let base = match self.profile {
            Some(p) => p.bounds(),
            None => base_bounds(&self.mutants),
        };
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
            snapshots: self.snapshots || base.snapshots,
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
    /// Symmetry reduction: treat states that differ only by a rotation of the
    /// servers (S1→S2→S3→S1) as one, and, with two or more clients of one
    /// operation each (alike, so interchangeable), by a permutation of the
    /// clients (on by default; used by dfs and simulation, never by bfs).
    #[arg(long, overrides_with = "no_symmetry")]
    symmetry: bool,
    /// Turn symmetry reduction off.
    #[arg(long)]
    no_symmetry: bool,
    /// Search strategy.
    #[arg(long, value_enum, default_value_t = Strategy::Dfs)]
    strategy: Strategy,
    /// Stop at this depth (the report then says the run was not exhaustive).
    #[arg(long)]
    max_depth: Option<usize>,
    /// Stop after this long, e.g. 90s, 10m (the report then says not exhaustive).
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// After a violation, search this long (one thread, breadth-first) for each
    /// violated property's shortest counterexample, e.g. 20s, 5m; past it, the
    /// counterexample found is minimised instead [default: 20s].
    #[arg(long, value_parser = parse_duration)]
    shortest_within: Option<Duration>,
    /// Seed for --strategy simulation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    /// Flags that the timely engine has no use for, if any was given.
    pub fn not_for_timely(&self) -> Option<&'static str> {
        if self.threads.is_some() {
            Some("--threads (the timely engine's threads are --workers)")
        } else if self.strategy != Strategy::Dfs {
            Some("--strategy (the timely engine always searches breadth-first)")
        } else if self.shortest_within.is_some() {
            Some("--shortest-within (the timely engine's counterexamples are shortest)")
        } else {
            None
        }
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    pub fn options(&self) -> RunOptions {
        let mut o = RunOptions::default();
        if let Some(t) = self.threads {
            o.threads = t;
        }
        o.symmetry = !self.no_symmetry;
        o.strategy = self.strategy;
        o.max_depth = self.max_depth;
        o.timeout = self.timeout;
        if let Some(t) = self.shortest_within {
            o.shortest_within = Some(t);
        }
        o.seed = self.seed;
        o.progress = if self.quiet {
            None
        } else {
            Some(Duration::from_secs(5))
        };
        o
    }
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// A probability flag: a number from 0 to 1.
pub fn probability(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number: give a probability from 0 to 1"))?;
    raft_impl::faults::check_probability(p).map(|()| p)
}

/// Prints a usage error and returns exit code 2.
pub fn usage_error(msg: &str) -> i32 {
    eprintln!("error: {msg}");
    2
}

/// How to reach a running cluster: shared by `client` and its subcommands.
#[derive(Args, Clone, Debug)]
pub struct LinkArgs {
    /// The servers' addresses in id order (S1 first), comma-separated.
    #[arg(
        long,
        global = true,
        value_delimiter = ',',
        value_name = "ADDR,ADDR,...",
        default_value = "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002"
    )]
    pub cluster: Vec<std::net::SocketAddr>,
    /// The cluster's id (16 hex digits, kept in each node's data directory as
    /// `cluster-id`) [default: asked of the nodes]
    #[arg(long, global = true, value_name = "HEX", value_parser = cluster_id)]
    pub cluster_id: Option<u64>,
    /// The cluster's shared secret (the file the nodes were started with): every
    /// datagram is tagged with it.
    #[arg(long, global = true, value_name = "FILE")]
    pub secret_file: Option<std::path::PathBuf>,
}

impl LinkArgs {
    /// The link to the cluster: with the id given, or the one the nodes name.
    pub fn link(&self, timeout: Duration) -> Result<raft_impl::link::Link, String> {
        let secret = self.secret()?;
        match self.cluster_id {
            Some(id) => Ok(raft_impl::link::Link::new(self.cluster.clone(), id, secret)),
            None => raft_impl::link::Link::discover(self.cluster.clone(), secret, timeout),
        }
    }

    pub fn secret(&self) -> Result<Option<raft_impl::auth::Secret>, String> {
        secret_from(self.secret_file.as_deref())
    }
}

/// The secret in `path`, if a path is given.
pub fn secret_from(
    path: Option<&std::path::Path>,
) -> Result<Option<raft_impl::auth::Secret>, String> {
    path.map(raft_impl::auth::Secret::from_file).transpose()
}

/// A `--cluster-id` flag.
pub fn cluster_id(s: &str) -> Result<u64, String> {
    raft_impl::cluster_id::parse(s)
}

/// How often nodes take a snapshot: `raftlab node`'s flag, which `cluster`,
/// `chaos`, `trace record` and `bench cluster` pass on to the nodes they start.
#[derive(Args, Clone, Copy, Debug)]
pub struct SnapshotArgs {
    /// Take a snapshot of the key/value store every N applied entries and drop the
    /// log up to it (0: never), so the data directory and a restart stay bounded; a
    /// follower that fell further behind catches up by InstallSnapshot.
    #[arg(long, value_name = "N", default_value_t = raft_impl::node::DEFAULT_SNAPSHOT_INTERVAL)]
    pub snapshot_interval: u64,
}

impl SnapshotArgs {
    /// The flag as `raftlab node` takes it.
    pub fn node_args(&self) -> [String; 2] {
        [
            "--snapshot-interval".to_string(),
            self.snapshot_interval.to_string(),
        ]
    }
}

//! The bounds of a model check: every one explicit, printed in every report.

use raft_model::{Mutant, MutantSet, Term};
use serde::Serialize;
use std::fmt;

/// How the model's network may deliver messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkKind {
    /// Any order, each message delivered at most once.
    Unordered,
    /// Any order, any message may be delivered any number of times.
    Duplicating,
    /// First in, first out between each pair of actors.
    Ordered,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        match self.to_possible_value() {
            Some(v) => f.write_str(v.get_name()),
            None => Ok(()),
        }
    }
}

/// What the checker explores. A check is exhaustive *within* these bounds only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Bounds {
    /// Raft servers in the cluster.
    pub servers: usize,
    /// Key/value clients.
    pub clients: usize,
    /// Operations each client performs, one after the other.
    pub ops_per_client: usize,
    /// No server goes beyond this term.
    pub max_term: Term,
    /// No server's log grows beyond this many entries.
    pub max_log: usize,
    /// Server crashes over the whole run (each crashed server may recover from its storage).
    pub crashes: usize,
    pub network: NetworkKind,
    /// Messages may be lost.
    pub lossy: bool,
    /// At most this many messages in flight at once.
    pub max_in_flight: usize,
    /// At most this many messages in flight from one actor to another.
    pub max_per_channel: usize,
    /// At most this many entries in one AppendEntries (real leaders cap their batches).
    pub max_batch: usize,
    /// Any server may take a snapshot at its commit index at any moment.
    pub snapshots: bool,
    /// Known Raft bugs switched on (none for a proof).
    #[serde(serialize_with = "serialize_mutants")]
    pub mutants: MutantSet,
}

fn serialize_mutants<S: serde::Serializer>(m: &MutantSet, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter().map(Mutant::name))
}

/// Named bound sets: the default proof (seconds), a larger one (about a
/// minute), and a deeper search for when there is time (minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The default check (see README "What the default check proves").
    Default,
    /// The default with a third term: 39 million states, exhaustive in about a
    /// minute and 0.9 GB on two cores (see README "Profiles").
    Thorough,
    /// Two clients, two crashes, four messages in flight (one per channel),
    /// term 2, log 2: 126 million states (clients permuted as well as servers
    /// rotated), exhaustive in 3 to 4 minutes and 2.1 GB on two cores (see
    /// README "Profiles").
    Deep,
}

impl Profile {
    pub fn bounds(self) -> Bounds {
        match self {
            Profile::Default => Bounds::default(),
            Profile::Thorough => Bounds {
                max_term: 3,
                ..Bounds::default()
            },
            // The richest bound set with all three additions found exhaustive on
            // two cores: a third term, or a second message on one channel,
            // did not finish in ten minutes (README "Profiles").
            Profile::Deep => Bounds {
                clients: 2,
                ops_per_client: 1,
                max_term: 2,
                max_log: 2,
                crashes: 2,
                max_in_flight: 4,
                max_per_channel: 1,
                ..Bounds::default()
            },
        }
    }
}

/// The most actors (servers and clients) a model can have: the model keeps four
/// timer bits per actor in a `u64`.
pub const MAX_ACTORS: usize = 16;

/// Servers a check may have: beyond this the state space is out of reach anyway.
pub const MAX_SERVERS: usize = 9;

impl Default for Bounds {
    /// The default check: see README "What the default check proves".
    fn default() -> Self {
        Bounds {
            servers: 3,
            clients: 1,
            ops_per_client: 2,
            max_term: 2,
            max_log: 3,
            crashes: 2,
            network: NetworkKind::Unordered,
            lossy: false,
            max_in_flight: 3,
            max_batch: 64,
            max_per_channel: usize::MAX,
            snapshots: false,
            mutants: MutantSet::NONE,
        }
    }
}

impl Bounds {
    /// The fewest messages in flight with which a leader can be elected: the
    /// candidate's RequestVotes (or their replies) to the peers it did not need, plus
    /// the new leader's first AppendEntries to every peer. Also the default.
    pub fn least_in_flight(servers: usize) -> usize {
        let peers = servers.saturating_sub(1);
        (2 * peers).saturating_sub(servers / 2).max(1)
    }

    /// Rejects bounds that make no sense or would make the check vacuous.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("--servers must be at least 1: a cluster needs a server".into());
        }
        if self.servers > MAX_SERVERS {
            return Err(format!(
                "--servers {} is more than {MAX_SERVERS}: such a state space cannot be explored exhaustively",
                self.servers
            ));
        }
        if self.max_term == 0 {
            return Err(
                "--max-term 0 forbids every election, so nothing could happen and the check would be vacuous; use 1 or more".into(),
            );
        }
        if self.clients == 0 || self.ops_per_client == 0 {
            return Err("--clients and --ops must be at least 1: without client operations no entry is ever replicated and the check would be vacuous".into());
        }
        if self.max_log == 0 {
            return Err(
                "--max-log 0 forbids every log entry and the check would be vacuous; use 1 or more"
                    .into(),
            );
        }
        // A lossy network can lose the votes a candidate does not need, so only one
        // step's messages (a RequestVote or an AppendEntries to every peer) must fit.
        let least = if self.lossy {
            self.servers.saturating_sub(1).max(1)
        } else {
            Bounds::least_in_flight(self.servers)
        };
        if self.max_in_flight < least {
            return Err(format!(
                "--max-in-flight {} is below {least}: no leader could ever be elected among {} \
                 servers (the votes it did not need and its first AppendEntries to every peer \
                 are in flight together); use {least} or more",
                self.max_in_flight, self.servers
            ));
        }
        if self.max_batch == 0 {
            return Err("--max-batch 0 would forbid replicating any entry; use 1 or more".into());
        }
        if let Some(m) = self
            .mutants
            .iter()
            .find(|m| m.needs_snapshots() && !self.snapshots)
        {
            return Err(format!(
                "--mutant {m} is a bug of snapshots, which this check does not take: add --snapshots"
            ));
        }
        if self.clients + self.servers > MAX_ACTORS {
            return Err(format!(
                "too many actors: servers + clients must be at most {}",
                MAX_ACTORS
            ));
        }
        Ok(())
    }
}

/// The bounds in one line, as every report prints them.
pub fn describe(b: &Bounds) -> String {
    let mutants: Vec<_> = b.mutants.iter().map(|m| m.name()).collect();
    format!(
        "{} servers, {} client(s) x {} op(s), max term {}, max log {}, {} crash(es) in total, \
         {} network{}, at most {} messages in flight{}, {} entries per AppendEntries{}{}",
        b.servers,
        b.clients,
        b.ops_per_client,
        b.max_term,
        b.max_log,
        b.crashes,
        b.network,
        if b.lossy { " (lossy)" } else { " (no loss)" },
        b.max_in_flight,
        // A proof states every bound it was proved within.
        if b.max_per_channel == usize::MAX {
            String::new()
        } else {
            format!(" ({} from one actor to another)", b.max_per_channel)
        },
        b.max_batch,
        if b.snapshots {
            ", snapshots at any moment"
        } else {
            ""
        },
        if mutants.is_empty() {
            String::new()
        } else {
            format!(", MUTANTS: {}", mutants.join(", "))
        }
    )
}

/// Every bound as the `raftlab check` flag that sets it and its value, in the
/// order a command line lists them (`--lossy` has no value).
pub fn flags(b: &Bounds) -> Vec<(&'static str, Option<String>)> {
    let mut v = vec![
        ("servers", Some(b.servers.to_string())),
        ("clients", Some(b.clients.to_string())),
        ("ops", Some(b.ops_per_client.to_string())),
        ("max-term", Some(b.max_term.to_string())),
        ("max-log", Some(b.max_log.to_string())),
        ("crashes", Some(b.crashes.to_string())),
        ("network", Some(b.network.to_string())),
        ("max-in-flight", Some(b.max_in_flight.to_string())),
        ("max-per-channel", Some(b.max_per_channel.to_string())),
        ("max-batch", Some(b.max_batch.to_string())),
    ];
    v.extend(
        b.mutants
            .iter()
            .map(|m| ("mutant", Some(m.name().to_string()))),
    );
    if b.lossy {
        v.push(("lossy", None));
    }
    if b.snapshots {
        v.push(("snapshots", None));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_states_a_per_channel_bound_only_when_there_is_one() {
        let unlimited = describe(&Bounds::default());
        assert!(!unlimited.contains("from one actor"), "{unlimited}");
        let limited = describe(&Bounds {
            max_per_channel: 1,
            ..Bounds::default()
        });
        assert!(
            limited.contains("at most 3 messages in flight (1 from one actor to another)"),
            "{limited}"
        );
    }
}

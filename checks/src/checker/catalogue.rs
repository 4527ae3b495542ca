//! The mutant catalogue: each known Raft bug with the smallest bounds (found by
//! measurement) at which the checker exposes it, and the property it breaks.

use crate::bounds::Bounds;
use raft_model::{Mutant, MutantSet};

/// One mutant, where to look for it, and what it should break.
#[derive(Clone, Debug)]
pub struct Case {
    pub mutant: Mutant,
    pub bounds: Bounds,
    /// The property whose counterexample is the shortest of all.
    pub expected: &'static str,
    /// Search breadth-first from the start. Off where the story is too deep for
    /// stateright's breadth-first search (commit-old-term needs four terms): the
    /// search is depth-first, and only then breadth-first, for the shortest
    /// story of the first property found violated.
    pub breadth_first: bool,
}

fn bounds(max_term: u64, max_log: usize, ops: usize, crashes: usize, in_flight: usize) -> Bounds {
    Bounds {
        max_term,
        max_log,
        ops_per_client: ops,
        crashes,
        max_in_flight: in_flight,
        ..Bounds::default()
    }
}

fn snapshots(b: Bounds) -> Bounds {
    Bounds {
        snapshots: true,
        ..b
    }
}

/// Every mutant with its bounds: 3 servers, 1 client, unordered lossless network.
pub fn catalogue() -> Vec<Case> {
    use crate::properties::*;
    use Mutant::*;
    let case = |mutant, bounds, expected| Case {
        mutant,
        bounds,
        expected,
        breadth_first: true,
    };
    // Figure 8 needs four terms and two entries of different terms at one index;
    // a lossy network keeps the messages in flight (and the state space) small.
    let figure_8 = Case {
        mutant: CommitOldTerm,
        bounds: Bounds {
            lossy: true,
            ..bounds(4, 1, 1, 0, 2)
        },
        expected: LEADER_COMPLETENESS,
        breadth_first: false,
    };
    vec![
        case(
            NoElectionRestriction,
            bounds(2, 2, 1, 0, 3),
            LEADER_COMPLETENESS,
        ),
        figure_8,
        case(ForgetVotedFor, bounds(1, 1, 1, 1, 4), ELECTION_SAFETY),
        case(ForgetCurrentTerm, bounds(1, 1, 1, 1, 3), TERMS_MONOTONIC),
        case(DoubleVote, bounds(1, 1, 1, 0, 4), ELECTION_SAFETY),
        case(
            TruncateOnStaleAppend,
            bounds(2, 2, 1, 0, 3),
            COMMITTED_ON_MAJORITY,
        ),
        case(SmallQuorum, bounds(1, 1, 1, 0, 5), COMMITTED_ON_MAJORITY),
        case(NoStepDown, bounds(2, 1, 1, 0, 3), ELECTION_SAFETY),
        case(CommitPastMatch, bounds(2, 1, 1, 0, 4), LEADER_COMPLETENESS),
        // A lost reply makes the client retry, and the bug applies the retry
        // again; losing messages also keeps few in flight (4 lossless: 8x slower).
        case(
            NoDedup,
            Bounds {
                lossy: true,
                ..bounds(2, 3, 2, 0, 2)
            },
            LINEARIZABILITY,
        ),
        case(LocalRead, bounds(2, 2, 2, 0, 3), LINEARIZABILITY),
        // Snapshots at any moment (`--snapshots`).
        case(
            SnapshotPastCommit,
            snapshots(bounds(1, 1, 1, 0, 3)),
            STATE_MACHINE_SAFETY,
        ),
        // The follower must hold an acknowledged entry after the snapshot while its
        // commit index is below it: a restart (which forgets the commit index)
        // between its acknowledgement and a late InstallSnapshot.
        case(
            DiscardLogOnInstall,
            snapshots(bounds(1, 2, 2, 1, 3)),
            COMMITTED_ON_MAJORITY,
        ),
        case(
            InstallOlderSnapshot,
            snapshots(bounds(1, 2, 2, 0, 3)),
            COMMIT_MONOTONIC,
        ),
        case(
            ForgetSnapshotMetadata,
            snapshots(bounds(1, 2, 2, 1, 3)),
            STATE_MACHINE_SAFETY,
        ),
        case(
            SendEntriesBeforeSnapshot,
            snapshots(bounds(1, 2, 2, 0, 3)),
            LOG_MATCHING,
        ),
        // A snapshot's wrong term makes a stale log win an election: three terms.
        case(
            SnapshotWrongTerm,
            snapshots(bounds(3, 2, 2, 0, 3)),
            COMMITTED_ON_MAJORITY,
        ),
    ]
    .into_iter()
    .map(|mut c: Case| {
        c.bounds.mutants = MutantSet::NONE.with(c.mutant);
        c
    })
    .collect()
}

pub fn case(m: Mutant) -> Option<Case> {
    catalogue().into_iter().find(|c| c.mutant == m)
}

/// The bounds a check starts from when its flags leave a bound out: the default
/// bounds, or, with a single mutant, the bounds at which the catalogue exposes it.
pub fn base_bounds(mutants: &[Mutant]) -> Bounds {
    match mutants {
        [one] => case(*one).map(|c| c.bounds),
        _ => None,
    }
    .unwrap_or_default()
}

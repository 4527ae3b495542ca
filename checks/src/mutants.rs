//! The mutant catalogue: each known Raft bug with the smallest bounds (found by
//! measurement) at which the checker exposes it, and the property it breaks.
//! A mutant counts as caught only if the correct model passes the same check.

use crate::bounds::Bounds;
use crate::display::StepRow;
use crate::model::Action;
use crate::run::{self, RunOptions, Status, Strategy};
use raft_model::{Mutant, MutantSet};
use serde::Serialize;
use std::time::Instant;

/// One mutant, where to look for it, and what it should break.
#[derive(Clone, Debug)]
pub struct Case {
    pub mutant: Mutant,
    pub bounds: Bounds,
    /// The property whose counterexample is the shortest of all.
    pub expected: &'static str,
    /// Search breadth-first for a shortest counterexample. Off where the story is
    /// too deep for that (commit-old-term needs four terms): the depth-first
    /// counterexample is then cut down to a minimal one.
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

/// The outcome for one mutant.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub mutant: &'static str,
    pub caught: bool,
    pub property: Option<&'static str>,
    pub length: Option<usize>,
    pub states: usize,
    pub elapsed_s: f64,
    pub bounds: Bounds,
    /// The correct model at the same bounds: exhaustive and nothing violated.
    pub baseline_holds: bool,
    /// The counterexample is a shortest one (breadth-first); otherwise minimal.
    pub shortest: bool,
    #[serde(skip)]
    pub counterexample: Vec<StepRow>,
    #[serde(skip)]
    pub path: Option<Vec<Action>>,
    /// The counterexample as an Explorer path, for `raftlab explore --mutant NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_path: Option<String>,
}

/// Checks the correct model at the case's bounds, then the mutant breadth-first so
/// that its counterexample is a shortest one.
pub fn run(case: &Case, threads: usize) -> Row {
    let started = Instant::now();
    let baseline = Bounds {
        mutants: MutantSet::NONE,
        ..case.bounds.clone()
    };
    let base = run::check(
        &baseline,
        &RunOptions {
            threads,
            ..RunOptions::default()
        },
    );
    let baseline_holds = base.exhaustive && base.violated().is_empty();
    // One thread breadth-first, so that the same property is found first every time.
    let report = run::check(
        &case.bounds,
        &RunOptions {
            threads: if case.breadth_first { 1 } else { threads },
            strategy: if case.breadth_first {
                Strategy::Bfs
            } else {
                Strategy::Dfs
            },
            shortest_within: None,
            ..RunOptions::default()
        },
    );
    // Of the properties found violated, the one with the shortest story.
    let worst = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .min_by_key(|p| p.counterexample.as_ref().map_or(usize::MAX, |c| c.len()));
    let caught = baseline_holds && worst.is_some();
    Row {
        mutant: case.mutant.name(),
        caught,
        property: worst.map(|p| p.name),
        length: worst.and_then(|p| p.counterexample.as_ref().map(|c| c.len())),
        states: report.unique_states,
        elapsed_s: started.elapsed().as_secs_f64(),
        bounds: case.bounds.clone(),
        baseline_holds,
        shortest: worst.and_then(|p| p.shortest).unwrap_or(false),
        counterexample: worst
            .and_then(|p| p.counterexample.clone())
            .unwrap_or_default(),
        path: worst.and_then(|p| p.path.clone()),
        explorer_path: worst.and_then(|p| p.explorer_path.clone()),
    }
}

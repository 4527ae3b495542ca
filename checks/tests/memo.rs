//! The handler memo (`raft_checks::model::memo`) changes nothing but the time a
//! check takes: for each bound set, and for every mutant, the model with the memo
//! and the model that calls every handler explore the same states to the same
//! verdicts, and the handlers' coverage counts are the same. One test in its own
//! binary, so that no other check counts decisions alongside it. Run in release
//! mode (`cargo test --release`).

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::model::RaftModel;
use raft_model::coverage::{self, Counts};
use raft_model::{Mutant, MutantSet};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeMap;

/// What a breadth-first search found, and what the handlers decided on the way.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    unique: usize,
    generated: usize,
    /// Property -> length of the shortest run that violates or witnesses it.
    discoveries: BTreeMap<&'static str, usize>,
    decisions: Counts,
}

fn bfs(model: RaftModel, finish: HasDiscoveries) -> Outcome {
    let before = coverage::snapshot();
    // One thread, so that the first discovery of each property is always the same.
    let c = model
        .pruned()
        .checker()
        .threads(1)
        .finish_when(finish)
        .spawn_bfs()
        .join();
    Outcome {
        unique: c.unique_state_count(),
        generated: c.state_count(),
        discoveries: c
            .discoveries()
            .into_iter()
            .map(|(name, path)| (name, path.into_actions().len()))
            .collect(),
        decisions: coverage::since(&before, &coverage::snapshot()),
    }
}

fn small() -> Bounds {
    Bounds {
        ops_per_client: 1,
        max_term: 2,
        max_log: 1,
        crashes: 0,
        ..Bounds::default()
    }
}

/// Each network, losses, a crash, snapshots, 2 and 4 servers, 2 clients: small
/// enough for both models to be explored in a few seconds.
fn bound_sets() -> Vec<(&'static str, Bounds)> {
    vec![
        ("unordered", small()),
        (
            "a crash",
            Bounds {
                max_term: 1,
                crashes: 1,
                ..small()
            },
        ),
        (
            "ordered",
            Bounds {
                network: NetworkKind::Ordered,
                ..small()
            },
        ),
        (
            "duplicating",
            Bounds {
                network: NetworkKind::Duplicating,
                max_in_flight: 6,
                ..small()
            },
        ),
        (
            "lossy, 2 servers",
            Bounds {
                servers: 2,
                lossy: true,
                ..small()
            },
        ),
        (
            "snapshots",
            Bounds {
                snapshots: true,
                max_term: 1,
                max_log: 2,
                ..small()
            },
        ),
        (
            "4 servers",
            Bounds {
                servers: 4,
                max_term: 1,
                max_in_flight: 4,
                ..small()
            },
        ),
        (
            "2 clients",
            Bounds {
                clients: 2,
                max_term: 1,
                ..small()
            },
        ),
    ]
}

/// Under `b`, explored until `finish`, the same outcome with and without the memo.
fn same_with_and_without_memo(name: &str, b: &Bounds, finish: HasDiscoveries) {
    let started = std::time::Instant::now();
    let memo = bfs(RaftModel::new(b.clone()), finish.clone());
    let calls = bfs(RaftModel::new(b.clone()).unmemoised(), finish);
    assert!(memo.unique > 100, "{name}: only {} states", memo.unique);
    assert!(
        memo.decisions.iter().any(|&n| n > 0),
        "{name}: no decision counted"
    );
    assert_eq!(memo, calls, "{name}: the memo changed the check");
    eprintln!(
        "{name}: {} unique, {} generated, the same with and without the memo ({:.1} s)",
        memo.unique,
        memo.generated,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_memo_changes_no_state_no_verdict_and_no_coverage_count() {
    for (name, b) in bound_sets() {
        same_with_and_without_memo(name, &b, HasDiscoveries::All);
    }
    for m in Mutant::ALL {
        // A crash for the bugs of what is saved; the snapshot bugs need a log
        // of two entries, to snapshot one and send another (and no crash, or
        // snapshot-past-commit's states run to tens of millions).
        let b = Bounds {
            mutants: MutantSet::NONE.with(m),
            snapshots: m.needs_snapshots(),
            max_term: 1,
            max_log: if m.needs_snapshots() { 2 } else { 1 },
            crashes: usize::from(!m.needs_snapshots()),
            ..small()
        };
        // Up to the first violation: both stop at the same state.
        same_with_and_without_memo(m.name(), &b, HasDiscoveries::AnyFailures);
    }
}

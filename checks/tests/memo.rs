//! The handler memo (`raft_checks::model::memo`) changes nothing but the time a
//! check takes: for each bound set, and for every mutant, the model with the memo
//! and the model that calls every handler explore the same states to the same
//! verdicts, and the handlers' coverage counts are the same. One test in its own
//! binary, so that no other check counts decisions alongside it. Run in release
//! mode (`cargo test --release`).

#[path = "equivalence/bound_sets.rs"]
mod equivalence;
#[path = "equivalence/outcome.rs"]
mod outcome;

use equivalence::small;
use raft_checks::bounds::Bounds;
use raft_checks::model::RaftModel;
use raft_model::coverage::{self, Counts};
use raft_model::{Mutant, MutantSet};
use stateright::HasDiscoveries;

/// What a breadth-first search found, and what the handlers decided on the way.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    search: outcome::Outcome,
    decisions: Counts,
}

fn bfs(model: RaftModel, finish: HasDiscoveries) -> Outcome {
    let before = coverage::snapshot();
    let search = outcome::bfs(model.pruned(), finish);
    Outcome {
        search,
        decisions: coverage::since(&before, &coverage::snapshot()),
    }
}

/// The equivalence test's bound sets, and snapshots.
fn bound_sets() -> Vec<(&'static str, Bounds)> {
    let mut sets = equivalence::bound_sets();
    sets.push((
        "snapshots",
        Bounds {
            snapshots: true,
            max_term: 1,
            max_log: 2,
            ..small()
        },
    ));
    sets
}

/// Under `b`, explored until `finish`, the same outcome with and without the memo.
fn same_with_and_without_memo(name: &str, b: &Bounds, finish: HasDiscoveries) {
    let started = std::time::Instant::now();
    let memo = bfs(RaftModel::new(b.clone()), finish.clone());
    let calls = bfs(RaftModel::new(b.clone()).unmemoised(), finish);
    assert!(
        memo.search.unique > 100,
        "{name}: only {} states",
        memo.search.unique
    );
    assert!(
        memo.decisions.iter().any(|&n| n > 0),
        "{name}: no decision counted"
    );
    assert_eq!(memo, calls, "{name}: the memo changed the check");
    eprintln!(
        "{name}: {} unique, {} generated, the same with and without the memo ({:.1} s)",
        memo.search.unique,
        memo.search.generated,
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

//! The checks' model judging the Always properties as one
//! ([`RaftModel::judging_always_as_one`]) against the same model judging them
//! one by one: breadth-first up to the first violation, the same search, a
//! violation where there was one, at the same depth, and its state names only
//! properties the one-by-one search found violated.

use crate::bound_sets::{bound_sets, small};
use raft_checks::bounds::Bounds;
use raft_checks::checker::catalogue::catalogue;
use raft_checks::model::RaftModel;
use raft_checks::properties::{always_failing, named, ALWAYS_AS_ONE};
use raft_model::MutantSet;
use stateright::{Checker, Expectation, HasDiscoveries, Model};
use std::collections::BTreeSet;

/// What a breadth-first search up to the first violation found.
struct Found {
    unique: usize,
    generated: usize,
    /// Each violated property and the length of its run.
    violated: Vec<(&'static str, usize)>,
    /// Each witnessed property and the length of its run.
    witnessed: BTreeSet<(&'static str, usize)>,
}

fn search(model: RaftModel) -> Found {
    let always: Vec<&str> = named(&model.bounds)
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .map(|p| p.name)
        .collect();
    let c = model
        .clone()
        .checker()
        .threads(1)
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    let mut found = Found {
        unique: c.unique_state_count(),
        generated: c.state_count(),
        violated: Vec::new(),
        witnessed: BTreeSet::new(),
    };
    for (name, path) in c.discoveries() {
        let depth = path.clone().into_actions().len();
        if name == ALWAYS_AS_ONE {
            let names = always_failing(&model, path.last_state());
            found.violated.extend(names.into_iter().map(|n| (n, depth)));
        } else if always.contains(&name) {
            found.violated.push((name, depth));
        } else {
            found.witnessed.insert((name, depth));
        }
    }
    found
}

/// Both searches under `b` agree; the names of the properties violated.
fn compare(name: &str, b: &Bounds) -> Vec<&'static str> {
    // Each its own model: a model's record of witnesses is shared by its clones.
    let checks = || RaftModel::new(b.clone()).pruned().witnessing_once();
    let apart = search(checks());
    let one = search(checks().judging_always_as_one());
    assert_eq!(
        (apart.unique, apart.generated),
        (one.unique, one.generated),
        "{name}: judging the Always properties as one changed the search"
    );
    assert_eq!(apart.witnessed, one.witnessed, "{name}: witnesses");
    assert_eq!(
        apart.violated.is_empty(),
        one.violated.is_empty(),
        "{name}: {:?} against {:?}",
        apart.violated,
        one.violated
    );
    let first = apart.violated.iter().map(|(_, d)| *d).min();
    for v in &one.violated {
        assert_eq!(Some(v.1), first, "{name}: {} found at another depth", v.0);
        assert!(apart.violated.contains(v), "{name}: {} not violated", v.0);
    }
    eprintln!("{name}: {} unique, violated {:?}", one.unique, one.violated);
    one.violated.into_iter().map(|(n, _)| n).collect()
}

#[test]
fn judging_the_always_properties_as_one_changes_no_verdict() {
    for (name, b) in bound_sets() {
        compare(name, &b);
    }
    // Each mutant at small bounds, and the quick ones up to their violation.
    for case in catalogue() {
        let b = Bounds {
            mutants: MutantSet::NONE.with(case.mutant),
            ..small()
        };
        compare(case.mutant.name(), &b);
        if crate::QUICK.contains(&case.mutant) {
            let caught = compare(case.mutant.name(), &case.bounds);
            assert!(caught.contains(&case.expected), "{}", case.mutant);
        }
    }
}

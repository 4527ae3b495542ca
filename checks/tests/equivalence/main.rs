//! The checked model written for the checker (`raft_checks::model`) against the
//! one it replaced (stateright's `ActorModel` of the same actors, kept in
//! [`old_model`]): for each bound set, breadth-first without symmetry, both reach
//! exactly as many unique states, generate as many, and find the same properties
//! violated or witnessed, each at the same shortest depth; the same for every
//! mutant. The model as the checks run it, judging each Sometimes property only
//! until its first witness, explores the same states to the same verdicts.
//! Run in release mode (`cargo test --release`).

mod always_as_one;
mod bound_sets;
mod old_model;
mod outcome;

use bound_sets::{bound_sets, small};

use old_model::OldModel;
use outcome::{bfs, Outcome};
use raft_checks::bounds::Bounds;
use raft_checks::checker::catalogue::catalogue;
use raft_checks::model::RaftModel;
use raft_model::{Mutant, MutantSet};
use stateright::HasDiscoveries;
use std::time::Instant;

/// Both models under `b`, explored until `finish`: the same outcome.
fn compare(name: &str, b: &Bounds, finish: HasDiscoveries) -> Outcome {
    let started = Instant::now();
    let new = bfs(RaftModel::new(b.clone()), finish.clone());
    // The checker's model skips steps that surely leave the bounds: the same search.
    let pruned = bfs(RaftModel::new(b.clone()).pruned(), finish.clone());
    // The checks' model judges each Sometimes property until its first witness.
    let once = bfs(
        RaftModel::new(b.clone()).pruned().witnessing_once(),
        finish.clone(),
    );
    let old = bfs(OldModel::new(b.clone()), finish);
    assert_eq!(new, pruned, "{name}: pruning changed the search");
    same_search_and_verdicts(name, b, &pruned, &once);
    eprintln!(
        "{name}: {} unique, {} generated, {} discoveries ({:.1} s)",
        new.unique,
        new.generated,
        new.discoveries.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(new, old, "{name}: the new model differs from the old one");
    new
}

/// Under `b`, `once` explored what `all` did and found the same properties violated or
/// witnessed: each violation at the same depth, each witness no later (stateright
/// keeps the last path it records, and `once` records only the first).
fn same_search_and_verdicts(name: &str, b: &Bounds, all: &Outcome, once: &Outcome) {
    assert_eq!(
        (all.unique, all.generated),
        (once.unique, once.generated),
        "{name}: judging witnesses once changed the search"
    );
    assert_eq!(
        all.discoveries.keys().collect::<Vec<_>>(),
        once.discoveries.keys().collect::<Vec<_>>(),
        "{name}: judging witnesses once changed a verdict"
    );
    let sometimes: Vec<&str> = raft_checks::properties::named(b)
        .into_iter()
        .filter(|p| p.expectation == stateright::Expectation::Sometimes)
        .map(|p| p.name)
        .collect();
    for (property, depth) in &all.discoveries {
        let first = once
            .discoveries
            .get(property)
            .copied()
            .unwrap_or(usize::MAX);
        if sometimes.contains(property) {
            assert!(first <= *depth, "{name}: {property}: {first} > {depth}");
        } else {
            assert_eq!(first, *depth, "{name}: {property}");
        }
    }
}

#[test]
fn the_new_model_reaches_what_the_old_one_reached() {
    for (name, b) in bound_sets() {
        let out = compare(name, &b, HasDiscoveries::All);
        assert!(out.unique > 100, "{name}: only {} states", out.unique);
    }
}

/// The mutants found quickly at their own bounds breadth-first without symmetry.
const QUICK: [Mutant; 8] = [
    Mutant::NoElectionRestriction,
    Mutant::ForgetVotedFor,
    Mutant::ForgetCurrentTerm,
    Mutant::DoubleVote,
    Mutant::TruncateOnStaleAppend,
    Mutant::SmallQuorum,
    Mutant::NoStepDown,
    Mutant::LocalRead,
];

/// Every mutant of the catalogue: at its own bounds breadth-first up to the first
/// violation (both models take their steps in the same order, so they stop at
/// the same state), where that is quick; else at small bounds, exhaustively.
#[test]
fn every_mutant_gets_the_same_verdict_from_both_models() {
    for case in catalogue() {
        let name = case.mutant.name();
        if QUICK.contains(&case.mutant) {
            let out = compare(name, &case.bounds, HasDiscoveries::AnyFailures);
            assert!(
                out.discoveries.contains_key(case.expected),
                "{name}: {:?}",
                out.discoveries
            );
        } else {
            let b = Bounds {
                mutants: MutantSet::NONE.with(case.mutant),
                ..small()
            };
            compare(name, &b, HasDiscoveries::All);
        }
    }
}

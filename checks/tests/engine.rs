//! The checker's own depth-first search (`raft_checks::checker::engine`)
//! against the one it replaced in `raftlab check` (stateright's `spawn_dfs`):
//! on every small bound set of the equivalence test (each network, losses,
//! crashes, 1, 2 and 4 servers, 2 clients) and one with two crashes, with and
//! without symmetry, on one thread and two, both reach exactly as many unique
//! states, generate as many, witness the same Sometimes properties and violate
//! none; for every mutant of the catalogue, both find a violation at the same
//! bounds or neither does, and the engine's counterexample replays to a state
//! that breaks an Always property. Run in release mode (`cargo test --release`).

#[path = "equivalence/bound_sets.rs"]
mod equivalence;

use equivalence::{bound_sets, small};
use raft_checks::bounds::Bounds;
use raft_checks::checker::catalogue::catalogue;
use raft_checks::checker::engine::{plain_fingerprint, Dfs, Options};
use raft_checks::checker::expand::{self, ByParts};
use raft_checks::model::{canonical_for, RaftModel, Symmetry};
use raft_checks::properties::{self, ALWAYS_AS_ONE};
use raft_model::MutantSet;
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeSet;
use std::time::Duration;

/// What a search found.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    unique: usize,
    generated: usize,
    violated: bool,
    witnessed: BTreeSet<&'static str>,
}

/// The model as `raftlab check` runs it, with a fresh record of witnesses.
fn checked(b: &Bounds) -> RaftModel {
    RaftModel::new(b.clone())
        .pruned()
        .witnessing_once()
        .judging_always_as_one()
}

fn found<C: Checker<RaftModel>>(c: &C) -> Found {
    let discoveries = c.discoveries();
    if let Some(path) = discoveries.get(ALWAYS_AS_ONE) {
        assert!(
            !properties::always_failing(c.model(), path.last_state()).is_empty(),
            "the counterexample's last state breaks no Always property"
        );
    }
    Found {
        unique: c.unique_state_count(),
        generated: c.state_count(),
        violated: discoveries.contains_key(ALWAYS_AS_ONE),
        witnessed: discoveries
            .keys()
            .copied()
            .filter(|&k| k != ALWAYS_AS_ONE)
            .collect(),
    }
}

fn stateright(b: &Bounds, symmetry: bool) -> Found {
    let mut builder = checked(b)
        .checker()
        .threads(2)
        .finish_when(HasDiscoveries::AnyFailures);
    if symmetry {
        builder = builder.symmetry_fn(canonical_for(checked(b).symmetry()));
    }
    found(&builder.spawn_dfs().join())
}

/// The engine as `raftlab check` runs it: successors fingerprinted before
/// they are built (`checker::expand`).
fn engine(b: &Bounds, symmetry: bool, threads: usize) -> Found {
    let options = Options {
        threads,
        timeout: None,
        target_max_depth: None,
    };
    match expand::search(checked(b), symmetry, &options) {
        Ok(search) => found(&search.join()),
        Err(e) => panic!("the engine refused the Raft model: {e}"),
    }
}

/// The engine on two threads with symmetry `symmetry` (whatever the model's).
fn engine_with(b: &Bounds, symmetry: Symmetry) -> Found {
    let options = Options {
        threads: 2,
        timeout: None,
        target_max_depth: None,
    };
    let expand = ByParts {
        symmetry,
        reduce: true,
    };
    match Dfs::spawn_with(checked(b), Box::new(expand), &options) {
        Ok(search) => found(&search.join()),
        Err(e) => panic!("the engine refused the Raft model: {e}"),
    }
}

/// The exhaustive bound sets: the equivalence test's, and two crashes.
fn exhaustive_sets() -> Vec<(&'static str, Bounds)> {
    let mut sets = bound_sets();
    sets.push((
        "two crashes",
        Bounds {
            crashes: 2,
            ..small()
        },
    ));
    sets
}

#[test]
fn the_engine_reaches_what_stateright_reaches() {
    for (name, b) in exhaustive_sets() {
        // Without symmetry the two-crash set is three times larger: with it only.
        let symmetries: &[bool] = if b.crashes > 1 {
            &[true]
        } else {
            &[true, false]
        };
        for &symmetry in symmetries {
            let theirs = stateright(&b, symmetry);
            assert!(!theirs.violated, "{name}: the correct model fails");
            assert!(theirs.unique > 100, "{name}: only {} states", theirs.unique);
            for threads in [1, 2] {
                let ours = engine(&b, symmetry, threads);
                eprintln!(
                    "{name}, symmetry {symmetry}, {threads} thread(s): {} unique, {} generated, {} witnessed",
                    ours.unique,
                    ours.generated,
                    ours.witnessed.len()
                );
                assert_eq!(
                    ours, theirs,
                    "{name}, symmetry {symmetry}, {threads} thread(s)"
                );
            }
        }
    }
}

/// Every mutant at the small bounds (both engines judge it the same) and, where
/// stateright's search of them is quick, at its own bounds (both catch it).
#[test]
fn every_mutant_gets_the_same_verdict_from_both_engines() {
    let mut caught = 0;
    for case in catalogue() {
        let name = case.mutant.name();
        let b = Bounds {
            mutants: MutantSet::NONE.with(case.mutant),
            crashes: 1,
            ..small()
        };
        let theirs = stateright(&b, true);
        let ours = engine(&b, true, 2);
        assert_eq!(ours.violated, theirs.violated, "{name} at small bounds");
        if !ours.violated {
            assert_eq!(ours, theirs, "{name} at small bounds");
        }
        caught += usize::from(ours.violated);
        if case.bounds.max_term <= 3 && !case.bounds.snapshots {
            let started = std::time::Instant::now();
            let ours = engine(&case.bounds, true, 2);
            eprintln!(
                "{name} at its own bounds: {:.1} s",
                started.elapsed().as_secs_f64()
            );
            assert!(ours.violated, "{name}: not caught at its own bounds");
        }
    }
    assert!(caught > 0, "no mutant is caught at the small bounds");
}

/// Merging states whose interchangeable clients are permuted (on top of the
/// servers' rotations) is the reduction that replaced rotations alone for two
/// or more clients alike: on two-client bound sets it finds the same verdicts
/// for the correct model and for every mutant of the catalogue, in fewer
/// states.
#[test]
fn permuting_clients_changes_no_verdict() {
    let two_clients = Bounds {
        clients: 2,
        ..small()
    };
    let mut cases = vec![("correct".to_string(), two_clients.clone())];
    for case in catalogue() {
        let b = Bounds {
            mutants: MutantSet::NONE.with(case.mutant),
            ..two_clients.clone()
        };
        cases.push((case.mutant.name().to_string(), b));
    }
    let mut caught = 0;
    for (name, b) in cases {
        let model = RaftModel::new(b.clone());
        assert!(model.symmetry().clients, "{name}: clients alike");
        let rotations = engine_with(&b, Symmetry::servers(b.network));
        let permuted = engine_with(&b, model.symmetry());
        eprintln!(
            "{name}: {} unique with rotations, {} with clients permuted too",
            rotations.unique, permuted.unique
        );
        assert_eq!(permuted.violated, rotations.violated, "{name}");
        caught += usize::from(permuted.violated);
        if !permuted.violated {
            assert_eq!(permuted.witnessed, rotations.witnessed, "{name}");
            assert!(
                permuted.unique < rotations.unique,
                "{name}: permuting clients merged nothing"
            );
        }
    }
    assert!(caught > 0, "no mutant is caught with two clients");
}

/// A search given a timeout stops, says it was called off, and a depth limit
/// keeps it at that depth.
#[test]
fn a_search_stops_at_its_timeout_and_its_depth() {
    let b = Bounds::default();
    let options = Options {
        threads: 2,
        timeout: Some(Duration::from_millis(300)),
        target_max_depth: None,
    };
    let search = expand::search(checked(&b), true, &options).unwrap_or_else(|e| panic!("{e}"));
    let search = search.join();
    assert!(search.was_called_off());
    assert!(search.unique_state_count() < 6_000_000);
    let options = Options {
        threads: 2,
        timeout: None,
        target_max_depth: Some(12),
    };
    let search = expand::search(checked(&b), true, &options).unwrap_or_else(|e| panic!("{e}"));
    let search = search.join();
    assert!(!search.was_called_off());
    assert_eq!(search.max_depth(), 12);
}

/// A model that counts up to 10,000 on two paths and whose step from 5,000
/// panics: a bug in a model (or in the Raft handlers it hosts).
struct Panicky;

impl Model for Panicky {
    type State = u32;
    type Action = u32;
    fn init_states(&self) -> Vec<u32> {
        vec![0]
    }
    fn actions(&self, _: &u32, actions: &mut Vec<u32>) {
        actions.extend([1, 2]);
    }
    fn next_state(&self, s: &u32, a: u32) -> Option<u32> {
        assert!(*s != 5_000, "a step that panics");
        (*s < 10_000).then_some(s + a)
    }
    fn properties(&self) -> Vec<stateright::Property<Self>> {
        vec![stateright::Property::always("true", |_, _| true)]
    }
}

/// A thread that panics calls the search off and its panic reaches whoever
/// joins: the search neither hangs waiting for it nor ends as if complete.
#[test]
fn a_panicking_thread_ends_the_search_with_its_panic() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let options = Options {
            threads: 2,
            timeout: None,
            target_max_depth: None,
        };
        let joined = std::panic::catch_unwind(|| {
            Dfs::spawn(Panicky, plain_fingerprint::<u32>, &options)
                .map(|search| search.join().unique_state_count())
        });
        let _ = tx.send(joined.is_err());
    });
    let panicked = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the search hung after a thread panicked"));
    assert!(panicked, "the search ended without the thread's panic");
}

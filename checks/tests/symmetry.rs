//! Symmetry reduction is sound only if the model's steps commute with the
//! renamings it merges states by (the rotations of the servers' names): a state
//! and its representative are renamings of each other, and their successors are
//! the same up to renaming. This test checks both on every state of a small
//! model, breadth-first, without symmetry, comparing states by their orbits (the
//! least fingerprint over every rotation).

#[path = "equivalence/bound_sets.rs"]
mod equivalence;

use raft_checks::bounds::Bounds;
use raft_checks::checker::engine;
use raft_checks::model::symmetry::representative_on;
use raft_checks::model::{
    canonical_for, class_hash, class_hash_for, representative, rotation, Action, RaftModel, State,
};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

fn fp(s: &State) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The orbit of `s` under rotations, as its least fingerprint.
fn orbit(m: &RaftModel, s: &State) -> u64 {
    (0..m.servers())
        .map(|r| fp(&rotation(m.bounds.network, s, r)))
        .min()
        .unwrap_or_else(|| fp(s))
}

/// Every state of `m` within its bounds, found breadth-first without symmetry.
fn every_state(m: &RaftModel) -> Vec<State> {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<State> = m.init().into_iter().collect();
    let mut all = Vec::new();
    let mut actions: Vec<Action> = Vec::new();
    while let Some(s) = queue.pop_front() {
        if !seen.insert(fp(&s)) {
            continue;
        }
        m.enabled(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(t) = m.step(&s, a) {
                if m.in_bounds(&t) {
                    queue.push_back(t);
                }
            }
        }
        all.push(s);
    }
    all
}

/// The class fingerprint the checker merges states by is exactly the orbit: the
/// same for every rotation of a state and for its representative, never the
/// same for two orbits; and a reduced depth-first check visits one state per
/// orbit, on one thread or two, on stateright's search and the checker's own.
/// On every small bound set (each network, losses,
/// crashes, 1, 2 and 4 servers).
#[test]
fn the_class_fingerprint_is_the_orbit_and_the_check_visits_each_orbit_once() {
    for (name, bounds) in equivalence::bound_sets() {
        let m = RaftModel::new(bounds.clone());
        let kind = bounds.network;
        let states = every_state(&m);
        let mut class_of_orbit: HashMap<u64, u64> = HashMap::new();
        let mut orbit_of_class: HashMap<u64, u64> = HashMap::new();
        for s in &states {
            let (class, o) = (class_hash(kind, s), orbit(&m, s));
            for r in 0..m.servers() {
                let t = rotation(kind, s, r);
                assert_eq!(
                    class_hash(kind, &t),
                    class,
                    "{name}: rotation {r} of\n{s:?}"
                );
            }
            let rep = representative_on(kind, s);
            assert_eq!(
                class_hash(kind, &rep),
                class,
                "{name}: representative of\n{s:?}"
            );
            assert_eq!(
                orbit(&m, &rep),
                o,
                "{name}: the representative is no rotation"
            );
            assert_eq!(*class_of_orbit.entry(o).or_insert(class), class, "{name}");
            assert_eq!(
                *orbit_of_class.entry(class).or_insert(o),
                o,
                "{name}: two orbits, one class"
            );
        }
        let orbits = class_of_orbit.len();
        assert!(
            orbits < states.len() || m.servers() == 1,
            "{name}: nothing merged"
        );
        for threads in [1, 2] {
            let c = m
                .clone()
                .pruned()
                .checker()
                .threads(threads)
                .finish_when(HasDiscoveries::AllFailures)
                .symmetry_fn(canonical_for(kind))
                .spawn_dfs()
                .join();
            eprintln!(
                "{name}: {} states, {orbits} orbits; reduced check on {threads} thread(s): {}",
                states.len(),
                c.unique_state_count()
            );
            assert_eq!(
                c.unique_state_count(),
                orbits,
                "{name}, {threads} thread(s)"
            );
            // The same on the checker's own search, which `raftlab check` runs.
            let options = engine::Options {
                threads,
                timeout: None,
                target_max_depth: None,
            };
            let ours = engine::Dfs::spawn(m.clone().pruned(), class_hash_for(kind), &options)
                .unwrap_or_else(|e| panic!("{name}: {e}"))
                .join();
            assert_eq!(
                ours.unique_state_count(),
                orbits,
                "{name}, {threads} thread(s), the checker's own search"
            );
        }
    }
}

/// The orbits of `s`'s successors.
fn successors(m: &RaftModel, s: &State) -> BTreeSet<u64> {
    let mut actions: Vec<Action> = Vec::new();
    m.enabled(s, &mut actions);
    actions
        .into_iter()
        .filter_map(|a| m.step(s, a))
        .filter(|t| m.in_bounds(t))
        .map(|t| orbit(m, &t))
        .collect()
}

#[test]
fn a_state_and_its_representative_have_the_same_successors_up_to_renaming() {
    let bounds = Bounds {
        ops_per_client: 1,
        max_term: 2,
        max_log: 1,
        crashes: 1,
        ..Bounds::default()
    };
    let m = RaftModel::new(bounds);
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<State> = m.init().into_iter().collect();
    let (mut checked, mut renamed) = (0usize, 0usize);
    while let Some(s) = queue.pop_front() {
        if checked >= 30_000 {
            break;
        }
        if !seen.insert(fp(&s)) {
            continue;
        }
        checked += 1;
        let r = representative(&s);
        if r != s {
            renamed += 1;
            assert_eq!(
                orbit(&m, &s),
                orbit(&m, &r),
                "the representative is no renaming"
            );
            assert_eq!(
                successors(&m, &s),
                successors(&m, &r),
                "a state and its representative step to different classes:\n{s:?}\nrepresentative:\n{r:?}"
            );
        }
        let mut actions: Vec<Action> = Vec::new();
        m.enabled(&s, &mut actions);
        for a in actions {
            if let Some(t) = m.step(&s, a) {
                if m.in_bounds(&t) {
                    queue.push_back(t);
                }
            }
        }
    }
    assert!(
        renamed > 1_000,
        "only {renamed} of {checked} states were renamed"
    );
}

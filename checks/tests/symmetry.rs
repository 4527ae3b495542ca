//! Symmetry reduction is sound only if the model's steps commute with the
//! renamings it merges states by (the rotations of the servers' names, and the
//! permutations of interchangeable clients' names): a state and its
//! representative are renamings of each other, and their successors are the
//! same up to renaming. This test checks both on every state of a small model,
//! breadth-first, without symmetry, comparing states by their orbits (the least
//! fingerprint over every renaming).

#[path = "equivalence/bound_sets.rs"]
mod equivalence;

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::checker::{engine, expand};
use raft_checks::model::{
    canonical_for, class_hash, renamed, representative, Action, RaftModel, State, Symmetry,
};
use stateright::{Checker, HasDiscoveries, Model};
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

fn fp(s: &State) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The orbit of `s` under the renamings of `sym`, as its least fingerprint.
fn orbit(sym: Symmetry, s: &State) -> u64 {
    (sym.all(s).iter())
        .map(|g| fp(&renamed(sym, s, g)))
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
        let sym = m.symmetry();
        let states = every_state(&m);
        let mut class_of_orbit: HashMap<u64, u64> = HashMap::new();
        let mut orbit_of_class: HashMap<u64, u64> = HashMap::new();
        for s in &states {
            let (class, o) = (class_hash(sym, s), orbit(sym, s));
            for g in sym.all(s) {
                let t = renamed(sym, s, &g);
                assert_eq!(class_hash(sym, &t), class, "{name}: {g:?} of\n{s:?}");
            }
            let rep = representative(sym, s);
            assert_eq!(
                class_hash(sym, &rep),
                class,
                "{name}: representative of\n{s:?}"
            );
            assert_eq!(
                orbit(sym, &rep),
                o,
                "{name}: the representative is no renaming"
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
                .symmetry_fn(canonical_for(sym))
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
            let ours = expand::search(m.clone().pruned(), true, &options)
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
fn successors(m: &RaftModel, sym: Symmetry, s: &State) -> BTreeSet<u64> {
    let mut actions: Vec<Action> = Vec::new();
    m.enabled(s, &mut actions);
    actions
        .into_iter()
        .filter_map(|a| m.step(s, a))
        .filter(|t| m.in_bounds(t))
        .map(|t| orbit(sym, &t))
        .collect()
}

/// Checks, for the first `limit` states of `m` met breadth-first, that every
/// renaming of `sym` of each (and its representative) steps to the same
/// classes as the state itself. How many renamed states it compared that move
/// clients, and how many in all; or the first state whose renaming does not
/// commute with the steps.
fn commutes(m: &RaftModel, sym: Symmetry, limit: usize) -> Result<(usize, usize), String> {
    let mut seen: HashSet<u64> = HashSet::new();
    let mut queue: VecDeque<State> = m.init().into_iter().collect();
    let (mut checked, mut moved_clients, mut compared) = (0usize, 0usize, 0usize);
    let n = m.servers();
    while let Some(s) = queue.pop_front() {
        if checked >= limit {
            break;
        }
        if !seen.insert(fp(&s)) {
            continue;
        }
        checked += 1;
        let own = successors(m, sym, &s);
        let mut others: Vec<(String, State)> = (sym.all(&s).into_iter())
            .filter(|g| !g.is_identity())
            .map(|g| {
                if (n..s.actors.len()).any(|c| g.to(c) != c) {
                    moved_clients += 1;
                }
                (format!("{g:?}"), renamed(sym, &s, &g))
            })
            .collect();
        others.push(("the representative".into(), representative(sym, &s)));
        for (what, r) in others {
            if orbit(sym, &r) != orbit(sym, &s) {
                return Err(format!("{what} is no renaming of\n{s:?}"));
            }
            if successors(m, sym, &r) != own {
                return Err(format!(
                    "a state and its renaming ({what}) step to different classes:\n{s:?}\nrenamed:\n{r:?}"
                ));
            }
            compared += 1;
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
    Ok((moved_clients, compared))
}

#[test]
fn a_state_and_its_renamings_have_the_same_successors_up_to_renaming() {
    let one_client = Bounds {
        ops_per_client: 1,
        max_term: 2,
        max_log: 1,
        crashes: 1,
        ..Bounds::default()
    };
    let m = RaftModel::new(one_client.clone());
    assert!(!m.symmetry().clients);
    let (_, compared) = commutes(&m, m.symmetry(), 6_000).unwrap_or_else(|e| panic!("{e}"));
    assert!(compared > 10_000, "only {compared} renamed states compared");

    // Two clients with one operation each: interchangeable, so client
    // permutations are merged too.
    let two_clients = Bounds {
        clients: 2,
        max_in_flight: 4,
        ..one_client.clone()
    };
    let m = RaftModel::new(two_clients.clone());
    assert!(
        m.symmetry().clients,
        "two clients alike are interchangeable"
    );
    let (moved, compared) = commutes(&m, m.symmetry(), 6_000).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        moved > 10_000,
        "only {moved} of {compared} renamings moved a client"
    );
    // The same on the ordered network (each channel keeps its order when its
    // ends are renamed) and with snapshots (which carry client sessions).
    for (name, b) in [
        (
            "ordered",
            Bounds {
                network: NetworkKind::Ordered,
                ..two_clients.clone()
            },
        ),
        (
            "snapshots",
            Bounds {
                snapshots: true,
                ..two_clients.clone()
            },
        ),
    ] {
        let m = RaftModel::new(b);
        assert!(m.symmetry().clients, "{name}");
        let (moved, _) =
            commutes(&m, m.symmetry(), 3_000).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            moved > 5_000,
            "{name}: only {moved} renamings moved a client"
        );
    }

    // Two clients that do different things are not interchangeable, and the
    // test sees it when they are treated as if they were.
    let different = Bounds {
        ops_per_client: 2,
        max_log: 2,
        ..two_clients
    };
    let m = RaftModel::new(different);
    assert!(!m.symmetry().clients, "clients with different values");
    let forced = Symmetry {
        clients: true,
        ..m.symmetry()
    };
    let caught = commutes(&m, forced, 6_000);
    assert!(
        caught.is_err(),
        "permuting clients with different operations went unnoticed: {caught:?}"
    );
}

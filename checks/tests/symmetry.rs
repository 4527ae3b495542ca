//! Symmetry reduction is sound only if the model's steps commute with the
//! renamings it merges states by (the rotations of the servers' names): a state
//! and its representative are renamings of each other, and their successors are
//! the same up to renaming. This test checks both on every state of a small
//! model, breadth-first, without symmetry, comparing states by their orbits (the
//! least fingerprint over every rotation).

use raft_checks::bounds::Bounds;
use raft_checks::bounds::NetworkKind;
use raft_checks::model::{representative, rotation, Action, RaftModel, State};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

fn fp(s: &State) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The orbit of `s` under rotations, as its least fingerprint.
fn orbit(m: &RaftModel, s: &State) -> u64 {
    (0..m.servers())
        .map(|r| fp(&rotation(NetworkKind::Unordered, s, r)))
        .min()
        .unwrap_or_else(|| fp(s))
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

//! The shortest counterexample of each violated property: a breadth-first search
//! that keeps the first violating state it meets.
//!
//! Why not stateright's breadth-first search: it evaluates a property again on
//! every state after its first discovery and keeps the last one it meets before it
//! stops (`checker/bfs.rs`, `check_block`, in 0.31), and its threads share work out
//! of order; so its paths are breadth-first-ish, not shortest (the
//! forget-current-term mutant: a 2-step counterexample exists, it reported 7).
//! This search is one thread, strictly level by level, and checks each state when
//! it is first generated, so the first violation of a property is at the least
//! depth there is. With symmetry it visits one state per class, which keeps
//! depths: the renamings it merges by commute with every step (tests/symmetry.rs).

use crate::model::{canonical_for, Action, RaftModel, State};
use stateright::Model;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A property to find a shortest counterexample of.
pub struct Target {
    pub name: &'static str,
    pub holds: fn(&RaftModel, &State) -> bool,
}

/// Per target found: the actions of a shortest path from the initial state to a
/// state that violates it. A target missing from the answer has no counterexample
/// within the bounds if the search ended by itself, or none found in `within`.
pub struct Found {
    pub paths: HashMap<&'static str, Vec<Action>>,
    /// Whether the search ran out of time (before finding every target).
    pub timed_out: bool,
}

/// How to search.
#[derive(Clone, Copy, Debug)]
pub struct Search {
    /// Visit one state per class of rotations of the servers.
    pub symmetry: bool,
    /// Give up after this long.
    pub within: Duration,
    /// Progress lines on stderr.
    pub progress: bool,
    /// Stop at the first target found: its path is then the shortest to any
    /// violation (`raftlab mutants` needs no more, and the levels after it are
    /// the largest).
    pub first_only: bool,
}

/// Where a state came from: its parent's key and the index, among the parent's
/// actions, of the action that led here.
type Parent = Option<(u64, usize)>;

/// Searches `model` breadth-first for the targets, for at most `search.within`.
pub fn shortest(model: &RaftModel, targets: &[Target], search: Search) -> Found {
    let started = Instant::now();
    let canonical = canonical_for(model.symmetry());
    let key = |s: &State| {
        let seeds = ahash::RandomState::with_seeds(1, 2, 3, 4);
        if search.symmetry {
            seeds.hash_one(canonical(s))
        } else {
            seeds.hash_one(s)
        }
    };
    let mut parents: HashMap<u64, Parent> = HashMap::new();
    let mut queue: VecDeque<(State, u64)> = VecDeque::new();
    let mut found: HashMap<&'static str, u64> = HashMap::new();
    let judge = |state: &State, k: u64, found: &mut HashMap<&'static str, u64>| {
        for t in targets {
            if !found.contains_key(t.name) && !(t.holds)(model, state) {
                found.insert(t.name, k);
            }
        }
    };
    for s in model.init_states() {
        let k = key(&s);
        if parents.insert(k, None).is_none() {
            judge(&s, k, &mut found);
            queue.push_back((s, k));
        }
    }
    let mut actions = Vec::new();
    let mut timed_out = false;
    // The queue holds the rest of one level, then the next: count down the first.
    let mut left_in_level = queue.len();
    let mut depth = 0;
    let mut last_said = started;
    let wanted = if search.first_only {
        targets.len().min(1)
    } else {
        targets.len()
    };
    while found.len() < wanted {
        if left_in_level == 0 {
            depth += 1;
            left_in_level = queue.len();
            // A line a level, at most one every two seconds.
            if search.progress && last_said.elapsed() >= Duration::from_secs(2) {
                last_said = Instant::now();
                eprintln!(
                    "  ...  breadth-first depth {depth:>3}: {left_in_level:>10} states, \
                     {:>11} in all, {:>5.0} s",
                    parents.len(),
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let Some((state, k)) = queue.pop_front() else {
            break;
        };
        left_in_level -= 1;
        if started.elapsed() >= search.within {
            timed_out = true;
            break;
        }
        model.actions(&state, &mut actions);
        for (i, action) in actions.drain(..).enumerate() {
            let Some(next) = model.next_state(&state, action) else {
                continue;
            };
            if !model.within_boundary(&next) {
                continue;
            }
            let nk = key(&next);
            if parents.contains_key(&nk) {
                continue;
            }
            parents.insert(nk, Some((k, i)));
            judge(&next, nk, &mut found);
            queue.push_back((next, nk));
        }
    }
    let paths = found
        .into_iter()
        .filter_map(|(name, k)| Some((name, path_to(model, &parents, k)?)))
        .collect();
    Found { paths, timed_out }
}

/// The actions from the initial state to the state with key `k`: the action
/// indices walked back through `parents`, then replayed forward.
fn path_to(model: &RaftModel, parents: &HashMap<u64, Parent>, k: u64) -> Option<Vec<Action>> {
    let mut indices = Vec::new();
    let mut at = k;
    while let Some((parent, i)) = parents.get(&at).copied().flatten() {
        indices.push(i);
        at = parent;
    }
    indices.reverse();
    let mut state = model.init_states().into_iter().next()?;
    let mut path = Vec::with_capacity(indices.len());
    let mut actions = Vec::new();
    for i in indices {
        model.actions(&state, &mut actions);
        let action = actions.drain(..).nth(i)?;
        state = model.next_state(&state, action.clone())?;
        path.push(action);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::catalogue::catalogue;
    use crate::properties;
    use raft_model::Mutant;

    /// forget-current-term breaks "terms never decrease" in two steps (a
    /// server's election timeout, then its crash, losing the unsaved term):
    /// stateright's search reported 7.
    #[test]
    fn finds_the_two_step_counterexample_of_forget_current_term() {
        let Some(case) = catalogue()
            .into_iter()
            .find(|c| c.mutant == Mutant::ForgetCurrentTerm)
        else {
            panic!("forget-current-term is in the catalogue");
        };
        let mut bounds = case.bounds;
        bounds.mutants = bounds.mutants.with(Mutant::ForgetCurrentTerm);
        let model = RaftModel::new(bounds.clone()).pruned();
        let targets: Vec<Target> = properties::named(&bounds)
            .into_iter()
            .filter(|p| p.name == properties::TERMS_MONOTONIC)
            .map(|p| Target {
                name: p.name,
                holds: p.condition,
            })
            .collect();
        assert_eq!(targets.len(), 1, "the property exists");
        for symmetry in [false, true] {
            let search = Search {
                symmetry,
                within: Duration::from_secs(60),
                progress: false,
                first_only: false,
            };
            let found = shortest(&model, &targets, search);
            let path = found.paths.get(properties::TERMS_MONOTONIC);
            assert_eq!(path.map(Vec::len), Some(2), "symmetry {symmetry}: {path:?}");
        }
    }

    /// Stopping at the first target found gives one path, as short as the
    /// shortest of those the full search finds. (no-step-down breaks more than
    /// one property at its catalogue bounds.)
    #[test]
    fn first_only_stops_at_the_shortest_of_all() {
        let Some(case) = crate::checker::catalogue::case(Mutant::NoStepDown) else {
            panic!("no-step-down is in the catalogue");
        };
        let model = RaftModel::new(case.bounds.clone()).pruned();
        let targets: Vec<Target> = properties::named(&case.bounds)
            .into_iter()
            .filter(|p| p.expectation == stateright::Expectation::Always)
            .map(|p| Target {
                name: p.name,
                holds: p.condition,
            })
            .collect();
        let search = |first_only| Search {
            symmetry: true,
            within: Duration::from_secs(60),
            progress: false,
            first_only,
        };
        let all = shortest(&model, &targets, search(false)).paths;
        assert!(
            all.len() > 1,
            "no-step-down breaks several: {:?}",
            all.keys()
        );
        let first = shortest(&model, &targets, search(true)).paths;
        assert_eq!(first.len(), 1, "{:?}", first.keys());
        let shortest_of_all = all.values().map(Vec::len).min();
        assert_eq!(first.values().map(Vec::len).min(), shortest_of_all);
    }
}

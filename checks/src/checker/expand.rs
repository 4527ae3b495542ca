//! How the checker's own search ([`super::engine`]) makes the Raft model's
//! successors: each is judged from its parent and the step's changes
//! ([`Next`]): against the bounds, then by its fingerprint; only a new one is
//! built. About two thirds of a check's successors are states it has already
//! visited, and building them whole (copying the parent, applying the step)
//! only to fingerprint and drop them was a fifth of the check's time.

use super::engine::{Dfs, Expand, Options, Seen, Successor};
use crate::model::{class_hash, symmetry, Action, Changes, Parts, RaftModel, State, Symmetry};
use smallvec::SmallVec;

/// Successors judged before they are built; states are the same when their
/// fingerprints are: with `reduce`, their classes' under `symmetry`
/// ([`class_hash`]).
pub struct ByParts {
    pub symmetry: Symmetry,
    pub reduce: bool,
}

impl ByParts {
    fn fingerprint_of(&self, parts: &impl Parts) -> u64 {
        if self.reduce {
            class_hash(self.symmetry, parts)
        } else {
            symmetry::plain_hash(self.symmetry, parts)
        }
    }
}

impl Expand<RaftModel> for ByParts {
    fn fingerprint(&self, state: &State) -> u64 {
        self.fingerprint_of(state)
    }

    /// Every successor fingerprinted first, then all looked up: the visited
    /// set's cache miss for one is under way while the next are fingerprinted
    /// (a miss was a tenth of a check's time). The same successors, recorded
    /// in the same order, as one at a time. The last new one is built on the
    /// parent itself: the search is done with the parent, and copying it (a
    /// count taken on every part) only to drop it after was a tenth of a
    /// check's time. The actions are listed with their messages borrowed
    /// ([`RaftModel::for_each_enabled`]), in `actions()`'s order.
    fn successors(
        &self,
        model: &RaftModel,
        state: State,
        _actions: &mut Vec<Action>,
        seen: &mut dyn Seen,
        found: &mut dyn FnMut(usize, Successor<State>),
    ) {
        // Each step's changes, detached from the parent once fingerprinted.
        let mut pending: SmallVec<[(usize, u64, Changes); PENDING]> = SmallVec::new();
        let mut index = 0;
        model.for_each_enabled(&state, |action| {
            let at = index;
            index += 1;
            let Some(next) = model.next(&state, action) else {
                return;
            };
            if model.in_bounds(&next) {
                let fp = self.fingerprint_of(&next);
                seen.prefetch(fp);
                pending.push((at, fp, next.detach()));
            }
        });
        // Each recorded, in order.
        let new: SmallVec<[bool; PENDING]> = pending.iter().map(|p| seen.insert(p.1)).collect();
        let last_new = new.iter().rposition(|&n| n).unwrap_or(0);
        let mut judged = pending.drain(..).zip(new);
        for ((index, _, changes), new) in judged.by_ref().take(last_new) {
            found(index, built(new, changes, || state.clone()));
        }
        if let Some(((index, _, changes), new)) = judged.next() {
            found(index, built(new, changes, || state));
        }
        for ((index, ..), _) in judged {
            found(index, Successor::Seen);
        }
    }
}

/// A successor recorded: built on `parent` if it was `new`.
fn built(new: bool, changes: Changes, parent: impl FnOnce() -> State) -> Successor<State> {
    if new {
        Successor::New(changes.apply(parent()))
    } else {
        Successor::Seen
    }
}

/// Successors kept on the stack while their fingerprints are looked up: most
/// states have fewer (the rest go to the heap).
const PENDING: usize = 8;

/// The check's depth-first search of `model` on raftlab's own engine, as
/// `raftlab check` runs it: with `symmetry`, states are the same when their
/// classes are.
pub fn search(
    model: RaftModel,
    symmetry: bool,
    options: &Options,
) -> Result<Dfs<RaftModel>, String> {
    let expand = ByParts {
        symmetry: model.symmetry(),
        reduce: symmetry,
    };
    Dfs::spawn_with(model, Box::new(expand), options)
}

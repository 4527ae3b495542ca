//! How the checker's own search ([`super::engine`]) makes the Raft model's
//! successors: each is judged from its parent and the step's changes
//! ([`Next`]): against the bounds, then by its fingerprint; only a new one is
//! built. About two thirds of a check's successors are states it has already
//! visited, and building them whole (copying the parent, applying the step)
//! only to fingerprint and drop them was a fifth of the check's time.

use super::engine::{Dfs, Expand, Options, Successor};
use crate::model::{class_hash, symmetry, Action, Parts, RaftModel, State, Symmetry};

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

    fn successor(
        &self,
        model: &RaftModel,
        state: &State,
        action: Action,
        is_new: &mut dyn FnMut(u64) -> bool,
    ) -> Successor<State> {
        let Some(next) = model.next(state, action) else {
            return Successor::Outside;
        };
        if !model.in_bounds(&next) {
            Successor::Outside
        } else if is_new(self.fingerprint_of(&next)) {
            Successor::New(next.build())
        } else {
            Successor::Seen
        }
    }
}

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

//! What a breadth-first search of a model found, as the equivalence and memo
//! tests compare it.

use stateright::{Checker, HasDiscoveries, Model};
use std::collections::BTreeMap;

/// What a breadth-first search of a model found.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub unique: usize,
    pub generated: usize,
    /// Property -> length of the shortest run that violates or witnesses it.
    pub discoveries: BTreeMap<&'static str, usize>,
}

pub fn bfs<M>(model: M, finish: HasDiscoveries) -> Outcome
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + std::fmt::Debug + std::hash::Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + PartialEq + Send + Sync + 'static,
{
    // One thread, so that the first discovery of each property is always the same.
    let c = model
        .checker()
        .threads(1)
        .finish_when(finish)
        .spawn_bfs()
        .join();
    Outcome {
        unique: c.unique_state_count(),
        generated: c.state_count(),
        discoveries: c
            .discoveries()
            .into_iter()
            .map(|(name, path)| (name, path.into_actions().len()))
            .collect(),
    }
}

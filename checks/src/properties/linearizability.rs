//! Linearizability of the clients' operations, judged by stateright's
//! `LinearizabilityTester` against the model's `KvSpec`.

use crate::model::History;
use raft_model::{Op, OpResult};

/// Whether the clients' history so far is linearizable (judged by
/// stateright's tester whenever an operation is invoked or returns).
pub fn linearizable(h: &History) -> bool {
    h.linearizable()
}

/// The operations the clients completed, in a linearization order, if one exists.
pub fn linearization(h: &History) -> Option<Vec<(Op, OpResult)>> {
    h.lin().serialized_history()
}

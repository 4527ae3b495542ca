//! Linearizability of the clients' operations, judged by stateright's
//! `LinearizabilityTester` against the model's `KvSpec`.

use crate::model::History;
use raft_model::{Id, KvSpec, Op, OpResult};
use stateright::semantics::LinearizabilityTester;

/// The tester's verdict on the clients' history so far. Histories repeat across
/// millions of states, so verdicts are remembered per thread.
pub fn linearizable(h: &History) -> bool {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Tester = LinearizabilityTester<Id, KvSpec>;
    thread_local! {
        static VERDICTS: RefCell<HashMap<Tester, bool>> = RefCell::new(HashMap::new());
    }
    if let Some(v) = VERDICTS.with(|m| m.borrow().get(&h.lin).copied()) {
        return v;
    }
    let v = h.lin.serialized_history().is_some();
    VERDICTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 1 << 14 {
            m.clear();
        }
        m.insert((*h.lin).clone(), v);
    });
    v
}

/// The operations the clients completed, in a linearization order, if one exists.
pub fn linearization(h: &History) -> Option<Vec<(Op, OpResult)>> {
    h.lin.serialized_history()
}

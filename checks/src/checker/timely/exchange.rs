//! What workers send each other during the search, and to whom: a state goes to
//! the worker that owns its fingerprint; a stop goes to every worker; progress
//! goes to worker 0, which prints it.

use super::codec::owner;
use serde::{Deserialize, Serialize};

/// A message of the search. Its time (the dataflow's timestamp) is the
/// breadth-first level of the states it concerns.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Msg {
    /// A state reached at this level, for its owner to de-duplicate.
    State(Candidate),
    /// Expand nothing at this level or later (a violation was found, or the
    /// timeout passed); one is sent to each worker.
    Stop { to: u32 },
    /// What a worker added in the level before this one, for worker 0's
    /// progress line.
    Progress { new: u64, generated: u64 },
}

/// A state as its finder ships it to its owner.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    /// The fingerprint of the state's symmetry representative.
    pub fp: u64,
    /// The fingerprint of the state it was reached from (0: none, it is an initial
    /// state, and `action` is its index among the initial states).
    pub parent: u64,
    /// The index of the action among those enabled in the parent, as the parent
    /// was expanded.
    pub action: u32,
    /// The state itself (not its representative), as `StateCodec` encodes it:
    /// the owner expands this very state, so that replaying the actions from the
    /// initial state retraces it.
    pub bytes: Vec<u8>,
}

impl Candidate {
    /// The link to the parent, which de-duplication compares to pick one
    /// deterministically among the ways a level reaches a state.
    pub fn link_key(&self) -> (u64, u32) {
        (self.parent, self.action)
    }
}

impl Msg {
    /// The worker (of `peers`) this message is for: the exchange's routing key.
    pub fn route(&self, peers: usize) -> u64 {
        match self {
            Msg::State(c) => owner(c.fp, peers) as u64,
            Msg::Stop { to } => u64::from(*to),
            Msg::Progress { .. } => 0,
        }
    }
}

/// A stop for each of `peers` workers.
pub fn stop_all(peers: usize) -> impl Iterator<Item = Msg> {
    (0..peers as u32).map(|to| Msg::Stop { to })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_to_their_worker() {
        let peers = 4;
        let stops: Vec<u64> = stop_all(peers).map(|m| m.route(peers)).collect();
        assert_eq!(stops, vec![0, 1, 2, 3]);
        let c = Candidate {
            fp: u64::MAX,
            parent: 0,
            action: 0,
            bytes: vec![],
        };
        assert_eq!(Msg::State(c).route(peers), 3);
        assert_eq!(
            Msg::Progress {
                new: 1,
                generated: 2
            }
            .route(peers),
            0
        );
    }
}

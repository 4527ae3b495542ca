//! The engine's floor for `raftlab bench check`: two-phase commit (Gray and
//! Lamport's TLA+ specification, the model stateright's own examples check), in
//! a few bytes of state, so that nearly all the checker's time is its own.

use stateright::{Model, Property};

/// Resource managers at most (their states fit in a `u64`, two bits each).
pub const MAX_RMS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rm {
    Working = 0,
    Prepared = 1,
    Committed = 2,
    Aborted = 3,
}

/// The transaction manager's state and the messages sent (a message, once sent,
/// stays: the specification's network).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TwoPhaseState {
    rms: u64,
    /// 0 init, 1 committed, 2 aborted.
    tm: u8,
    tm_prepared: u32,
    /// Prepared messages, one bit per manager.
    prepared_msgs: u32,
    commit_msg: bool,
    abort_msg: bool,
}

impl TwoPhaseState {
    fn rm(&self, i: usize) -> Rm {
        match (self.rms >> (2 * i)) & 3 {
            0 => Rm::Working,
            1 => Rm::Prepared,
            2 => Rm::Committed,
            _ => Rm::Aborted,
        }
    }

    fn set_rm(&mut self, i: usize, rm: Rm) {
        self.rms = (self.rms & !(3 << (2 * i))) | ((rm as u64) << (2 * i));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TwoPhaseAction {
    TmRcvPrepared(usize),
    TmCommit,
    TmAbort,
    RmPrepare(usize),
    RmChooseToAbort(usize),
    RmRcvCommitMsg(usize),
    RmRcvAbortMsg(usize),
}

/// Two-phase commit among `rms` resource managers.
pub struct TwoPhase {
    pub rms: usize,
}

impl Model for TwoPhase {
    type State = TwoPhaseState;
    type Action = TwoPhaseAction;

    fn init_states(&self) -> Vec<TwoPhaseState> {
        vec![TwoPhaseState {
            rms: 0,
            tm: 0,
            tm_prepared: 0,
            prepared_msgs: 0,
            commit_msg: false,
            abort_msg: false,
        }]
    }

    fn actions(&self, s: &TwoPhaseState, actions: &mut Vec<TwoPhaseAction>) {
        use TwoPhaseAction::*;
        let all = (1u32 << self.rms) - 1;
        if s.tm == 0 && s.tm_prepared == all {
            actions.push(TmCommit);
        }
        if s.tm == 0 {
            actions.push(TmAbort);
        }
        for i in 0..self.rms {
            if s.tm == 0 && s.prepared_msgs & (1 << i) != 0 {
                actions.push(TmRcvPrepared(i));
            }
            if s.rm(i) == Rm::Working {
                actions.push(RmPrepare(i));
                actions.push(RmChooseToAbort(i));
            }
            if s.commit_msg {
                actions.push(RmRcvCommitMsg(i));
            }
            if s.abort_msg {
                actions.push(RmRcvAbortMsg(i));
            }
        }
    }

    fn next_state(&self, last: &TwoPhaseState, action: TwoPhaseAction) -> Option<TwoPhaseState> {
        use TwoPhaseAction::*;
        let mut s = last.clone();
        match action {
            TmRcvPrepared(i) => s.tm_prepared |= 1 << i,
            TmCommit => {
                s.tm = 1;
                s.commit_msg = true;
            }
            TmAbort => {
                s.tm = 2;
                s.abort_msg = true;
            }
            RmPrepare(i) => {
                s.set_rm(i, Rm::Prepared);
                s.prepared_msgs |= 1 << i;
            }
            RmChooseToAbort(i) => s.set_rm(i, Rm::Aborted),
            RmRcvCommitMsg(i) => s.set_rm(i, Rm::Committed),
            RmRcvAbortMsg(i) => s.set_rm(i, Rm::Aborted),
        }
        Some(s)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("consistent", |m: &TwoPhase, s: &TwoPhaseState| {
                let rms = || (0..m.rms).map(|i| s.rm(i));
                !(rms().any(|r| r == Rm::Committed) && rms().any(|r| r == Rm::Aborted))
            }),
            Property::sometimes("all committed", |m: &TwoPhase, s: &TwoPhaseState| {
                (0..m.rms).all(|i| s.rm(i) == Rm::Committed)
            }),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Checker;

    #[test]
    fn three_managers_are_consistent_and_can_commit() {
        let c = TwoPhase { rms: 3 }.checker().spawn_bfs().join();
        c.assert_properties();
        // Gray and Lamport's specification has 288 states with 3 managers.
        assert_eq!(c.unique_state_count(), 288);
    }
}

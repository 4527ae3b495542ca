//! The Sometimes properties: states a check must reach, so that a check that
//! explores nothing (or too little) fails instead of proving a vacuous truth.

use crate::model::{History, Mark, RaftModel, SnapshotEvent, State};
use raft_model::Role;

pub fn leader_elected(n: usize, state: &State) -> bool {
    (0..n).any(|i| state.live_server(i).is_some_and(|s| s.role == Role::Leader))
}

pub fn entry_committed(n: usize, state: &State) -> bool {
    (0..n).any(|i| state.live_server(i).is_some_and(|s| s.commit_index > 0))
}

pub fn client_answered(h: &History) -> bool {
    h.clients.iter().any(|c| c.returned > 0)
}

/// Every client has had every operation answered (with two or more, the last is a
/// get: so linearizability is judged on reads, not only on appends).
pub fn clients_done(model: &RaftModel, state: &State) -> bool {
    model.actors.iter().enumerate().all(|(i, a)| match a {
        raft_model::RaftActor::Client(cfg) => {
            let returned = i
                .checked_sub(model.servers())
                .and_then(|c| state.history.clients.get(c))
                .map_or(0, |c| c.returned);
            returned as usize >= cfg.ops.len()
        }
        raft_model::RaftActor::Server(_) => true,
    })
}

/// Two servers hold different entries at the same index: the situation a new leader
/// must repair (lecture: "logs may diverge at the end of the old term").
pub fn logs_diverge(n: usize, state: &State) -> bool {
    (0..n).any(|a| {
        (a + 1..n).any(|b| {
            let (x, y) = (state.log_of(a), state.log_of(b));
            let from = x.snapshot_index().max(y.snapshot_index()) + 1;
            let to = x.last_index().min(y.last_index());
            (from..=to).any(|i| x.term_at(i) != y.term_at(i))
        })
    })
}

/// A server has taken (or installed) a snapshot and dropped its log up to it.
pub fn snapshot_taken(n: usize, state: &State) -> bool {
    (0..n).any(|i| state.log_of(i).snapshot_index() > 0)
}

/// A follower installed a snapshot a leader sent it.
pub fn snapshot_installed(h: &History) -> bool {
    h.saw(SnapshotEvent::Installed)
}

/// A server restarted from a storage that holds a snapshot.
pub fn restarted_from_snapshot(h: &History) -> bool {
    h.saw(SnapshotEvent::Restarted)
}

/// A server that crashed is up again and has heard from (or become) a leader.
pub fn server_rejoins(n: usize, state: &State) -> bool {
    (0..n).any(|i| {
        state.history.crashed_before.contains(i)
            && state
                .live_server(i)
                .is_some_and(|s| s.role == Role::Leader || s.leader_hint.is_some())
    })
}

/// The last step cut a follower's conflicting entries and replaced them with the
/// leader's (Figure 7's repair; the bugs of log repair live here).
pub fn suffix_replaced(h: &History) -> bool {
    h.marked(Mark::SuffixReplaced)
}

/// The last step delivered a reply of an older term: an election came between the
/// request and its answer (stale replies must change nothing).
pub fn stale_reply_arrived(h: &History) -> bool {
    h.marked(Mark::StaleReplyArrived)
}

/// Two clients have operations in flight at once: their requests interleave in
/// the leader's log (what one client's retries alone cannot show).
pub fn clients_overlap(h: &History) -> bool {
    h.clients.iter().filter(|c| c.invoked > c.returned).count() >= 2
}

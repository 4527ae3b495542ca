//! The Always properties: Figure 3's safety properties of Raft and the transition
//! properties, each a plain function so that tests can call it on hand-built
//! states and the trace validator on recorded ones.

use super::views::{InModel, ServerViews};
use crate::model::{History, State, Violation};
use raft_model::{majority, Log, Role};

/// At most one leader per term, over the whole run (the history records every
/// server that was ever leader of a term).
pub fn election_safety(state: &State) -> bool {
    election_safety_in(&state.history)
}

pub fn election_safety_in(h: &History) -> bool {
    h.leaders.iter().all(|l| l.len() <= 1)
}

/// A leader never overwrites or deletes entries of its own log in its term.
pub fn leader_append_only(h: &History) -> bool {
    !h.violated(Violation::LeaderOverwrote)
}

/// If two logs have an entry with the same index and term, the logs are identical
/// up to that index.
pub fn log_matching(n: usize, state: &State) -> bool {
    log_matching_in(&InModel(n, state))
}

pub fn log_matching_in<V: ServerViews + ?Sized>(v: &V) -> bool {
    let n = v.count();
    (0..n).all(|a| (a + 1..n).all(|b| logs_match(v.log(a), v.log(b))))
}

pub fn logs_match(a: &Log, b: &Log) -> bool {
    // The highest index where the terms agree decides: equal prefixes up to it
    // imply equal prefixes up to every lower such index. Below the later of the two
    // snapshots nothing is left to compare (State Machine Safety judges snapshots).
    let from = a.snapshot_index().max(b.snapshot_index());
    let common = a.last_index().min(b.last_index());
    match (from..=common)
        .rev()
        .find(|&i| a.term_at(i) == b.term_at(i))
    {
        Some(i) => a.agrees_through(b, i),
        None => true,
    }
}

/// A leader of term T holds every entry that a server whose term is at most T
/// knows to be committed. (That server learned the commit in a term <= T, so the
/// entry was committed in a term <= T: Leader Completeness says the leader has it.)
pub fn leader_completeness(n: usize, state: &State) -> bool {
    leader_completeness_in(&InModel(n, state))
}

pub fn leader_completeness_in<V: ServerViews + ?Sized>(v: &V) -> bool {
    let n = v.count();
    (0..n).all(|l| {
        let Some(leader) = v.live(l).filter(|s| s.role == Role::Leader) else {
            return true;
        };
        (0..n).all(|i| match v.live(i) {
            // A server that counts as committed more than its log holds breaks
            // this (and the other properties of committed entries) at once.
            Some(s) if s.current_term <= leader.current_term => {
                leader.log.agrees_through(&s.log, s.commit_index)
            }
            _ => true,
        })
    })
}

/// No two servers apply different commands at the same index, ever: every applied
/// entry is compared with what any server applied there before (history), and the
/// live servers' applied prefixes agree.
pub fn state_machine_safety(n: usize, state: &State) -> bool {
    state_machine_safety_in(&state.history, &InModel(n, state))
}

pub fn state_machine_safety_in<V: ServerViews + ?Sized>(h: &History, v: &V) -> bool {
    !h.violated(Violation::AppliedDifferent) && committed_logs_agree_in(v)
}

/// State Machine Safety's part that the servers alone decide: any two live
/// servers' logs agree up to the lower of their commit indexes.
pub fn committed_logs_agree_in<V: ServerViews + ?Sized>(v: &V) -> bool {
    let n = v.count();
    (0..n).all(|a| {
        (a + 1..n).all(|b| match (v.live(a), v.live(b)) {
            (Some(x), Some(y)) => x
                .log
                .agrees_through(&y.log, x.commit_index.min(y.commit_index)),
            _ => true,
        })
    })
}

/// Every entry a server has committed is stored on a majority of all servers (in
/// their logs, or covered by their snapshots).
pub fn committed_on_majority(n: usize, state: &State) -> bool {
    committed_on_majority_in(&InModel(n, state))
}

pub fn committed_on_majority_in<V: ServerViews + ?Sized>(v: &V) -> bool {
    let n = v.count();
    (0..n).all(|i| {
        let Some(s) = v.live(i) else {
            return true;
        };
        // Below its own snapshot a server no longer knows the entries' terms; a
        // server that committed past its log (a broken run) holds no such entry.
        let from = s.log.snapshot_index().max(1);
        (from..=s.commit_index).all(|k| {
            let Some(term) = s.log.term_at(k) else {
                return false;
            };
            let holders = (0..n)
                .filter(|&j| {
                    let log = v.log(j);
                    log.snapshot_index() >= k || log.term_at(k) == Some(term)
                })
                .count();
            holders >= majority(n)
        })
    })
}

//! The properties a check judges, each a plain function of a state, so that tests can
//! call them on hand-built states.
//!
//! Server views: a server that is up is judged by its state; a crashed server by
//! what survives a crash, its storage.

use crate::bounds::Bounds;
use crate::model::{linearizable, live_server, log_of, History, RaftModel, State, Violation};
use raft_model::{majority, Entry, Role, ServerState};
use stateright::{Expectation, Property};

/// The servers as the safety properties see them, so that the same functions judge
/// a model state and a recorded run (`raftlab trace check`).
pub trait ServerViews {
    fn count(&self) -> usize;
    /// Server `i`'s state if it is up.
    fn live(&self, i: usize) -> Option<&ServerState>;
    /// Server `i`'s log as it stands: its state's if up, its storage's if down.
    fn log(&self, i: usize) -> &[Entry];
}

/// The first `n` actors of a model state.
pub struct InModel<'a>(pub usize, pub &'a State);

impl ServerViews for InModel<'_> {
    fn count(&self) -> usize {
        self.0
    }
    fn live(&self, i: usize) -> Option<&ServerState> {
        live_server(self.1, i)
    }
    fn log(&self, i: usize) -> &[Entry] {
        log_of(self.1, i)
    }
}

/// One server of a recorded run.
#[derive(Clone, Copy, Debug)]
pub struct ServerView<'a> {
    pub live: Option<&'a ServerState>,
    pub log: &'a [Entry],
}

impl ServerViews for [ServerView<'_>] {
    fn count(&self) -> usize {
        self.len()
    }
    fn live(&self, i: usize) -> Option<&ServerState> {
        self[i].live
    }
    fn log(&self, i: usize) -> &[Entry] {
        self[i].log
    }
}

/// An invariant of servers and history alone (no network, no clients).
pub type ServerInvariant = fn(&History, &[ServerView]) -> bool;

/// The Always properties that need only the servers and the history: what every
/// global state of a recorded run is checked against.
pub fn server_invariants() -> Vec<(&'static str, ServerInvariant)> {
    vec![
        (ELECTION_SAFETY, |h, _| election_safety_in(h)),
        (LOG_MATCHING, |_, v| log_matching_in(v)),
        (LEADER_COMPLETENESS, |_, v| leader_completeness_in(v)),
        (STATE_MACHINE_SAFETY, |h, v| state_machine_safety_in(h, v)),
        (LEADER_APPEND_ONLY, |h, _| leader_append_only(h)),
        (TERMS_MONOTONIC, |h, _| {
            !h.violated(Violation::TermDecreased)
        }),
        (COMMIT_MONOTONIC, |h, _| {
            !h.violated(Violation::CommitDecreased)
        }),
        (COMMITTED_ON_MAJORITY, |_, v| committed_on_majority_in(v)),
    ]
}

/// A property's name, kind and condition, as the reports list them.
pub struct Named {
    pub name: &'static str,
    pub expectation: Expectation,
    pub condition: fn(&RaftModel, &State) -> bool,
}

pub const ELECTION_SAFETY: &str = "Election Safety";
pub const LOG_MATCHING: &str = "Log Matching";
pub const LEADER_COMPLETENESS: &str = "Leader Completeness";
pub const STATE_MACHINE_SAFETY: &str = "State Machine Safety";
pub const LEADER_APPEND_ONLY: &str = "Leader Append-Only";
pub const LINEARIZABILITY: &str = "Linearizability";
pub const TERMS_MONOTONIC: &str = "Terms never decrease";
pub const COMMIT_MONOTONIC: &str = "Commit index never decreases";
pub const COMMITTED_ON_MAJORITY: &str = "Committed entries on a majority";
pub const LEADER_ELECTED: &str = "A leader is elected";
pub const ENTRY_COMMITTED: &str = "An entry is committed";
pub const CLIENT_ANSWERED: &str = "A client receives a reply";
pub const CLIENTS_DONE: &str = "Every client completes its operations";
pub const LOGS_DIVERGE: &str = "Logs diverge";
pub const SERVER_REJOINS: &str = "A server recovers and rejoins";

/// Every property of a check under `bounds`, Always first.
pub fn named(bounds: &Bounds) -> Vec<Named> {
    use Expectation::{Always, Sometimes};
    let mut v = vec![
        Named {
            name: ELECTION_SAFETY,
            expectation: Always,
            condition: |_, s| election_safety(s),
        },
        Named {
            name: LOG_MATCHING,
            expectation: Always,
            condition: |m, s| log_matching(m.servers(), s),
        },
        Named {
            name: LEADER_COMPLETENESS,
            expectation: Always,
            condition: |m, s| leader_completeness(m.servers(), s),
        },
        Named {
            name: STATE_MACHINE_SAFETY,
            expectation: Always,
            condition: |m, s| state_machine_safety(m.servers(), s),
        },
        Named {
            name: LEADER_APPEND_ONLY,
            expectation: Always,
            condition: |_, s| leader_append_only(&s.history),
        },
        Named {
            name: LINEARIZABILITY,
            expectation: Always,
            condition: |_, s| linearizable(&s.history),
        },
        Named {
            name: TERMS_MONOTONIC,
            expectation: Always,
            condition: |_, s| !s.history.violated(Violation::TermDecreased),
        },
        Named {
            name: COMMIT_MONOTONIC,
            expectation: Always,
            condition: |_, s| !s.history.violated(Violation::CommitDecreased),
        },
        Named {
            name: COMMITTED_ON_MAJORITY,
            expectation: Always,
            condition: |m, s| committed_on_majority(m.servers(), s),
        },
        Named {
            name: LEADER_ELECTED,
            expectation: Sometimes,
            condition: |m, s| leader_elected(m.servers(), s),
        },
        Named {
            name: ENTRY_COMMITTED,
            expectation: Sometimes,
            condition: |m, s| entry_committed(m.servers(), s),
        },
        Named {
            name: CLIENT_ANSWERED,
            expectation: Sometimes,
            condition: |_, s| client_answered(&s.history),
        },
        Named {
            name: CLIENTS_DONE,
            expectation: Sometimes,
            condition: clients_done,
        },
    ];
    // With one or two servers the leader's log always contains every other log (two
    // servers must both vote), so logs never diverge: nothing to witness.
    if bounds.servers >= 3 {
        v.push(Named {
            name: LOGS_DIVERGE,
            expectation: Sometimes,
            condition: |m, s| logs_diverge(m.servers(), s),
        });
    }
    if bounds.crashes > 0 {
        v.push(Named {
            name: SERVER_REJOINS,
            expectation: Sometimes,
            condition: |m, s| server_rejoins(m.servers(), s),
        });
    }
    v
}

pub fn all(bounds: &Bounds) -> Vec<Property<RaftModel>> {
    named(bounds)
        .into_iter()
        .map(|p| match p.expectation {
            Expectation::Always => Property::always(p.name, p.condition),
            Expectation::Sometimes => Property::sometimes(p.name, p.condition),
            Expectation::Eventually => Property::eventually(p.name, p.condition),
        })
        .collect()
}

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

pub fn logs_match(a: &[Entry], b: &[Entry]) -> bool {
    // The highest index where the terms agree decides: equal prefixes up to it
    // imply equal prefixes up to every lower such index.
    let common = a.len().min(b.len());
    match (0..common).rev().find(|&i| a[i].term == b[i].term) {
        Some(i) => a[..=i] == b[..=i],
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
            Some(s) if s.current_term <= leader.current_term => {
                let c = s.commit_index as usize;
                leader.log.len() >= c && leader.log[..c] == s.log[..c]
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
    if h.violated(Violation::AppliedDifferent) {
        return false;
    }
    let n = v.count();
    (0..n).all(|a| {
        (a + 1..n).all(|b| match (v.live(a), v.live(b)) {
            (Some(x), Some(y)) => {
                let c = x.commit_index.min(y.commit_index) as usize;
                x.log[..c] == y.log[..c]
            }
            _ => true,
        })
    })
}

/// Every entry a server has committed is stored on a majority of all servers.
pub fn committed_on_majority(n: usize, state: &State) -> bool {
    committed_on_majority_in(&InModel(n, state))
}

pub fn committed_on_majority_in<V: ServerViews + ?Sized>(v: &V) -> bool {
    let n = v.count();
    (0..n).all(|i| {
        let Some(s) = v.live(i) else {
            return true;
        };
        (0..s.commit_index as usize).all(|k| {
            let holders = (0..n)
                .filter(|&j| v.log(j).get(k).map(|e| e.term) == Some(s.log[k].term))
                .count();
            holders >= majority(n)
        })
    })
}

pub fn leader_elected(n: usize, state: &State) -> bool {
    (0..n).any(|i| live_server(state, i).is_some_and(|s| s.role == Role::Leader))
}

pub fn entry_committed(n: usize, state: &State) -> bool {
    (0..n).any(|i| live_server(state, i).is_some_and(|s| s.commit_index > 0))
}

pub fn client_answered(h: &History) -> bool {
    h.returned.iter().any(|r| *r > 0)
}

/// Every client has had every operation answered (with two or more, the last is a
/// get: so linearizability is judged on reads, not only on appends).
pub fn clients_done(model: &RaftModel, state: &State) -> bool {
    model.inner.actors.iter().enumerate().all(|(i, a)| match a {
        raft_model::RaftActor::Client(cfg) => {
            let c = i - model.servers();
            state.history.returned.get(c).copied().unwrap_or(0) as usize >= cfg.ops.len()
        }
        raft_model::RaftActor::Server(_) => true,
    })
}

/// Two servers hold different entries at the same index: the situation a new leader
/// must repair (lecture: "logs may diverge at the end of the old term").
pub fn logs_diverge(n: usize, state: &State) -> bool {
    (0..n).any(|a| {
        (a + 1..n).any(|b| {
            let (x, y) = (log_of(state, a), log_of(state, b));
            x.iter().zip(y).any(|(e, f)| e.term != f.term)
        })
    })
}

/// A server that crashed is up again and has heard from (or become) a leader.
pub fn server_rejoins(n: usize, state: &State) -> bool {
    (0..n).any(|i| {
        state.history.crashed_before.contains(i)
            && live_server(state, i)
                .is_some_and(|s| s.role == Role::Leader || s.leader_hint.is_some())
    })
}

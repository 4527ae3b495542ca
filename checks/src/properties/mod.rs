//! The properties a check judges, in one registry ([`named`]): each a plain
//! function of a state, so that tests can call them on hand-built states. The
//! properties that need only the servers and the history also judge every global
//! state of a recorded run ([`server_invariants`], used by `raftlab trace check`).

pub mod linearizability;
mod memo;
pub mod safety;
pub mod views;
pub mod witnesses;

pub use linearizability::{linearizable, linearization};
pub use safety::*;
pub use views::{InModel, ServerView, ServerViews};
pub use witnesses::*;

use crate::bounds::Bounds;
use crate::model::{History, RaftModel, State, Violation};
use stateright::{Expectation, Property};

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
pub const SUFFIX_REPLACED: &str = "A follower's conflicting entries are replaced";
pub const STALE_REPLY: &str = "A stale reply arrives after a new election";
pub const CLIENTS_OVERLAP: &str = "Two clients' operations overlap";
pub const SNAPSHOT_TAKEN: &str = "A server snapshots and compacts its log";
pub const SNAPSHOT_INSTALLED: &str = "A follower installs a leader's snapshot";
pub const SNAPSHOT_RESTART: &str = "A server restarts from a snapshot";
/// Every Always property as one, as a check judges them ([`always_hold`]).
pub const ALWAYS_AS_ONE: &str = "Every Always property";

/// An invariant of servers and history alone (no network, no clients).
pub type ServerInvariant = fn(&History, &dyn ServerViews) -> bool;

/// A property's name, kind and condition, as the reports list them.
#[derive(Clone)]
pub struct Named {
    pub name: &'static str,
    pub expectation: Expectation,
    pub condition: fn(&RaftModel, &State) -> bool,
    /// For an Always property, its condition less its servers-only judgement,
    /// if it has one (which [`always_hold`] judges with the others', in one
    /// memo look-up): all of it for most. Not judged for the others.
    beside_views: fn(&RaftModel, &State) -> bool,
    /// The same judgement on servers and a history alone, if it needs nothing
    /// else: what a recorded run's global states are judged with.
    pub on_servers: Option<ServerInvariant>,
}

/// An Always property of servers and history: its model condition is the server
/// invariant on the model state's servers.
macro_rules! server_invariant {
    ($name:expr, $judge:expr) => {
        Named {
            name: $name,
            expectation: Expectation::Always,
            condition: |m, s| ($judge)(&s.history, &InModel(m.servers(), s)),
            beside_views: |m, s| ($judge)(&s.history, &InModel(m.servers(), s)),
            on_servers: Some($judge),
        }
    };
}

/// A server invariant of the servers alone (no history): judged through the
/// per-thread memo ([`memo::on_servers`]) under its own number `$key`.
macro_rules! view_invariant {
    ($name:expr, $key:expr, $judge:expr) => {
        Named {
            name: $name,
            expectation: Expectation::Always,
            condition: |m, s| memo::on_servers($key, m.servers(), s, $judge),
            beside_views: |_, _| true,
            on_servers: Some(|_: &History, v: &dyn ServerViews| ($judge)(v)),
        }
    };
}

/// The Sometimes properties: a check's record of which it has witnessed has one
/// slot for each, at its place here.
const WITNESSES: [&str; 12] = [
    LEADER_ELECTED,
    ENTRY_COMMITTED,
    CLIENT_ANSWERED,
    CLIENTS_DONE,
    LOGS_DIVERGE,
    SERVER_REJOINS,
    SUFFIX_REPLACED,
    STALE_REPLY,
    CLIENTS_OVERLAP,
    SNAPSHOT_TAKEN,
    SNAPSHOT_INSTALLED,
    SNAPSHOT_RESTART,
];
const _: () = assert!(WITNESSES.len() <= crate::model::WITNESS_SLOTS);

/// The slot of the Sometimes property `name` (at compile time: a name missing
/// from [`WITNESSES`] does not build).
const fn witness_slot(name: &str) -> usize {
    let mut i = 0;
    while i < WITNESSES.len() {
        if same(WITNESSES[i].as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    panic!("a Sometimes property is missing from WITNESSES");
}

/// The slot of the Sometimes property `name`, if it is one.
pub fn witness_slot_of(name: &str) -> Option<usize> {
    WITNESSES.iter().position(|w| *w == name)
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A Sometimes property whose condition `$holds` is judged through
/// [`RaftModel::first_witness`] in its own slot, so that a check stops judging
/// it once it has been witnessed.
macro_rules! witness {
    ($name:expr, $holds:expr) => {
        Named {
            name: $name,
            expectation: Expectation::Sometimes,
            condition: |m, s| {
                let holds: fn(&RaftModel, &State) -> bool = $holds;
                m.first_witness(const { witness_slot($name) }, || holds(m, s))
            },
            beside_views: |_, _| true,
            on_servers: None,
        }
    };
}

/// The Always properties: the same under every bound set, so one static list,
/// which a check also judges as one property ([`always_hold`]).
static ALWAYS: [Named; 9] = [
    server_invariant!(ELECTION_SAFETY, |h: &History, _: &dyn ServerViews| {
        election_safety_in(h)
    }),
    view_invariant!(LOG_MATCHING, 1, |v: &dyn ServerViews| log_matching_in(v)),
    view_invariant!(LEADER_COMPLETENESS, 2, |v: &dyn ServerViews| {
        leader_completeness_in(v)
    }),
    // What was applied is the history's; the committed logs, the servers' alone
    // (judged through the memo, as the view invariants are).
    Named {
        name: STATE_MACHINE_SAFETY,
        expectation: Expectation::Always,
        condition: |m, s| {
            !s.history.violated(Violation::AppliedDifferent)
                && memo::on_servers(4, m.servers(), s, |v| committed_logs_agree_in(v))
        },
        beside_views: |_, s| !s.history.violated(Violation::AppliedDifferent),
        on_servers: Some(|h: &History, v: &dyn ServerViews| state_machine_safety_in(h, v)),
    },
    server_invariant!(LEADER_APPEND_ONLY, |h: &History, _: &dyn ServerViews| {
        leader_append_only(h)
    }),
    Named {
        name: LINEARIZABILITY,
        expectation: Expectation::Always,
        condition: |_, s| linearizable(&s.history),
        beside_views: |_, s| linearizable(&s.history),
        on_servers: None,
    },
    server_invariant!(TERMS_MONOTONIC, |h: &History, _: &dyn ServerViews| {
        !h.violated(Violation::TermDecreased)
    }),
    server_invariant!(COMMIT_MONOTONIC, |h: &History, _: &dyn ServerViews| {
        !h.violated(Violation::CommitDecreased)
    }),
    view_invariant!(COMMITTED_ON_MAJORITY, 3, |v: &dyn ServerViews| {
        committed_on_majority_in(v)
    }),
];

/// Whether every Always property holds in `s`: the servers-only judgements
/// of all of them in one memo look-up ([`views_hold`]; one each was a twentieth
/// of a check's time), then the rest of each.
pub fn always_hold(m: &RaftModel, s: &State) -> bool {
    memo::on_servers(VIEWS, m.servers(), s, views_hold)
        && ALWAYS.iter().all(|p| (p.beside_views)(m, s))
}

/// The memo's number for [`views_hold`] (the properties' own are 1 to 4).
const VIEWS: u64 = 5;

/// The servers-only judgements of the Always properties, together: those the
/// view invariants and State Machine Safety look up one by one in their own
/// conditions.
fn views_hold(v: &dyn ServerViews) -> bool {
    log_matching_in(v)
        && leader_completeness_in(v)
        && committed_on_majority_in(v)
        && committed_logs_agree_in(v)
}

/// The Always properties that fail in `s`, in the registry's order.
pub fn always_failing(m: &RaftModel, s: &State) -> Vec<&'static str> {
    ALWAYS
        .iter()
        .filter(|p| !(p.condition)(m, s))
        .map(|p| p.name)
        .collect()
}

/// Every property of a check under `bounds`, Always first: the one registry.
pub fn named(bounds: &Bounds) -> Vec<Named> {
    let mut v = ALWAYS.to_vec();
    v.extend([
        witness!(LEADER_ELECTED, |m, s| leader_elected(m.servers(), s)),
        witness!(ENTRY_COMMITTED, |m, s| entry_committed(m.servers(), s)),
        witness!(CLIENT_ANSWERED, |_, s| client_answered(&s.history)),
        witness!(CLIENTS_DONE, clients_done),
    ]);
    // With one or two servers the leader's log always contains every other log (two
    // servers must both vote), so logs never diverge: nothing to witness.
    if bounds.servers >= 3 {
        v.push(witness!(LOGS_DIVERGE, |m, s| logs_diverge(m.servers(), s)));
    }
    if bounds.crashes > 0 {
        v.push(witness!(SERVER_REJOINS, |m, s| server_rejoins(
            m.servers(),
            s
        )));
    }
    // Divergent logs are what a follower's repair needs.
    if bounds.servers >= 3 {
        v.push(witness!(SUFFIX_REPLACED, |_, s| suffix_replaced(
            &s.history
        )));
    }
    if bounds.servers >= 2 {
        v.push(witness!(STALE_REPLY, |_, s| stale_reply_arrived(
            &s.history
        )));
    }
    if bounds.clients >= 2 {
        v.push(witness!(CLIENTS_OVERLAP, |_, s| clients_overlap(
            &s.history
        )));
    }
    if bounds.snapshots {
        v.push(witness!(SNAPSHOT_TAKEN, |m, s| snapshot_taken(
            m.servers(),
            s
        )));
        // A follower lags behind a leader's snapshot only if some server can be
        // left out of a majority.
        if bounds.servers >= 3 {
            v.push(witness!(SNAPSHOT_INSTALLED, |_, s| snapshot_installed(
                &s.history
            )));
        }
        if bounds.crashes > 0 {
            v.push(witness!(SNAPSHOT_RESTART, |_, s| {
                restarted_from_snapshot(&s.history)
            }));
        }
    }
    v
}

/// The registry's server invariants: what every global state of a recorded run is
/// checked against.
pub fn server_invariants() -> Vec<(&'static str, ServerInvariant)> {
    named(&Bounds::default())
        .into_iter()
        .filter_map(|p| Some((p.name, p.on_servers?)))
        .collect()
}

/// The registry as stateright's properties.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The initial state, with a leader in it for "a leader is elected".
    fn with_leader(model: &RaftModel) -> State {
        let mut state = model.init().remove(0);
        if let Some(mut s) = state.server(0).cloned() {
            s.role = raft_model::Role::Leader;
            state.set_server(0, s);
        }
        state
    }

    fn leader_elected_condition(bounds: &Bounds) -> fn(&RaftModel, &State) -> bool {
        named(bounds)
            .into_iter()
            .find(|p| p.name == LEADER_ELECTED)
            .map(|p| p.condition)
            .expect("the registry has 'A leader is elected'")
    }

    #[test]
    fn a_check_judges_a_sometimes_property_until_its_first_witness() {
        let bounds = Bounds::default();
        let holds = leader_elected_condition(&bounds);
        let model = RaftModel::new(bounds).witnessing_once();
        let state = with_leader(&model);
        let none = model.init().remove(0);
        assert!(!holds(&model, &none), "no leader yet: not a witness");
        assert!(holds(&model, &state), "the first witness counts");
        assert!(!holds(&model, &state), "and is not judged again");
        // A clone shares the check's record; a new record starts afresh.
        assert!(!holds(&model.clone(), &state));
        assert!(holds(&model.clone().witnessing_once(), &state));
    }

    #[test]
    fn without_a_record_a_sometimes_property_is_judged_every_time() {
        let bounds = Bounds::default();
        let holds = leader_elected_condition(&bounds);
        let model = RaftModel::new(bounds);
        let state = with_leader(&model);
        assert!(holds(&model, &state));
        assert!(holds(&model, &state));
    }

    #[test]
    fn every_sometimes_property_of_the_richest_bounds_has_a_slot() {
        let bounds = Bounds {
            clients: 2,
            crashes: 1,
            snapshots: true,
            ..Bounds::default()
        };
        let sometimes: Vec<&str> = named(&bounds)
            .iter()
            .filter(|p| p.expectation == Expectation::Sometimes)
            .map(|p| p.name)
            .collect();
        assert_eq!(sometimes.len(), WITNESSES.len());
        for name in sometimes {
            assert_eq!(WITNESSES[witness_slot(name)], name);
        }
    }
}

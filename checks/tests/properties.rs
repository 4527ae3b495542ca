//! The property functions judged on hand-built states: each must accept a good state
//! and reject a bad one.

use raft_checks::bounds::Bounds;
use raft_checks::model::{observe_server, RaftModel, State, Violation};
use raft_checks::properties::*;
use raft_model::{Entry, Id, KvStore, Op, Role, ServerSet, ServerState, Term};
use stateright::Model;

fn log(terms: &[Term]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(k, &term)| Entry {
            term,
            client: Id::from(3),
            seq: k as u64 + 1,
            op: Op::Get { key: "x".into() },
        })
        .collect()
}

fn server(role: Role, term: Term, terms: &[Term], commit: u64) -> ServerState {
    ServerState {
        current_term: term,
        voted_for: None,
        log: log(terms).into(),
        role,
        commit_index: commit,
        leader_hint: None,
        votes_granted: ServerSet::EMPTY,
        next_index: vec![1; 3],
        match_index: vec![0; 3],
        kv: KvStore::default(),
        snapshot: Default::default(),
    }
}

/// The initial state of the default model with these three servers.
fn state(servers: [ServerState; 3]) -> State {
    let model = RaftModel::new(Bounds::default());
    let mut s = model.init_states().remove(0);
    for (i, srv) in servers.into_iter().enumerate() {
        s.set_server(i, srv);
    }
    s
}

use Role::{Follower as F, Leader as L};

#[test]
fn log_matching_accepts_a_common_prefix_and_rejects_a_different_history() {
    let good = state([
        server(F, 2, &[1, 1, 2], 0),
        server(F, 2, &[1, 1], 0),
        server(F, 2, &[1, 1, 3], 0),
    ]);
    assert!(log_matching(3, &good));
    // Same term at index 3, but index 2 differs.
    let bad = state([
        server(F, 3, &[1, 1, 3], 0),
        server(F, 3, &[1, 2, 3], 0),
        server(F, 3, &[], 0),
    ]);
    assert!(!log_matching(3, &bad));
}

#[test]
fn leader_completeness_requires_committed_entries_in_the_leader() {
    let good = state([
        server(L, 3, &[1, 2], 0),
        server(F, 3, &[1, 2], 2),
        server(F, 1, &[1], 1),
    ]);
    assert!(leader_completeness(3, &good));
    let bad = state([
        server(L, 3, &[1], 0),
        server(F, 2, &[1, 2], 2),
        server(F, 1, &[1], 1),
    ]);
    assert!(!leader_completeness(3, &bad));
    // A server that has seen a later term may know of commits the old leader lacks.
    let stale_leader = state([
        server(L, 2, &[1], 0),
        server(F, 3, &[1, 3], 2),
        server(F, 3, &[1, 3], 0),
    ]);
    assert!(leader_completeness(3, &stale_leader));
}

#[test]
fn state_machine_safety_rejects_different_applied_entries() {
    let good = state([
        server(F, 2, &[1, 2], 2),
        server(F, 2, &[1, 2, 2], 3),
        server(F, 2, &[1, 3], 1),
    ]);
    assert!(state_machine_safety(3, &good));
    let bad = state([
        server(F, 2, &[1, 2], 2),
        server(F, 3, &[1, 3], 2),
        server(F, 2, &[], 0),
    ]);
    assert!(!state_machine_safety(3, &bad));
    let mut flagged = good.clone();
    flagged.history_mut(|h| h.violations |= Violation::AppliedDifferent as u8);
    assert!(
        !state_machine_safety(3, &flagged),
        "the history remembers past applies"
    );
}

#[test]
fn committed_entries_must_be_on_a_majority() {
    let good = state([
        server(L, 2, &[1, 2], 2),
        server(F, 2, &[1, 2], 0),
        server(F, 2, &[1], 1),
    ]);
    assert!(committed_on_majority(3, &good));
    let bad = state([
        server(L, 2, &[1, 2], 2),
        server(F, 2, &[1], 0),
        server(F, 2, &[1], 1),
    ]);
    assert!(!committed_on_majority(3, &bad));
}

#[test]
fn election_safety_counts_every_leader_a_term_ever_had() {
    let mut s = state([
        server(L, 2, &[], 0),
        server(F, 2, &[], 0),
        server(F, 2, &[], 0),
    ]);
    let mut leaders = vec![ServerSet::EMPTY; 3];
    leaders[2].insert(0);
    s.history_mut(|h| h.leaders = leaders.clone().into());
    assert!(election_safety(&s));
    leaders[2].insert(1); // S2 led term 2 too, even if it is no longer leader now
    s.history_mut(|h| h.leaders = leaders.into());
    assert!(!election_safety(&s));
}

#[test]
fn sometimes_properties_see_what_they_name() {
    let quiet = state([
        server(F, 0, &[], 0),
        server(F, 0, &[], 0),
        server(F, 0, &[], 0),
    ]);
    assert!(!leader_elected(3, &quiet) && !entry_committed(3, &quiet) && !logs_diverge(3, &quiet));
    assert!(!client_answered(&quiet.history) && !server_rejoins(3, &quiet));
    let busy = state([
        server(L, 2, &[1, 2], 1),
        server(F, 2, &[1, 1], 1),
        server(F, 2, &[], 0),
    ]);
    assert!(leader_elected(3, &busy) && entry_committed(3, &busy) && logs_diverge(3, &busy));
    let mut crashed = busy.clone();
    crashed.down.insert(0);
    assert!(
        !leader_elected(3, &crashed),
        "a crashed leader does not count"
    );
}

#[test]
fn clients_are_done_only_when_every_operation_is_answered() {
    let model = RaftModel::new(Bounds::default()); // one client, two operations
    let mut s = state([
        server(L, 1, &[1, 1], 2),
        server(F, 1, &[1, 1], 2),
        server(F, 1, &[1, 1], 2),
    ]);
    assert!(!clients_done(&model, &s));
    s.history_mut(|h| h.clients[0].returned = 1);
    assert!(client_answered(&s.history) && !clients_done(&model, &s));
    s.history_mut(|h| h.clients[0].returned = 2);
    assert!(clients_done(&model, &s));
}

#[test]
fn a_replaced_suffix_and_a_stale_reply_are_seen_in_the_step_that_does_them() {
    let model = RaftModel::new(Bounds::default());
    let mut s = state([
        server(L, 3, &[1, 3], 1),
        server(F, 3, &[1, 2, 2], 1),
        server(F, 3, &[1, 3], 1),
    ]);
    assert!(!suffix_replaced(&s.history) && !stale_reply_arrived(&s.history));
    // S2's conflicting [2, 2] is replaced by the leader's entry of term 3.
    let before = s.server(1).cloned().expect("a server");
    let mut after = before.clone();
    after.log = log(&[1, 3]).into();
    s.history_mut(|h| observe_server(h, 1, &before, &after, false));
    assert!(suffix_replaced(&s.history));
    // Appending without a conflict is no replacement; the mark lasts one step.
    let appended = server(F, 3, &[1, 2, 2, 2], 1);
    let mut t = state([
        server(L, 3, &[1, 2, 2, 2], 1),
        before.clone(),
        server(F, 3, &[1], 1),
    ]);
    t.history_mut(|h| observe_server(h, 1, &before, &appended, false));
    assert!(!suffix_replaced(&t.history));
    // A reply of term 2 delivered to a server of term 3 is stale.
    let reply = |term| {
        raft_model::Msg::RequestVoteReply(raft_model::RequestVoteReply {
            term,
            vote_granted: true,
        })
    };
    let mut h = std::borrow::Cow::Borrowed(&*t.history);
    raft_checks::model::history::observe_delivery(&mut h, &before, &reply(3));
    assert!(!stale_reply_arrived(&h));
    raft_checks::model::history::observe_delivery(&mut h, &before, &reply(2));
    assert!(stale_reply_arrived(&h));
    let _ = model;
}

#[test]
fn clients_overlap_only_while_two_have_operations_in_flight() {
    let model = RaftModel::new(Bounds {
        clients: 2,
        ..Bounds::default()
    });
    let mut s = model.init_states().remove(0);
    assert!(!clients_overlap(&s.history));
    s.history_mut(|h| h.clients[0].invoked = 1);
    assert!(!clients_overlap(&s.history), "one client alone");
    s.history_mut(|h| h.clients[1].invoked = 1);
    assert!(clients_overlap(&s.history));
    s.history_mut(|h| h.clients[0].returned = 1);
    assert!(!clients_overlap(&s.history), "the first one was answered");
}

/// A follower whose log holds another term's entry past its commit index
/// installs a leader's snapshot over it: the snapshot, not that entry, is what it
/// applied (a chaos run's trace check once flagged this as two different applied
/// entries). A snapshot whose data is not the applied commands is still flagged.
#[test]
fn installing_a_snapshot_over_a_divergent_entry_applies_the_snapshot() {
    let leader = server(L, 2, &[1, 2], 2);
    let s = state([
        leader.clone(),
        server(F, 2, &[1, 1], 1),
        server(F, 2, &[1, 2], 2),
    ]);
    let applied = log(&[1, 2]);
    let mut h = (*s.history).clone();
    observe_server(&mut h, 0, &server(L, 2, &[1, 2], 0), &leader, false);
    assert_eq!(*h.applied, applied);
    let before = server(F, 2, &[1, 1], 1);
    let mut after = before.clone();
    after.log = raft_model::Log::after_snapshot(2, 2);
    after.commit_index = 2;
    after.snapshot = KvStore::of(&applied);
    after.kv = after.snapshot.clone();
    let mut good = h.clone();
    observe_server(&mut good, 1, &before, &after, false);
    assert!(!good.violated(Violation::AppliedDifferent));
    let mut wrong = after.clone();
    wrong.snapshot.data.insert("x".into(), "forged".into());
    let mut bad = h.clone();
    observe_server(&mut bad, 1, &before, &wrong, false);
    assert!(bad.violated(Violation::AppliedDifferent));
}

#[test]
fn a_step_is_flagged_and_marked_by_its_states_before_and_after() {
    use raft_checks::model::{History, Mark};
    let observed = |before: &ServerState, after: &ServerState, recovered: bool| {
        let mut h = History::new(3, 1);
        observe_server(&mut h, 0, before, after, recovered);
        h
    };
    // A leader that drops an entry of its own term overwrote its log.
    let h = observed(&server(L, 2, &[1, 2], 0), &server(L, 2, &[1], 0), false);
    assert!(h.violated(Violation::LeaderOverwrote));
    // A follower whose conflicting entry is replaced: marked, not flagged.
    let h = observed(&server(F, 2, &[1, 1], 0), &server(F, 2, &[1, 2], 0), false);
    assert!(h.marked(Mark::SuffixReplaced));
    assert!(Violation::ALL.iter().all(|&v| !h.violated(v)));
    // A commit index that falls: flagged on a step, not on a restart (which
    // loses volatile state).
    let (before, after) = (server(F, 2, &[1], 1), server(F, 2, &[1], 0));
    assert!(observed(&before, &after, false).violated(Violation::CommitDecreased));
    assert!(!observed(&before, &after, true).violated(Violation::CommitDecreased));
    // A term that falls, on either.
    let (before, after) = (server(F, 2, &[1], 0), server(F, 1, &[1], 0));
    assert!(observed(&before, &after, true).violated(Violation::TermDecreased));
}

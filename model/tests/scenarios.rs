//! The paper's and the lecture's log scenarios, driven step by step through the real
//! handlers (see DESIGN.md, "Reference scenarios").

use raft_model::testkit::{Cluster, Sent};
use raft_model::{
    AppendEntries, Entry, Id, KvStore, LogIndex, Msg, Mutant, MutantSet, Op, OpResult,
    RequestVoteReply, Role, ServerConfig, ServerSet, ServerState, Term, Timer,
};

fn entries(terms: &[Term]) -> Vec<Entry> {
    terms
        .iter()
        .enumerate()
        .map(|(k, &term)| Entry {
            term,
            client: Id::from(99),
            seq: k as u64 + 1,
            op: Op::Put {
                key: "x".into(),
                value: format!("{k}").into(),
            },
        })
        .collect()
}

fn terms(s: &ServerState) -> Vec<Term> {
    s.log.iter().map(|e| e.term).collect()
}

fn follower(term: Term, log: Vec<Entry>) -> ServerState {
    ServerState {
        current_term: term,
        voted_for: None,
        log: log.into(),
        role: Role::Follower,
        commit_index: 0,
        leader_hint: None,
        votes_granted: ServerSet::EMPTY,
        next_index: vec![],
        match_index: vec![],
        kv: KvStore::default(),
        snapshot: KvStore::default(),
    }
}

fn leader(n: usize, term: Term, log: Vec<Entry>) -> ServerState {
    let next = log.len() as LogIndex + 1;
    ServerState {
        role: Role::Leader,
        voted_for: Some(Id::from(0)),
        next_index: vec![next; n],
        match_index: vec![0; n],
        ..follower(term, log)
    }
}

use raft_model::testkit::append_request as request;

/// Runs the leader's AppendEntries rounds with follower S2 until nothing is in
/// flight; returns how many AppendEntries the follower rejected.
fn repair(c: &mut Cluster) -> usize {
    // The leader's AppendEntries with a new entry, if in flight, starts the repair: a
    // heartbeat as well would be rejected alongside it and count every round twice.
    if c.net.is_empty() {
        c.timeout(0, Timer::Heartbeat);
    }
    let mut rejected = 0;
    while let Some(m) = c.net.first().cloned() {
        c.net.remove(0);
        if matches!(&m.msg, Msg::AppendEntriesReply(r) if !r.success) {
            rejected += 1;
        }
        let (src, dst) = (usize::from(m.src), usize::from(m.dst));
        if dst < 2 {
            c.deliver(src, dst, m.msg);
        }
        assert!(rejected < 20, "repair does not converge");
    }
    rejected
}

#[test]
fn figure_7_every_follower_log_is_repaired_with_one_round_per_conflicting_term() {
    let leader_log = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    // (follower log, its term, AppendEntries it rejects with XTerm/XIndex/XLen)
    let cases: [(&str, &[Term], Term, usize); 6] = [
        ("a", &[1, 1, 1, 4, 4, 5, 5, 6, 6], 6, 1),
        ("b", &[1, 1, 1, 4], 4, 1),
        ("c", &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], 6, 0),
        ("d", &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], 7, 0),
        ("e", &[1, 1, 1, 4, 4, 4, 4], 4, 2),
        ("f", &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], 3, 2),
    ];
    for (name, flog, fterm, expected_rejections) in cases {
        let mut c = Cluster::new(ServerConfig::new(2));
        c.states[0] = leader(2, 8, entries(&leader_log));
        c.states[1] = follower(fterm, entries(flog));
        // The new leader's own entry of term 8, which every follower must end up with.
        c.deliver(9, 0, request(1, "z"));
        let rejected = repair(&mut c);
        assert_eq!(
            terms(&c.states[1]),
            terms(&c.states[0]),
            "follower ({name}) not repaired"
        );
        assert_eq!(
            c.states[1].log, c.states[0].log,
            "follower ({name}) entries differ"
        );
        assert_eq!(
            rejected, expected_rejections,
            "follower ({name}): rounds of backtracking"
        );
        // One per conflicting term (plus one), never one per entry.
        let missing_or_wrong = flog.len().abs_diff(leader_log.len()) + 1;
        assert!(rejected <= missing_or_wrong.max(2), "follower ({name})");
        // Both agree the new entry is committed (2 of 2) and the follower learns it.
        assert_eq!(
            c.states[0].commit_index, 11,
            "follower ({name}): leader commit"
        );
    }
}

/// Figure 8: five servers; an entry of an old term on a majority is not committed.
#[test]
fn figure_8_old_term_entry_on_a_majority_is_not_committed() {
    let run = |mutants: MutantSet| -> (Cluster, Cluster) {
        let cfg = ServerConfig::new(5).with_mutants(mutants);
        let mut c = Cluster::new(cfg);
        for i in 0..5 {
            c.states[i] = follower(1, entries(&[1]));
            c.storage[i] = Some(c.states[i].persistent());
        }
        // (a) S1 is elected in term 2 and replicates its new entry at index 2 to S2 only.
        c.timeout(0, Timer::Election);
        for p in 1..5 {
            c.deliver_next(0, p);
        }
        for p in 1..3 {
            c.deliver_next(p, 0);
        }
        assert_eq!(c.states[0].role, Role::Leader);
        assert_eq!(c.states[0].current_term, 2);
        c.net.clear();
        c.deliver(5, 0, request(1, "s1"));
        c.timeout(0, Timer::Heartbeat);
        c.deliver_next(0, 1);
        c.net.clear();
        assert_eq!(terms(&c.states[1]), [1, 2]);
        // (b) S1 crashes; S5 is elected in term 3 by S3, S4, S5 and accepts another entry.
        c.timeout(4, Timer::Election);
        c.deliver_next(4, 2);
        c.deliver_next(4, 3);
        c.deliver_next(2, 4);
        c.deliver_next(3, 4);
        assert_eq!(c.states[4].role, Role::Leader);
        assert_eq!(c.states[4].current_term, 3);
        c.net.clear();
        c.deliver(5, 4, request(2, "s5"));
        assert_eq!(terms(&c.states[4]), [1, 3]);
        // (c) S5 crashes; S1 restarts and is elected in term 4 (after learning term 3).
        c.restart(0);
        c.timeout(0, Timer::Election); // term 3: S3 and S4 have voted for S5
        c.deliver_next(0, 2);
        c.deliver_next(2, 0);
        c.net.clear();
        c.timeout(0, Timer::Election); // term 4
        c.deliver_next(0, 1);
        c.deliver_next(0, 2);
        c.deliver_next(1, 0);
        c.deliver_next(2, 0);
        assert_eq!(c.states[0].role, Role::Leader);
        assert_eq!(c.states[0].current_term, 4);
        c.net.clear();
        // S1 replicates index 2 (term 2) to S3: now on S1, S2, S3, a majority.
        c.timeout(0, Timer::Heartbeat);
        c.net.retain(|m: &Sent| usize::from(m.dst) < 3);
        c.settle(&[3, 4], 20);
        assert_eq!(terms(&c.states[2]), [1, 2]);
        let before_d = c.clone();
        // (e) Alternatively S1 replicates an entry of term 4 to a majority first.
        let mut e = c.clone();
        e.deliver(5, 0, request(3, "s1-term4"));
        e.timeout(0, Timer::Heartbeat);
        e.net.retain(|m: &Sent| usize::from(m.dst) < 3);
        e.settle(&[3, 4], 20);
        (before_d, e)
    };

    let (c, e) = run(MutantSet::NONE);
    // S1 restarted with commitIndex 0; only an entry of term 4 could move it.
    assert_eq!(
        c.states[0].commit_index, 0,
        "(c): index 2 is on a majority but not committed"
    );
    // (d) S1 crashes; S5 is elected in term 5 by S2, S3, S4 and overwrites index 2.
    let mut d = c.clone();
    d.restart(4);
    d.timeout(4, Timer::Election); // term 4: S2, S3 voted for S1 already
    d.net.clear();
    d.timeout(4, Timer::Election); // term 5
    for p in 1..4 {
        d.deliver_next(4, p);
        d.deliver_next(p, 4);
    }
    assert_eq!(
        d.states[4].role,
        Role::Leader,
        "(d): S5 wins with votes of S2, S3, S4"
    );
    d.net.clear();
    d.timeout(4, Timer::Heartbeat);
    d.net.retain(|m: &Sent| usize::from(m.dst) != 0);
    d.settle(&[0], 40);
    for i in 1..5 {
        assert_eq!(
            terms(&d.states[i]),
            [1, 3],
            "(d): S{} index 2 overwritten",
            i + 1
        );
    }
    // Nobody had applied the overwritten entry: State Machine Safety holds.
    assert!(d
        .states
        .iter()
        .all(|s| s.commit_index < 2 || s.log.term_at(2) == Some(3)));

    // (e) The term-4 entry commits, and with it index 2; S5 can no longer win.
    assert_eq!(e.states[0].commit_index, 3);
    let mut e = e;
    e.restart(4);
    e.timeout(4, Timer::Election);
    e.net.clear();
    e.timeout(4, Timer::Election);
    for p in 1..4 {
        e.deliver_next(4, p);
        e.deliver_next(p, 4);
    }
    assert_ne!(
        e.states[4].role,
        Role::Leader,
        "(e): S5's log is not up to date"
    );

    // With the commit-old-term bug, S1 commits index 2 in (c) by counting replicas,
    // and (d) then overwrites an applied entry.
    let (c, _) = run(MutantSet::NONE.with(Mutant::CommitOldTerm));
    assert_eq!(
        c.states[0].commit_index, 2,
        "the mutant commits the term-2 entry"
    );
}

/// Lecture 6: slots 10-12 hold S1 [3], S2 [3,3,4], S3 [3,3,5]. Whoever leads next,
/// slots 10 and 11 survive and one of the two slot-12 entries is dropped.
#[test]
fn lecture_slots_10_to_12_either_entry_at_12_may_be_dropped() {
    let prefix = [1, 1, 2, 2, 2, 3, 3, 3, 3];
    let with = |tail: &[Term]| entries(&[&prefix[..], tail].concat());
    let setup = || {
        let mut c = Cluster::new(ServerConfig::new(3));
        c.states[0] = follower(5, with(&[3]));
        c.states[0].voted_for = Some(Id::from(2));
        c.states[1] = follower(4, with(&[3, 3, 4]));
        c.states[2] = follower(5, with(&[3, 3, 5]));
        c.states[2].voted_for = Some(Id::from(2));
        for i in 0..3 {
            c.storage[i] = Some(c.states[i].persistent());
        }
        c
    };

    // S3 leads term 6 (S1 and S2 vote for it: its last term 5 is the highest).
    let mut c = setup();
    c.timeout(2, Timer::Election);
    c.settle(&[], 100);
    assert_eq!(c.states[2].role, Role::Leader);
    c.timeout(2, Timer::Heartbeat);
    c.settle(&[], 100);
    for s in &c.states {
        assert_eq!(terms(s)[9..], [3, 3, 5]);
    }

    // S2 leads term 6 instead (S1 votes for it, S3 refuses: S2's last term 4 < 5).
    let mut c = setup();
    c.timeout(1, Timer::Election); // term 5: S1 and S3 have voted for S3 already
    c.settle(&[], 100);
    assert_ne!(c.states[1].role, Role::Leader);
    c.timeout(1, Timer::Election); // term 6
    c.settle(&[], 100);
    assert_eq!(c.states[1].role, Role::Leader);
    assert_eq!(c.states[1].current_term, 6);
    c.timeout(1, Timer::Heartbeat);
    c.settle(&[], 100);
    for s in &c.states {
        assert_eq!(terms(s)[9..], [3, 3, 4]);
    }
    // Replicated on all three but of term 4: not committed until a term-6 entry is.
    assert_eq!(c.states[1].commit_index, 0);
    c.deliver(7, 1, request(1, "v"));
    c.timeout(1, Timer::Heartbeat);
    c.settle(&[], 100);
    assert_eq!(c.states[1].commit_index, 13);
    assert!(c.states.iter().all(|s| s.log.len() == 13));
}

#[test]
fn stale_or_duplicate_append_entries_never_cuts_the_log() {
    let check = |mutants: MutantSet| {
        let mut c = Cluster::new(ServerConfig::new(2).with_mutants(mutants));
        c.states[1] = follower(1, entries(&[1, 1, 1]));
        // A delayed AppendEntries that carried only the first entry.
        c.deliver(
            0,
            1,
            Msg::AppendEntries(AppendEntries {
                term: 1,
                prev_log_index: 0,
                prev_log_term: 0,
                entries: entries(&[1]),
                leader_commit: 0,
            }),
        );
        terms(&c.states[1])
    };
    assert_eq!(check(MutantSet::NONE), [1, 1, 1]);
    assert_eq!(
        check(MutantSet::NONE.with(Mutant::TruncateOnStaleAppend)),
        [1]
    );
}

#[test]
fn follower_commit_index_is_bounded_by_the_last_verified_entry() {
    let mut c = Cluster::new(ServerConfig::new(2));
    // The follower holds an entry of an old term at index 2 that the leader lacks.
    let mut log = entries(&[1, 1]);
    log[1].term = 2;
    c.states[1] = follower(1, log);
    c.deliver(
        0,
        1,
        Msg::AppendEntries(AppendEntries {
            term: 3,
            prev_log_index: 1,
            prev_log_term: 1,
            entries: vec![],
            leader_commit: 5,
        }),
    );
    assert_eq!(
        c.states[1].commit_index, 1,
        "min(leader_commit, index of last new entry)"
    );
}

#[test]
fn a_vote_survives_a_restart_and_is_given_once_per_term() {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.timeout(1, Timer::Election);
    c.deliver_next(1, 0); // S1 votes for S2 in term 1
    assert_eq!(c.states[0].voted_for, Some(Id::from(1)));
    c.restart(0);
    assert_eq!(
        c.states[0].voted_for,
        Some(Id::from(1)),
        "votedFor is persistent"
    );
    assert_eq!(c.states[0].current_term, 1, "currentTerm is persistent");
    c.timeout(2, Timer::Election);
    let replies = c.deliver_next(2, 0);
    assert!(matches!(
        replies[0].msg,
        Msg::RequestVoteReply(RequestVoteReply {
            term: 1,
            vote_granted: false
        })
    ));
}

#[test]
fn the_election_restriction_refuses_a_candidate_with_an_older_log() {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.states[0] = follower(2, entries(&[1, 2]));
    c.states[1] = follower(2, entries(&[1, 1, 1]));
    c.timeout(1, Timer::Election);
    let replies = c.deliver_next(1, 0);
    assert!(matches!(
        replies[0].msg,
        Msg::RequestVoteReply(RequestVoteReply {
            vote_granted: false,
            ..
        })
    ));
}

#[test]
fn a_retried_request_is_applied_once_and_answered_from_the_session() {
    let mut c = Cluster::new(ServerConfig::new(1));
    c.timeout(0, Timer::Election);
    assert_eq!(
        c.states[0].role,
        Role::Leader,
        "a cluster of one elects itself"
    );
    let first = c.deliver(1, 0, request(1, "a"));
    assert!(matches!(
        first[0].msg,
        Msg::ClientReply {
            seq: 1,
            result: OpResult::Done
        }
    ));
    let retry = c.deliver(1, 0, request(1, "a"));
    assert!(matches!(
        retry[0].msg,
        Msg::ClientReply {
            seq: 1,
            result: OpResult::Done
        }
    ));
    assert_eq!(c.states[0].log.len(), 1);
    assert_eq!(&*c.states[0].kv.data["x"], "a");
}

#[test]
fn a_follower_redirects_clients_to_the_leader() {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.timeout(0, Timer::Election);
    c.settle(&[], 20);
    let replies = c.deliver(3, 1, request(1, "a"));
    assert!(matches!(
        replies[0].msg,
        Msg::NotLeader { seq: 1, leader_hint: Some(l) } if l == Id::from(0)
    ));
}

/// Found by a recorded real run with 5% message loss (`raftlab trace record
/// --kill-leader --drop 0.05`): an AppendEntries carrying an entry is lost; the
/// leader's heartbeats are empty, and the follower's answer to one says only what
/// the leader already knew. The leader must still send the entries the follower
/// lacks, or replication to it stops for good (and with two such followers, so does
/// every commit).
#[test]
fn a_lost_append_entries_is_resent_after_the_next_heartbeat() {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.timeout(0, Timer::Election);
    c.settle(&[], 100);
    assert_eq!(c.states[0].role, Role::Leader);
    c.deliver(3, 0, request(1, "a"));
    // The AppendEntries with the new entry to S2 is lost; S3 gets it and the entry commits.
    let lost = c
        .net
        .iter()
        .position(|m| {
            m.dst == Id::from(1) && matches!(&m.msg, Msg::AppendEntries(a) if !a.entries.is_empty())
        })
        .expect("the new entry is sent to S2");
    c.net.remove(lost);
    c.settle(&[], 100);
    assert_eq!(c.states[0].commit_index, 1);
    assert!(c.states[1].log.is_empty());
    // One heartbeat round, and S2 holds the entry.
    c.timeout(0, Timer::Heartbeat);
    c.settle(&[], 100);
    assert_eq!(terms(&c.states[1]), vec![1]);
    assert_eq!(c.states[1].commit_index, 1);
}

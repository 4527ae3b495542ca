//! Each rule of `raft_model::sanity`: the message Raft never sends is refused by
//! `admits`/`accepts` with its reason, and delivered anyway it changes nothing
//! and sends nothing (the handlers ask the same rules). Terms never wrap.

use raft_model::testkit::Cluster;
use raft_model::{
    limits, AppendEntries, AppendEntriesReply, ClientRequest, Entry, Id, InstallSnapshot, KvStore,
    Msg, Op, Refusal, RequestVote, Role, ServerConfig, Timer, MAX_INDEX, MAX_TERM,
};

/// A 3-server cluster with S1 leading term 1 and one committed entry.
fn cluster() -> Cluster {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.timeout(0, Timer::Election);
    c.settle(&[], 100);
    let client = Id::from(1usize << 63 | 1);
    c.deliver(usize::from(client), 0, request(1, put("k", "v")));
    c.settle(&[], 100);
    c.timeout(0, Timer::Heartbeat);
    c.settle(&[], 100);
    assert_eq!(c.states[0].role, Role::Leader);
    assert_eq!(c.states[0].commit_index, 1);
    c
}

fn put(k: &str, v: &str) -> Op {
    Op::Put {
        key: k.into(),
        value: v.into(),
    }
}

fn request(seq: u64, op: Op) -> Msg {
    Msg::ClientRequest(ClientRequest { seq, op })
}

fn reply(term: u64, success: bool, match_index: u64, x: (u64, u64, u64)) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success,
        match_index,
        x_term: x.0,
        x_index: x.1,
        x_len: x.2,
    })
}

fn append(term: u64, prev: (u64, u64), entries: Vec<Entry>, commit: u64) -> Msg {
    Msg::AppendEntries(AppendEntries {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries,
        leader_commit: commit,
    })
}

fn entry(term: u64, op: Op) -> Entry {
    Entry {
        term,
        client: Id::from(1usize << 63 | 2),
        seq: 1,
        op,
    }
}

/// Delivers `msg` from `src` to `dst`: refused with `why`, nothing changed, sent.
fn refused(c: &mut Cluster, src: usize, dst: usize, msg: Msg, why: Refusal) {
    let cfg = c.cfg.clone();
    let r = cfg.accepts(Id::from(dst), &c.states[dst], Id::from(src), &msg);
    assert_eq!(r, Err(why), "{msg:?}");
    let before = c.states[dst].clone();
    let storage = c.storage[dst].clone();
    let sent = c.deliver(src, dst, msg);
    assert!(
        sent.is_empty(),
        "a refused message made S{} send {sent:?}",
        dst + 1
    );
    assert_eq!(c.states[dst], before);
    assert_eq!(c.storage[dst], storage);
}

#[test]
fn terms_and_indexes_out_of_range_are_refused() {
    let mut c = cluster();
    let t = MAX_TERM + 1;
    let vote = |term, last_index, last_term| {
        Msg::RequestVote(RequestVote {
            term,
            last_log_index: last_index,
            last_log_term: last_term,
        })
    };
    refused(&mut c, 1, 0, vote(u64::MAX, 0, 0), Refusal::TermOutOfRange);
    refused(&mut c, 1, 2, vote(t, 0, 0), Refusal::TermOutOfRange);
    refused(
        &mut c,
        1,
        2,
        vote(2, MAX_INDEX + 1, 1),
        Refusal::IndexOutOfRange,
    );
    refused(
        &mut c,
        2,
        0,
        reply(t, false, 0, (0, 0, 0)),
        Refusal::TermOutOfRange,
    );
    refused(
        &mut c,
        2,
        0,
        reply(1, true, u64::MAX, (0, 0, 0)),
        Refusal::IndexOutOfRange,
    );
    refused(
        &mut c,
        0,
        1,
        append(1, (u64::MAX, 1), vec![], 0),
        Refusal::IndexOutOfRange,
    );
    refused(
        &mut c,
        0,
        1,
        append(1, (0, 0), vec![], u64::MAX),
        Refusal::IndexOutOfRange,
    );
    let e = entry(1, put("a", "b"));
    refused(
        &mut c,
        0,
        1,
        append(1, (MAX_INDEX, 1), vec![e], 0),
        Refusal::IndexOutOfRange,
    );
    // The boundary itself is a term Raft may reach.
    let ok = vote(MAX_TERM, 0, 0);
    assert_eq!(
        c.cfg.accepts(Id::from(2), &c.states[2], Id::from(1), &ok),
        Ok(())
    );
}

#[test]
fn a_success_beyond_the_leaders_log_is_refused() {
    let mut c = cluster();
    let len = c.states[0].last_log_index();
    refused(
        &mut c,
        1,
        0,
        reply(1, true, len + 5, (0, 0, 0)),
        Refusal::BeyondSent,
    );
    refused(
        &mut c,
        1,
        0,
        reply(1, true, len + 1, (0, 0, 0)),
        Refusal::BeyondSent,
    );
    // The leader's heartbeat still works (it used to slice past its log here).
    c.timeout(0, Timer::Heartbeat);
    // A stale reply (an old term) is not judged: the handler ignores it anyway.
    let stale = reply(0, true, len + 5, (0, 0, 0));
    assert_eq!(
        c.cfg
            .accepts(Id::from(0), &c.states[0], Id::from(1), &stale),
        Ok(())
    );
}

#[test]
fn replies_no_server_sends_are_refused() {
    let mut c = cluster();
    refused(
        &mut c,
        1,
        0,
        reply(1, true, 1, (1, 1, 1)),
        Refusal::Malformed,
    );
    refused(
        &mut c,
        1,
        0,
        reply(1, false, 1, (0, 0, 1)),
        Refusal::Malformed,
    );
    refused(
        &mut c,
        1,
        0,
        reply(1, false, 0, (1, 5, 2)),
        Refusal::Malformed,
    );
    let client = usize::from(Id::from(1usize << 63 | 3));
    refused(
        &mut c,
        client,
        0,
        request(0, put("a", "b")),
        Refusal::Malformed,
    );
}

#[test]
fn operations_and_batches_over_the_limits_are_refused_from_anyone() {
    let mut c = cluster();
    let max = c.cfg.max_op_bytes;
    let big = put("k", &"x".repeat(max));
    assert!(limits::op_bytes(&big) > max);
    let client = usize::from(Id::from(1usize << 63 | 3));
    refused(
        &mut c,
        client,
        0,
        request(1, big.clone()),
        Refusal::TooLarge,
    );
    // From a server's id too (it used to skip the host's client-only check).
    refused(&mut c, 1, 0, request(1, big.clone()), Refusal::TooLarge);
    refused(
        &mut c,
        0,
        1,
        append(1, (1, 1), vec![entry(1, big)], 1),
        Refusal::TooLarge,
    );
    let many = vec![entry(1, put("a", "b")); c.cfg.max_entries_per_append + 1];
    refused(&mut c, 0, 1, append(1, (1, 1), many, 1), Refusal::TooLarge);
    let mut cfg = ServerConfig::new(3);
    cfg.max_append_bytes = 200;
    let two = vec![entry(1, put("a", &"b".repeat(100))); 2];
    let msg = append(1, (0, 0), two, 0);
    assert_eq!(
        cfg.accepts(Id::from(1), &c.states[1], Id::from(0), &msg),
        Err(Refusal::TooLarge)
    );
}

#[test]
fn a_leader_caps_its_batches_in_bytes() {
    let mut cfg = ServerConfig::new(3);
    cfg.max_append_bytes = 4 * (limits::ENTRY_OVERHEAD + 1000);
    let mut c = Cluster::new(cfg.clone());
    c.timeout(0, Timer::Election);
    c.settle(&[1, 2], 0);
    c.deliver_next(0, 1);
    c.deliver_next(1, 0);
    c.isolate(2);
    c.settle(&[2], 100);
    assert_eq!(c.states[0].role, Role::Leader);
    let client = usize::from(Id::from(1usize << 63 | 4));
    for seq in 1..=10 {
        c.deliver(client, 0, request(seq, put("k", &"v".repeat(999))));
    }
    c.isolate(1);
    c.isolate(2);
    // S3 lags all ten entries: the leader sends them four at a time.
    let sent = c.timeout(0, Timer::Heartbeat);
    let to_s3 = sent
        .iter()
        .find(|m| usize::from(m.dst) == 2)
        .expect("a heartbeat");
    c.deliver(0, 2, to_s3.msg.clone());
    let r = c
        .net
        .iter()
        .rposition(|m| usize::from(m.src) == 2)
        .expect("a reply");
    let m = c.net.remove(r);
    let out = c.deliver(2, 0, m.msg);
    let sizes: Vec<usize> = out
        .iter()
        .filter_map(|m| match &m.msg {
            Msg::AppendEntries(a) if usize::from(m.dst) == 2 => Some(a.entries.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, vec![4], "{out:?}");
}

#[test]
fn a_server_at_the_highest_term_starts_no_election_and_terms_never_wrap() {
    let mut c = Cluster::new(ServerConfig::new(3));
    c.deliver(
        1,
        0,
        Msg::RequestVote(RequestVote {
            term: MAX_TERM,
            last_log_index: 0,
            last_log_term: 0,
        }),
    );
    assert_eq!(c.states[0].current_term, MAX_TERM);
    c.net.clear();
    let sent = c.timeout(0, Timer::Election);
    assert_eq!(
        c.states[0].current_term, MAX_TERM,
        "the term wrapped or passed the bound"
    );
    assert_eq!(c.states[0].role, Role::Follower);
    assert!(sent.is_empty(), "{sent:?}");
}

fn install(term: u64, last_included_index: u64, last_included_term: u64) -> Msg {
    Msg::InstallSnapshot(InstallSnapshot {
        term,
        last_included_index,
        last_included_term,
        data: KvStore::default(),
    })
}

#[test]
fn snapshots_no_leader_sends_are_refused() {
    let mut c = cluster();
    let t = MAX_TERM + 1;
    refused(&mut c, 0, 1, install(t, 1, 1), Refusal::TermOutOfRange);
    refused(&mut c, 0, 1, install(1, 1, t), Refusal::TermOutOfRange);
    refused(
        &mut c,
        0,
        1,
        install(1, MAX_INDEX + 1, 1),
        Refusal::IndexOutOfRange,
    );
    // A snapshot of nothing, or of entries of no term.
    refused(&mut c, 0, 1, install(1, 0, 0), Refusal::Malformed);
    refused(&mut c, 0, 1, install(1, 1, 0), Refusal::Malformed);
    // Only a peer sends one.
    let client = usize::from(Id::from(1usize << 63 | 3));
    refused(&mut c, client, 1, install(1, 1, 1), Refusal::NotFromAPeer);
    let ok = install(1, 1, 1);
    assert_eq!(
        c.cfg.accepts(Id::from(1), &c.states[1], Id::from(0), &ok),
        Ok(())
    );
}

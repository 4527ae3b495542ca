//! Snapshots and log compaction (§7, Figure 13) on hand-driven clusters, through
//! the real handlers: a follower far behind catches up by InstallSnapshot, a
//! follower keeps the entries after a snapshot that match, an older snapshot is
//! ignored, and a restart reads the snapshot and the log after it.

use raft_model::testkit::Cluster;
use raft_model::{InstallSnapshot, KvStore, Msg, PersistentState, Role, ServerConfig, Timer};

use raft_model::testkit::append_request as request;

/// Three servers, S1 leader, snapshots every `interval` applied entries.
fn cluster(interval: u64) -> Cluster {
    let mut cfg = ServerConfig::new(3);
    cfg.snapshot_interval = interval;
    let mut c = Cluster::new(cfg);
    c.timeout(0, Timer::Election);
    c.settle(&[], 100);
    assert_eq!(c.states[0].role, Role::Leader);
    c
}

/// Client C (id 9) appends `values` one at a time through S1; S3 is `down` if set.
fn write(c: &mut Cluster, values: &[&str], down: &[usize]) {
    for (k, v) in values.iter().enumerate() {
        c.deliver(9, 0, request(k as u64 + 1, v));
        c.settle(down, 200);
        // The leader's commit reaches the followers with its next heartbeat.
        c.timeout(0, Timer::Heartbeat);
        c.settle(down, 200);
    }
}

#[test]
fn a_follower_far_behind_catches_up_by_install_snapshot() {
    let mut c = cluster(2);
    write(&mut c, &["a", "b", "c", "d", "e"], &[2]);
    let leader = &c.states[0];
    assert_eq!(leader.commit_index, 5);
    assert_eq!(leader.log.snapshot_index(), 4, "snapshots every 2 entries");
    assert_eq!(leader.log.len(), 1, "the log keeps only what follows");
    assert!(c.states[2].log.is_empty());
    // S3 comes back: a heartbeat probes it, its answer brings the snapshot.
    c.net.clear();
    let sent = c.timeout(0, Timer::Heartbeat);
    assert!(sent.iter().all(|m| matches!(m.msg, Msg::AppendEntries(_))));
    let mut snapshots = 0;
    for _ in 0..50 {
        let Some(m) = c.net.first().cloned() else {
            break;
        };
        c.net.remove(0);
        snapshots += usize::from(matches!(m.msg, Msg::InstallSnapshot(_)));
        c.deliver(usize::from(m.src), usize::from(m.dst), m.msg);
    }
    assert_eq!(snapshots, 1, "one snapshot, then the entries after it");
    let (l, f) = (&c.states[0], &c.states[2]);
    assert_eq!(f.log.snapshot_index(), 4);
    assert_eq!(f.log.last_index(), l.log.last_index());
    assert_eq!(f.kv, l.kv, "the follower applied the snapshot and the rest");
    assert_eq!(&*f.kv.data["x"], "abcde");
    assert_eq!(f.commit_index, 5);
    assert_eq!(c.states[0].match_index[2], 5);
    // The follower's client sessions came with the snapshot: a retry is answered
    // from them once it leads, not applied again.
    assert_eq!(f.kv.sessions.len(), 1);
}

/// Figure 13, receiver 6 and 7: a follower that holds the snapshot's last entry
/// keeps what follows it; one whose log conflicts there discards it all; neither
/// moves its commit index back.
#[test]
fn install_snapshot_keeps_matching_entries_and_never_goes_back() {
    let mut c = cluster(0);
    write(&mut c, &["a", "b", "c"], &[]);
    assert_eq!(c.states[1].commit_index, 3);
    let leader = c.states[0].clone();
    let snapshot_at = |index: u64| {
        let mut s = leader.clone();
        s.log.truncate_after(index);
        s.commit_index = index;
        let kv = KvStore::of(leader.log.iter().take(index as usize));
        Msg::InstallSnapshot(InstallSnapshot {
            term: leader.current_term,
            last_included_index: index,
            last_included_term: s.log.last_term(),
            data: kv,
        })
    };
    // S2 has committed 3: a snapshot at 2 is old news.
    let before = c.states[1].clone();
    let reply = c.deliver(0, 1, snapshot_at(2));
    assert_eq!(c.states[1], before, "an older snapshot changes nothing");
    assert!(matches!(&reply[0].msg, Msg::AppendEntriesReply(r) if r.success && r.match_index == 2));
    // A follower with the whole log but nothing committed keeps entry 3.
    let mut f = before.clone();
    f.commit_index = 0;
    f.kv = KvStore::default();
    c.states[1] = f;
    c.deliver(0, 1, snapshot_at(2));
    let s = &c.states[1];
    assert_eq!((s.log.snapshot_index(), s.log.last_index()), (2, 3));
    assert_eq!(s.commit_index, 2);
    assert_eq!(&*s.kv.data["x"], "ab");
    assert_eq!(s.snapshot, s.kv);
    // One whose entry 2 is of another term discards its log.
    let mut g = before;
    g.commit_index = 0;
    g.kv = KvStore::default();
    g.log = g.log.iter().take(1).cloned().collect();
    let mut other = leader.log.entry(2).cloned().expect("entry 2");
    other.term = 99;
    g.log.push(other);
    c.states[1] = g;
    c.deliver(0, 1, snapshot_at(2));
    let s = &c.states[1];
    assert_eq!((s.log.snapshot_index(), s.log.last_index()), (2, 2));
}

#[test]
fn a_restart_reads_the_snapshot_and_the_log_after_it() {
    let mut c = cluster(2);
    write(&mut c, &["a", "b", "c"], &[]);
    let s = c.states[1].clone();
    assert_eq!((s.log.snapshot_index(), s.commit_index), (2, 3));
    let saved: &PersistentState = c.storage[1].as_ref().expect("saved");
    assert_eq!(saved.log, s.log);
    assert_eq!(&*saved.snapshot.data["x"], "ab");
    c.restart(1);
    let r = &c.states[1];
    assert_eq!(r.commit_index, 2, "what the snapshot holds is applied");
    assert_eq!(&*r.kv.data["x"], "ab");
    assert_eq!(r.log.last_index(), 3, "entry 3 is still there");
    // The leader's next heartbeat commits entry 3 again.
    c.timeout(0, Timer::Heartbeat);
    c.settle(&[], 100);
    assert_eq!(&*c.states[1].kv.data["x"], "abc");
}

/// An AppendEntries from before the follower's snapshot (a late duplicate) is
/// judged by what it says about the entries after the snapshot, and never touches
/// what the snapshot covers.
#[test]
fn append_entries_from_before_the_snapshot_check_only_what_follows_it() {
    let mut c = cluster(0);
    write(&mut c, &["a", "b", "c"], &[]);
    let log = c.states[0].log.clone();
    let term = c.states[0].current_term;
    let mut f = c.states[1].clone();
    f.log.compact_through(2);
    f.snapshot = KvStore::of(log.iter().take(2));
    c.states[1] = f.clone();
    let append = |prev: u64, entries: Vec<raft_model::Entry>| {
        Msg::AppendEntries(raft_model::AppendEntries {
            term,
            prev_log_index: prev,
            prev_log_term: log.term_at(prev).unwrap_or(0),
            entries,
            leader_commit: 0,
        })
    };
    let ok = |sent: &[raft_model::testkit::Sent], m: u64| matches!(&sent[0].msg, Msg::AppendEntriesReply(r) if r.success && r.match_index == m);
    // Entries 1 and 2 only, both in the snapshot: success up to 2, nothing changes.
    let sent = c.deliver(0, 1, append(0, log.entries_from(1, 2)));
    assert!(ok(&sent, 2) && c.states[1] == f);
    // Entries 2 and 3: entry 3 matches: success up to 3, nothing changes.
    let sent = c.deliver(0, 1, append(1, log.entries_from(2, 2)));
    assert!(ok(&sent, 3) && c.states[1] == f);
    // Entries 1 to 3 with another entry 3 (a new leader's): only entry 3 is replaced.
    let mut entries = log.entries_from(1, 3);
    entries[2].term = term + 1;
    let sent = c.deliver(0, 1, append(0, entries.clone()));
    assert!(ok(&sent, 3));
    let s = &c.states[1];
    assert_eq!(s.log.snapshot_index(), 2);
    assert_eq!(s.log.entry(3), Some(&entries[2]));
}

//! Snapshots and log compaction: the Raft paper's §7 and Figure 13.
//!
//! The service's state at an applied index replaces the log up to it: the server
//! keeps the state (the key/value data and the client sessions) as its snapshot,
//! and the log keeps the snapshot's last included index and term and the entries
//! after it. A leader that no longer holds the entries a follower needs sends its
//! snapshot (`InstallSnapshot`); the follower installs it only if it is newer than
//! what it has applied, keeps the entries after it that match, and never moves its
//! commit index or its state machine backwards.

use crate::coverage::{hit, Decision as D};
use crate::kv::KvStore;
use crate::log::Log;
use crate::msg::{Entry, InstallSnapshot, LogIndex, Msg, Term, Timer};
use crate::mutant::Mutant;
use crate::replication::{accept, reject};
use crate::server::{ServerConfig, ServerState, Step};
use stateright::actor::Id;
use std::borrow::Cow;
use std::ops::Range;
use std::time::Duration;

/// The range of the `Snapshot` timer. Only the model checker sets it (it fires any
/// set timer at any moment); the value is what a host would wait.
pub const SNAPSHOT_TIMER: Range<Duration> = Duration::from_secs(1)..Duration::from_secs(1);

impl ServerConfig {
    /// The `Snapshot` timer fired: snapshot at the commit index, and keep the
    /// timer set.
    pub(crate) fn on_snapshot_timer(&self, state: &mut Cow<ServerState>, step: &mut Step) {
        if self.snapshot_end(state) > state.log.snapshot_index() {
            hit(D::SnapshotTaken);
            self.take_snapshot(state.to_mut(), step);
        } else {
            hit(D::SnapshotNothingNew);
        }
        step.set_timer(Timer::Snapshot, &SNAPSHOT_TIMER);
    }

    /// Where a snapshot taken now ends: the last applied entry (the commit index),
    /// or with the `snapshot-past-commit` mutant the last entry of the log.
    fn snapshot_end(&self, s: &ServerState) -> LogIndex {
        if self.has(Mutant::SnapshotPastCommit) {
            s.last_log_index()
        } else {
            s.commit_index
        }
    }

    /// The service takes a snapshot of its state at the applied index, and the
    /// server discards the log up to it (§7). Saved before the step's sends.
    pub(crate) fn take_snapshot(&self, s: &mut ServerState, step: &mut Step) {
        let end = self.snapshot_end(s);
        if end <= s.log.snapshot_index() {
            return;
        }
        let mut data = s.kv.clone();
        // Only the mutant snapshots entries it has not applied: it applies them to
        // the snapshot alone.
        let beyond = end.saturating_sub(s.commit_index) as usize;
        for e in s.log.iter_from(s.commit_index + 1).take(beyond) {
            data.apply(e, self.has(Mutant::NoDedup));
        }
        s.log.compact_through(end);
        if self.has(Mutant::SnapshotWrongTerm) {
            if let Some(log) = s.log.rebased(end, s.current_term) {
                s.log = log;
            }
        }
        s.snapshot = data;
        step.save = true;
    }

    /// Figure 13: a leader sends its snapshot to a follower whose next entry it has
    /// compacted.
    pub(crate) fn send_snapshot(&self, s: &ServerState, peer: Id, step: &mut Step) {
        hit(D::SnapshotSent);
        let m = InstallSnapshot {
            term: s.current_term,
            last_included_index: s.log.snapshot_index(),
            last_included_term: s.log.snapshot_term(),
            data: s.snapshot.clone(),
        };
        step.send(peer, Msg::InstallSnapshot(m));
    }

    /// Figure 13, InstallSnapshot receiver (the term rule already applied).
    pub(crate) fn on_install_snapshot(
        &self,
        state: &mut Cow<ServerState>,
        leader: Id,
        m: InstallSnapshot,
        step: &mut Step,
    ) {
        let InstallSnapshot {
            term,
            last_included_index: index,
            last_included_term: last_term,
            data,
        } = m;
        if term < state.current_term {
            // Figure 13, receiver 1: reply immediately; the stale leader learns the term.
            hit(D::InstallStaleTerm);
            let last = state.last_log_index();
            step.send(leader, reject(state.current_term, 0, 0, last));
            return;
        }
        self.heard_from_leader(state, leader, step);
        // Only a snapshot of more than the server has applied is news: installing
        // an older one would move the state machine back (etcd's follower ignores
        // it as well). The `install-older-snapshot` mutant compares with the
        // snapshot alone, forgetting the entries applied since.
        let newer = if self.has(Mutant::InstallOlderSnapshot) {
            index > state.log.snapshot_index()
        } else {
            index > state.commit_index
        };
        if newer {
            let s = state.to_mut();
            let matches = s.log.term_at(index) == Some(last_term);
            if matches && !self.has(Mutant::DiscardLogOnInstall) {
                // Receiver 6: an entry matches the snapshot's last: keep what follows.
                hit(D::InstallKeepsSuffix);
                s.log.compact_through(index);
            } else {
                // Receiver 7: discard the entire log.
                hit(D::InstallDiscardsLog);
                s.log = Log::after_snapshot(index, last_term);
            }
            // Receiver 8: reset the state machine using the snapshot's contents.
            s.snapshot = data.clone();
            s.kv = data;
            s.commit_index = index;
            step.save = true;
        } else {
            hit(D::InstallNotNewer);
        }
        // Up to the snapshot the follower now holds what the leader holds.
        step.send(leader, accept(state.current_term, index));
    }
}

/// An AppendEntries' consistency point and entries as the follower with `log`
/// checks them: entries at or below its snapshot are committed, so they are the
/// leader's too and need no check; the point moves to the snapshot's last
/// included entry and the entries before it are dropped. `None` if every entry is
/// at or below the snapshot.
pub(crate) fn after_snapshot(
    log: &Log,
    prev_log_index: LogIndex,
    prev_log_term: Term,
    entries: Vec<Entry>,
) -> Option<(LogIndex, Term, Vec<Entry>)> {
    let snapshot = log.snapshot_index();
    if prev_log_index >= snapshot {
        return Some((prev_log_index, prev_log_term, entries));
    }
    let covered = (snapshot - prev_log_index) as usize;
    if entries.len() <= covered {
        hit(D::AppendBelowSnapshot);
        return None;
    }
    hit(D::AppendPastSnapshot);
    let rest = entries.into_iter().skip(covered).collect();
    Some((snapshot, log.snapshot_term(), rest))
}

/// The snapshot a state holds, as its owner would send it.
pub fn snapshot_of(s: &ServerState) -> (LogIndex, Term, &KvStore) {
    (s.log.snapshot_index(), s.log.snapshot_term(), &s.snapshot)
}

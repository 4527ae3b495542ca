//! A record's state as a change from the previous record's: what a step did to
//! the log (kept through an index, entries appended, the snapshot moved), to the
//! store and to the snapshot's data, so that a trace grows with the work done,
//! not with the log's length.

use crate::actor::RaftState;
use crate::client::ClientState;
use crate::kv::{KvStore, Session};
use crate::log::Log;
use crate::msg::{Entry, LogIndex, Term, Text};
use crate::server::{Role, ServerState};
use crate::server_set::ServerSet;
use crate::trace_snapshot::SnapshotPoint;
use imbl::ordmap::DiffItem;
use imbl::OrdMap;
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use std::fmt;

/// A state after a step, as a change from the state before it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceState {
    Server(Box<ServerDelta>),
    /// Client states are tiny: always in full.
    Client(ClientState),
}

/// A server state: the small fields in full, the log, the store and the snapshot as
/// changes (see [`crate::trace_snapshot`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerDelta {
    pub current_term: Term,
    pub voted_for: Option<Id>,
    pub role: Role,
    pub commit_index: LogIndex,
    pub leader_hint: Option<Id>,
    pub votes_granted: ServerSet,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next_index: Vec<LogIndex>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_index: Vec<LogIndex>,
    pub log: LogDelta,
    /// A change from the previous state's store, or from the new snapshot if the
    /// log moved past one (`log.snapshot`).
    #[serde(default, skip_serializing_if = "KvDelta::is_empty")]
    pub kv: KvDelta,
    /// A change from the previous state's snapshot data.
    #[serde(default, skip_serializing_if = "KvDelta::is_empty")]
    pub snapshot: KvDelta,
}

/// A log as a change from an earlier one: begin after the snapshot `snapshot` if
/// it moved, keep the earlier log's entries up to index `keep`, then append
/// `append`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogDelta {
    pub keep: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub append: Vec<Entry>,
    /// The new snapshot's point; absent if it is the earlier log's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotPoint>,
}

/// A key/value store as a change from an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct KvDelta {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<(Text, Text)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unset: Vec<Text>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<(Id, Session)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sessions_unset: Vec<Id>,
}

/// A record that cannot be decoded against what came before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeltaError(pub String);

impl fmt::Display for DeltaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl LogDelta {
    /// `next` as a change from `prev`: found without walking the logs (see
    /// [`Log::common_prefix`]), so recording a step costs what the step changed.
    pub fn between(prev: &Log, next: &Log) -> LogDelta {
        let keep = prev.common_prefix(next);
        let point = SnapshotPoint::of(next);
        LogDelta {
            keep,
            append: next.iter_from(keep + 1).cloned().collect(),
            snapshot: (point != SnapshotPoint::of(prev)).then_some(point),
        }
    }

    pub fn apply(&self, prev: &Log) -> Result<Log, DeltaError> {
        let mut log = match self.snapshot {
            None => prev.clone(),
            Some(p) => prev.rebased(p.index, p.term).ok_or_else(|| {
                DeltaError(format!(
                    "the log moves back to a snapshot at {} from one at {}",
                    p.index,
                    prev.snapshot_index()
                ))
            })?,
        };
        if self.keep > log.last_index() || self.keep < log.snapshot_index() {
            return Err(DeltaError(format!(
                "the log keeps entries up to {} of a log that holds {} to {}",
                self.keep,
                log.snapshot_index() + 1,
                log.last_index()
            )));
        }
        log.truncate_after(self.keep);
        log.extend(self.append.iter().cloned());
        Ok(log)
    }
}

impl KvDelta {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
            && self.unset.is_empty()
            && self.sessions.is_empty()
            && self.sessions_unset.is_empty()
    }

    pub fn between(prev: &KvStore, next: &KvStore) -> KvDelta {
        let mut d = KvDelta::default();
        diff_maps(&prev.data, &next.data, &mut d.set, &mut d.unset);
        diff_maps(
            &prev.sessions,
            &next.sessions,
            &mut d.sessions,
            &mut d.sessions_unset,
        );
        d
    }

    pub fn apply(&self, prev: &KvStore) -> KvStore {
        let mut kv = prev.clone();
        self.apply_to(&mut kv);
        kv
    }

    /// [`KvDelta::apply`] in place.
    pub fn apply_to(&self, kv: &mut KvStore) {
        for k in &self.unset {
            kv.data.remove(k);
        }
        for (k, v) in &self.set {
            kv.data.insert(k.clone(), v.clone());
        }
        for c in &self.sessions_unset {
            kv.sessions.remove(c);
        }
        for (c, s) in &self.sessions {
            kv.sessions.insert(*c, s.clone());
        }
    }
}

/// The changes from `prev` to `next`, in key order, skipping what the two versions
/// share (so it costs what changed, not the size of the maps).
fn diff_maps<K: Ord + Clone, V: PartialEq + Clone>(
    prev: &OrdMap<K, V>,
    next: &OrdMap<K, V>,
    set: &mut Vec<(K, V)>,
    unset: &mut Vec<K>,
) {
    for item in prev.diff(next) {
        match item {
            DiffItem::Add(k, v) | DiffItem::Update { new: (k, v), .. } => {
                set.push((k.clone(), v.clone()))
            }
            DiffItem::Remove(k, _) => unset.push(k.clone()),
        }
    }
}

impl ServerDelta {
    /// True if this records no change from `prev`.
    pub fn is_no_change_from(&self, prev: &ServerState) -> bool {
        self.current_term == prev.current_term
            && self.voted_for == prev.voted_for
            && self.role == prev.role
            && self.commit_index == prev.commit_index
            && self.leader_hint == prev.leader_hint
            && self.votes_granted == prev.votes_granted
            && self.next_index == prev.next_index
            && self.match_index == prev.match_index
            && self.log.keep == prev.log.last_index()
            && self.log.append.is_empty()
            && self.log.snapshot.is_none()
            && self.kv.is_empty()
            && self.snapshot.is_empty()
    }

    pub fn between(prev: Option<&ServerState>, next: &ServerState) -> ServerDelta {
        let fresh = ServerState::from_storage(None);
        let p = prev.unwrap_or(&fresh);
        let log = LogDelta::between(&p.log, &next.log);
        let kv_base = if log.snapshot.is_some() {
            &next.snapshot
        } else {
            &p.kv
        };
        let kv = KvDelta::between(kv_base, &next.kv);
        let snapshot = KvDelta::between(&p.snapshot, &next.snapshot);
        ServerDelta {
            current_term: next.current_term,
            voted_for: next.voted_for,
            role: next.role,
            commit_index: next.commit_index,
            leader_hint: next.leader_hint,
            votes_granted: next.votes_granted,
            next_index: next.next_index.clone(),
            match_index: next.match_index.clone(),
            log,
            kv,
            snapshot,
        }
    }

    pub fn apply(&self, prev: Option<&ServerState>) -> Result<ServerState, DeltaError> {
        let fresh = ServerState::from_storage(None);
        let p = prev.unwrap_or(&fresh);
        let snapshot = self.snapshot.apply(&p.snapshot);
        let kv = if self.log.snapshot.is_some() {
            self.kv.apply(&snapshot)
        } else {
            self.kv.apply(&p.kv)
        };
        Ok(ServerState {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.apply(&p.log)?,
            role: self.role,
            commit_index: self.commit_index,
            leader_hint: self.leader_hint,
            votes_granted: self.votes_granted,
            next_index: self.next_index.clone(),
            match_index: self.match_index.clone(),
            kv,
            snapshot,
        })
    }
}

impl TraceState {
    /// `next` as a change from `prev` (`None`: from nothing, at start).
    pub fn between(prev: Option<&RaftState>, next: &RaftState) -> TraceState {
        match next {
            RaftState::Server(s) => TraceState::Server(Box::new(ServerDelta::between(
                prev.and_then(RaftState::server),
                s,
            ))),
            RaftState::Client(c) => TraceState::Client(c.clone()),
        }
    }

    /// `next` as a change from `prev`, or `None` if it is the same state: one pass
    /// over the states, not a comparison and then a diff.
    pub fn change(prev: &RaftState, next: &RaftState) -> Option<TraceState> {
        match (prev, next) {
            (RaftState::Server(p), RaftState::Server(n)) => {
                let d = ServerDelta::between(Some(p), n);
                (!d.is_no_change_from(p)).then(|| TraceState::Server(Box::new(d)))
            }
            _ => (prev != next).then(|| TraceState::between(Some(prev), next)),
        }
    }

    /// The state this records, given the state of the previous record.
    pub fn apply(&self, prev: Option<&RaftState>) -> Result<RaftState, DeltaError> {
        match self {
            TraceState::Server(d) => {
                let prev = match prev {
                    Some(RaftState::Client(_)) => {
                        return Err(DeltaError("a server state follows a client state".into()))
                    }
                    Some(RaftState::Server(s)) => Some(s),
                    None => None,
                };
                Ok(RaftState::Server(d.apply(prev)?))
            }
            TraceState::Client(c) => Ok(RaftState::Client(c.clone())),
        }
    }
}

//! How traces record snapshots without copying them: a line records what its step
//! changed, and a snapshot is large (the whole key/value store) but changes rarely.
//!
//! - A log that moves past a new snapshot records the snapshot's point (last
//!   included index and term) in its [`crate::trace::LogDelta`].
//! - A state records its snapshot's data as a change from the previous record's
//!   (taking a snapshot changes what the interval since the last one changed), and
//!   its key/value store, when the snapshot moved, as a change from the new
//!   snapshot (after taking or installing one, no change at all).
//! - A save records its snapshot as unchanged, as the state's after the step (what
//!   the model saves: [`SavedSnapshot::AsState`]), or as a change.
//! - A start records the storage it read with the snapshot's metadata and a digest
//!   of its data ([`StoredState`]): the validator finds the data in the save that
//!   made the storage durable, which the same trace recorded.

use crate::kv::KvStore;
use crate::log::Log;
use crate::msg::{LogIndex, Term};
use crate::server::{PersistentState, ServerState};
use crate::trace::{DeltaError, KvDelta};
use crate::trace_log_digest::{LogChain, LogDigest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use stateright::actor::Id;

/// Where a log's snapshot ends: its last included index and term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotPoint {
    pub index: LogIndex,
    pub term: Term,
}

impl SnapshotPoint {
    pub fn of(log: &Log) -> SnapshotPoint {
        SnapshotPoint {
            index: log.snapshot_index(),
            term: log.snapshot_term(),
        }
    }
}

/// The SHA-256 of a snapshot's data (its JSON form: ordered maps, so one text per
/// state), in hex: how a start record names the snapshot it read.
pub fn digest(data: &KvStore) -> String {
    let mut h = Sha256::new();
    // Serializing ordered maps of plain data into a hasher cannot fail.
    let _ = serde_json::to_writer(HashWriter(&mut h), data);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) struct HashWriter<'a>(pub(crate) &'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The storage a start read, as its trace records it: the term and vote, the log
/// by digest ([`crate::trace_log_digest`]) and the snapshot's data by digest. The
/// validator finds the storage among the saves the same trace recorded.
///
/// Format 1 recorded the log in full (`log`); such a record without snapshot data
/// is the whole storage.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredState {
    pub current_term: Term,
    pub voted_for: Option<Id>,
    /// The log in full (format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<Log>,
    /// The log by digest (format 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_digest: Option<LogDigest>,
    /// The digest of the snapshot's data ([`digest`]); absent if it is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl StoredState {
    /// `p` as a start record names it; `chain` digests the log (a recorder keeps
    /// one, so that a restart hashes what changed since the last).
    pub fn of(p: &PersistentState, chain: &mut LogChain) -> StoredState {
        StoredState {
            current_term: p.current_term,
            voted_for: p.voted_for,
            log: None,
            log_digest: Some(chain.digest(&p.log)),
            snapshot: (!p.snapshot.is_empty()).then(|| digest(&p.snapshot)),
        }
    }

    /// The whole storage, if the record holds all of it (format 1, no snapshot
    /// data).
    pub fn whole(&self) -> Option<PersistentState> {
        match (&self.log, &self.snapshot) {
            (Some(log), None) => Some(PersistentState {
                current_term: self.current_term,
                voted_for: self.voted_for,
                log: log.clone(),
                snapshot: KvStore::default(),
            }),
            _ => None,
        }
    }

    /// True if this records storage `p`.
    pub fn names(&self, p: &PersistentState, chain: &mut LogChain) -> bool {
        let log_ok = match (&self.log, &self.log_digest) {
            (Some(log), _) => *log == p.log,
            (None, Some(d)) => *d == chain.digest(&p.log),
            (None, None) => false,
        };
        log_ok
            && self.current_term == p.current_term
            && self.voted_for == p.voted_for
            && self.snapshot == (!p.snapshot.is_empty()).then(|| digest(&p.snapshot))
    }

    /// The storage this records, found among `candidates` (the saves it may have
    /// read), or whole if it holds all of it.
    pub fn resolve<'a>(
        &self,
        candidates: impl IntoIterator<Item = &'a PersistentState>,
        chain: &mut LogChain,
    ) -> Option<PersistentState> {
        if let Some(p) = self.whole() {
            return Some(p);
        }
        candidates
            .into_iter()
            .find(|c| self.names(c, chain))
            .cloned()
    }
}

/// A save's snapshot data, as the trace records it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SavedSnapshot {
    /// The previous save's.
    #[default]
    Unchanged,
    /// The snapshot of the state after the step (the model saves its state).
    AsState,
    /// A change from the previous save's. Boxed: rare, and every command in
    /// memory would otherwise be as large.
    Changed(Box<KvDelta>),
}

impl SavedSnapshot {
    pub fn is_unchanged(&self) -> bool {
        *self == SavedSnapshot::Unchanged
    }

    /// `next` as recorded, given the previous save's and the state's snapshot.
    pub fn encode(prev: &KvStore, next: &KvStore, state: Option<&ServerState>) -> SavedSnapshot {
        if prev.ptr_eq(next) || prev == next {
            SavedSnapshot::Unchanged
        } else if state.is_some_and(|s| s.snapshot.ptr_eq(next)) {
            SavedSnapshot::AsState
        } else {
            SavedSnapshot::Changed(Box::new(KvDelta::between(prev, next)))
        }
    }

    pub fn decode(
        &self,
        prev: &KvStore,
        state: Option<&ServerState>,
    ) -> Result<KvStore, DeltaError> {
        Ok(match self {
            SavedSnapshot::Unchanged => prev.clone(),
            SavedSnapshot::AsState => state
                .ok_or_else(|| {
                    DeltaError("a save of the state's snapshot, but no server state".into())
                })?
                .snapshot
                .clone(),
            SavedSnapshot::Changed(d) => d.apply(prev),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_state_names_its_snapshot_and_finds_it_among_saves() {
        let mut kv = KvStore::default();
        kv.data.insert("x".into(), "1".into());
        let mut log = Log::new();
        log.push(crate::msg::Entry {
            term: 1,
            client: Id::from(1usize << 63),
            seq: 1,
            op: crate::msg::Op::Get { key: "x".into() },
        });
        let plain = PersistentState {
            current_term: 2,
            voted_for: None,
            log: log.clone(),
            snapshot: KvStore::default(),
        };
        let chain = &mut LogChain::default();
        let p = StoredState::of(&plain, chain);
        assert_eq!(p.whole(), None, "the log is named by digest");
        assert_eq!(p.resolve([&plain], chain), Some(plain.clone()));
        let mut changed = plain.clone();
        changed.log = log
            .iter()
            .map(|e| crate::msg::Entry {
                seq: 2,
                ..e.clone()
            })
            .collect();
        assert_eq!(p.resolve([&changed], chain), None, "an entry differs");
        let mut snap = plain.clone();
        snap.log.compact_through(1);
        snap.snapshot = kv.clone();
        let s = StoredState::of(&snap, chain);
        assert_eq!(s.whole(), None);
        assert_eq!(s.resolve([&plain], chain), None);
        assert_eq!(s.resolve([&plain, &snap], chain), Some(snap.clone()));
        let mut other = snap.clone();
        other.snapshot.data.insert("x".into(), "2".into());
        assert_ne!(digest(&other.snapshot), digest(&kv));
        assert_eq!(s.resolve([&other], chain), None, "the snapshot differs");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<StoredState>(&json).unwrap(), s);
        // Format 1: the log in full, which is the whole storage without a snapshot.
        let v1 = format!(
            r#"{{"current_term":2,"voted_for":null,"log":{}}}"#,
            serde_json::to_string(&plain.log).unwrap()
        );
        let v1: StoredState = serde_json::from_str(&v1).unwrap();
        assert_eq!(v1.whole(), Some(plain.clone()));
        assert!(v1.names(&plain, chain) && !v1.names(&changed, chain));
    }
}

//! The host's view of the log: the model's persistent state in, the model's
//! persistent state out. A save writes the difference from the previous save, so it
//! costs what changed, not the size of the state.

use super::{diff, Recovered, TornTail, Wal, WalError, WalOptions};
use raft_model::PersistentState;
use std::io;
use std::path::Path;

/// A node's durable storage.
pub struct Store {
    wal: Wal,
    /// What the log holds: the state of the last save (or the one recovered).
    saved: PersistentState,
}

/// What a data directory held at open.
#[derive(Debug)]
pub struct Loaded {
    /// `None`: a fresh node (nothing was ever saved).
    pub state: Option<PersistentState>,
    /// A torn write that was cut off the end of the log.
    pub torn_tail: Option<TornTail>,
}

impl Store {
    /// Opens the data directory of server `index` of `servers`.
    pub fn open(
        dir: &Path,
        index: u64,
        servers: u64,
        options: WalOptions,
    ) -> Result<(Store, Loaded), WalError> {
        let (wal, r) = Wal::open(dir, index, servers, options)?;
        let Recovered {
            hard_state,
            snapshot,
            entries,
            torn_tail,
            fresh,
        } = r;
        if snapshot.is_some() {
            return Err(WalError {
                path: wal.segment_path(),
                offset: None,
                problem: "holds a snapshot, which this version of raftlab's nodes cannot use"
                    .into(),
                corrupt: false,
            });
        }
        let saved = PersistentState {
            current_term: hard_state.current_term,
            voted_for: hard_state.voted_for,
            log: entries,
        };
        let state = (!fresh).then(|| saved.clone());
        Ok((Store { wal, saved }, Loaded { state, torn_tail }))
    }

    /// Saves `next` durably (one fsync): when this returns `Ok`, a crash cannot
    /// lose it. Writes nothing if nothing changed.
    pub fn save(&mut self, next: PersistentState) -> io::Result<()> {
        let records = diff(&self.saved, &next);
        if !records.is_empty() {
            self.wal.commit(&records)?;
        }
        self.saved = next;
        Ok(())
    }

    /// The state of the last save.
    pub fn saved(&self) -> &PersistentState {
        &self.saved
    }

    pub fn wal(&self) -> &Wal {
        &self.wal
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::{Entry, Id, Op};
    use std::fs;

    fn entry(term: u64) -> Entry {
        Entry {
            term,
            client: Id::from(1usize << 63),
            seq: term,
            op: Op::Get { key: "k".into() },
        }
    }

    #[test]
    fn saves_round_trip_and_an_unchanged_save_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let (mut s, loaded) = Store::open(d.path(), 0, 1, WalOptions::default()).unwrap();
        assert!(loaded.state.is_none());
        let mut p = PersistentState {
            current_term: 1,
            voted_for: Some(Id::from(0)),
            log: vec![entry(1)],
        };
        s.save(p.clone()).unwrap();
        let len = fs::metadata(s.wal().segment_path()).unwrap().len();
        s.save(p.clone()).unwrap();
        assert_eq!(fs::metadata(s.wal().segment_path()).unwrap().len(), len);
        p.log.push(entry(1));
        s.save(p.clone()).unwrap();
        drop(s);
        let (_, loaded) = Store::open(d.path(), 0, 1, WalOptions::default()).unwrap();
        assert_eq!(loaded.state, Some(p));
    }
}

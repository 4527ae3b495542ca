//! The host's view of the log: the model's persistent state in, the model's
//! persistent state out. A save writes the difference from the previous save, so it
//! costs what changed, not the size of the state.

use super::{
    diff, legacy, HardState, Owner, Recovered, Snapshot, StorageError, TornTail, Wal, WalOptions,
};
use raft_model::{KvStore, Log, PersistentState};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
    ) -> Result<(Store, Loaded), StorageError> {
        let (wal, r) = Wal::open(dir, index, servers, options)?;
        let torn_tail = r.torn_tail.clone();
        let fresh = r.fresh;
        let saved = as_state(&wal, r)?;
        let mut store = Store { wal, saved };
        let mut state = (!fresh).then(|| store.saved.clone());
        if fresh {
            if let Some((path, old)) = legacy::read(dir, Owner { index, servers })? {
                let imported = dir.join(legacy::IMPORTED_NAME);
                let failed = |e: io::Error| StorageError {
                    path: path.clone(),
                    offset: None,
                    problem: format!("could not be imported into the log ({e})"),
                    corrupt: false,
                };
                store.save(old.clone()).map_err(failed)?;
                fs::rename(&path, imported).map_err(failed)?;
                state = Some(old);
            }
        }
        Ok((store, Loaded { state, torn_tail }))
    }

    /// The state before the last save, if the log still holds it (for the
    /// test-only host fault that restarts from an older save).
    pub fn before_last_save(&self) -> Result<Option<PersistentState>, StorageError> {
        match self.wal.before_last_save()? {
            Some(r) => as_state(&self.wal, r).map(Some),
            None => Ok(None),
        }
    }

    /// The file being appended to (for messages).
    pub fn path(&self) -> PathBuf {
        self.wal.segment_path()
    }

    pub fn dir(&self) -> &Path {
        self.wal.dir()
    }

    /// Saves `next` durably (one fsync): when this returns `Ok`, a crash cannot
    /// lose it. Writes nothing if nothing changed. A new snapshot is written as a
    /// snapshot file and a checkpoint with the log after it, and the segments and
    /// snapshot it replaces are deleted ([`Wal::install_snapshot`]).
    pub fn save(&mut self, next: PersistentState) -> io::Result<()> {
        let snapshot_moved = next.log.snapshot_index() != self.saved.log.snapshot_index()
            || next.log.snapshot_term() != self.saved.log.snapshot_term()
            || !(next.snapshot.ptr_eq(&self.saved.snapshot)
                || next.snapshot == self.saved.snapshot);
        if snapshot_moved {
            let hard_state = HardState {
                current_term: next.current_term,
                voted_for: next.voted_for,
            };
            let data = postcard::to_allocvec(&next.snapshot)
                .map_err(|e| io::Error::other(format!("cannot encode a snapshot: {e}")))?;
            let snapshot = Snapshot {
                last_included_index: next.log.snapshot_index(),
                last_included_term: next.log.snapshot_term(),
                data,
            };
            let entries: Vec<_> = next.log.iter().cloned().collect();
            self.wal.install_snapshot(hard_state, &snapshot, &entries)?;
        } else {
            let records = diff(&self.saved, &next);
            if !records.is_empty() {
                self.wal.commit(&records)?;
            }
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

/// A recovered log as the model's persistent state: the snapshot's data is the
/// postcard encoding of the service's state.
fn as_state(wal: &Wal, r: Recovered) -> Result<PersistentState, StorageError> {
    let (log, snapshot) = match &r.snapshot {
        None => (Log::new(), KvStore::default()),
        Some(s) => {
            let data = match postcard::take_from_bytes::<KvStore>(&s.data) {
                Ok((kv, [])) => kv,
                Ok(_) => return Err(bad_snapshot(wal, "has bytes after the service's state")),
                Err(e) => {
                    return Err(bad_snapshot(
                        wal,
                        &format!("holds data that is not a service state ({e})"),
                    ))
                }
            };
            let log = Log::after_snapshot(s.last_included_index, s.last_included_term);
            (log, data)
        }
    };
    let mut log = log;
    log.extend(r.entries);
    Ok(PersistentState {
        current_term: r.hard_state.current_term,
        voted_for: r.hard_state.voted_for,
        log,
        snapshot,
    })
}

fn bad_snapshot(wal: &Wal, problem: &str) -> StorageError {
    StorageError::corrupt(
        wal.dir().to_path_buf(),
        None,
        format!("its snapshot {problem}"),
    )
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
            log: vec![entry(1)].into(),
            snapshot: KvStore::default(),
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

    #[test]
    fn a_snapshot_is_stored_as_a_checkpoint_and_the_log_before_it_is_deleted() {
        let d = tempfile::tempdir().unwrap();
        let opts = WalOptions { segment_bytes: 256 };
        let (mut s, _) = Store::open(d.path(), 0, 1, opts).unwrap();
        let mut p = PersistentState::default();
        for t in 1..=40 {
            p.current_term = t;
            p.log.push(entry(t));
            s.save(p.clone()).unwrap();
        }
        let segments = |d: &Path| {
            fs::read_dir(d)
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with("wal-")
                })
                .count()
        };
        assert!(segments(d.path()) > 3, "small segments rotate");
        let before = s.wal().disk_bytes().unwrap();
        // Snapshot at 38: two entries stay.
        p.log.compact_through(38);
        p.snapshot.data.insert("k".into(), "v".into());
        s.save(p.clone()).unwrap();
        assert_eq!(segments(d.path()), 1, "one checkpoint segment");
        assert!(s.wal().disk_bytes().unwrap() < before);
        p.log.push(entry(41));
        s.save(p.clone()).unwrap();
        drop(s);
        let (mut s, loaded) = Store::open(d.path(), 0, 1, opts).unwrap();
        assert_eq!(loaded.state.as_ref(), Some(&p));
        let got = loaded.state.unwrap();
        assert_eq!((got.log.snapshot_index(), got.log.last_index()), (38, 41));
        // A newer snapshot replaces the older one.
        p.log.compact_through(41);
        p.snapshot.data.insert("k".into(), "w".into());
        s.save(p.clone()).unwrap();
        drop(s);
        let snaps = fs::read_dir(d.path())
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("snap-")
            })
            .count();
        assert_eq!(snaps, 1);
        let (_, loaded) = Store::open(d.path(), 0, 1, opts).unwrap();
        assert_eq!(loaded.state, Some(p));
    }
}

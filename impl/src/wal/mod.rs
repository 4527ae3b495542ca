//! The storage engine: an append-only log on disk, with snapshots and segments, so
//! that a save costs what it writes, not the size of the state.
//!
//! A data directory holds
//!
//! - segments `wal-NNNNNNNNNNNNNNNNNNNN.log` ([`segment`]): a header, then frames
//!   ([`record`]), each the records of one save (hard state, appended entries,
//!   truncation), length-prefixed and checksummed;
//! - at most one live snapshot `snap-NNNNNNNNNNNNNNNNNNNN.bin` ([`snapshot_file`]):
//!   the service state at the snapshot's last included index, as opaque bytes;
//! - `lock`, held while a node runs.
//!
//! **Group commit.** [`Wal::append`] writes one frame (the records of one save);
//! [`Wal::sync`] makes everything appended so far durable with one fsync. The host
//! sends a batch's messages only after that. A segment that reaches
//! [`WalOptions::segment_bytes`] is sealed and the log goes on in the next one.
//!
//! **Snapshots and compaction.** [`Wal::install_snapshot`] writes the snapshot file
//! atomically (temporary file, fsync, rename, fsync of the directory), then starts a
//! new segment (also created atomically) whose first frame is a checkpoint: the hard
//! state, the reference to the snapshot (name, length, CRC) and the log suffix the
//! snapshot does not cover. Recovery starts from the newest checkpoint, so every
//! older segment and snapshot is deleted at once.
//!
//! **Recovery** ([`recover`]) returns the hard state, the snapshot and the log suffix.
//! A torn frame at the very end of the last segment (a crash in the middle of a
//! write that was never acknowledged) is cut off and reported ([`TornTail`]); any
//! other damage (a bad frame with intact frames after it, a bad frame in an earlier
//! segment, a bad header, a missing segment, a missing or damaged snapshot, a
//! directory of another node) is a [`StorageError`] naming the file and byte offset,
//! and the node refuses to start.
//!
//! **Saves as differences** ([`diff`]): the model emits its whole persistent state
//! at each save; the host writes only what changed since the last save, found
//! without walking the log (see the module's docs for why that is exact).

pub mod diff;
mod files;
mod legacy;
pub mod record;
mod recover;
pub mod segment;
pub mod snapshot_file;
pub mod store;
#[cfg(test)]
mod tests;

pub use diff::diff;
pub use record::{Checkpoint, HardState, Record, SnapshotRef};
pub use snapshot_file::{Owner, Snapshot};
pub use store::{Loaded, Store};

use files::{segment_name, snapshot_name, write_atomic};
use raft_model::{Entry, LogIndex};
use record::{encode_frame, FrameRef};
use segment::{SegmentHeader, SEGMENT_HEADER};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Why a data directory cannot be used.
#[derive(Debug)]
pub struct StorageError {
    pub path: PathBuf,
    /// The byte offset in `path` where the problem is, if it is in the file's bytes.
    pub offset: Option<u64>,
    pub problem: String,
    /// True if the data is present but unusable (as opposed to an I/O failure such as
    /// a permission problem, or a directory of another node).
    pub corrupt: bool,
}

impl StorageError {
    pub(crate) fn corrupt(path: PathBuf, offset: Option<u64>, problem: String) -> StorageError {
        StorageError {
            path,
            offset,
            problem,
            corrupt: true,
        }
    }

    pub(crate) fn unreadable(path: PathBuf, e: &io::Error) -> StorageError {
        StorageError {
            path,
            offset: None,
            problem: format!("cannot be read ({e}); fix its permissions or restore it"),
            corrupt: false,
        }
    }

    pub(crate) fn other_node(
        path: PathBuf,
        index: u64,
        servers: u64,
        owner: Owner,
    ) -> StorageError {
        StorageError {
            path,
            offset: None,
            problem: format!(
                "belongs to {} of a {servers}-node cluster, but this node was started as {} \
                 of {}: check --id, --peers and --data",
                server_name(index),
                server_name(owner.index),
                owner.servers
            ),
            corrupt: false,
        }
    }
}

/// `S1`.. for a 0-based server index from a file or the command line.
fn server_name(index: u64) -> String {
    raft_model::name::server(raft_model::Id::from(
        usize::try_from(index).unwrap_or(usize::MAX),
    ))
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage file {}", self.path.display())?;
        if let Some(at) = self.offset {
            write!(f, " at byte {at}")?;
        }
        write!(f, ": {}", self.problem)?;
        if self.corrupt {
            let dir = self.path.parent().unwrap_or(Path::new("."));
            write!(
                f,
                ".\nRefusing to start: starting with empty state could make this node forget \
                 votes and log entries it acknowledged, which breaks Raft safety.\n\
                 What to do: restore the data directory {} from a backup. If this node's data \
                 is truly lost, move the directory away and restart the node only while the \
                 other nodes hold a majority with every acknowledged write (a node that forgot \
                 its state may otherwise help elect a leader that lacks committed entries).",
                dir.display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for StorageError {}

/// A torn write that recovery cut off the end of the last segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

impl fmt::Display for TornTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cut {} bytes at byte {} of {}: a write cut short by a crash, never acknowledged",
            self.bytes,
            self.offset,
            self.file.display()
        )
    }
}

/// What a data directory held when the log was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recovered {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    /// The log after the snapshot: `entries[0]` has index [`Recovered::first_index`].
    pub entries: Vec<Entry>,
    pub torn_tail: Option<TornTail>,
    /// The directory held no log: a fresh node.
    pub fresh: bool,
}

impl Recovered {
    pub fn first_index(&self) -> LogIndex {
        self.snapshot
            .as_ref()
            .map_or(1, |s| s.last_included_index.saturating_add(1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalOptions {
    /// A segment this large is sealed and the log goes on in a new one.
    pub segment_bytes: u64,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions {
            segment_bytes: 8 << 20,
        }
    }
}

/// An open log: the segment being appended to, in a locked data directory.
pub struct Wal {
    dir: PathBuf,
    owner: Owner,
    options: WalOptions,
    dir_handle: File,
    _lock: File,
    file: File,
    seq: u64,
    len: u64,
    frames_in_segment: u64,
    /// Set by a failed write: the file may end in a partial frame, so nothing more
    /// may be appended after it (recovery will cut it).
    failed: bool,
    buf: Vec<u8>,
    /// Where the last frame of records begins (segment, offset), while the log
    /// still holds the state before it.
    last_records_frame: Option<(u64, u64)>,
}

impl Wal {
    /// Opens (creating if needed) the data directory of server `index` of `servers`
    /// and recovers what it holds. Cuts a torn tail and deletes files that the
    /// newest checkpoint made obsolete.
    pub fn open(
        dir: &Path,
        index: u64,
        servers: u64,
        options: WalOptions,
    ) -> Result<(Wal, Recovered), StorageError> {
        let io_err = |problem: String| StorageError {
            path: dir.to_path_buf(),
            offset: None,
            problem,
            corrupt: false,
        };
        fs::create_dir_all(dir)
            .map_err(|e| io_err(format!("cannot create the data directory: {e}")))?;
        let dir_handle =
            File::open(dir).map_err(|e| io_err(format!("cannot open the data directory: {e}")))?;
        let lock = files::lock_dir(dir).map_err(io_err)?;
        let owner = Owner { index, servers };
        let found = recover::recover(dir, owner, None)?;
        let tidy = |e: io::Error| io_err(format!("cannot tidy up the data directory: {e}"));
        // Temporary files are writes that never completed: never durable, never
        // acknowledged, safe to remove.
        for t in &found.temps {
            fs::remove_file(dir.join(t)).map_err(tidy)?;
        }
        let fresh = found.last_segment.is_none();
        let (file, seq, len, frames) = match found.last_segment {
            Some((seq, intact)) => {
                let path = dir.join(segment_name(seq));
                let file = File::options()
                    .append(true)
                    .open(&path)
                    .map_err(|e| StorageError::unreadable(path, &e))?;
                if found.torn_tail.is_some() {
                    file.set_len(intact).map_err(tidy)?;
                    file.sync_all().map_err(tidy)?;
                }
                (file, seq, intact, u64::from(intact > SEGMENT_HEADER as u64))
            }
            None => {
                let genesis = Checkpoint {
                    hard_state: HardState::default(),
                    snapshot: None,
                    entries: Vec::new(),
                };
                let (file, len) = create_checkpoint_segment(dir, &dir_handle, owner, 1, &genesis)
                    .map_err(|e| io_err(format!("cannot create the log: {e}")))?;
                (file, 1, len, 1)
            }
        };
        for s in &found.obsolete_segments {
            fs::remove_file(dir.join(segment_name(*s))).map_err(tidy)?;
        }
        for name in &found.obsolete_snapshots {
            fs::remove_file(dir.join(name)).map_err(tidy)?;
        }
        let found_last = found.last_records_frame;
        let recovered = Recovered {
            hard_state: found.state.hard_state,
            snapshot: found.snapshot,
            entries: found.state.entries,
            torn_tail: found.torn_tail,
            fresh,
        };
        let wal = Wal {
            dir: dir.to_path_buf(),
            owner,
            options,
            dir_handle,
            _lock: lock,
            file,
            seq,
            len,
            frames_in_segment: frames,
            failed: false,
            buf: Vec::new(),
            last_records_frame: found_last,
        };
        Ok((wal, recovered))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The segment being appended to.
    pub fn segment_path(&self) -> PathBuf {
        self.dir.join(segment_name(self.seq))
    }

    fn check_usable(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other(
                "an earlier write to the log failed; restart the node to recover the log",
            ));
        }
        Ok(())
    }

    /// Appends the records of one save as one frame (not yet durable: see
    /// [`Wal::sync`]). Nothing is written for no records.
    pub fn append(&mut self, records: &[Record]) -> io::Result<()> {
        self.check_usable()?;
        if records.is_empty() {
            return Ok(());
        }
        if self.len >= self.options.segment_bytes && self.frames_in_segment > 0 {
            self.rotate()?;
        }
        let at = (self.seq, self.len);
        self.write_frame(FrameRef::Records(records))?;
        self.last_records_frame = Some(at);
        Ok(())
    }

    /// The state before the last frame of records, as recovery would read it had
    /// that frame never been written; `None` if the log no longer holds it (a
    /// checkpoint came after it, or nothing was saved yet). For the test-only host
    /// fault that restarts from an older save.
    pub fn before_last_save(&self) -> Result<Option<Recovered>, StorageError> {
        let Some(until) = self.last_records_frame else {
            return Ok(None);
        };
        let found = recover::recover(&self.dir, self.owner, Some(until))?;
        Ok(Some(Recovered {
            hard_state: found.state.hard_state,
            snapshot: found.snapshot,
            entries: found.state.entries,
            torn_tail: None,
            fresh: false,
        }))
    }

    fn write_frame(&mut self, frame: FrameRef) -> io::Result<()> {
        self.buf.clear();
        encode_frame(frame, &mut self.buf)?;
        if let Err(e) = self.file.write_all(&self.buf) {
            self.failed = true;
            return Err(e);
        }
        self.len += self.buf.len() as u64;
        self.frames_in_segment += 1;
        Ok(())
    }

    /// Makes every frame appended so far durable: one fsync for the whole batch.
    pub fn sync(&mut self) -> io::Result<()> {
        self.check_usable()?;
        self.file.sync_data().inspect_err(|_| self.failed = true)
    }

    /// [`Wal::append`] then [`Wal::sync`].
    pub fn commit(&mut self, records: &[Record]) -> io::Result<()> {
        self.append(records)?;
        self.sync()
    }

    /// Closes the full segment: the next one is created first (so that a crash
    /// in between leaves an unsealed segment followed by an empty one, which
    /// recovery accepts), then the seal is made durable.
    fn rotate(&mut self) -> io::Result<()> {
        let next = self.seq + 1;
        let header = SegmentHeader {
            index: self.owner.index,
            servers: self.owner.servers,
            seq: next,
            checkpoint: false,
        };
        let file = write_atomic(
            &self.dir,
            &self.dir_handle,
            &segment_name(next),
            &header.encode(),
        )?;
        self.write_frame(FrameRef::Seal { next_segment: next })?;
        self.sync()?;
        self.file = file;
        self.seq = next;
        self.len = SEGMENT_HEADER as u64;
        self.frames_in_segment = 0;
        Ok(())
    }

    /// Replaces the log's beginning by `snapshot`: writes the snapshot file, starts
    /// a checkpoint segment with `hard_state` and the log suffix `entries` (from
    /// `last_included_index + 1`), and deletes every older segment and snapshot.
    /// Durable when it returns.
    pub fn install_snapshot(
        &mut self,
        hard_state: HardState,
        snapshot: &Snapshot,
        entries: &[Entry],
    ) -> io::Result<()> {
        self.check_usable()?;
        let next = self.seq + 1;
        let name = snapshot_name(next);
        let r = snapshot_file::write(&self.dir, &self.dir_handle, &name, self.owner, snapshot)?;
        let checkpoint = Checkpoint {
            hard_state,
            snapshot: Some(r),
            entries: entries.to_vec(),
        };
        let (file, len) =
            create_checkpoint_segment(&self.dir, &self.dir_handle, self.owner, next, &checkpoint)?;
        let old = self.seq;
        self.file = file;
        self.seq = next;
        self.len = len;
        self.frames_in_segment = 1;
        self.last_records_frame = None;
        self.delete_before(old, &name)
    }

    /// Deletes segments up to `last_old` and every snapshot but `keep`. Failures
    /// are left for the next recovery, which deletes what the checkpoint made
    /// obsolete.
    fn delete_before(&self, last_old: u64, keep: &str) -> io::Result<()> {
        let listing = files::list(&self.dir)?;
        for s in listing.segments.iter().filter(|s| **s <= last_old) {
            let _ = fs::remove_file(self.dir.join(segment_name(*s)));
        }
        for s in &listing.snapshots {
            let name = snapshot_name(*s);
            if name != keep {
                let _ = fs::remove_file(self.dir.join(name));
            }
        }
        Ok(())
    }

    /// Bytes of the log's files on disk (segments and snapshots).
    pub fn disk_bytes(&self) -> io::Result<u64> {
        let mut total = 0;
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if files::parse_segment_name(&name).is_some()
                || files::parse_snapshot_name(&name).is_some()
            {
                total += entry.metadata()?.len();
            }
        }
        Ok(total)
    }
}

/// Creates segment `seq` beginning with `checkpoint`, atomically; returns it open
/// for appending, and its length.
fn create_checkpoint_segment(
    dir: &Path,
    dir_handle: &File,
    owner: Owner,
    seq: u64,
    checkpoint: &Checkpoint,
) -> io::Result<(File, u64)> {
    let header = SegmentHeader {
        index: owner.index,
        servers: owner.servers,
        seq,
        checkpoint: true,
    };
    let mut bytes = header.encode().to_vec();
    encode_frame(FrameRef::Checkpoint(checkpoint), &mut bytes)?;
    let file = write_atomic(dir, dir_handle, &segment_name(seq), &bytes)?;
    Ok((file, bytes.len() as u64))
}

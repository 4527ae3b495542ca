//! Recovery: reads a data directory back into the persistent state, without
//! changing anything (the caller cuts the torn tail and deletes obsolete files).
//!
//! The newest segment that begins with a checkpoint is where the state starts; the
//! segments after it must all be there, in sequence, and are replayed frame by frame.
//! A frame that cannot be read is a torn write only if it is at the very end of the
//! last segment (nothing intact follows it: a torn write is the last thing a crashed
//! process did, and a frame is acknowledged only once it is durable, so it was never
//! acknowledged) and it looks like one: the file ends inside it, or part of it reads
//! as zeros (a 512-byte sector that the file system had allocated but not yet
//! written when the power went; etcd's WAL uses the same test). Anything else (a
//! complete frame whose checksum fails, a bad frame with intact frames after it, a
//! bad frame in an earlier segment) is damage, possibly to something acknowledged,
//! and recovery refuses, naming the file and the byte offset. (The search for
//! intact frames after a bad one errs on the side of refusing: a torn frame whose
//! payload happens to contain a whole valid frame, which a client could arrange
//! with a crafted value, is taken for damage; the node then refuses to start
//! rather than cut it.)

use super::files::{self, segment_name};
use super::record::{
    find_intact_frame, read_frame, Checkpoint, Frame, FrameError, HardState, Record, SnapshotRef,
    FRAME_HEADER,
};
use super::segment::{SegmentHeader, SEGMENT_HEADER};
use super::snapshot_file::{self, Owner, Snapshot};
use super::{StorageError, TornTail};
use raft_model::{Entry, LogIndex};
use std::fs::{self, File};
use std::io::Read;
use std::path::Path;

/// The persistent state as the records describe it, built up frame by frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replay {
    pub hard_state: HardState,
    pub snapshot: Option<SnapshotRef>,
    /// The log after the snapshot: `entries[0]` has index [`Replay::first_index`].
    pub entries: Vec<Entry>,
}

impl Replay {
    pub fn from_checkpoint(c: Checkpoint) -> Replay {
        Replay {
            hard_state: c.hard_state,
            snapshot: c.snapshot,
            entries: c.entries,
        }
    }

    pub fn first_index(&self) -> LogIndex {
        self.snapshot
            .as_ref()
            .map_or(1, |s| s.last_included_index.saturating_add(1))
    }

    pub fn last_index(&self) -> LogIndex {
        (self.first_index() - 1).saturating_add(self.entries.len() as u64)
    }

    /// Applies one record, or says why it does not fit the state.
    pub fn apply(&mut self, record: Record) -> Result<(), String> {
        match record {
            Record::HardState(h) => self.hard_state = h,
            Record::Append {
                first_index,
                entries,
            } => {
                let last = self.last_index();
                if Some(first_index) != last.checked_add(1) {
                    return Err(format!(
                        "appends entries from index {first_index}, but the log ends at index {last}"
                    ));
                }
                self.entries.extend(entries);
            }
            Record::Truncate { keep_below } => {
                let (first, last) = (self.first_index(), self.last_index());
                if keep_below < first || keep_below > last.saturating_add(1) {
                    return Err(format!(
                        "removes entries from index {keep_below}, but the log holds indexes \
                         {first} to {last}"
                    ));
                }
                self.entries.truncate((keep_below - first) as usize);
            }
        }
        Ok(())
    }
}

/// What a data directory holds, and what the caller must tidy up.
pub struct Found {
    pub state: Replay,
    pub snapshot: Option<Snapshot>,
    /// The segment to go on appending to, and how many of its bytes are intact;
    /// `None`: the directory holds no log (a fresh node).
    pub last_segment: Option<(u64, u64)>,
    pub torn_tail: Option<TornTail>,
    /// Segments before the checkpoint recovery started from.
    pub obsolete_segments: Vec<u64>,
    /// Snapshot files the state does not refer to.
    pub obsolete_snapshots: Vec<String>,
    /// Files of writes that never completed.
    pub temps: Vec<String>,
    /// Segment and offset of the last frame of records: the state before the last
    /// save is the log cut there.
    pub last_records_frame: Option<(u64, u64)>,
}

/// Reads the log in `dir`, which belongs to `owner`; with `until` (segment, byte
/// length), as if the log ended there.
pub fn recover(dir: &Path, owner: Owner, until: Option<(u64, u64)>) -> Result<Found, StorageError> {
    let listing = files::list(dir).map_err(|e| StorageError::unreadable(dir.to_path_buf(), &e))?;
    let Some(&newest) = listing.segments.last() else {
        if let Some(seq) = listing.snapshots.first() {
            return Err(StorageError::corrupt(
                dir.join(files::snapshot_name(*seq)),
                None,
                "is a snapshot without any log segment: the segments are missing".into(),
            ));
        }
        return Ok(Found {
            state: Replay::default(),
            snapshot: None,
            last_segment: None,
            torn_tail: None,
            obsolete_segments: Vec::new(),
            obsolete_snapshots: Vec::new(),
            temps: listing.temps,
            last_records_frame: None,
        });
    };
    // Every header must be sound: a damaged flag could otherwise make recovery
    // start from an older checkpoint and silently forget what came after it.
    let mut base = None;
    for &seq in &listing.segments {
        let h = read_header(dir, seq, owner)?;
        if h.checkpoint {
            base = Some(seq);
        }
    }
    let Some(base) = base else {
        let first = listing.segments[0];
        return Err(StorageError::corrupt(
            dir.join(segment_name(first)),
            Some(0),
            "does not begin with a checkpoint, and no earlier segment is there: the segments \
             before it are missing"
                .into(),
        ));
    };
    let chain: Vec<u64> = listing
        .segments
        .iter()
        .copied()
        .filter(|s| *s >= base && until.is_none_or(|(u, _)| *s <= u))
        .collect();
    let newest = chain.last().copied().unwrap_or(newest);
    for w in chain.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(StorageError::corrupt(
                dir.join(segment_name(w[0] + 1)),
                None,
                format!(
                    "is missing: the log goes from {} to {}",
                    segment_name(w[0]),
                    segment_name(w[1])
                ),
            ));
        }
    }
    let mut state = Replay::default();
    let mut torn_tail = None;
    let mut last_len = 0;
    let mut unsealed_before: Option<u64> = None;
    let mut last_records_frame = None;
    for &seq in &chain {
        let last = seq == newest;
        let limit = until.filter(|(u, _)| *u == seq).map(|(_, len)| len);
        let read = replay_segment(dir, seq, seq == base, last, limit, &mut state)?;
        if let Some(at) = read.last_records_frame {
            last_records_frame = Some((seq, at));
        }
        if read.frames > 0 {
            if let Some(prev) = unsealed_before {
                return Err(StorageError::corrupt(
                    dir.join(segment_name(prev)),
                    None,
                    format!(
                        "is not sealed, yet the log goes on in {}",
                        segment_name(seq)
                    ),
                ));
            }
        }
        unsealed_before = (!read.sealed).then_some(seq);
        if read.sealed && last {
            return Err(StorageError::corrupt(
                dir.join(segment_name(seq + 1)),
                None,
                format!(
                    "is missing: {} is sealed and continues in it",
                    segment_name(seq)
                ),
            ));
        }
        last_len = read.intact_len;
        torn_tail = read.torn_tail;
    }
    let snapshot = match &state.snapshot {
        Some(r) => Some(snapshot_file::read(dir, r, owner, &segment_name(base))?),
        None => None,
    };
    let referenced = state.snapshot.as_ref().map(|r| r.file.as_str());
    Ok(Found {
        obsolete_segments: listing
            .segments
            .iter()
            .copied()
            .filter(|s| *s < base)
            .collect(),
        obsolete_snapshots: listing
            .snapshots
            .iter()
            .map(|s| files::snapshot_name(*s))
            .filter(|name| Some(name.as_str()) != referenced)
            .collect(),
        temps: listing.temps,
        state,
        snapshot,
        last_segment: Some((newest, last_len)),
        torn_tail,
        last_records_frame,
    })
}

fn read_header(dir: &Path, seq: u64, owner: Owner) -> Result<SegmentHeader, StorageError> {
    let path = dir.join(segment_name(seq));
    let mut bytes = Vec::with_capacity(SEGMENT_HEADER);
    File::open(&path)
        .and_then(|f| f.take(SEGMENT_HEADER as u64).read_to_end(&mut bytes))
        .map_err(|e| StorageError::unreadable(path.clone(), &e))?;
    check_header(&path, &bytes, seq, owner)
}

fn check_header(
    path: &Path,
    bytes: &[u8],
    seq: u64,
    owner: Owner,
) -> Result<SegmentHeader, StorageError> {
    let h = SegmentHeader::decode(bytes)
        .map_err(|problem| StorageError::corrupt(path.to_path_buf(), Some(0), problem))?;
    if (h.index, h.servers) != (owner.index, owner.servers) {
        return Err(StorageError::other_node(
            path.to_path_buf(),
            h.index,
            h.servers,
            owner,
        ));
    }
    if h.seq != seq {
        return Err(StorageError::corrupt(
            path.to_path_buf(),
            Some(28),
            format!("says it is segment {}, but its name says {seq}", h.seq),
        ));
    }
    Ok(h)
}

/// The granularity at which a disk writes: a torn write may leave a whole sector
/// unwritten (zeros), never half of one.
const SECTOR: usize = 512;

/// Whether the unreadable frame at `at` looks like a write cut short: the file ends
/// inside it, or a sector-aligned piece of it is all zeros.
fn looks_torn(bytes: &[u8], at: usize, e: &FrameError) -> bool {
    match e {
        FrameError::Incomplete(_) => true,
        FrameError::Undecodable(_) => false,
        FrameError::Checksum(_) => {
            let end = frame_end(bytes, at).unwrap_or(bytes.len()).min(bytes.len());
            let mut start = at;
            while start < end {
                let stop = ((start / SECTOR + 1) * SECTOR).min(end);
                if bytes[start..stop].iter().all(|b| *b == 0) {
                    return true;
                }
                start = stop;
            }
            false
        }
    }
}

/// Where the frame at `at` ends, if its header is intact.
fn frame_end(bytes: &[u8], at: usize) -> Option<usize> {
    let h = bytes.get(at..at.checked_add(FRAME_HEADER)?)?;
    let header_crc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if crc32fast::hash(&h[..8]) != header_crc {
        return None;
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    at.checked_add(FRAME_HEADER)?.checked_add(len)
}

/// What reading one segment found.
struct SegmentRead {
    frames: u64,
    last_records_frame: Option<u64>,
    sealed: bool,
    intact_len: u64,
    torn_tail: Option<TornTail>,
}

fn replay_segment(
    dir: &Path,
    seq: u64,
    base: bool,
    last: bool,
    limit: Option<u64>,
    state: &mut Replay,
) -> Result<SegmentRead, StorageError> {
    let path = dir.join(segment_name(seq));
    let mut bytes = fs::read(&path).map_err(|e| StorageError::unreadable(path.clone(), &e))?;
    if let Some(len) = limit {
        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
    }
    let corrupt =
        |at: usize, problem: String| StorageError::corrupt(path.clone(), Some(at as u64), problem);
    let mut read = SegmentRead {
        frames: 0,
        last_records_frame: None,
        sealed: false,
        intact_len: bytes.len() as u64,
        torn_tail: None,
    };
    let mut at = SEGMENT_HEADER;
    while at < bytes.len() {
        let (frame, next) = match read_frame(&bytes, at) {
            Ok(f) => f,
            Err(e) => {
                let intact_after = find_intact_frame(&bytes, at + 1);
                let torn = last
                    && intact_after.is_none()
                    && looks_torn(&bytes, at, &e)
                    && !(base && read.frames == 0);
                if torn {
                    read.intact_len = at as u64;
                    read.torn_tail = Some(TornTail {
                        file: path.clone(),
                        offset: at as u64,
                        bytes: (bytes.len() - at) as u64,
                    });
                    break;
                }
                let why = match intact_after {
                    None if last && matches!(e, FrameError::Checksum(_)) => {
                        "; it is the last frame, but complete and without zeroed sectors, \
                         so it is damage to a write that was acknowledged, not a write cut \
                         short by a crash"
                            .into()
                    }
                    Some(p) => format!(
                        "; an intact frame follows at byte {p}, so this is damage in the \
                         middle of the log, not a write cut short by a crash"
                    ),
                    None if !last => "; this is not the last segment, so it is damage, not a \
                                      write cut short by a crash"
                        .into(),
                    None => String::new(),
                };
                return Err(corrupt(at, format!("is corrupt: {}{why}", e.message())));
            }
        };
        if read.sealed {
            return Err(corrupt(
                at,
                "has a frame after the frame that seals it".into(),
            ));
        }
        let first = read.frames == 0;
        match frame {
            Frame::Checkpoint(c) if base && first => *state = Replay::from_checkpoint(c),
            Frame::Checkpoint(_) => {
                return Err(corrupt(
                    at,
                    "has a checkpoint that is not its first frame".into(),
                ))
            }
            _ if base && first => {
                return Err(corrupt(
                    at,
                    "is marked as a checkpoint segment, but its first frame is not a checkpoint"
                        .into(),
                ))
            }
            Frame::Records(records) => {
                read.last_records_frame = Some(at as u64);
                for (i, r) in records.into_iter().enumerate() {
                    state.apply(r).map_err(|m| {
                        corrupt(
                            at,
                            format!("is inconsistent: record {} of the frame {m}", i + 1),
                        )
                    })?;
                }
            }
            Frame::Seal { next_segment } if Some(next_segment) == seq.checked_add(1) => {
                read.sealed = true
            }
            Frame::Seal { next_segment } => {
                return Err(corrupt(
                    at,
                    format!("is sealed towards segment {next_segment}, not the next one"),
                ))
            }
        }
        read.frames += 1;
        at = next;
    }
    if base && read.frames == 0 {
        return Err(corrupt(
            SEGMENT_HEADER,
            "is marked as a checkpoint segment, but holds no checkpoint".into(),
        ));
    }
    Ok(read)
}

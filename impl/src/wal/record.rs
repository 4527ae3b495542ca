//! What the log holds (records, grouped into frames) and how a frame is laid out.
//!
//! A frame is the unit of durability: the records of one save, or a checkpoint, or
//! the seal that closes a segment. On disk a frame is
//!
//! ```text
//! length (u32 LE) | CRC-32 of the payload (u32 LE) | CRC-32 of the previous 8 bytes (u32 LE) | payload
//! ```
//!
//! with the payload the postcard encoding of a [`Frame`]. The header has its own
//! checksum so that a damaged length is recognised as damage (and not read as "the
//! record goes on past the end of the file", which looks like a torn write), and so
//! that recovery can look for intact frames after a bad one in a single pass.
//!
//! Why frames of records rather than one frame per record: recovery applies a frame
//! whole or not at all. The records of one save (say, a truncation and the entries
//! that replace the cut ones, and a new term) must never be half applied after a
//! crash, because the half state is a state the model never saved.

use raft_model::{Entry, Id, LogIndex, Term};
use serde::{Deserialize, Serialize};
use std::io;

/// Figure 2's persistent scalars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardState {
    pub current_term: Term,
    pub voted_for: Option<Id>,
}

/// One change to the persistent state, as the host derives it from two saves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// The term and vote are now these.
    HardState(HardState),
    /// `entries` are appended; the first of them has index `first_index`, which
    /// must be one past the log's last entry.
    Append {
        first_index: LogIndex,
        entries: Vec<Entry>,
    },
    /// Entries at `keep_below` and after are removed.
    Truncate { keep_below: LogIndex },
}

/// Where a snapshot's bytes are, and how to know them when they are read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRef {
    pub last_included_index: LogIndex,
    pub last_included_term: Term,
    /// A file name in the data directory (no directory part).
    pub file: String,
    /// Length and CRC-32 of the snapshot's data (the file's payload).
    pub len: u64,
    pub crc: u32,
}

/// The whole persistent state, at the start of a segment from which recovery can
/// begin: every older segment may then be deleted at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub hard_state: HardState,
    /// `None`: the log starts at index 1.
    pub snapshot: Option<SnapshotRef>,
    /// The log after the snapshot (from `last_included_index + 1`, or from 1).
    pub entries: Vec<Entry>,
}

/// What one frame carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// The records of one save, applied together.
    Records(Vec<Record>),
    /// The first frame of a checkpoint segment, and only there.
    Checkpoint(Checkpoint),
    /// The last frame of a segment that was closed because it was full: the log goes
    /// on in segment `next_segment`, which must therefore exist.
    Seal { next_segment: u64 },
}

/// A [`Frame`] to write, borrowing what it carries (it encodes as the same bytes).
#[derive(Clone, Copy, Debug, Serialize)]
pub enum FrameRef<'a> {
    Records(&'a [Record]),
    Checkpoint(&'a Checkpoint),
    Seal { next_segment: u64 },
}

/// Bytes of a frame's header.
pub const FRAME_HEADER: usize = 12;

/// Appends `frame`, framed, to `out`.
pub fn encode_frame(frame: FrameRef, out: &mut Vec<u8>) -> io::Result<()> {
    let payload = postcard::to_allocvec(&frame)
        .map_err(|e| io::Error::other(format!("cannot encode a log frame: {e}")))?;
    let len = u32::try_from(payload.len())
        .map_err(|_| io::Error::other("a log frame is larger than 4 GiB"))?;
    let mut header = [0u8; FRAME_HEADER];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    let header_crc = crc32fast::hash(&header[0..8]);
    header[8..12].copy_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&payload);
    Ok(())
}

/// Why no frame could be read at an offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The bytes end inside the frame: what a crash in the middle of a write leaves
    /// (or damage: the caller decides by where it is).
    Incomplete(String),
    /// The bytes are all there but a checksum fails.
    Checksum(String),
    /// The checksums hold but the payload is not a frame: not a torn write, always
    /// damage (or a bug).
    Undecodable(String),
}

impl FrameError {
    pub fn message(&self) -> &str {
        match self {
            FrameError::Incomplete(m) | FrameError::Checksum(m) | FrameError::Undecodable(m) => m,
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// The payload range of the frame at `at` if its checksums hold, checking no more
/// than the header first (so that looking for frames is cheap).
fn checked_payload(bytes: &[u8], at: usize) -> Result<std::ops::Range<usize>, FrameError> {
    let have = bytes.len().saturating_sub(at);
    if have < FRAME_HEADER {
        return Err(FrameError::Incomplete(format!(
            "the file ends {have} bytes into a {FRAME_HEADER}-byte frame header"
        )));
    }
    let (Some(len), Some(crc), Some(header_crc)) = (
        u32_at(bytes, at),
        u32_at(bytes, at + 4),
        u32_at(bytes, at + 8),
    ) else {
        return Err(FrameError::Incomplete("the frame header is cut".into()));
    };
    if crc32fast::hash(&bytes[at..at + 8]) != header_crc {
        return Err(FrameError::Checksum(
            "the frame header fails its checksum".into(),
        ));
    }
    let start = at + FRAME_HEADER;
    let end = start.saturating_add(len as usize);
    if end > bytes.len() {
        return Err(FrameError::Incomplete(format!(
            "the frame says {len} bytes of payload, the file ends after {}",
            bytes.len() - start
        )));
    }
    if crc32fast::hash(&bytes[start..end]) != crc {
        return Err(FrameError::Checksum(
            "the frame's payload fails its checksum".into(),
        ));
    }
    Ok(start..end)
}

/// Reads the frame at `at`: the frame and the offset just after it.
pub fn read_frame(bytes: &[u8], at: usize) -> Result<(Frame, usize), FrameError> {
    let range = checked_payload(bytes, at)?;
    let end = range.end;
    match postcard::take_from_bytes::<Frame>(&bytes[range]) {
        Ok((frame, [])) => Ok((frame, end)),
        Ok(_) => Err(FrameError::Undecodable(
            "the frame's payload has bytes after its records".into(),
        )),
        Err(e) => Err(FrameError::Undecodable(format!(
            "the frame's payload does not decode ({e})"
        ))),
    }
}

/// The first offset at or after `from` where an intact frame (both checksums hold)
/// begins. Used after a bad frame: an intact frame later on means the bad one is
/// damage in the middle of the log, not a torn write at its end.
pub fn find_intact_frame(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|&at| checked_payload(bytes, at).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_every_cut_is_incomplete() {
        let records = vec![
            Record::HardState(HardState {
                current_term: 3,
                voted_for: Some(Id::from(1)),
            }),
            Record::Truncate { keep_below: 7 },
        ];
        let frame = Frame::Records(records.clone());
        let mut bytes = Vec::new();
        encode_frame(FrameRef::Records(&records), &mut bytes).unwrap();
        assert_eq!(read_frame(&bytes, 0).unwrap(), (frame, bytes.len()));
        for cut in 0..bytes.len() {
            let e = read_frame(&bytes[..cut], 0).unwrap_err();
            assert!(matches!(e, FrameError::Incomplete(_)), "cut {cut}: {e:?}");
        }
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            let e = read_frame(&bad, 0).unwrap_err();
            assert!(matches!(e, FrameError::Checksum(_)), "byte {i}: {e:?}");
        }
        assert_eq!(find_intact_frame(&bytes, 1), None);
        let mut two = bytes.clone();
        two.extend_from_slice(&bytes);
        assert_eq!(find_intact_frame(&two, 1), Some(bytes.len()));
    }

    #[test]
    fn borrowed_frames_encode_as_owned_ones() {
        let c = Checkpoint {
            hard_state: HardState::default(),
            snapshot: Some(SnapshotRef {
                last_included_index: 9,
                last_included_term: 2,
                file: "snap".into(),
                len: 3,
                crc: 4,
            }),
            entries: vec![],
        };
        let cases = [
            (FrameRef::Checkpoint(&c), Frame::Checkpoint(c.clone())),
            (
                FrameRef::Seal { next_segment: 5 },
                Frame::Seal { next_segment: 5 },
            ),
            (FrameRef::Records(&[]), Frame::Records(vec![])),
        ];
        for (borrowed, owned) in cases {
            let mut bytes = Vec::new();
            encode_frame(borrowed, &mut bytes).unwrap();
            assert_eq!(read_frame(&bytes, 0).unwrap().0, owned);
        }
    }
}

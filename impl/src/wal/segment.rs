//! Segment files: a header, then frames, appended until the segment is full.
//!
//! Header (41 bytes): magic `RAFTWAL\0`, format version (u32 LE), the writing node's
//! 0-based index and the cluster size (u64 LE each; a directory handed to the wrong
//! node is refused), the segment's number (u64 LE, equal to the one in its name),
//! whether it begins with a checkpoint (1 byte), and the CRC-32 of all that (u32 LE).
//!
//! A segment appears on disk whole (header, and for a checkpoint segment its
//! checkpoint frame, written to a temporary file that is fsynced and renamed), so a
//! segment whose header is bad is damage, never a crash.

/// Bytes of a segment header.
pub const SEGMENT_HEADER: usize = 8 + 4 + 8 + 8 + 8 + 1 + 4;
const MAGIC: [u8; 8] = *b"RAFTWAL\0";
const VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub index: u64,
    pub servers: u64,
    pub seq: u64,
    /// The segment's first frame is a checkpoint: recovery may start here.
    pub checkpoint: bool,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER] {
        let mut h = [0u8; SEGMENT_HEADER];
        h[0..8].copy_from_slice(&MAGIC);
        h[8..12].copy_from_slice(&VERSION.to_le_bytes());
        h[12..20].copy_from_slice(&self.index.to_le_bytes());
        h[20..28].copy_from_slice(&self.servers.to_le_bytes());
        h[28..36].copy_from_slice(&self.seq.to_le_bytes());
        h[36] = u8::from(self.checkpoint);
        let crc = crc32fast::hash(&h[..37]);
        h[37..41].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// The header at the start of `bytes`, or what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, String> {
        let Some(h) = bytes.get(..SEGMENT_HEADER) else {
            return Err(format!(
                "is truncated ({} bytes, shorter than its {SEGMENT_HEADER}-byte header)",
                bytes.len()
            ));
        };
        if h[0..8] != MAGIC {
            return Err("is not a raftlab log segment (bad magic number)".into());
        }
        let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&h[i..i + 8]);
            u64::from_le_bytes(b)
        };
        if crc32fast::hash(&h[..37]) != u32_at(37) {
            return Err("is corrupt: its header fails its checksum".into());
        }
        let version = u32_at(8);
        if version != VERSION {
            return Err(format!(
                "has format version {version}, but this raftlab reads version {VERSION}"
            ));
        }
        let checkpoint = match h[36] {
            0 => false,
            1 => true,
            b => return Err(format!("is corrupt: its checkpoint flag is {b}")),
        };
        Ok(SegmentHeader {
            index: u64_at(12),
            servers: u64_at(20),
            seq: u64_at(28),
            checkpoint,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_and_every_byte_matters() {
        let h = SegmentHeader {
            index: 2,
            servers: 5,
            seq: 77,
            checkpoint: true,
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes), Ok(h));
        for i in 0..bytes.len() {
            let mut bad = bytes;
            bad[i] ^= 1;
            assert!(SegmentHeader::decode(&bad).is_err(), "byte {i}");
        }
        assert!(SegmentHeader::decode(&bytes[..40]).is_err());
    }
}

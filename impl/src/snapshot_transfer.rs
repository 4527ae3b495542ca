//! InstallSnapshot over datagrams: the model sends a snapshot whole; a snapshot of
//! a large store does not fit a datagram, so the host splits it into chunks
//! (Figure 13's `offset` and `done`) and the receiving host reassembles them
//! before the actor sees the message.
//!
//! Why the host and not the model: chunks carry no Raft decision. Figure 13's
//! follower does nothing with a chunk but store it until the last one arrives, so
//! modelling them would only multiply the checker's states; and a lost or
//! duplicated chunk is, to the model, a lost or duplicated message (a transfer
//! that never completes is never delivered). What the receiver delivers is exactly
//! the message the sender's actor sent: the data's CRC-32 is checked, and a
//! reassembled message that does not decode is dropped and counted as malformed.
//!
//! One transfer per sender is kept: a chunk of a different snapshot (another term,
//! index or checksum) starts over, so a peer can hold at most one snapshot's worth
//! of memory here, and at most [`MAX_SNAPSHOT_BYTES`].

use crate::wire::{Wire, MAX_DATAGRAM};
use raft_model::{Id, InstallSnapshot, KvStore, LogIndex, Msg, Term};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Bytes of snapshot data per chunk: a chunk datagram stays below
/// [`MAX_DATAGRAM`] with room for its header.
pub const CHUNK_BYTES: usize = MAX_DATAGRAM - 1024;

/// The largest snapshot a node reassembles (its data as encoded).
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// One piece of an InstallSnapshot: the message's fields, and bytes `offset..` of
/// the postcard encoding of its data, which is `total` bytes with CRC-32 `crc`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub src: Id,
    pub dst: Id,
    pub term: Term,
    pub last_included_index: LogIndex,
    pub last_included_term: Term,
    pub total: u64,
    pub crc: u32,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// The chunks that carry `m` from `src` to `dst`.
pub fn split(src: Id, dst: Id, m: &InstallSnapshot) -> Result<Vec<Wire>, postcard::Error> {
    let data = postcard::to_allocvec(&m.data)?;
    let crc = crc32fast::hash(&data);
    let total = data.len() as u64;
    // An empty snapshot still needs one chunk to arrive.
    let pieces: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(CHUNK_BYTES).collect()
    };
    let mut offset = 0u64;
    let mut out = Vec::with_capacity(pieces.len());
    for p in pieces {
        out.push(Wire::SnapshotChunk(Box::new(Chunk {
            src,
            dst,
            term: m.term,
            last_included_index: m.last_included_index,
            last_included_term: m.last_included_term,
            total,
            crc,
            offset,
            bytes: p.to_vec(),
        })));
        offset += p.len() as u64;
    }
    Ok(out)
}

/// Why a chunk was not taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkError {
    /// Its sizes or offset make no sense, or the snapshot is too large.
    Malformed,
    /// The chunks were all there, but the data fails its checksum or does not
    /// decode.
    Corrupt,
}

/// A transfer under way from one sender.
struct Transfer {
    key: (Term, LogIndex, Term, u64, u32),
    data: Vec<u8>,
    /// Which chunks (by `offset / CHUNK_BYTES`) have arrived.
    have: Vec<bool>,
    missing: usize,
}

/// The transfers under way, one per sender.
#[derive(Default)]
pub struct Reassembly {
    transfers: HashMap<Id, Transfer>,
}

impl Reassembly {
    /// Takes a chunk (the sender already authenticated); the whole message once its
    /// last chunk has arrived.
    pub fn take(&mut self, c: Chunk) -> Result<Option<Msg>, ChunkError> {
        if c.total > MAX_SNAPSHOT_BYTES {
            return Err(ChunkError::Malformed);
        }
        let total = c.total as usize;
        let chunks = total.div_ceil(CHUNK_BYTES).max(1);
        let slot = (c.offset as usize) / CHUNK_BYTES;
        let expected_len = if total == 0 {
            0
        } else {
            CHUNK_BYTES.min(total.saturating_sub(c.offset as usize))
        };
        let aligned = c.offset.is_multiple_of(CHUNK_BYTES as u64);
        if !aligned || slot >= chunks || c.bytes.len() != expected_len {
            return Err(ChunkError::Malformed);
        }
        let key = (
            c.term,
            c.last_included_index,
            c.last_included_term,
            c.total,
            c.crc,
        );
        let t = self.transfers.entry(c.src).or_insert_with(|| Transfer {
            key,
            data: Vec::new(),
            have: Vec::new(),
            missing: 0,
        });
        if t.key != key || t.have.len() != chunks {
            *t = Transfer {
                key,
                data: vec![0; total],
                have: vec![false; chunks],
                missing: chunks,
            };
        }
        if !t.have[slot] {
            let at = c.offset as usize;
            t.data[at..at + c.bytes.len()].copy_from_slice(&c.bytes);
            t.have[slot] = true;
            t.missing -= 1;
        }
        if t.missing > 0 {
            return Ok(None);
        }
        let done = self.transfers.remove(&c.src).ok_or(ChunkError::Malformed)?;
        if crc32fast::hash(&done.data) != c.crc {
            return Err(ChunkError::Corrupt);
        }
        let data = match postcard::take_from_bytes::<KvStore>(&done.data) {
            Ok((kv, [])) => kv,
            _ => return Err(ChunkError::Corrupt),
        };
        Ok(Some(Msg::InstallSnapshot(InstallSnapshot {
            term: c.term,
            last_included_index: c.last_included_index,
            last_included_term: c.last_included_term,
            data,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(keys: usize) -> InstallSnapshot {
        let mut data = KvStore::default();
        for k in 0..keys {
            data.data
                .insert(format!("key-{k}").into(), "v".repeat(100).into());
        }
        InstallSnapshot {
            term: 3,
            last_included_index: 40,
            last_included_term: 2,
            data,
        }
    }

    fn chunks(w: Vec<Wire>) -> Vec<Chunk> {
        w.into_iter()
            .map(|w| match w {
                Wire::SnapshotChunk(c) => *c,
                other => panic!("not a chunk: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_snapshot_arrives_whole_in_any_order_with_duplicates_and_fits_datagrams() {
        let m = snapshot(2000);
        let parts = chunks(split(Id::from(0), Id::from(1), &m).unwrap());
        assert!(parts.len() > 3, "{} chunks", parts.len());
        for p in &parts {
            let w = Wire::SnapshotChunk(Box::new(p.clone()));
            let bytes = crate::wire::encode(u64::MAX, &w, None).unwrap();
            // With a secret the datagram carries a tag too.
            assert!(bytes.len() + crate::auth::TAG_LEN <= MAX_DATAGRAM);
        }
        let mut r = Reassembly::default();
        let mut order: Vec<Chunk> = parts.iter().rev().cloned().collect();
        order.insert(1, parts[1].clone());
        let last = order.pop().unwrap();
        for p in order {
            assert_eq!(r.take(p), Ok(None));
        }
        assert_eq!(r.take(last), Ok(Some(Msg::InstallSnapshot(m.clone()))));
        // An empty snapshot is one chunk.
        let empty = snapshot(0);
        let one = chunks(split(Id::from(0), Id::from(1), &empty).unwrap());
        assert_eq!(one.len(), 1);
        assert_eq!(
            r.take(one[0].clone()),
            Ok(Some(Msg::InstallSnapshot(empty)))
        );
    }

    #[test]
    fn a_newer_snapshot_starts_over_and_bad_chunks_are_refused() {
        let (a, mut b) = (snapshot(2000), snapshot(2000));
        b.last_included_index = 41;
        let pa = chunks(split(Id::from(0), Id::from(1), &a).unwrap());
        let pb = chunks(split(Id::from(0), Id::from(1), &b).unwrap());
        let mut r = Reassembly::default();
        assert_eq!(r.take(pa[0].clone()), Ok(None));
        for p in &pb[..pb.len() - 1] {
            assert_eq!(r.take(p.clone()), Ok(None));
        }
        // A's chunk now starts A over; B is finished by its last chunk only after
        // starting over again.
        assert_eq!(r.take(pa[1].clone()), Ok(None));
        let mut bad = pb[0].clone();
        bad.offset = 1;
        assert_eq!(r.take(bad), Err(ChunkError::Malformed));
        let mut huge = pb[0].clone();
        huge.total = MAX_SNAPSHOT_BYTES + 1;
        assert_eq!(r.take(huge), Err(ChunkError::Malformed));
        let mut flipped: Vec<Chunk> = pb.clone();
        flipped[0].bytes[3] ^= 1;
        let mut r = Reassembly::default();
        let last = flipped.pop().unwrap();
        for p in flipped {
            assert_eq!(r.take(p), Ok(None));
        }
        assert_eq!(r.take(last), Err(ChunkError::Corrupt));
    }
}

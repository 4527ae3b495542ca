//! What travels in a datagram.
//!
//! Layout: a 4-byte magic, the cluster id (u64, little-endian), the
//! [postcard](https://docs.rs/postcard) encoding of a [`Wire`], and, when the
//! cluster has a shared secret, an HMAC-SHA256 tag of everything before it (see
//! [`crate::auth`]). postcard is serde-based (the model's types already derive
//! `Serialize`/`Deserialize`), compact (varint integers: a heartbeat is ~15 bytes),
//! has a documented, stable wire format, and decodes from a byte slice without
//! allocating more than the input warrants, so a hostile datagram cannot make a
//! node allocate gigabytes. The magic makes stray traffic from other programs (and
//! other versions of raftlab) fail fast; the cluster id makes another raftlab
//! cluster on the same ports fail next.
//!
//! Raft messages travel as [`Wire::Raft`], next to host-level status and control
//! datagrams, which are not model messages and never reach the actor.

use crate::auth::{Secret, TAG_LEN};
use crate::faults::{FaultPatch, Faults};
use raft_model::{Id, Msg, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Datagrams start with this: "RLB" and the wire version.
pub const MAGIC: [u8; 4] = *b"RLB\x02";

/// Magic and cluster id.
pub const HEADER: usize = 4 + 8;

/// The cluster id of a status request that does not know the cluster yet (a
/// client discovering it); no cluster has it.
pub const ANY_CLUSTER: u64 = 0;

/// The largest datagram a node accepts or sends. UDP allows 65,507 bytes over IPv4;
/// staying below leaves room, and larger datagrams are dropped and counted.
pub const MAX_DATAGRAM: usize = 60 * 1024;

/// The largest key + value a client operation may carry (the host's setting of
/// the model's `ServerConfig::max_op_bytes`).
pub const MAX_OP_BYTES: usize = 1024;

/// The most bytes of entries one AppendEntries carries (the host's setting of
/// `ServerConfig::max_append_bytes`): with the envelope, well under
/// [`MAX_DATAGRAM`] whatever the entries (`full_append_entries_fits_a_datagram`).
pub const MAX_APPEND_BYTES: usize = 48 * 1024;

/// How many entries the host lets one AppendEntries carry (a host setting of the
/// model's `ServerConfig::max_entries_per_append`); the byte limit binds first for
/// large entries.
pub const MAX_ENTRIES_PER_APPEND: usize = 64;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Wire {
    /// A model message from actor `src` to actor `dst`. A node checks `src` against
    /// the sender's address: only peers[i] may speak as server i.
    Raft {
        src: Id,
        dst: Id,
        msg: Msg,
    },
    /// Ask a node for its [`NodeStatus`].
    Status {
        nonce: u64,
    },
    StatusReply(Box<NodeStatus>),
    /// Change a node's injected faults.
    Control {
        nonce: u64,
        patch: FaultPatch,
    },
    /// The faults now in force, or why the patch was refused.
    ControlReply {
        nonce: u64,
        result: Result<Faults, String>,
    },
    /// A piece of an InstallSnapshot too large for one datagram
    /// (`crate::snapshot_transfer`).
    SnapshotChunk(Box<crate::snapshot_transfer::Chunk>),
}

/// Incoming datagrams dropped, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Larger than [`MAX_DATAGRAM`], or an operation or batch over the model's
    /// size limits.
    pub oversize: u64,
    /// Not a raftlab datagram: wrong magic, or does not decode.
    pub malformed: u64,
    /// Claims to come from a server but not from that server's address, or from an
    /// id that is neither a server nor a client, or is not for this node.
    pub foreign: u64,
    /// From a server this node is partitioned from (fault injection).
    pub partitioned: u64,
    /// Of another cluster (another cluster id).
    pub other_cluster: u64,
    /// Without a valid tag of the cluster's secret, or a control request from
    /// outside loopback when the cluster has no secret.
    pub unauthenticated: u64,
    /// Well-formed datagrams whose message the model refuses (what Raft never
    /// sends: a term or index out of range, a reply beyond what was sent...), by
    /// the model's reason.
    pub refused: BTreeMap<String, u64>,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.oversize
            + self.malformed
            + self.foreign
            + self.partitioned
            + self.other_cluster
            + self.unauthenticated
            + self.refused_total()
    }

    pub fn refused_total(&self) -> u64 {
        self.refused.values().sum()
    }
}

/// Outgoing datagrams not sent as asked, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsent {
    /// A reply for a client whose address this node does not know (e.g. it learned
    /// of the request from a previous leader's log).
    pub no_route: u64,
    /// Encoded larger than [`MAX_DATAGRAM`].
    pub too_large: u64,
    /// The operating system refused the send.
    pub errors: u64,
    /// Dropped by fault injection (drop probability or partition).
    pub injected_drops: u64,
    /// Sent twice by fault injection.
    pub injected_duplicates: u64,
    /// Held back by fault injection.
    pub injected_delays: u64,
}

/// What `raftlab client status` shows for one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub nonce: u64,
    /// 0-based server index (S1 is 0).
    pub index: u64,
    pub servers: u64,
    pub role: Role,
    pub term: u64,
    pub voted_for: Option<u64>,
    pub leader_hint: Option<u64>,
    /// The log's length as the paper counts it: the index of its last entry
    /// (the entries up to `snapshot_index` are in the snapshot).
    pub log_len: u64,
    /// The snapshot's last included index (0: none).
    pub snapshot_index: u64,
    pub commit_index: u64,
    pub dropped: Dropped,
    pub unsent: Unsent,
    pub faults: Faults,
    /// Client addresses remembered for replies.
    pub clients_known: u64,
    /// Durable saves done (each one frame appended to the log and fdatasynced).
    pub saves: u64,
    /// The cluster this node belongs to.
    pub cluster_id: u64,
    /// InstallSnapshot messages reassembled from their chunks and delivered.
    pub snapshots_received: u64,
}

/// Why a datagram was refused at the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Oversize,
    Malformed,
    /// The cluster has a secret and the datagram's tag is missing or wrong.
    Unauthenticated,
}

/// A datagram: `w` for cluster `cluster`, tagged with `secret` if there is one.
pub fn encode(cluster: u64, w: &Wire, secret: Option<&Secret>) -> Result<Vec<u8>, postcard::Error> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&cluster.to_le_bytes());
    let mut out = postcard::to_extend(w, out)?;
    if let Some(s) = secret {
        let tag = s.tag(&out);
        out.extend_from_slice(&tag);
    }
    Ok(out)
}

/// Decodes one datagram into its cluster id and contents, refusing anything
/// oversized, without the magic, without a valid tag (when there is a secret), or
/// with trailing bytes.
pub fn decode(bytes: &[u8], secret: Option<&Secret>) -> Result<(u64, Wire), DecodeError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(DecodeError::Oversize);
    }
    let signed = match secret {
        Some(s) => {
            let cut = bytes
                .len()
                .checked_sub(TAG_LEN)
                .ok_or(DecodeError::Unauthenticated)?;
            let (signed, tag) = bytes.split_at(cut);
            if !s.verify(signed, tag) {
                return Err(DecodeError::Unauthenticated);
            }
            signed
        }
        None => bytes,
    };
    let rest = signed.strip_prefix(&MAGIC).ok_or(DecodeError::Malformed)?;
    let (id, body) = rest.split_at_checked(8).ok_or(DecodeError::Malformed)?;
    let cluster = u64::from_le_bytes(id.try_into().map_err(|_| DecodeError::Malformed)?);
    match postcard::take_from_bytes::<Wire>(body) {
        Ok((w, [])) => Ok((cluster, w)),
        _ => Err(DecodeError::Malformed),
    }
}

/// Client ids have the top bit set, so they never collide with server ids `0..n`.
pub const CLIENT_ID_BIT: u64 = 1 << 63;

// Ids are `usize` in stateright; client ids need all 64 bits.
const _: () = assert!(usize::BITS == 64, "raftlab needs a 64-bit platform");

pub fn id_to_u64(id: Id) -> u64 {
    usize::from(id) as u64
}

pub fn id_from_u64(v: u64) -> Id {
    Id::from(v as usize)
}

pub fn is_client_id(id: Id) -> bool {
    id_to_u64(id) & CLIENT_ID_BIT != 0
}

/// A fresh client id: 63 bits from the operating system's randomness (see
/// [`crate::random`]), the top bit set.
pub fn random_client_id() -> Id {
    id_from_u64(crate::random::u64() | CLIENT_ID_BIT)
}

/// The size a client operation adds to a log entry (the model's measure).
pub use raft_model::op_bytes;

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::{limits::batch_len, AppendEntries, Entry, Op};

    const C: u64 = 0x1234_5678_9abc_def0;

    #[test]
    fn round_trip() {
        let w = Wire::Raft {
            src: Id::from(1),
            dst: random_client_id(),
            msg: Msg::AppendEntries(AppendEntries {
                term: 3,
                prev_log_index: 1,
                prev_log_term: 1,
                entries: vec![Entry {
                    term: 3,
                    client: random_client_id(),
                    seq: 7,
                    op: Op::Put {
                        key: "k".into(),
                        value: "v".into(),
                    },
                }],
                leader_commit: 1,
            }),
        };
        let bytes = encode(C, &w, None).unwrap();
        assert_eq!(decode(&bytes, None), Ok((C, w.clone())));
        let secret = Secret::new(b"sixteen byte key!").unwrap();
        let signed = encode(C, &w, Some(&secret)).unwrap();
        assert_eq!(signed.len(), bytes.len() + TAG_LEN);
        assert_eq!(decode(&signed, Some(&secret)), Ok((C, w)));
    }

    #[test]
    fn refuses_garbage_oversize_trailing_bytes_and_bad_tags() {
        assert_eq!(decode(b"", None), Err(DecodeError::Malformed));
        assert_eq!(decode(b"hello world", None), Err(DecodeError::Malformed));
        assert_eq!(
            decode(&vec![0; MAX_DATAGRAM + 1], None),
            Err(DecodeError::Oversize)
        );
        let mut bytes = encode(C, &Wire::Status { nonce: 1 }, None).unwrap();
        bytes.push(0);
        assert_eq!(decode(&bytes, None), Err(DecodeError::Malformed));
        // A truncated datagram never panics, whatever the cut.
        let full = encode(C, &Wire::Status { nonce: u64::MAX }, None).unwrap();
        for cut in 0..full.len() {
            assert!(decode(&full[..cut], None).is_err());
        }
        // With a secret: no tag, a wrong tag, another secret's tag, a flipped bit.
        let a = Secret::new(b"the cluster's secret").unwrap();
        let b = Secret::new(b"another cluster's secret").unwrap();
        let w = Wire::Status { nonce: 9 };
        let unsigned = encode(C, &w, None).unwrap();
        let signed = encode(C, &w, Some(&a)).unwrap();
        let Err(DecodeError::Unauthenticated) = decode(&unsigned, Some(&a)) else {
            panic!("an untagged datagram passed")
        };
        assert_eq!(
            decode(&encode(C, &w, Some(&b)).unwrap(), Some(&a)),
            Err(DecodeError::Unauthenticated)
        );
        for i in 0..signed.len() {
            let mut bad = signed.clone();
            bad[i] ^= 0x10;
            assert_eq!(
                decode(&bad, Some(&a)),
                Err(DecodeError::Unauthenticated),
                "byte {i}"
            );
        }
        assert!(Secret::new(b"short").is_err());
    }

    /// The largest AppendEntries the model sends under the host's limits (the
    /// batch the model's `batch_end` picks from a log of the largest entries,
    /// with every number at its widest), tagged, fits a datagram.
    #[test]
    fn full_append_entries_fits_a_datagram() {
        let big: raft_model::Text = "x".repeat(MAX_OP_BYTES / 2).into();
        let entry = Entry {
            term: u64::MAX,
            client: id_from_u64(u64::MAX),
            seq: u64::MAX,
            op: Op::Append {
                key: big.clone(),
                value: big,
            },
        };
        let log = vec![entry; 1000];
        let end = batch_len(&log, MAX_ENTRIES_PER_APPEND, MAX_APPEND_BYTES);
        assert!(end < MAX_ENTRIES_PER_APPEND, "the byte limit binds: {end}");
        let w = Wire::Raft {
            src: Id::from(0),
            dst: Id::from(1),
            msg: Msg::AppendEntries(AppendEntries {
                term: u64::MAX,
                prev_log_index: u64::MAX,
                prev_log_term: u64::MAX,
                entries: log[..end].to_vec(),
                leader_commit: u64::MAX,
            }),
        };
        let secret = Secret::new(b"sixteen byte key!").unwrap();
        let len = encode(u64::MAX, &w, Some(&secret)).unwrap().len();
        assert!(len <= MAX_DATAGRAM, "{len} bytes");
    }
}

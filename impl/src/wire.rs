//! What travels in a datagram.
//!
//! Encoding: [postcard](https://docs.rs/postcard), after a 4-byte magic. postcard is
//! serde-based (the model's types already derive `Serialize`/`Deserialize`), compact
//! (varint integers: a heartbeat is ~15 bytes), has a documented, stable wire format,
//! and decodes from a byte slice without allocating more than the input warrants, so
//! a hostile datagram cannot make a node allocate gigabytes. The magic makes stray
//! traffic from other programs (and other versions of raftlab) fail fast.
//!
//! Raft messages travel as [`Wire::Raft`], next to host-level status and control
//! datagrams, which are not model messages and never reach the actor.

use crate::faults::{FaultPatch, Faults};
use raft_model::{Id, Msg, Role};
use serde::{Deserialize, Serialize};

/// Datagrams start with this: "RLB" and the wire version.
pub const MAGIC: [u8; 4] = *b"RLB\x01";

/// The largest datagram a node accepts or sends. UDP allows 65,507 bytes over IPv4;
/// staying below leaves room, and larger datagrams are dropped and counted.
pub const MAX_DATAGRAM: usize = 60 * 1024;

/// The largest key + value a client operation may carry. With
/// [`MAX_ENTRIES_PER_APPEND`] entries per AppendEntries, a full AppendEntries stays
/// below [`MAX_DATAGRAM`], so replication can never get stuck on a message that is
/// too large to send.
pub const MAX_OP_BYTES: usize = 1024;

/// How many entries the host lets one AppendEntries carry (a host setting of the
/// model's `ServerConfig::max_entries_per_append`).
pub const MAX_ENTRIES_PER_APPEND: usize = 32;

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
    /// Larger than [`MAX_DATAGRAM`], or a client operation over [`MAX_OP_BYTES`].
    pub oversize: u64,
    /// Not a raftlab datagram: wrong magic, or does not decode.
    pub malformed: u64,
    /// Claims to come from a server but not from that server's address, or from an
    /// id that is neither a server nor a client, or is not for this node.
    pub foreign: u64,
    /// From a server this node is partitioned from (fault injection).
    pub partitioned: u64,
}

impl Dropped {
    pub fn total(&self) -> u64 {
        self.oversize + self.malformed + self.foreign + self.partitioned
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
    /// InstallSnapshot messages reassembled from their chunks and delivered.
    pub snapshots_received: u64,
}

/// Why a datagram was refused at the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    Oversize,
    Malformed,
}

pub fn encode(w: &Wire) -> Result<Vec<u8>, postcard::Error> {
    let mut out = MAGIC.to_vec();
    out.extend(postcard::to_allocvec(w)?);
    Ok(out)
}

/// Decodes one datagram, refusing anything oversized, without the magic, or with
/// trailing bytes.
pub fn decode(bytes: &[u8]) -> Result<Wire, DecodeError> {
    if bytes.len() > MAX_DATAGRAM {
        return Err(DecodeError::Oversize);
    }
    let body = bytes.strip_prefix(&MAGIC).ok_or(DecodeError::Malformed)?;
    match postcard::take_from_bytes::<Wire>(body) {
        Ok((w, [])) => Ok(w),
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

/// A fresh random client id.
pub fn random_client_id() -> Id {
    id_from_u64(fastrand::u64(..) | CLIENT_ID_BIT)
}

/// The size a client operation adds to a log entry, for the [`MAX_OP_BYTES`] limit.
pub fn op_bytes(op: &raft_model::Op) -> usize {
    match op {
        raft_model::Op::Put { key, value } | raft_model::Op::Append { key, value } => {
            key.len() + value.len()
        }
        raft_model::Op::Get { key } => key.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::{AppendEntries, Entry, Op};

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
        let bytes = encode(&w).unwrap();
        assert_eq!(decode(&bytes), Ok(w));
    }

    #[test]
    fn refuses_garbage_oversize_and_trailing_bytes() {
        assert_eq!(decode(b""), Err(DecodeError::Malformed));
        assert_eq!(decode(b"hello world"), Err(DecodeError::Malformed));
        assert_eq!(
            decode(&vec![0; MAX_DATAGRAM + 1]),
            Err(DecodeError::Oversize)
        );
        let mut bytes = encode(&Wire::Status { nonce: 1 }).unwrap();
        bytes.push(0);
        assert_eq!(decode(&bytes), Err(DecodeError::Malformed));
        // A truncated datagram never panics, whatever the cut.
        let full = encode(&Wire::Status { nonce: u64::MAX }).unwrap();
        for cut in 0..full.len() {
            assert!(decode(&full[..cut]).is_err());
        }
    }

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
        let w = Wire::Raft {
            src: Id::from(0),
            dst: Id::from(1),
            msg: Msg::AppendEntries(AppendEntries {
                term: u64::MAX,
                prev_log_index: u64::MAX,
                prev_log_term: u64::MAX,
                entries: vec![entry; MAX_ENTRIES_PER_APPEND],
                leader_commit: u64::MAX,
            }),
        };
        assert!(encode(&w).unwrap().len() <= MAX_DATAGRAM);
    }
}

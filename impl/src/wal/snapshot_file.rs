//! Snapshot files: the service's state at `last_included_index`, as opaque bytes.
//!
//! Layout: magic `RAFTSNAP`, version (u32 LE), node index and cluster size (u64 LE
//! each), `last_included_index` and `last_included_term` (u64 LE each), the data's
//! length (u64 LE) and CRC-32 (u32 LE), the CRC-32 of the header so far (u32 LE),
//! then the data. The log refers to a snapshot by file name, length and CRC, so a
//! snapshot file that is replaced, cut or damaged is noticed.
//!
//! A snapshot file is written once, atomically, before the checkpoint that refers
//! to it, and deleted only once a newer checkpoint no longer refers to it.

use super::files::write_atomic;
use super::record::SnapshotRef;
use super::StorageError;
use raft_model::{LogIndex, Term};
use std::fs::{self, File};
use std::io;
use std::path::Path;

pub const SNAPSHOT_HEADER: usize = 8 + 4 + 8 * 5 + 4 + 4;
const MAGIC: [u8; 8] = *b"RAFTSNAP";
const VERSION: u32 = 1;

/// A snapshot in memory: what it covers and the service state's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub last_included_index: LogIndex,
    pub last_included_term: Term,
    pub data: Vec<u8>,
}

/// Who wrote a file: a directory is never used by another node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub index: u64,
    pub servers: u64,
}

fn encode(owner: Owner, s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER + s.data.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    for v in [
        owner.index,
        owner.servers,
        s.last_included_index,
        s.last_included_term,
        s.data.len() as u64,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&crc32fast::hash(&s.data).to_le_bytes());
    let header_crc = crc32fast::hash(&out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&s.data);
    out
}

/// Writes `s` to `dir/name` atomically and returns the reference the log keeps.
pub fn write(
    dir: &Path,
    dir_handle: &File,
    name: &str,
    owner: Owner,
    s: &Snapshot,
) -> io::Result<SnapshotRef> {
    write_atomic(dir, dir_handle, name, &encode(owner, s))?;
    Ok(SnapshotRef {
        last_included_index: s.last_included_index,
        last_included_term: s.last_included_term,
        file: name.to_string(),
        len: s.data.len() as u64,
        crc: crc32fast::hash(&s.data),
    })
}

/// Reads the snapshot `r` refers to, checking everything the reference and the
/// file's own checksums say.
pub fn read(
    dir: &Path,
    r: &SnapshotRef,
    owner: Owner,
    referrer: &str,
) -> Result<Snapshot, StorageError> {
    if r.file.is_empty() || r.file.contains(['/', '\\']) || r.file.starts_with('.') {
        return Err(StorageError::corrupt(
            dir.join(referrer),
            None,
            format!(
                "refers to a snapshot file named {:?}, which is not a plain file name",
                r.file
            ),
        ));
    }
    let path = dir.join(&r.file);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(StorageError::corrupt(
                path,
                None,
                format!("is missing, but the log ({referrer}) refers to it"),
            ))
        }
        Err(e) => return Err(StorageError::unreadable(path, &e)),
    };
    let bad = |offset: usize, problem: String| {
        StorageError::corrupt(path.clone(), Some(offset as u64), problem)
    };
    let Some(h) = bytes.get(..SNAPSHOT_HEADER) else {
        return Err(bad(
            bytes.len(),
            format!("is truncated: it ends inside its {SNAPSHOT_HEADER}-byte header"),
        ));
    };
    if h[..8] != MAGIC {
        return Err(bad(
            0,
            "is not a raftlab snapshot (bad magic number)".into(),
        ));
    }
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&h[i..i + 8]);
        u64::from_le_bytes(b)
    };
    if crc32fast::hash(&h[..SNAPSHOT_HEADER - 4]) != u32_at(SNAPSHOT_HEADER - 4) {
        return Err(bad(0, "is corrupt: its header fails its checksum".into()));
    }
    let version = u32_at(8);
    if version != VERSION {
        return Err(bad(
            8,
            format!("has format version {version}, but this raftlab reads version {VERSION}"),
        ));
    }
    let (index, servers) = (u64_at(12), u64_at(20));
    if (index, servers) != (owner.index, owner.servers) {
        return Err(StorageError::other_node(path, index, servers, owner));
    }
    let fields = [
        ("last included index", u64_at(28), r.last_included_index, 28),
        ("last included term", u64_at(36), r.last_included_term, 36),
        ("data length", u64_at(44), r.len, 44),
        ("data checksum", u64::from(u32_at(52)), u64::from(r.crc), 52),
    ];
    for (what, here, logged, at) in fields {
        if here != logged {
            return Err(bad(
                at,
                format!("has {what} {here}, but the log ({referrer}) expects {logged}: it is not the snapshot the log refers to"),
            ));
        }
    }
    let data = &bytes[SNAPSHOT_HEADER..];
    if data.len() as u64 != r.len {
        return Err(bad(
            SNAPSHOT_HEADER,
            format!(
                "holds {} bytes of data, its header says {}",
                data.len(),
                r.len
            ),
        ));
    }
    if crc32fast::hash(data) != r.crc {
        return Err(bad(
            SNAPSHOT_HEADER,
            "is corrupt: its data fails its checksum".into(),
        ));
    }
    Ok(Snapshot {
        last_included_index: r.last_included_index,
        last_included_term: r.last_included_term,
        data: data.to_vec(),
    })
}

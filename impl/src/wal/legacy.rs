//! The storage format before the log: one file, `raft-state.bin`, holding the whole
//! persistent state (magic `RAFTLAB\0`, version u32 LE, payload length u64 LE,
//! CRC-32 u32 LE, postcard of `{ index, servers, state }`). A data directory that
//! still has one is imported into the log once, so that an upgrade loses nothing;
//! the file is then renamed `raft-state.bin.imported` (kept, not deleted).

use super::{Owner, StorageError};
use raft_model::{Entry, Id, PersistentState, Term};
use serde::Deserialize;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "raft-state.bin";
pub const IMPORTED_NAME: &str = "raft-state.bin.imported";
const MAGIC: [u8; 8] = *b"RAFTLAB\0";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 4;

#[derive(Deserialize)]
struct Stored {
    index: u64,
    servers: u64,
    state: OldState,
}

/// The persistent state as that format held it (before snapshots).
#[derive(Deserialize)]
struct OldState {
    current_term: Term,
    voted_for: Option<Id>,
    log: Vec<Entry>,
}

/// The state in `dir/raft-state.bin`, if there is such a file.
pub fn read(dir: &Path, owner: Owner) -> Result<Option<(PathBuf, PersistentState)>, StorageError> {
    let path = dir.join(FILE_NAME);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::unreadable(path, &e)),
    };
    let stored = decode(&bytes)
        .map_err(|(at, problem)| StorageError::corrupt(path.clone(), Some(at as u64), problem))?;
    if (stored.index, stored.servers) != (owner.index, owner.servers) {
        return Err(StorageError::other_node(
            path,
            stored.index,
            stored.servers,
            owner,
        ));
    }
    let OldState {
        current_term,
        voted_for,
        log,
    } = stored.state;
    let state = PersistentState {
        current_term,
        voted_for,
        log: log.into(),
        snapshot: Default::default(),
    };
    Ok(Some((path, state)))
}

fn decode(bytes: &[u8]) -> Result<Stored, (usize, String)> {
    let Some(header) = bytes.get(..HEADER) else {
        return Err((
            bytes.len(),
            format!("is truncated (shorter than its {HEADER}-byte header)"),
        ));
    };
    if header[..8] != MAGIC {
        return Err((0, "is not a raftlab storage file (bad magic number)".into()));
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != VERSION {
        return Err((8, format!("has format version {version}, not {VERSION}")));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&header[12..20]);
    let payload = &bytes[HEADER..];
    if u64::from_le_bytes(len) != payload.len() as u64 {
        return Err((12, "is truncated or padded".into()));
    }
    let crc = u32::from_le_bytes([header[20], header[21], header[22], header[23]]);
    if crc != crc32fast::hash(payload) {
        return Err((HEADER, "is corrupt: checksum mismatch".into()));
    }
    match postcard::take_from_bytes::<Stored>(payload) {
        Ok((s, [])) => Ok(s),
        Ok(_) => Err((HEADER, "is corrupt: trailing bytes after the state".into())),
        Err(e) => Err((
            HEADER,
            format!("is corrupt: the state does not decode ({e})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::Op;
    use serde::Serialize;

    /// A file as the old storage wrote it.
    pub fn encode(index: u64, servers: u64, state: &PersistentState) -> Vec<u8> {
        #[derive(Serialize)]
        struct OldRef<'a> {
            current_term: Term,
            voted_for: Option<Id>,
            log: Vec<&'a Entry>,
        }
        #[derive(Serialize)]
        struct StoredRef<'a> {
            index: u64,
            servers: u64,
            state: OldRef<'a>,
        }
        let state = OldRef {
            current_term: state.current_term,
            voted_for: state.voted_for,
            log: state.log.iter().collect(),
        };
        let payload = postcard::to_allocvec(&StoredRef {
            index,
            servers,
            state,
        })
        .unwrap();
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn an_old_state_file_is_imported_once_and_kept() {
        let d = tempfile::tempdir().unwrap();
        let state = PersistentState {
            current_term: 4,
            voted_for: Some(Id::from(1)),
            log: vec![Entry {
                term: 4,
                client: Id::from(1usize << 63),
                seq: 1,
                op: Op::Get { key: "k".into() },
            }]
            .into(),
            snapshot: Default::default(),
        };
        fs::write(d.path().join(FILE_NAME), encode(1, 3, &state)).unwrap();
        let opts = super::super::WalOptions::default();
        let (s, loaded) = super::super::Store::open(d.path(), 1, 3, opts).unwrap();
        assert_eq!(loaded.state.as_ref(), Some(&state));
        drop(s);
        assert!(!d.path().join(FILE_NAME).exists());
        assert!(d.path().join(IMPORTED_NAME).exists());
        let (_, loaded) = super::super::Store::open(d.path(), 1, 3, opts).unwrap();
        assert_eq!(loaded.state, Some(state.clone()));
        // A damaged old file is refused, as the old storage refused it.
        let d = tempfile::tempdir().unwrap();
        let mut bytes = encode(1, 3, &state);
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(d.path().join(FILE_NAME), bytes).unwrap();
        let e = super::super::Store::open(d.path(), 1, 3, opts)
            .err()
            .unwrap();
        assert!(e.corrupt && e.problem.contains("checksum"), "{e}");
    }
}

//! Durable storage of a server's Figure 2 persistent state.
//!
//! One file, `raft-state.bin`, replaced atomically at every save: write a temporary
//! file, fsync it, rename it over the old one, fsync the directory (so the rename
//! itself survives a power cut). A crash at any point leaves either the old or the
//! new state, never a mix.
//!
//! Layout: `MAGIC` (8 bytes), format version (u32 LE), payload length (u64 LE),
//! CRC-32 of the payload (u32 LE), payload (postcard of [`Stored`]). The payload
//! names the node and cluster size it belongs to, so a data directory handed to the
//! wrong node is refused rather than used.
//!
//! A file that exists but cannot be read, is truncated, fails its checksum or does
//! not decode is a hard error: starting empty instead would let the node forget
//! votes and entries it acknowledged, which breaks Raft's safety.

use raft_model::PersistentState;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "raft-state.bin";
const TEMP_NAME: &str = "raft-state.bin.tmp";
const MAGIC: [u8; 8] = *b"RAFTLAB\0";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 4;

#[derive(Serialize, Deserialize)]
struct Stored {
    /// 0-based server index of the node that wrote the file.
    index: u64,
    servers: u64,
    state: PersistentState,
}

/// Why a storage file cannot be used.
#[derive(Debug)]
pub struct StorageError {
    pub path: PathBuf,
    pub problem: String,
    /// True if the file is present but unusable (as opposed to an I/O failure such
    /// as a permission problem).
    pub corrupt: bool,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage file {}: {}", self.path.display(), self.problem)?;
        if self.corrupt {
            write!(
                f,
                ".\nRefusing to start: starting with empty state could make this node forget \
                 votes and log entries it acknowledged, which breaks Raft safety.\n\
                 What to do: restore {} from a backup. If this node's data is truly lost, \
                 move the file away and restart the node only while the other nodes hold a \
                 majority with every acknowledged write (a node that forgot its state may \
                 otherwise help elect a leader that lacks committed entries).",
                self.path.display()
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for StorageError {}

/// A node's storage directory.
pub struct Storage {
    dir: PathBuf,
    index: u64,
    servers: u64,
    /// The directory, kept open to fsync it after each rename.
    dir_handle: File,
    /// Holds an exclusive lock on `DIR/lock` for as long as the node runs.
    _lock: File,
}

impl Storage {
    /// Opens (creating if needed) the data directory of server `index` of `servers`.
    pub fn open(dir: &Path, index: u64, servers: u64) -> Result<Self, StorageError> {
        let err = |problem: String| StorageError {
            path: dir.to_path_buf(),
            problem,
            corrupt: false,
        };
        fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create the data directory: {e}")))?;
        let dir_handle =
            File::open(dir).map_err(|e| err(format!("cannot open the data directory: {e}")))?;
        let lock = lock_dir(dir).map_err(err)?;
        Ok(Storage {
            dir: dir.to_path_buf(),
            index,
            servers,
            dir_handle,
            _lock: lock,
        })
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE_NAME)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The saved state, or `None` if this node has never saved (a fresh node).
    pub fn load(&self) -> Result<Option<PersistentState>, StorageError> {
        // A temp file is a save that crashed before its rename: never durable, so no
        // message depended on it. Removing it is safe.
        let _ = fs::remove_file(self.dir.join(TEMP_NAME));
        self.load_file(self.path())
    }

    /// The state in `path`, a file in this storage's format (`load` reads the
    /// current one; a test-only host fault reads a kept older copy).
    pub fn load_file(&self, path: PathBuf) -> Result<Option<PersistentState>, StorageError> {
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StorageError {
                    path,
                    problem: format!("cannot be read ({e}); fix its permissions or restore it"),
                    corrupt: false,
                })
            }
        };
        let stored = decode(&bytes).map_err(|problem| StorageError {
            path: path.clone(),
            problem,
            corrupt: true,
        })?;
        if stored.index != self.index || stored.servers != self.servers {
            return Err(StorageError {
                path,
                problem: format!(
                    "belongs to {} of a {}-node cluster, but this node was started as {} of \
                     {}: check --id, --peers and --data",
                    raft_model::name::server(raft_model::Id::from(stored.index as usize)),
                    stored.servers,
                    raft_model::name::server(raft_model::Id::from(self.index as usize)),
                    self.servers
                ),
                corrupt: false,
            });
        }
        Ok(Some(stored.state))
    }

    /// Saves `state` durably: when this returns `Ok`, a crash cannot lose it.
    pub fn save(&self, state: &PersistentState) -> io::Result<()> {
        let bytes = encode(self.index, self.servers, state)?;
        let temp = self.dir.join(TEMP_NAME);
        let mut f = File::create(&temp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&temp, self.path())?;
        self.dir_handle.sync_all()
    }
}

/// Two nodes sharing a data directory would overwrite each other's votes and logs:
/// take an advisory lock that the OS releases when the process dies, even by SIGKILL.
fn lock_dir(dir: &Path) -> Result<File, String> {
    use std::os::fd::AsRawFd;
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(|e| format!("cannot create the lock file: {e}"))?;
    // SAFETY: flock(2) on a file descriptor that `f` owns and keeps open.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        return Err(format!(
            "is in use by another running node ({}); give each node its own --data",
            io::Error::last_os_error()
        ));
    }
    Ok(f)
}

fn encode(index: u64, servers: u64, state: &PersistentState) -> io::Result<Vec<u8>> {
    // Serializing borrows `state`'s fields; a clone of the log would cost a copy per save.
    #[derive(Serialize)]
    struct StoredRef<'a> {
        index: u64,
        servers: u64,
        state: &'a PersistentState,
    }
    let payload = postcard::to_allocvec(&StoredRef {
        index,
        servers,
        state,
    })
    .map_err(|e| io::Error::other(format!("cannot encode the state: {e}")))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn decode(bytes: &[u8]) -> Result<Stored, String> {
    if bytes.len() < HEADER {
        return Err(format!(
            "is truncated ({} bytes, shorter than its {HEADER}-byte header)",
            bytes.len()
        ));
    }
    let (header, payload) = bytes.split_at(HEADER);
    if header[..8] != MAGIC {
        return Err("is not a raftlab storage file (bad magic number)".into());
    }
    let field = |r: std::ops::Range<usize>| header[r].to_vec();
    let version = u32::from_le_bytes(field(8..12).try_into().unwrap_or([0; 4]));
    if version != VERSION {
        return Err(format!(
            "has format version {version}, but this raftlab reads version {VERSION}"
        ));
    }
    let len = u64::from_le_bytes(field(12..20).try_into().unwrap_or([0; 8]));
    if len != payload.len() as u64 {
        return Err(format!(
            "is truncated or padded: its header says {len} bytes of state, it holds {}",
            payload.len()
        ));
    }
    let crc = u32::from_le_bytes(field(20..24).try_into().unwrap_or([0; 4]));
    if crc != crc32fast::hash(payload) {
        return Err("is corrupt: checksum mismatch".into());
    }
    match postcard::take_from_bytes::<Stored>(payload) {
        Ok((s, [])) => Ok(s),
        Ok(_) => Err("is corrupt: trailing bytes after the state".into()),
        Err(e) => Err(format!("is corrupt: the state does not decode ({e})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::{Entry, Id, Op};

    fn sample() -> PersistentState {
        PersistentState {
            current_term: 5,
            voted_for: Some(Id::from(2)),
            log: vec![Entry {
                term: 4,
                client: crate::wire::id_from_u64(crate::wire::CLIENT_ID_BIT | 42),
                seq: 1,
                op: Op::Put {
                    key: "k".into(),
                    value: "v".into(),
                },
            }],
        }
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "raftlab-storage-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn missing_file_is_a_fresh_node_and_save_load_round_trips() {
        let dir = temp_dir("rt");
        let s = Storage::open(&dir, 1, 3).unwrap();
        assert_eq!(s.load().unwrap(), None);
        s.save(&sample()).unwrap();
        assert_eq!(s.load().unwrap(), Some(sample()));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn every_single_byte_corruption_is_detected() {
        let dir = temp_dir("corrupt");
        let s = Storage::open(&dir, 0, 3).unwrap();
        s.save(&sample()).unwrap();
        let good = fs::read(s.path()).unwrap();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x5a;
            fs::write(s.path(), &bad).unwrap();
            let e = s.load().expect_err("corruption must be detected");
            assert!(e.corrupt, "byte {i}: {e}");
            assert!(e.to_string().contains(FILE_NAME));
        }
        for cut in 0..good.len() {
            fs::write(s.path(), &good[..cut]).unwrap();
            assert!(
                s.load().is_err(),
                "truncation to {cut} bytes must be detected"
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_data_directory_serves_one_node_at_a_time() {
        let dir = temp_dir("lock");
        let first = Storage::open(&dir, 0, 3).unwrap();
        let e = Storage::open(&dir, 1, 3)
            .err()
            .expect("second open must fail");
        assert!(e.to_string().contains("in use"), "{e}");
        drop(first);
        assert!(Storage::open(&dir, 1, 3).is_ok());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_nodes_storage_is_refused() {
        let dir = temp_dir("other");
        Storage::open(&dir, 0, 3).unwrap().save(&sample()).unwrap();
        let e = Storage::open(&dir, 1, 3).unwrap().load().unwrap_err();
        assert!(e.to_string().contains("belongs to S1"), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }
}

//! File-system steps the log relies on: an exclusive lock on the data directory,
//! files that appear whole or not at all, and the names of the log's files.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Suffix of a file being written; it has its final name only once it is durable.
pub const TEMP_SUFFIX: &str = ".tmp";

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
const SNAPSHOT_PREFIX: &str = "snap-";
const SNAPSHOT_SUFFIX: &str = ".bin";

pub fn segment_name(seq: u64) -> String {
    format!("{SEGMENT_PREFIX}{seq:020}{SEGMENT_SUFFIX}")
}

pub fn snapshot_name(seq: u64) -> String {
    format!("{SNAPSHOT_PREFIX}{seq:020}{SNAPSHOT_SUFFIX}")
}

fn parse(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn parse_segment_name(name: &str) -> Option<u64> {
    parse(name, SEGMENT_PREFIX, SEGMENT_SUFFIX)
}

pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    parse(name, SNAPSHOT_PREFIX, SNAPSHOT_SUFFIX)
}

/// The log's files in `dir`: segment numbers and snapshot numbers, each sorted, and
/// the names of temporary files (writes that never completed).
pub struct Listing {
    pub segments: Vec<u64>,
    pub snapshots: Vec<u64>,
    pub temps: Vec<String>,
}

pub fn list(dir: &Path) -> io::Result<Listing> {
    let mut l = Listing {
        segments: Vec::new(),
        snapshots: Vec::new(),
        temps: Vec::new(),
    };
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = parse_segment_name(name) {
            l.segments.push(seq);
        } else if let Some(seq) = parse_snapshot_name(name) {
            l.snapshots.push(seq);
        } else if let Some(base) = name.strip_suffix(TEMP_SUFFIX) {
            if parse_segment_name(base).is_some() || parse_snapshot_name(base).is_some() {
                l.temps.push(name.to_string());
            }
        }
    }
    l.segments.sort_unstable();
    l.snapshots.sort_unstable();
    Ok(l)
}

/// Creates `dir/name` with `bytes`, atomically: a temporary file, fsync, rename,
/// fsync of the directory (so that the rename itself survives a power cut).
/// Returns the file, open for appending.
pub fn write_atomic(dir: &Path, dir_handle: &File, name: &str, bytes: &[u8]) -> io::Result<File> {
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    let mut f = File::create(&temp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    let path = dir.join(name);
    fs::rename(&temp, &path)?;
    dir_handle.sync_all()?;
    File::options().append(true).open(path)
}

/// Two nodes sharing a data directory would overwrite each other's votes and logs:
/// take an advisory lock that the OS releases when the process dies, even by SIGKILL.
pub fn lock_dir(dir: &Path) -> Result<File, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back_and_strangers_do_not() {
        for seq in [0, 1, 42, u64::MAX] {
            assert_eq!(parse_segment_name(&segment_name(seq)), Some(seq));
            assert_eq!(parse_snapshot_name(&snapshot_name(seq)), Some(seq));
            assert_eq!(parse_segment_name(&snapshot_name(seq)), None);
        }
        for name in [
            "wal-1.log",
            "wal-0000000000000000000x.log",
            "lock",
            "raft-state.bin",
        ] {
            assert_eq!(parse_segment_name(name), None, "{name}");
        }
    }
}

//! The cluster id every datagram names, so that nodes of another cluster on the
//! same addresses (an old cluster still running, a test next door) are ignored
//! and counted. It is chosen when a cluster is first started and kept in each
//! node's data directory (`DIR/cluster-id`, hex), beside the Raft state, so that
//! a restarted node stays in its cluster and a data directory cannot be started
//! in another one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "cluster-id";

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// The id kept in `dir`, if there is one.
pub fn read(dir: &Path) -> Result<Option<u64>, String> {
    let p = path(dir);
    match fs::read_to_string(&p) {
        Ok(text) => parse(text.trim())
            .map(Some)
            .map_err(|e| format!("{}: {e}; restore it or move it away", p.display())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", p.display())),
    }
}

/// A cluster id as written: 16 hex digits (an optional `0x`), never zero.
pub fn parse(s: &str) -> Result<u64, String> {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    match u64::from_str_radix(digits, 16) {
        Ok(0) | Err(_) => Err(format!(
            "'{s}' is not a cluster id (up to 16 hex digits, not all zero)"
        )),
        Ok(v) => Ok(v),
    }
}

pub fn text(id: u64) -> String {
    format!("{id:016x}")
}

/// Writes `id` to `dir` durably (temporary file, fsync, rename, fsync the
/// directory).
pub fn write(dir: &Path, id: u64) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let tmp = dir.join("cluster-id.tmp");
    let mut f = File::create(&tmp)?;
    writeln!(f, "{}", text(id))?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path(dir))?;
    File::open(dir)?.sync_all()
}

/// The id of the cluster whose data is in `dir`: the kept one; else `given`, or
/// else `fresh()`, then kept. A kept id that differs from `given` is an error:
/// the directory belongs to another cluster.
pub fn settle(dir: &Path, given: Option<u64>, fresh: impl FnOnce() -> u64) -> Result<u64, String> {
    match (read(dir)?, given) {
        (Some(kept), Some(g)) if kept != g => Err(format!(
            "{} belongs to cluster {} but --cluster-id says {}: give this node its own data \
             directory, or leave --cluster-id out",
            dir.display(),
            text(kept),
            text(g)
        )),
        (Some(kept), _) => Ok(kept),
        (None, g) => {
            let id = g.unwrap_or_else(fresh);
            write(dir, id).map_err(|e| {
                format!("cannot keep the cluster id in {}: {e}", path(dir).display())
            })?;
            Ok(id)
        }
    }
}

/// The id nodes started by hand agree on without being told: derived from the
/// peer list (FNV-1a), so that the same `--peers` make the same cluster. Give
/// `--cluster-id` to tell apart two clusters on the same addresses.
pub fn from_peers(peers: &[SocketAddr]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in peers {
        for b in p.to_string().bytes().chain([b',']) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_kept_and_a_different_one_refused() {
        let dir = std::env::temp_dir().join(format!("raftlab-cid-{}", crate::random::u64()));
        assert_eq!(read(&dir), Ok(None));
        assert_eq!(settle(&dir, None, || 42), Ok(42));
        assert_eq!(settle(&dir, None, || 7), Ok(42), "kept");
        assert_eq!(settle(&dir, Some(42), || 7), Ok(42));
        let e = settle(&dir, Some(43), || 7).unwrap_err();
        assert!(e.contains("belongs to cluster 000000000000002a"), "{e}");
        fs::write(path(&dir), "zz\n").unwrap();
        assert!(read(&dir).unwrap_err().contains("not a cluster id"));
        assert_eq!(parse("0x00000000000000ff"), Ok(255));
        assert!(parse("0").is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn peers_derive_one_id_each() {
        let a: Vec<SocketAddr> = vec!["127.0.0.1:7000".parse().unwrap()];
        let b: Vec<SocketAddr> = vec!["127.0.0.1:7001".parse().unwrap()];
        assert_eq!(from_peers(&a), from_peers(&a));
        assert_ne!(from_peers(&a), from_peers(&b));
    }
}

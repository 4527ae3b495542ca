//! How a start record names the log its node read: by a digest, not a copy.
//!
//! Until the node snapshots, its log holds every entry of the run, and a start
//! record that copied it grew the trace by the log's length at every restart (at a
//! million steps, four fifths of the trace). The same trace already holds that log:
//! it is the last save the validator decoded, so naming it is enough.
//!
//! The digest is a chain: a link per entry, each the SHA-256 of the link before it
//! and the entry's JSON, the first link the snapshot point's. So a [`LogChain`]
//! that digested one log digests a log that shares its first entries by hashing
//! only the entries after them: a run's restarts read logs that mostly extend one
//! another, and the validator pays for what changed between them.

use crate::log::Log;
use crate::msg::{Entry, LogIndex, Term};
use crate::trace_snapshot::SnapshotPoint;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A log as a start record names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogDigest {
    pub snapshot: SnapshotPoint,
    pub last_index: LogIndex,
    pub last_term: Term,
    /// The last link of the chain, in hex.
    pub sha256: String,
}

type Link = [u8; 32];

/// Digests logs, keeping the links of the last log it digested.
#[derive(Clone, Debug, Default)]
pub struct LogChain {
    /// The log digested last.
    log: Log,
    /// `links[k]`: the digest of the snapshot point and the first `k` entries
    /// after it (empty before the first log).
    links: Vec<Link>,
}

impl LogChain {
    pub fn digest(&mut self, log: &Log) -> LogDigest {
        let point = SnapshotPoint::of(log);
        let same_base = !self.links.is_empty() && SnapshotPoint::of(&self.log) == point;
        let shared = if !same_base {
            self.links.clear();
            self.links.push(seed(point));
            0
        } else {
            // Compared, not assumed: the validator digests what a faulty host may
            // have saved, where equal terms do not mean equal entries.
            let first = point.index.saturating_add(1);
            self.log
                .iter_from(first)
                .zip(log.iter_from(first))
                .take_while(|(a, b)| a == b)
                .count()
        };
        self.links.truncate(shared.saturating_add(1));
        let from = point
            .index
            .saturating_add(shared as LogIndex)
            .saturating_add(1);
        for e in log.iter_from(from) {
            let prev = self.links.last().copied().unwrap_or_default();
            self.links.push(link(&prev, e));
        }
        self.log = log.clone();
        let last = self.links.last().copied().unwrap_or_default();
        LogDigest {
            snapshot: point,
            last_index: log.last_index(),
            last_term: log.last_term(),
            sha256: last.iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

fn seed(point: SnapshotPoint) -> Link {
    let mut h = Sha256::new();
    h.update(point.index.to_le_bytes());
    h.update(point.term.to_le_bytes());
    h.finalize().into()
}

fn link(prev: &Link, e: &Entry) -> Link {
    let mut h = Sha256::new();
    h.update(prev);
    // Serializing plain data into a hasher cannot fail.
    let _ = serde_json::to_writer(crate::trace_snapshot::HashWriter(&mut h), e);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Op;
    use stateright::actor::Id;

    fn entry(term: Term, seq: u64, value: &str) -> Entry {
        Entry {
            term,
            client: Id::from(1usize << 63 | 3),
            seq,
            op: Op::Put {
                key: "k".into(),
                value: value.into(),
            },
        }
    }

    fn log(entries: &[(Term, &str)]) -> Log {
        entries
            .iter()
            .enumerate()
            .map(|(k, (t, v))| entry(*t, k as u64 + 1, v))
            .collect()
    }

    /// A chain that reuses its links must agree with a fresh one, whatever it
    /// digested before: extended, truncated, changed in the middle, compacted.
    #[test]
    fn a_reused_chain_digests_as_a_fresh_one_and_tells_logs_apart() {
        let a = log(&[(1, "a"), (1, "b"), (2, "c")]);
        let longer = log(&[(1, "a"), (1, "b"), (2, "c"), (2, "d")]);
        let shorter = log(&[(1, "a")]);
        let middle = log(&[(1, "a"), (1, "X"), (2, "c")]);
        let mut compacted = a.clone();
        compacted.compact_through(2);
        let logs = [&a, &longer, &shorter, &middle, &compacted, &a, &Log::new()];
        let mut reused = LogChain::default();
        let mut seen = Vec::new();
        for l in logs {
            let d = reused.digest(l);
            assert_eq!(d, LogChain::default().digest(l));
            assert_eq!((d.last_index, d.last_term), (l.last_index(), l.last_term()));
            seen.push(d.sha256);
        }
        let mut distinct = seen.clone();
        distinct.sort();
        distinct.dedup();
        // `a` comes twice; every other log has its own digest.
        assert_eq!(distinct.len(), seen.len() - 1);
        assert_eq!(seen[0], seen[5]);
    }
}

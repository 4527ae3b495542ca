//! A server's log, indexed as the paper indexes it (the first entry is index 1).
//!
//! Every access goes through these helpers, so that no handler does index
//! arithmetic of its own. The entries are a persistent vector
//! ([imbl](https://docs.rs/imbl)'s RRB tree): a clone shares them, and pushing or
//! truncating copies only a path of the tree. A real node clones its state at every
//! step that changes it (the handlers work on a copy-on-write state, which is what
//! lets the model checker share states) and emits the persistent state at every
//! save, so with a plain vector both would cost the length of the log.
//!
//! **Snapshots** (the paper's §7, Figure 13): a log may begin after a snapshot. It
//! then keeps the snapshot's `last_included_index` and `last_included_term` (the
//! offset of its first entry, and the term of the entry before it) and only the
//! entries after it. Indexes at or below the snapshot are *compacted*: their
//! entries are gone, only the last one's term is known.

use crate::msg::{Entry, LogIndex, Term};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::hash::{Hash, Hasher};

#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Log {
    /// Figure 13's `lastIncludedIndex`: the entries up to here are in the snapshot.
    snapshot_index: LogIndex,
    /// Figure 13's `lastIncludedTerm`: the term of the entry at `snapshot_index`.
    snapshot_term: Term,
    /// The entries after `snapshot_index`.
    entries: imbl::Vector<Entry>,
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// An empty log after a snapshot that ends at `index` with an entry of `term`.
    pub fn after_snapshot(index: LogIndex, term: Term) -> Log {
        Log {
            snapshot_index: index,
            snapshot_term: term,
            entries: imbl::Vector::new(),
        }
    }

    /// Converts a log index to a position in the vector (`None` if compacted or 0).
    fn slot(&self, index: LogIndex) -> Option<usize> {
        let past = index.checked_sub(self.snapshot_index)?.checked_sub(1)?;
        usize::try_from(past).ok()
    }

    /// The number of entries the log holds (after its snapshot).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Figure 13's `lastIncludedIndex` (0 without a snapshot).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// Figure 13's `lastIncludedTerm` (0 without a snapshot).
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    pub fn last_index(&self) -> LogIndex {
        self.snapshot_index
            .saturating_add(self.entries.len() as LogIndex)
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The entry at `index`, if the log holds it (not past the end, not compacted).
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.entries.get(self.slot(index)?)
    }

    /// The term of the entry at `index`: the snapshot's term at its last included
    /// index (0 for index 0 without a snapshot), `None` past the end or below the
    /// snapshot (compacted: see [`Log::is_compacted`]).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            Some(self.snapshot_term)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    /// True if `index` is below the snapshot: its entry is gone, and so is its term.
    pub fn is_compacted(&self, index: LogIndex) -> bool {
        index < self.snapshot_index
    }

    /// The entries the log holds, from the first after the snapshot.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.entries.iter()
    }

    /// The entries from `index` on (from the first the log holds if `index` is at
    /// or below the snapshot).
    pub fn iter_from(&self, index: LogIndex) -> impl Iterator<Item = &Entry> + '_ {
        let skip = self.slot(index).unwrap_or(0).min(self.entries.len());
        // A narrowed focus starts there in O(log n); `iter().skip` would walk to it.
        self.entries.focus().narrow(skip..).into_iter()
    }

    /// At most `max` entries from `index` on, as a message carries them.
    pub fn entries_from(&self, index: LogIndex, max: usize) -> Vec<Entry> {
        self.iter_from(index).take(max).cloned().collect()
    }

    pub fn push(&mut self, entry: Entry) {
        self.entries.push_back(entry);
    }

    /// Appends `entries` after the last entry.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = Entry>) {
        for e in entries {
            self.entries.push_back(e);
        }
    }

    /// Keeps the entries up to `last` (removes those after it). Compacted entries
    /// cannot be removed: a `last` below the snapshot keeps none after it.
    pub fn truncate_after(&mut self, last: LogIndex) {
        let keep = last.saturating_sub(self.snapshot_index);
        if let Ok(keep) = usize::try_from(keep) {
            if keep < self.entries.len() {
                self.entries.truncate(keep);
            }
        }
    }

    /// Discards the entries up to `index`, which the log must hold (Figure 13,
    /// step 6: "retain log entries following it"); the log then begins after a
    /// snapshot at `index`. Nothing happens if `index` is not after the snapshot or
    /// past the end.
    pub fn compact_through(&mut self, index: LogIndex) {
        if let (Some(term), Some(_)) = (self.term_at(index), self.slot(index)) {
            if let Some(log) = self.rebased(index, term) {
                *self = log;
            }
        }
    }

    /// This log after a snapshot that ends at `index` with an entry of `term`: the
    /// entries after `index` that it holds, numbered as they are. `None` if `index`
    /// is below this log's snapshot (the entries in between are gone). For a
    /// recorded change of a log (`trace`), which need not be Raft's.
    pub fn rebased(&self, index: LogIndex, term: Term) -> Option<Log> {
        let drop = index.checked_sub(self.snapshot_index)?;
        let drop = usize::try_from(drop).unwrap_or(usize::MAX);
        let entries = if drop >= self.entries.len() {
            imbl::Vector::new()
        } else {
            self.entries.skip(drop)
        };
        Some(Log {
            snapshot_index: index,
            snapshot_term: term,
            entries,
        })
    }

    /// The same entries, numbered as if there were no snapshot: what a restart that
    /// lost the snapshot's metadata reads (the `forget-snapshot-metadata` mutant).
    pub fn without_snapshot_metadata(&self) -> Log {
        Log {
            snapshot_index: 0,
            snapshot_term: 0,
            entries: self.entries.clone(),
        }
    }

    /// The index of the last entry of `term`, searching from the end (terms never
    /// decrease along a log, so the search stops at the first smaller term); the
    /// snapshot's last included index if its term is `term` and no entry after it is.
    pub fn last_index_of_term(&self, term: Term) -> Option<LogIndex> {
        let mut index = self.last_index();
        for e in self.entries.iter().rev() {
            if e.term == term {
                return Some(index);
            }
            if e.term < term {
                return None;
            }
            index -= 1;
        }
        (self.snapshot_index > 0 && self.snapshot_term == term).then_some(self.snapshot_index)
    }

    /// True if both logs reach `last` and agree on every index up to it that both
    /// still know: the term at the later of the two snapshots, and every entry after
    /// it. (Below a snapshot nothing is left to compare; that the snapshots
    /// themselves agree is State Machine Safety's to judge.)
    pub fn agrees_through(&self, other: &Log, last: LogIndex) -> bool {
        if last > self.last_index() || last > other.last_index() {
            return false;
        }
        // The same log (a server's, before and after a step that kept it): the
        // model checker asks this after every step.
        if std::ptr::eq(self, other)
            || (self.snapshot_index == other.snapshot_index
                && self.snapshot_term == other.snapshot_term
                && self.entries.ptr_eq(&other.entries))
        {
            return true;
        }
        let from = self.snapshot_index.max(other.snapshot_index);
        if last < from {
            return true;
        }
        if self.term_at(from) != other.term_at(from) {
            return false;
        }
        let n = (last - from) as usize;
        self.iter_from(from + 1)
            .take(n)
            .eq(other.iter_from(from + 1).take(n))
    }

    /// True if this log extends `prefix`: it reaches `prefix`'s last index and they
    /// agree up to it (see [`Log::agrees_through`]).
    pub fn starts_with(&self, prefix: &Log) -> bool {
        self.agrees_through(prefix, prefix.last_index())
    }

    /// How much of this log `next`, a later log of the same server, keeps: the last
    /// index `k` (at least `next`'s snapshot index) such that `next` is its snapshot,
    /// then this log's entries up to `k`, then entries of its own. Without
    /// snapshots, the length of the two logs' common prefix.
    ///
    /// Found with O(log² n) work: O(log n) comparisons of terms, by Raft's Log
    /// Matching property (two logs that hold an entry with the same index and term
    /// are identical up to it), so "the terms at index i agree" holds up to the end
    /// of the common prefix and not just after it. The last entry of the prefix
    /// found is compared in full; if it differs, Log Matching does not hold for
    /// these logs (a bug), and the exact linear comparison is used instead. Hosts
    /// use this to record and store what a step changed.
    pub fn common_prefix(&self, next: &Log) -> LogIndex {
        let base = next.snapshot_index;
        if self.snapshot_index > base {
            // This log no longer holds the entries after `base` that `next` may.
            return base;
        }
        let first = base + 1;
        let n = self
            .last_index()
            .min(next.last_index())
            .saturating_sub(base) as usize;
        fn at(log: &Log, first: LogIndex, k: usize) -> Option<&Entry> {
            log.entry(first + k as LogIndex)
        }
        let term = |log: &Log, k: usize| at(log, first, k).map(|e| e.term);
        // Terms agree below `lo`; they differ at `hi` (or `hi` is `n`).
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if term(self, mid) == term(next, mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let agreed = if lo == 0 || at(self, first, lo - 1) == at(next, first, lo - 1) {
            lo
        } else {
            self.iter_from(first)
                .zip(next.iter_from(first))
                .take_while(|(a, b)| a == b)
                .count()
        };
        base + agreed as LogIndex
    }
}

/// In a readable format (JSON traces), a log without a snapshot serializes as
/// the list of its entries (as before snapshots existed, so older traces still
/// read), one after a snapshot as a map. A binary format (bincode, postcard) is
/// not self-describing and cannot tell the two apart: there a log is always
/// [`LogFields`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum LogForm {
    Entries(imbl::Vector<Entry>),
    AfterSnapshot(LogFields),
}

#[derive(Serialize, Deserialize)]
struct LogFields {
    snapshot_index: LogIndex,
    snapshot_term: Term,
    entries: imbl::Vector<Entry>,
}

impl Serialize for Log {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.snapshot_index == 0 && s.is_human_readable() {
            return self.entries.serialize(s);
        }
        LogFields {
            snapshot_index: self.snapshot_index,
            snapshot_term: self.snapshot_term,
            entries: self.entries.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Log {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Log, D::Error> {
        let fields = if d.is_human_readable() {
            match LogForm::deserialize(d)? {
                LogForm::Entries(entries) => {
                    return Ok(Log {
                        entries,
                        ..Log::default()
                    })
                }
                LogForm::AfterSnapshot(f) => f,
            }
        } else {
            LogFields::deserialize(d)?
        };
        Ok(Log {
            snapshot_index: fields.snapshot_index,
            snapshot_term: fields.snapshot_term,
            entries: fields.entries,
        })
    }
}

impl FromIterator<Entry> for Log {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Log {
        Log {
            entries: iter.into_iter().collect(),
            ..Log::default()
        }
    }
}

impl From<Vec<Entry>> for Log {
    fn from(v: Vec<Entry>) -> Log {
        v.into_iter().collect()
    }
}

/// Hashes the length first, as a `Vec` does, so that the fields hashed after a log
/// cannot be mistaken for more entries (the checker identifies states by hash).
impl Hash for Log {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.snapshot_index.hash(state);
        self.snapshot_term.hash(state);
        self.entries.len().hash(state);
        for e in &self.entries {
            e.hash(state);
        }
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.snapshot_index > 0 {
            write!(
                f,
                "snapshot {}/{} ",
                self.snapshot_index, self.snapshot_term
            )?;
        }
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

impl Rewrite<Id> for Log {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        Log {
            snapshot_index: self.snapshot_index,
            snapshot_term: self.snapshot_term,
            entries: self.iter().map(|e| e.rewrite(plan)).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::Op;

    fn log(terms: &[u64]) -> Log {
        terms
            .iter()
            .enumerate()
            .map(|(i, t)| Entry {
                term: *t,
                client: Id::from(1usize << 63),
                seq: i as u64,
                op: Op::Get { key: "k".into() },
            })
            .collect()
    }

    #[test]
    fn indexes_are_the_papers() {
        let l = log(&[1, 1, 2, 4]);
        assert_eq!((l.last_index(), l.last_term()), (4, 4));
        assert_eq!(
            [0, 1, 3, 4, 5].map(|i| l.term_at(i)),
            [Some(0), Some(1), Some(2), Some(4), None]
        );
        assert_eq!(l.entries_from(3, 9).len(), 2);
        assert_eq!(l.entries_from(5, 9).len(), 0);
        assert_eq!(l.last_index_of_term(1), Some(2));
        assert_eq!(l.last_index_of_term(3), None);
        let mut t = l.clone();
        t.truncate_after(2);
        assert!(l.starts_with(&t) && !t.starts_with(&l));
        assert_eq!(
            (t.common_prefix(&l), l.common_prefix(&log(&[1, 1, 3]))),
            (2, 2)
        );
        assert!(l.agrees_through(&t, 2) && !l.agrees_through(&t, 3));
    }

    #[test]
    fn a_log_after_a_snapshot_keeps_its_indexes() {
        let full = log(&[1, 1, 2, 4, 4]);
        let mut l = full.clone();
        l.compact_through(3);
        assert_eq!((l.snapshot_index(), l.snapshot_term(), l.len()), (3, 2, 2));
        assert_eq!((l.last_index(), l.last_term()), (5, 4));
        assert_eq!(
            [1, 2, 3, 4, 6].map(|i| l.term_at(i)),
            [None, None, Some(2), Some(4), None]
        );
        assert!(l.is_compacted(2) && !l.is_compacted(3));
        assert_eq!(l.entry(4), full.entry(4));
        assert_eq!(l.entries_from(1, 9), full.entries_from(4, 9));
        assert_eq!(l.last_index_of_term(2), Some(3));
        assert_eq!(l.last_index_of_term(1), None);
        // Agreement on what both still know; a later log keeps the earlier's entries.
        assert!(full.agrees_through(&l, 5) && l.agrees_through(&full, 4));
        assert!(l.starts_with(&full) && full.starts_with(&l));
        assert_eq!(full.common_prefix(&l), 5);
        assert_eq!(l.common_prefix(&full), 0, "the entries below 3 are gone");
        let mut other = full.clone();
        other.truncate_after(3);
        other.push(full.entry(1).cloned().unwrap());
        assert_eq!(full.common_prefix(&other), 3);
        assert!(!l.agrees_through(&other, 4));
        // Truncation never reaches into the snapshot.
        let mut t = l.clone();
        t.truncate_after(1);
        assert_eq!((t.snapshot_index(), t.last_index()), (3, 3));
        let empty = Log::after_snapshot(7, 3);
        assert_eq!((empty.last_index(), empty.last_term()), (7, 3));
        assert_eq!(l.rebased(9, 5).map(|r| r.last_index()), Some(9));
        assert_eq!(l.rebased(2, 1), None);
        assert_eq!(l.without_snapshot_metadata().last_index(), 2);
    }

    #[test]
    fn logs_read_back_from_json_with_and_without_a_snapshot() {
        let full = log(&[1, 2]);
        let json = serde_json::to_string(&full).unwrap();
        assert!(json.starts_with('['), "{json}");
        assert_eq!(serde_json::from_str::<Log>(&json).unwrap(), full);
        let mut l = full.clone();
        l.compact_through(1);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(serde_json::from_str::<Log>(&json).unwrap(), l);
    }
}

//! A server's log, indexed as the paper indexes it (the first entry is index 1).
//!
//! Every access goes through these helpers, so that no handler does index
//! arithmetic of its own. The entries are a persistent vector
//! ([imbl](https://docs.rs/imbl)'s RRB tree): a clone shares them, and pushing or
//! truncating copies only a path of the tree. A real node clones its state at every
//! step that changes it (the handlers work on a copy-on-write state, which is what
//! lets the model checker share states) and emits the persistent state at every
//! save, so with a plain vector both would cost the length of the log.

use crate::msg::{Entry, LogIndex, Term};
use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::hash::{Hash, Hasher};

#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Log {
    entries: imbl::Vector<Entry>,
}

/// Converts a log index (1-based) to a position in the vector.
fn slot(index: LogIndex) -> Option<usize> {
    usize::try_from(index.checked_sub(1)?).ok()
}

impl Log {
    pub fn new() -> Log {
        Log::default()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn last_index(&self) -> LogIndex {
        self.entries.len() as LogIndex
    }

    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// The entry at `index`, if the log holds it.
    pub fn entry(&self, index: LogIndex) -> Option<&Entry> {
        self.entries.get(slot(index)?)
    }

    /// The term of the entry at `index` (0 for index 0, `None` past the end).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == 0 {
            Some(0)
        } else {
            self.entry(index).map(|e| e.term)
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.entries.iter()
    }

    /// The entries from `index` on (all of them from index 0 or 1).
    pub fn iter_from(&self, index: LogIndex) -> impl Iterator<Item = &Entry> + '_ {
        let skip = slot(index).unwrap_or(0).min(self.entries.len());
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

    /// Keeps the entries up to `last` (removes those after it).
    pub fn truncate_after(&mut self, last: LogIndex) {
        if let Ok(keep) = usize::try_from(last) {
            if keep < self.entries.len() {
                self.entries.truncate(keep);
            }
        }
    }

    /// The index of the last entry of `term`, searching from the end (terms never
    /// decrease along a log, so the search stops at the first smaller term).
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
        None
    }

    /// True if both logs hold the same entries at indexes 1 to `last` (both must
    /// hold them).
    pub fn agrees_through(&self, other: &Log, last: LogIndex) -> bool {
        let Ok(n) = usize::try_from(last) else {
            return false;
        };
        n <= self.len() && n <= other.len() && self.iter().take(n).eq(other.iter().take(n))
    }

    /// True if `prefix` is this log's beginning.
    pub fn starts_with(&self, prefix: &Log) -> bool {
        self.agrees_through(prefix, prefix.last_index())
    }

    /// The last index at which two logs of one server agree (the length of their
    /// common prefix), with O(log² n) work: O(log n) comparisons of terms, by
    /// Raft's Log Matching property (two logs that hold an entry with the same
    /// index and term are identical up to it), so "the terms at index i agree"
    /// holds up to the end of the common prefix and not just after it. The last
    /// entry of the prefix found is compared in full; if it differs, Log Matching
    /// does not hold for these logs (a bug), and the exact linear comparison is
    /// used instead. Hosts use this to record and store what a step changed.
    pub fn common_prefix(&self, other: &Log) -> LogIndex {
        let n = self.len().min(other.len());
        let term = |log: &Log, k: usize| log.entries.get(k).map(|e| e.term);
        // Terms agree below `lo`; they differ at `hi` (or `hi` is `n`).
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if term(self, mid) == term(other, mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == 0 || self.entries.get(lo - 1) == other.entries.get(lo - 1) {
            lo as LogIndex
        } else {
            self.iter()
                .zip(other.iter())
                .take_while(|(a, b)| a == b)
                .count() as LogIndex
        }
    }
}

impl FromIterator<Entry> for Log {
    fn from_iter<I: IntoIterator<Item = Entry>>(iter: I) -> Log {
        Log {
            entries: iter.into_iter().collect(),
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
        self.entries.len().hash(state);
        for e in &self.entries {
            e.hash(state);
        }
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.entries.iter()).finish()
    }
}

impl Rewrite<Id> for Log {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        self.iter().map(|e| e.rewrite(plan)).collect()
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
}

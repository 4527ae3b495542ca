//! The fingerprints a search has visited, shared by its threads.
//!
//! Sharded by the fingerprint's high bits, each shard a hash set behind its own
//! lock: with a few threads two rarely want one shard at once, and a shard
//! that grows rehashes only its own share. Each shard is a flat table
//! ([`FpTable`]): a lookup misses the cache once.

use super::fp_table::FpTable;
use std::sync::Mutex;

/// Shards: enough that two or eight threads rarely meet on one.
const SHARDS: usize = 256;

/// No count shared by every insert: threads adding to one counter would pass
/// its cache line back and forth millions of times.
pub struct Visited {
    shards: Vec<Shard>,
}

/// A shard on cache lines of its own, so that two threads locking neighbouring
/// shards do not pass one line back and forth.
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<FpTable>);

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, FpTable> {
        // A thread panicked holding the lock: its set is still a set.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for Visited {
    fn default() -> Self {
        Visited {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Visited {
    /// Adds `fp`; whether it was new.
    pub fn insert(&self, fp: u64) -> bool {
        // The top bits pick the shard; the sets' own hash spreads all of them.
        let shard = (fp >> 56) as usize % SHARDS;
        self.shards.get(shard).is_some_and(|s| s.lock().insert(fp))
    }

    /// How many fingerprints it holds (each shard's count, read in turn).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_fingerprint_is_new_once() {
        let v = Visited::default();
        assert!(v.insert(7));
        assert!(v.insert(7 << 56 | 7));
        assert!(!v.insert(7));
        assert!(!v.insert(7 << 56 | 7));
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn threads_insert_each_fingerprint_once() {
        let v = Visited::default();
        let news = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..10_000u64 {
                        if v.insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)) {
                            news.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(news.into_inner(), 10_000);
        assert_eq!(v.len(), 10_000);
    }
}

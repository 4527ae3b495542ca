//! The fingerprints a search has visited, shared by its threads.
//!
//! Sharded by the fingerprint's high bits, each shard a hash set behind its own
//! lock: with a few threads two rarely want one shard at once, and a shard
//! that grows rehashes only its own share. Each shard is a flat table
//! ([`FpTable`]): a lookup misses the cache once, and a caller that knows a
//! few fingerprints ahead can have that miss under way while it works
//! ([`Visited::prefetch`]).

use super::fp_table::{start_of, FpTable};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
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
struct Shard {
    table: Mutex<FpTable>,
    /// Where the table's slots are and how many (as a power of two), as last
    /// seen under the lock: read without it, for prefetching only.
    base: AtomicUsize,
    bits: AtomicU32,
}

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, FpTable> {
        // A thread panicked holding the lock: its set is still a set.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
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
        let Some(shard) = self.shards.get(shard_of(fp)) else {
            return false;
        };
        let mut table = shard.lock();
        let new = table.insert(fp);
        let (base, bits) = table.layout();
        if shard.bits.load(Ordering::Relaxed) != bits {
            shard.base.store(base, Ordering::Relaxed);
            shard.bits.store(bits, Ordering::Relaxed);
        }
        new
    }

    /// Starts bringing the slot where `fp` would be into the cache, without
    /// the lock, so that [`Visited::insert`] finds it there a little later.
    /// A hint only: if the shard grows meanwhile, the address read may be the
    /// old table's (or a mix of the old and new figures), which costs one
    /// useless prefetch and nothing else: a prefetch never faults and reads
    /// nothing into the program.
    pub fn prefetch(&self, fp: u64) {
        let Some(shard) = self.shards.get(shard_of(fp)) else {
            return;
        };
        let bits = shard.bits.load(Ordering::Relaxed);
        if bits == 0 {
            return;
        }
        let base = shard.base.load(Ordering::Relaxed);
        let at = base.wrapping_add(start_of(fp, bits).wrapping_mul(8));
        prefetch_address(at);
    }

    /// How many fingerprints it holds (each shard's count, read in turn).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// The shard for `fp`: its top bits (the tables' own hash spreads them all).
fn shard_of(fp: u64) -> usize {
    (fp >> 56) as usize % SHARDS
}

#[cfg(target_arch = "x86_64")]
fn prefetch_address(at: usize) {
    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
    // SAFETY: PREFETCHT0 is a hint: it never faults, whatever the address
    // (unmapped, freed), and reads nothing into the program.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(at as *const i8) }
}

#[cfg(not(target_arch = "x86_64"))]
fn prefetch_address(_at: usize) {}

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
    fn prefetch_hints_follow_the_tables_and_change_no_answer() {
        let v = Visited::default();
        for i in 1..100_000u64 {
            let fp = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            v.prefetch(fp);
            assert!(v.insert(fp));
            v.prefetch(fp);
            assert!(!v.insert(fp));
        }
        // Every shard's hint is its table's layout, through its growth.
        for shard in &v.shards {
            let (base, bits) = shard.lock().layout();
            assert_eq!(shard.bits.load(Ordering::Relaxed), bits);
            assert_eq!(shard.base.load(Ordering::Relaxed), base);
            assert!(bits >= 10, "each shard grew at least once");
        }
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

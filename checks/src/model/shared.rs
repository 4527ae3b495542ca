//! A value shared between the states that contain it, with its hash computed once.
//!
//! The checker hashes every state it meets and clones every state it expands. A
//! state's parts (a server's state, a message, the run's history) mostly carry
//! over unchanged from the state before, so each is kept behind one `Arc` and
//! hashed when it is made: cloning a state copies pointers, and hashing it hashes
//! a handful of `u64`s, however long the logs are.

use std::cmp;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// `T` behind an `Arc`, with `T`'s hash (aHash with fixed keys, so the same on
/// every run). Equality and order are `T`'s; hashing writes the cached hash only.
pub struct Shared<T>(Arc<Hashed<T>>);

struct Hashed<T> {
    hash: u64,
    /// A second hash, with other keys: with `hash`, 128 bits that tell values
    /// apart without comparing them (see [`Shared::same`]).
    check: u64,
    /// Figures derived from the value, the first few asked for (see
    /// [`Shared::derived`]).
    renamed: [Renamed; RENAMED],
    value: T,
}

/// Derived figures a value keeps: the default check asks for three (its two
/// rotations that move anything, and a server's summary), the deep profile
/// for six (its five renamings that move anything, and the summary).
const RENAMED: usize = 6;

/// One derived figure, each field written once: the function's number (0
/// while the slot is free), then the figure (0 until written).
#[derive(Default)]
struct Renamed {
    code: AtomicU64,
    hash: AtomicU64,
}

fn no_renamed() -> [Renamed; RENAMED] {
    Default::default()
}

// Fixed seeds: the same hashes, and so the same state counts, on every run.
const HASH_SEEDS: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);
const CHECK_SEEDS: ahash::RandomState = ahash::RandomState::with_seeds(
    0xbe54_66cf_34e9_0c6c,
    0xc0ac_29b7_c97c_50dd,
    0x3f84_d5b5_b547_0917,
    0x9216_d5d9_8979_fb1b,
);

fn hash_of<T: Hash>(value: &T) -> u64 {
    HASH_SEEDS.hash_one(value)
}

fn check_of<T: Hash>(value: &T) -> u64 {
    CHECK_SEEDS.hash_one(value)
}

impl<T: Hash> Shared<T> {
    pub fn new(value: T) -> Self {
        Shared(Arc::new(Hashed {
            hash: hash_of(&value),
            check: check_of(&value),
            renamed: no_renamed(),
            value,
        }))
    }

    /// Whether `self` and `other` hold the same value, judged by their 128 bits
    /// of hash, without comparing the values. For the symmetry reduction's memo,
    /// where comparing equal logs and key/value maps took a quarter of the
    /// checker's time; a wrong answer needs two 64-bit hashes to collide at
    /// once, far less likely than the collision of two 64-bit state
    /// fingerprints that stateright's visited set already accepts.
    pub fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.check == other.0.check)
    }

    /// The cached hash.
    pub fn hash_code(&self) -> u64 {
        self.0.hash
    }

    /// The second cached hash (see [`Shared::same`]).
    pub fn check_code(&self) -> u64 {
        self.0.check
    }

    /// The hash `Shared::new(value)` would cache, without making it.
    pub fn hash_code_of(value: &T) -> u64 {
        hash_of(value)
    }

    /// The second hash `Shared::new(value)` would cache, without making it.
    pub fn check_code_of(value: &T) -> u64 {
        check_of(value)
    }

    /// `Shared::new(value)`, given the two hashes it would compute, if they are
    /// `codes` (checked in debug builds): a successor hashed to be judged is not
    /// hashed again when it is built.
    pub fn with_codes(value: T, codes: Option<(u64, u64)>) -> Self {
        let Some((hash, check)) = codes else {
            return Shared::new(value);
        };
        debug_assert_eq!((hash, check), (hash_of(&value), check_of(&value)));
        Shared(Arc::new(Hashed {
            hash,
            check,
            renamed: no_renamed(),
            value,
        }))
    }
}

impl<T> Shared<T> {
    /// Where the shared value lives: the same for every clone of this `Shared`.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }

    /// A figure derived from the value by the pure function numbered `code`
    /// (never 0): `compute()` the first time, then kept with the value, for
    /// the first few functions asked for. The symmetry reduction asks every
    /// part of every successor for its hash renamed (`code`: the renaming's
    /// [`super::Renaming::code`]) and every server for its summary, and a
    /// check's parts are few and met again and again: reading the figure
    /// where the part's own hash is was cheaper than a memo beside. Threads
    /// share a value: a slot's number and figure are each written once, and a
    /// figure not yet written (or 0) is computed again.
    pub fn derived(&self, code: u64, compute: impl FnOnce() -> u64) -> u64 {
        for slot in &self.0.renamed {
            match slot.code.load(Ordering::Acquire) {
                c if c == code => {
                    return match slot.hash.load(Ordering::Acquire) {
                        0 => compute(),
                        h => h,
                    };
                }
                0 => {
                    let h = compute();
                    let claimed =
                        slot.code
                            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire);
                    if claimed.is_ok() {
                        slot.hash.store(h, Ordering::Release);
                    }
                    return h;
                }
                _ => {}
            }
        }
        compute()
    }
}

impl<T: Hash + Clone> Shared<T> {
    /// Changes the value (a copy of it, if it is shared) and hashes it again.
    pub fn update(&mut self, f: impl FnOnce(&mut T)) {
        let inner = Arc::make_mut(&mut self.0);
        f(&mut inner.value);
        inner.hash = hash_of(&inner.value);
        inner.check = check_of(&inner.value);
        inner.renamed = no_renamed();
    }
}

impl<T: Clone> Clone for Hashed<T> {
    fn clone(&self) -> Self {
        Hashed {
            hash: self.hash,
            check: self.check,
            renamed: no_renamed(),
            value: self.value.clone(),
        }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

/// Encoded as the value alone; decoding hashes it again.
impl<T: serde::Serialize> serde::Serialize for Shared<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.value.serialize(s)
    }
}

impl<'de, T: serde::Deserialize<'de> + Hash> serde::Deserialize<'de> for Shared<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Shared::new)
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash && self.0.value == other.0.value)
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: Ord> PartialOrd for Shared<T> {
    fn partial_cmp(&self, other: &Self) -> Option<cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Shared<T> {
    fn cmp(&self, other: &Self) -> cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            cmp::Ordering::Equal
        } else {
            self.0.value.cmp(&other.0.value)
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_are_equal_and_hash_alike_whether_shared_or_not() {
        let a = Shared::new(vec![1, 2, 3]);
        let b = Shared::new(vec![1, 2, 3]);
        assert_eq!(a, b);
        assert_eq!(a.hash_code(), b.hash_code());
        let mut c = a.clone();
        c.update(|v| v.push(4));
        assert_ne!(a, c);
        assert_ne!(a.hash_code(), c.hash_code());
        assert_eq!(*a, vec![1, 2, 3], "the update copied the shared value");
        assert!(a < c);
        assert!(a.same(&b) && a.same(&a.clone()) && !a.same(&c));
    }

    #[test]
    fn a_derived_figure_is_computed_once_per_function_and_forgotten_on_update() {
        let mut a = Shared::new(vec![1, 2, 3]);
        let calls = std::cell::Cell::new(0);
        let hash_for = |code: u64| {
            calls.set(calls.get() + 1);
            code * 10
        };
        let codes: Vec<u64> = (1..=RENAMED as u64 + 2).collect();
        for _ in 0..3 {
            for &code in &codes {
                assert_eq!(a.derived(code, || hash_for(code)), code * 10);
            }
        }
        // Kept for the first RENAMED renamings; the two after are computed
        // on every call.
        assert_eq!(calls.get(), RENAMED + 3 * 2);
        // A clone shares the kept hashes; a changed value has none.
        let b = a.clone();
        assert_eq!(b.derived(1, || 99), 10);
        a.update(|v| v.push(4));
        assert_eq!(a.derived(1, || 7), 7);
        assert_eq!(b.derived(1, || 99), 10, "the unchanged value keeps its own");
        // Changed in place (no other share of it): forgotten too.
        assert_eq!(a.derived(2, || 20), 20);
        a.update(|v| v.push(5));
        assert_eq!(a.derived(2, || 21), 21);
        // Threads asking at once all get the same answer.
        let c = Shared::new(5u8);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for code in 1..=8u64 {
                        assert_eq!(c.derived(code, || code + 100), code + 100);
                    }
                });
            }
        });
    }
}

//! A value shared between the states that contain it, with its hash computed once.
//!
//! The checker hashes every state it meets and clones every state it expands. A
//! state's parts (a server's state, a message, the run's history) mostly carry
//! over unchanged from the state before, so each is kept behind one `Arc` and
//! hashed when it is made: cloning a state copies pointers, and hashing it hashes
//! a handful of `u64`s, however long the logs are.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// `T` behind an `Arc`, with `T`'s hash (aHash with fixed keys, so the same on
/// every run). Equality and order are `T`'s; hashing writes the cached hash only.
pub struct Shared<T>(Arc<Hashed<T>>);

struct Hashed<T> {
    hash: u64,
    /// A second hash, with other keys: with `hash`, 128 bits that tell values
    /// apart without comparing them (see [`Shared::same`]).
    check: u64,
    value: T,
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
        Shared(Arc::new(Hashed { hash, check, value }))
    }
}

impl<T> Shared<T> {
    /// Where the shared value lives: the same for every clone of this `Shared`.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl<T: Hash + Clone> Shared<T> {
    /// Changes the value (a copy of it, if it is shared) and hashes it again.
    pub fn update(&mut self, f: impl FnOnce(&mut T)) {
        let inner = Arc::make_mut(&mut self.0);
        f(&mut inner.value);
        inner.hash = hash_of(&inner.value);
        inner.check = check_of(&inner.value);
    }
}

impl<T: Clone> Clone for Hashed<T> {
    fn clone(&self) -> Self {
        Hashed {
            hash: self.hash,
            check: self.check,
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
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Shared<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
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
}

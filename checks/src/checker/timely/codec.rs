//! What the engine needs of a model's states beyond `stateright::Model`: bytes to
//! ship them between workers and processes, and a fingerprint that every process
//! computes alike.

use stateright::Model;
use std::hash::Hash;

/// A model whose states can travel as bytes. The engine never looks inside them:
/// it fingerprints states with their `Hash` (as stateright does), and ships their
/// encoding to the worker that owns them, which decodes the new ones to judge and
/// expand them.
pub trait StateCodec: Model {
    /// Appends the encoding of `state` to `out`, or says why it cannot.
    fn encode(&self, state: &Self::State, out: &mut Vec<u8>) -> Result<(), String>;

    /// The state that `bytes` encodes, or why they encode none. Must undo
    /// [`StateCodec::encode`] exactly: counterexamples are replayed from the initial
    /// state, so a state that decodes differently would break the replay.
    fn decode(&self, bytes: &[u8]) -> Result<Self::State, String>;
}

/// The symmetry reduction of a model, as stateright's `symmetry_fn` takes it: the
/// representative of a state's class, or `None` for no reduction.
pub type Symmetry<M> = Option<fn(&<M as Model>::State) -> <M as Model>::State>;

/// The fingerprint of a value: stateright's own (ahash with stateright's fixed
/// keys), so that the engine de-duplicates exactly as stateright's checkers do, and
/// the same in every process of one binary. Never 0: 0 stands for "no parent".
pub fn fingerprint<T: Hash>(value: &T) -> u64 {
    // The keys of stateright's `stable::hasher` (stateright 0.31, src/lib.rs).
    const KEYS: [u64; 4] = [123_456_789_987_654_321, 98_765_432_123_456_789, 0, 0];
    let fp = ahash::RandomState::with_seeds(KEYS[0], KEYS[1], KEYS[2], KEYS[3]).hash_one(value);
    fp.max(1)
}

/// The worker (of `peers`) that owns the states with fingerprint `fp`: the high
/// bits decide, so that each worker's own fingerprints stay evenly spread in its
/// low bits (which its visited map indexes by).
pub fn owner(fp: u64, peers: usize) -> usize {
    ((u128::from(fp) * peers as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_in_range_and_spread() {
        let peers = 3;
        let mut counts = [0usize; 3];
        for i in 0u64..30_000 {
            let w = owner(fingerprint(&i), peers);
            assert!(w < peers);
            counts[w] += 1;
        }
        // Each worker gets about a third.
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
        assert_eq!(owner(u64::MAX, 4), 3);
        assert_eq!(owner(1, 4), 0);
    }

    #[test]
    fn fingerprints_are_stable_and_never_zero() {
        assert_eq!(fingerprint(&(1u8, 2u32)), fingerprint(&(1u8, 2u32)));
        assert_ne!(fingerprint(&1u64), fingerprint(&2u64));
        assert_ne!(fingerprint(&0u64), 0);
    }
}

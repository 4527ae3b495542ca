//! A set of 64-bit fingerprints as one flat array, probed linearly.
//!
//! Why not a `HashSet<u64>`: the visited set is the part of a check that misses
//! the cache, once per successor it is asked about. hashbrown keeps a key's
//! control byte and the key itself in two places, so a lookup usually misses
//! twice; here a key and its neighbours share a cache line, and a lookup
//! usually misses once. Fingerprints are hashes already: one multiplication
//! spreads them over the table.

/// The set. 0 marks an empty slot, so the fingerprint 0 is kept on the side.
#[derive(Default)]
pub struct FpTable {
    slots: Vec<u64>,
    /// Fingerprints in `slots` (not counting 0).
    len: usize,
    has_zero: bool,
}

/// Slots of a new table's first allocation.
const FIRST: usize = 1 << 10;

impl FpTable {
    /// Adds `fp`; whether it was new.
    pub fn insert(&mut self, fp: u64) -> bool {
        if fp == 0 {
            return !std::mem::replace(&mut self.has_zero, true);
        }
        // Grown at seven eighths full, as hashbrown grows. At three quarters the
        // default check's tables doubled: 255 MB peak instead of about 195.
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.grow();
        }
        let new = place(&mut self.slots, fp);
        self.len += usize::from(new);
        new
    }

    pub fn len(&self) -> usize {
        self.len + usize::from(self.has_zero)
    }

    /// Where `fp`'s probe starts: the address of its first slot, for a
    /// prefetch (see [`start_of`]).
    pub fn layout(&self) -> (usize, u32) {
        (
            self.slots.as_ptr() as usize,
            self.slots.len().trailing_zeros(),
        )
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(FIRST);
        let old = std::mem::replace(&mut self.slots, vec![0; size]);
        for fp in old.into_iter().filter(|&fp| fp != 0) {
            place(&mut self.slots, fp);
        }
    }
}

/// Puts `fp` (not 0) in `slots` (a power of two long, never full); whether it
/// was not there yet.
fn place(slots: &mut [u64], fp: u64) -> bool {
    let mask = slots.len() - 1;
    let mut at = start_of(fp, slots.len().trailing_zeros());
    loop {
        let Some(slot) = slots.get_mut(at & mask) else {
            return false;
        };
        if *slot == fp {
            return false;
        }
        if *slot == 0 {
            *slot = fp;
            return true;
        }
        at = (at & mask) + 1;
    }
}

/// The slot where `fp`'s probe starts in a table of `1 << bits` slots: the
/// high bits of a product, which depend on every bit of the fingerprint (a
/// shard's fingerprints all agree in their top bits).
pub fn start_of(fp: u64, bits: u32) -> usize {
    fp.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .checked_shr(64 - bits)
        .unwrap_or(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn agrees_with_a_hash_set_through_growth() {
        let mut table = FpTable::default();
        let mut set = HashSet::new();
        // Clustered keys (a shard's share agree in their high bits), repeats,
        // and 0, over several doublings.
        let mut x = 0x1234_5678u64;
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let fp = match i % 5 {
                0 => 0,
                1 => i / 2,
                2 => (x & 0xffff) | (7 << 56),
                _ => x,
            };
            assert_eq!(table.insert(fp), set.insert(fp), "fingerprint {fp:#x}");
        }
        assert_eq!(table.len(), set.len());
        assert!(set.len() > 100_000);
    }
}

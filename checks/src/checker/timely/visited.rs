//! A worker's share of the search: the states it owns that it has visited, each
//! with the link to the state it was first reached from, and the states arriving
//! for a level it has not processed yet.

use super::exchange::Candidate;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How the visited state at a fingerprint was first reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// The parent's fingerprint; 0 for an initial state.
    pub parent: u64,
    /// The action's index among the parent's enabled actions (for an initial
    /// state: its index among the initial states).
    pub action: u32,
}

/// Fingerprints are already hashes: one multiplication spreads a worker's share of
/// them (which agree in their high bits, see `codec::owner`) over the whole word.
#[derive(Default)]
pub struct FpHasher(u64);

impl Hasher for FpHasher {
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u64 keys are hashed here; fold anything else in all the same.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub type FpMap<V> = HashMap<u64, V, BuildHasherDefault<FpHasher>>;
pub type FpSet = std::collections::HashSet<u64, BuildHasherDefault<FpHasher>>;

/// The visited states a worker owns: fingerprint -> link to the parent.
#[derive(Default)]
pub struct Visited {
    links: FpMap<Link>,
}

impl Visited {
    pub fn contains(&self, fp: u64) -> bool {
        self.links.contains_key(&fp)
    }

    pub fn get(&self, fp: u64) -> Option<Link> {
        self.links.get(&fp).copied()
    }

    /// Records a state; false if it was already visited (the first link stays).
    pub fn insert(&mut self, fp: u64, link: Link) -> bool {
        match self.links.entry(fp) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(link);
                true
            }
        }
    }

    pub fn len(&self) -> usize {
        self.links.len()
    }

    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Bytes the map holds (its table, not counting what the allocator keeps).
    pub fn bytes(&self) -> usize {
        self.links.capacity() * (std::mem::size_of::<(u64, Link)>() + 1)
    }
}

/// The states that arrived for one level, each once: of the several ways a level
/// reaches a state, the one with the least (parent, action) is kept, so that the
/// links (and so the counterexamples) do not depend on the order of arrival.
#[derive(Default)]
pub struct Arrivals {
    states: FpMap<Candidate>,
}

impl Arrivals {
    pub fn add(&mut self, c: Candidate) {
        match self.states.entry(c.fp) {
            std::collections::hash_map::Entry::Occupied(mut o) => {
                if c.link_key() < o.get().link_key() {
                    o.insert(c);
                }
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(c);
            }
        }
    }

    /// The states not yet visited, in fingerprint order, recorded as visited.
    pub fn admit(self, visited: &mut Visited) -> Vec<Candidate> {
        let mut fresh: Vec<Candidate> = self
            .states
            .into_values()
            .filter(|c| {
                visited.insert(
                    c.fp,
                    Link {
                        parent: c.parent,
                        action: c.action,
                    },
                )
            })
            .collect();
        fresh.sort_unstable_by_key(|c| c.fp);
        fresh
    }

    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(fp: u64, parent: u64, action: u32) -> Candidate {
        Candidate {
            fp,
            parent,
            action,
            bytes: vec![action as u8],
        }
    }

    #[test]
    fn a_level_keeps_the_least_link_whatever_the_order() {
        let mut a = Arrivals::default();
        a.add(cand(7, 5, 2));
        a.add(cand(7, 3, 9));
        a.add(cand(7, 3, 1));
        a.add(cand(7, 4, 0));
        let mut v = Visited::default();
        let fresh = a.admit(&mut v);
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].bytes, vec![1]);
        assert_eq!(
            v.get(7),
            Some(Link {
                parent: 3,
                action: 1
            })
        );
    }

    #[test]
    fn visited_states_are_not_admitted_again() {
        let mut v = Visited::default();
        assert!(v.insert(
            2,
            Link {
                parent: 0,
                action: 0
            }
        ));
        let mut a = Arrivals::default();
        a.add(cand(9, 2, 0));
        a.add(cand(2, 9, 0));
        a.add(cand(4, 2, 1));
        let fresh = a.admit(&mut v);
        assert_eq!(fresh.iter().map(|c| c.fp).collect::<Vec<_>>(), vec![4, 9]);
        assert_eq!(
            v.get(2),
            Some(Link {
                parent: 0,
                action: 0
            })
        );
        assert_eq!(v.len(), 3);
    }
}

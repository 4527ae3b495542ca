//! A set of servers as a bit set: cheap to hash and clone, unlike a `HashSet`.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::fmt;

/// Up to 64 servers, server `i` is bit `i`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServerSet(u64);

/// The largest cluster a [`ServerSet`] can describe.
pub const MAX_SERVERS: usize = 64;

impl ServerSet {
    pub const EMPTY: ServerSet = ServerSet(0);

    pub fn singleton(server: usize) -> Self {
        ServerSet(1 << server)
    }

    pub fn insert(&mut self, server: usize) {
        self.0 |= 1 << server;
    }

    pub fn contains(&self, server: usize) -> bool {
        server < MAX_SERVERS && self.0 & (1 << server) != 0
    }

    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The servers in the set, in ascending order (one step per member: the
    /// checker iterates sets in every state it builds).
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            Some(i)
        })
    }
}

impl Rewrite<Id> for ServerSet {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        let mut out = ServerSet::EMPTY;
        for i in self.iter() {
            out.insert(usize::from(plan.rewrite(&Id::from(i))));
        }
        out
    }
}

impl fmt::Debug for ServerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (k, i) in self.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            f.write_str(&crate::name::server(Id::from(i)))?;
        }
        f.write_str("}")
    }
}

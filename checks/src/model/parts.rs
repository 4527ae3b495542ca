//! A state's parts as its fingerprint and its bounds read them, from a whole
//! [`State`] or from a successor not yet built ([`super::next::Next`]).
//!
//! Why: about two thirds of the successors a check makes are states it has
//! already visited. Judging a successor from its parent and the step's changes
//! lets the checker's search build only the new ones (see
//! `crate::checker::engine`); the fingerprint ([`super::symmetry`]) and the
//! bounds ([`super::RaftModel::in_bounds`]) are written once, over this trait,
//! so a successor's fingerprint is the same whichever way it is read.

use super::history::History;
use super::shared::Shared;
use super::state::{State, Timers, MAX_ACTORS};
use raft_model::{Id, Msg, PersistentState, RaftState, ServerSet};

/// A value and the two hashes a `Shared` of it caches (see `Shared::same`).
pub struct Codes<'a, T> {
    pub value: &'a T,
    pub hash: u64,
    pub check: u64,
}

impl<'a, T: std::hash::Hash> Codes<'a, T> {
    pub fn of(s: &'a Shared<T>) -> Self {
        Codes {
            value: s,
            hash: s.hash_code(),
            check: s.check_code(),
        }
    }
}

/// What a model state is made of.
pub trait Parts {
    /// Servers `0..servers()`, then the clients.
    fn actor_count(&self) -> usize;
    fn servers(&self) -> usize;
    /// Actor `j`'s state.
    fn actor(&self, j: usize) -> Option<&Shared<RaftState>>;
    /// Server `j`'s last save, if any.
    fn saved(&self, j: usize) -> Option<&Shared<PersistentState>>;
    fn timers(&self) -> Timers;
    fn down(&self) -> ServerSet;
    /// Calls `f(src, dst, msg, copies)` for every message in flight: on the
    /// unordered and duplicating networks each distinct one once, in any
    /// order; on the ordered network each one, in sending order within its
    /// channel.
    fn for_each_packet(&self, f: impl FnMut(Id, Id, &Shared<Msg>, u32));
    /// The history, with the two hashes its `Shared` caches (or would).
    fn history(&self) -> Codes<'_, History>;

    /// Messages in flight, counting copies.
    fn in_flight(&self) -> usize {
        counted_in_flight(self)
    }

    /// No channel (one actor to another) holds more than `limit` messages.
    fn per_channel_ok(&self, limit: usize) -> bool {
        // Messages per channel, by `src * MAX_ACTORS + dst` (no allocation: the
        // check asks this of every successor under a per-channel limit).
        let mut counts = [0u32; MAX_ACTORS * MAX_ACTORS];
        let mut ok = true;
        self.for_each_packet(|src, dst, _, count| {
            let channel = usize::from(src)
                .checked_mul(MAX_ACTORS)
                .and_then(|c| c.checked_add(usize::from(dst)));
            match channel.and_then(|c| counts.get_mut(c)) {
                Some(n) => {
                    *n = n.saturating_add(count);
                    ok &= *n as usize <= limit;
                }
                None => ok = false, // no such actor
            }
        });
        ok
    }
}

/// Messages in flight, counted packet by packet.
pub fn counted_in_flight(parts: &(impl Parts + ?Sized)) -> usize {
    let mut n = 0usize;
    parts.for_each_packet(|_, _, _, count| n = n.saturating_add(count as usize));
    n
}

impl Parts for State {
    fn actor_count(&self) -> usize {
        self.actors.len()
    }

    fn servers(&self) -> usize {
        self.storage.len()
    }

    fn actor(&self, j: usize) -> Option<&Shared<RaftState>> {
        self.actors.get(j)
    }

    fn saved(&self, j: usize) -> Option<&Shared<PersistentState>> {
        self.storage.get(j).and_then(Option::as_ref)
    }

    fn timers(&self) -> Timers {
        self.timers
    }

    fn down(&self) -> ServerSet {
        self.down
    }

    fn for_each_packet(&self, mut f: impl FnMut(Id, Id, &Shared<Msg>, u32)) {
        for p in self.network.packets() {
            f(p.src, p.dst, &p.msg, p.count);
        }
    }

    fn history(&self) -> Codes<'_, History> {
        Codes::of(&self.history)
    }
}

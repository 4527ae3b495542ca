//! The renamings symmetry reduction merges states by ([`super::symmetry`]): the
//! servers' names rotated (S1 -> S2 -> S3 -> S1) and, when every client performs
//! the same operations, the clients' names permuted.
//!
//! Why these: the reduction is sound only if the model's steps commute with the
//! renamings. Clients retry the servers round-robin (`target + 1 mod n`), which
//! rotations keep and other permutations of servers do not. Clients are
//! interchangeable only if their configurations are the same (the same
//! operations, so the same values), and then only their names tell them apart.

use super::parts::Parts;
use super::state::MAX_ACTORS;
use crate::bounds::NetworkKind;
use raft_model::Id;
use stateright::RewritePlan;
use std::sync::OnceLock;

/// Most clients the checker permutes (4! = 24 orders at most to try).
pub const MAX_PERMUTED_CLIENTS: usize = 4;

/// Which renamings a model's states are merged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Symmetry {
    /// The network: the ordered one keeps each channel's order when it renames
    /// the channel's ends.
    pub network: NetworkKind,
    /// Whether the clients are permuted too (they all perform the same
    /// operations; see [`super::RaftModel::clients_interchangeable`]).
    pub clients: bool,
}

impl Symmetry {
    /// Rotations of the servers only.
    pub fn servers(network: NetworkKind) -> Self {
        Symmetry {
            network,
            clients: false,
        }
    }

    /// What the renamings are, in a few words.
    pub fn describe(self) -> &'static str {
        if self.clients {
            "servers rotated, clients permuted"
        } else {
            "servers rotated"
        }
    }

    pub fn ordered(self) -> bool {
        self.network == NetworkKind::Ordered
    }

    /// Every renaming of the group, for a state shaped like `state` (for tests,
    /// and for anyone who wants a state's whole orbit).
    pub fn all(self, state: &impl Parts) -> Vec<Renaming> {
        let (n, k) = shape(self, state);
        let mut all = Vec::new();
        for r in 0..n.max(1) {
            for places in orders(k) {
                all.push(Renaming::new(n, r, places));
            }
        }
        all
    }

    /// Calls `f` with the renamings worth hashing for `state`'s class: those
    /// that put the servers and the clients in the order of their summaries
    /// (what no renaming changes). Which renamed states those give is the same
    /// for every member of a class, so the least hash among them is too; most
    /// states have one.
    pub fn for_each_candidate(self, state: &impl Parts, mut f: impl FnMut(&Renaming)) {
        let (n, k) = shape(self, state);
        // The summaries twice over, so that a rotation is a slice (no division
        // in the checker's hottest loop).
        let mut twice = [0u64; 2 * MAX_ACTORS];
        for i in 0..n {
            let s = server_summary(state, i);
            twice[i] = s;
            twice[i + n] = s;
        }
        let rotated = |r: usize| &twice[r..r + n];
        // The rotations whose summaries are least, as bits, found in one pass
        // (a slice comparison for equality calls memcmp, a per-successor cost).
        let (mut least, mut tied) = (0, 1u64);
        for r in 1..n {
            match rotated(r).cmp(rotated(least)) {
                std::cmp::Ordering::Less => (least, tied) = (r, 1 << r),
                std::cmp::Ordering::Equal => tied |= 1 << r,
                std::cmp::Ordering::Greater => {}
            }
        }
        let tied = |r: usize| tied & (1 << r) != 0;
        let mut clients = [(0u64, 0usize); MAX_PERMUTED_CLIENTS];
        for (c, s) in clients.iter_mut().enumerate().take(k) {
            *s = client_summary(state, n, c);
        }
        if k == 0 {
            for r in (0..n.max(1)).filter(|&r| tied(r)) {
                f(&Renaming::rotation(n, r));
            }
            return;
        }
        for r in (0..n.max(1)).filter(|&r| tied(r)) {
            // With the servers' rotation chosen, the slot a client's target
            // goes to is also left as it is by every permutation of clients.
            let mut summaries = [0u64; MAX_PERMUTED_CLIENTS];
            for (s, &(summary, target)) in summaries.iter_mut().zip(&clients).take(k) {
                let slot = rotated_slot(target, r, n) as u64;
                *s = summary | (slot.min(0xf) << 4);
            }
            for places in orders(k) {
                if sorted_by(places, &summaries[..k]) {
                    f(&Renaming::new(n, r, places));
                }
            }
        }
    }
}

/// The servers, and the clients this symmetry permutes.
fn shape(sym: Symmetry, state: &impl Parts) -> (usize, usize) {
    let n = state.servers().min(MAX_ACTORS);
    let clients = state.actor_count().saturating_sub(n);
    let k = if sym.clients && clients <= MAX_PERMUTED_CLIENTS {
        clients
    } else {
        0
    };
    (n, k)
}

/// Whether putting client `c` in place `places[c]` lists `summaries` in order.
fn sorted_by(places: &[u8], summaries: &[u64]) -> bool {
    let mut at = [0u64; MAX_PERMUTED_CLIENTS];
    for (c, &p) in places.iter().enumerate() {
        if let (Some(slot), Some(&s)) = (at.get_mut(p as usize), summaries.get(c)) {
            *slot = s;
        }
    }
    at[..summaries.len()].windows(2).all(|w| w[0] <= w[1])
}

/// Every order of `k` clients, as each client's place (the identity first);
/// for more clients than are permuted, the identity alone.
fn orders(k: usize) -> impl Iterator<Item = &'static [u8]> {
    static ORDERS: OnceLock<Vec<Vec<Vec<u8>>>> = OnceLock::new();
    let all = ORDERS.get_or_init(|| (0..=MAX_PERMUTED_CLIENTS).map(permutations).collect());
    all.get(k.min(MAX_PERMUTED_CLIENTS))
        .into_iter()
        .flatten()
        .map(Vec::as_slice)
}

/// The permutations of `0..k`, the identity first.
fn permutations(k: usize) -> Vec<Vec<u8>> {
    if k == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for shorter in permutations(k - 1) {
        for at in (0..k).rev() {
            let mut p = shorter.clone();
            p.insert(at, (k - 1) as u8);
            out.push(p);
        }
    }
    out
}

/// Server `i` summed up in one number by what a renaming leaves as it is.
fn server_summary(state: &impl Parts, i: usize) -> u64 {
    let Some(actor) = state.actor(i) else {
        return 0;
    };
    // Kept with the server's state: servers are few, met again and again.
    let summary = actor.derived(SUMMARY, || {
        actor.server().map_or(0, |s| {
            (small(s.current_term) << 46)
                | ((s.role as u64) << 44)
                | (small(s.commit_index) << 28)
                | (small(s.log.last_index()) << 12)
                | small(s.log.last_term()).min(0xfff)
        })
    });
    (u64::from(state.down().contains(i)) << 63) | summary
}

/// The number of [`server_summary`]'s figure among a state's derived ones
/// ([`super::Shared::derived`]): no renaming's code, whose nibbles are all
/// different.
const SUMMARY: u64 = u64::MAX;

/// Client `c` (actor `n + c`) summed up in one number by what a renaming leaves
/// as it is (its operations answered, invoked and returned, and its timers),
/// and the server it sends to next.
fn client_summary(state: &impl Parts, n: usize, c: usize) -> (u64, usize) {
    let client = state.actor(n + c).and_then(|s| s.client());
    let (done, target) = client.map_or((0, 0), |s| (s.done, usize::from(s.target)));
    let progress = state.history().value.clients.get(c).copied();
    let (invoked, returned) = progress.map_or((0, 0), |p| (p.invoked, p.returned));
    let summary = (small(done) << 40)
        | (small(invoked) << 24)
        | (small(returned) << 8)
        | u64::from(state.timers().bits_of(n + c));
    (summary, target)
}

/// Server `i`'s slot when `n` servers are rotated by `r` (server (j + r) mod n
/// goes to slot j); anything else keeps its own.
fn rotated_slot(i: usize, r: usize, n: usize) -> usize {
    let r = if r < n { r } else { r % n };
    match i {
        i if i >= n => i,
        i if i >= r => i - r,
        i => i + n - r,
    }
}

fn small(x: u64) -> u64 {
    x.min(0xffff)
}

/// One renaming: servers rotated by `r` (server (j + r) mod n goes to slot j),
/// clients put in new places.
#[derive(Clone, Copy, Debug)]
pub struct Renaming {
    /// `to[i]`: the slot actor `i` goes to.
    to: [u8; MAX_ACTORS],
    /// `from[j]`: the actor that goes to slot `j`.
    from: [u8; MAX_ACTORS],
    identity: bool,
    /// The permutation as a number (see [`Renaming::code`]).
    code: u64,
}

/// Every actor in its own slot.
const IDENTITY: [u8; MAX_ACTORS] = {
    let mut to = [0u8; MAX_ACTORS];
    let mut i = 0;
    while i < MAX_ACTORS {
        to[i] = i as u8;
        i += 1;
    }
    to
};

impl Renaming {
    /// Servers rotated by `r` of `n`; client `c` to place `places[c]` among the
    /// clients (the others keep theirs).
    pub fn new(n: usize, r: usize, places: &[u8]) -> Self {
        let (mut to, mut from) = (IDENTITY, IDENTITY);
        let n = n.min(MAX_ACTORS);
        let moved = n.saturating_add(places.len()).min(MAX_ACTORS);
        for i in 0..moved {
            let t = if i < n {
                rotated_slot(i, r, n)
            } else {
                places.get(i - n).map_or(i, |&p| n + p as usize)
            };
            if let (Some(to_i), Some(from_t)) = (to.get_mut(i), from.get_mut(t)) {
                *to_i = t as u8;
                *from_t = i as u8;
            }
        }
        let identity = to == IDENTITY;
        let code =
            (to.iter().enumerate()).fold(0, |code, (i, &t)| code | (u64::from(t) << (4 * i)));
        Renaming {
            to,
            from,
            identity,
            code,
        }
    }

    /// The servers rotated by `r` of `n`; the clients stay.
    pub fn rotation(n: usize, r: usize) -> Self {
        // Made once: the class fingerprint asks for one or two per successor.
        static ROTATIONS: OnceLock<Vec<Vec<Renaming>>> = OnceLock::new();
        let all = ROTATIONS.get_or_init(|| {
            (0..=MAX_ACTORS)
                .map(|n| (0..n.max(1)).map(|r| Renaming::new(n, r, &[])).collect())
                .collect()
        });
        match all.get(n).and_then(|rs| rs.get(r)) {
            Some(g) => *g,
            None => Renaming::new(n, r, &[]),
        }
    }

    pub fn is_identity(&self) -> bool {
        self.identity
    }

    /// The slot actor `i` goes to.
    pub fn to(&self, i: usize) -> usize {
        self.to.get(i).map_or(i, |&t| t as usize)
    }

    /// The actor that goes to slot `j`.
    pub fn from(&self, j: usize) -> usize {
        self.from.get(j).map_or(j, |&f| f as usize)
    }

    /// The permutation as a number (4 bits per actor), which names it in the
    /// memos of renamed parts; never 0.
    pub fn code(&self) -> u64 {
        self.code
    }

    /// The renaming as stateright's rewrite plan, for the parts' `Rewrite`.
    pub fn plan(&self) -> RewritePlan<Id, [u8; MAX_ACTORS]> {
        RewritePlan::<Id, [u8; MAX_ACTORS]>::new(self.to, |id, to| {
            let i = usize::from(*id);
            Id::from(to.get(i).map_or(i, |&t| t as usize))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_every_permutation_once() {
        for k in 0..=MAX_PERMUTED_CLIENTS {
            let all: Vec<&[u8]> = orders(k).collect();
            let distinct: std::collections::BTreeSet<&[u8]> = all.iter().copied().collect();
            assert_eq!(all.len(), (1..=k).product::<usize>(), "{k} clients");
            assert_eq!(distinct.len(), all.len());
            assert_eq!(all[0], (0..k as u8).collect::<Vec<u8>>().as_slice());
        }
    }

    #[test]
    fn a_renaming_and_its_inverse_agree() {
        let g = Renaming::new(3, 1, &[1, 0]);
        assert!(!g.is_identity());
        assert_eq!(
            (g.to(0), g.to(1), g.to(2), g.to(3), g.to(4)),
            (2, 0, 1, 4, 3)
        );
        for i in 0..MAX_ACTORS {
            assert_eq!(g.from(g.to(i)), i);
        }
        assert!(Renaming::new(3, 3, &[0, 1]).is_identity());
        assert_ne!(Renaming::rotation(3, 0).code(), 0);
    }

    #[test]
    fn clients_in_order_of_their_summaries() {
        assert!(sorted_by(&[0, 1], &[1, 2]));
        assert!(!sorted_by(&[0, 1], &[2, 1]));
        assert!(sorted_by(&[1, 0], &[2, 1]));
        assert!(sorted_by(&[1, 0], &[1, 1]) && sorted_by(&[0, 1], &[1, 1]));
    }
}

//! Symmetry reduction: a state stands for every state that differs from it only
//! by a renaming of its actors ([`super::renaming`]): a rotation of the servers'
//! names (S1 -> S2 -> S3 -> S1) and, when the clients are interchangeable, a
//! permutation of the clients' names.
//!
//! A class is known by its fingerprint ([`class_hash`]): the least hash of the
//! renamed state's parts in slot order, over the renamings that put servers and
//! clients in the order of a summary no renaming changes (most states have one).
//! It is computed from the parts' cached hashes and their renamed versions'
//! hashes, remembered per thread, without building a renamed state. The checker
//! needs no more: stateright only hashes what its symmetry function returns, so
//! [`canonical_for`] hands it [`State::of_class`]. Being the least over the
//! whole class, the fingerprint is the same whichever member a search meets
//! first, so the reduced counts do not depend on the order of the search.
//! [`representative`] builds the class's member of least hash, for tests and
//! for anyone who wants to see it.

use super::network::{Network, Packet};
use super::parts::{Codes, Parts};
pub use super::renaming::{Renaming, Symmetry};
use super::shared::Shared;
use super::state::State;
use raft_model::Id;
use stateright::{Rewrite, RewritePlan};
use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};

/// The checker's symmetry function for a model with symmetry `sym`: a stand-in
/// for the state's class, which hashes as [`class_hash`].
pub fn canonical_for(sym: Symmetry) -> fn(&State) -> State {
    use crate::bounds::NetworkKind::{Ordered, Unordered};
    match (sym.ordered(), sym.clients) {
        (true, false) => |s| State::of_class(class_hash(Symmetry::servers(Ordered), s)),
        (false, false) => |s| State::of_class(class_hash(Symmetry::servers(Unordered), s)),
        (true, true) => |s| State::of_class(class_hash(with_clients(Ordered), s)),
        (false, true) => |s| State::of_class(class_hash(with_clients(Unordered), s)),
    }
}

fn with_clients(network: crate::bounds::NetworkKind) -> Symmetry {
    Symmetry {
        network,
        clients: true,
    }
}

/// The fingerprint of `state` itself (no symmetry), from its parts' hashes: the
/// hash of it renamed by the identity.
pub fn plain_hash(sym: Symmetry, state: &impl Parts) -> u64 {
    let identity = Renaming::rotation(state.servers(), 0);
    MEMOS.with(|m| renamed_hash(sym, state, &identity, &mut m.borrow_mut()))
}

/// The fingerprint of `state`'s class: the same for every renaming of it, and
/// (but for 64-bit collisions) different for states of different classes.
pub fn class_hash(sym: Symmetry, state: &impl Parts) -> u64 {
    MEMOS.with(|m| {
        let m = &mut *m.borrow_mut();
        let mut least = u64::MAX;
        sym.for_each_candidate(state, |g| least = least.min(renamed_hash(sym, state, g, m)));
        least
    })
}

/// The member of `state`'s class whose hash is [`class_hash`] (of two with that
/// hash, the first renaming tried).
pub fn representative(sym: Symmetry, state: &State) -> State {
    let mut best: Option<(u64, Renaming)> = None;
    MEMOS.with(|m| {
        let m = &mut *m.borrow_mut();
        sym.for_each_candidate(state, |g| {
            let h = renamed_hash(sym, state, g, m);
            if best.is_none_or(|(b, _)| h < b) {
                best = Some((h, *g));
            }
        });
    });
    match best {
        Some((_, g)) => renamed(sym, state, &g),
        None => state.clone(),
    }
}

/// `state` renamed by `g`: actor `i` becomes actor `g.to(i)`. The identity
/// gives `state` itself, rebuilt nowhere.
pub fn renamed(sym: Symmetry, state: &State, g: &Renaming) -> State {
    if g.is_identity() {
        return state.clone();
    }
    let plan = g.plan();
    let mut actors = state.actors.clone();
    for (i, s) in state.actors.iter().enumerate() {
        if let Some(slot) = actors.get_mut(g.to(i)) {
            *slot = rename(s, &plan);
        }
    }
    let mut storage = state.storage.clone();
    for (i, s) in state.storage.iter().enumerate() {
        if let Some(slot) = storage.get_mut(g.to(i)) {
            *slot = s.as_ref().map(|p| rename(p, &plan));
        }
    }
    let packets = state
        .network
        .packets()
        .iter()
        .map(|p| Packet {
            src: plan.rewrite(&p.src),
            dst: plan.rewrite(&p.dst),
            msg: rename(&p.msg, &plan),
            count: p.count,
        })
        .collect();
    State {
        actors,
        storage,
        timers: state.timers.permuted(state.actors.len(), |i| g.to(i)),
        down: state.down.rewrite(&plan),
        network: Network::from_packets(sym.network, packets),
        history: rename(&state.history, &plan),
        class: None,
    }
}

/// `s` renamed by `plan`: `s` itself if renaming changes nothing.
fn rename<T, S>(s: &Shared<T>, plan: &RewritePlan<Id, S>) -> Shared<T>
where
    T: Rewrite<Id> + Hash,
{
    let renamed = Shared::new(s.rewrite(plan));
    if renamed.same(s) {
        s.clone()
    } else {
        renamed
    }
}

// Fixed seeds: the same class fingerprints, and so the same counts, on every run.
// (Not ahash's own constants: seeds equal to them give all-zero keys, and then
// every hash is 0.)
const CLASS_SEEDS: ahash::RandomState = ahash::RandomState::with_seeds(
    0x7f4a_7c15_9e37_79b9,
    0x94d0_49bb_1331_11eb,
    0xbf58_476d_1ce4_e5b9,
    0x2545_f491_4f6c_dd1d,
);

/// The hash of `state` renamed by `g`, from its parts' hashes in slot order.
/// The packets are hashed as what is in flight, whatever the order they are
/// listed in: on the ordered network in channel order (a channel's own order
/// counts), elsewhere as a multiset (the sum of each packet's mixed hash).
fn renamed_hash(sym: Symmetry, state: &impl Parts, g: &Renaming, m: &mut Memos) -> u64 {
    let n = state.servers();
    let actors = state.actor_count();
    let identity = g.is_identity();
    let (plan, code) = (g.plan(), g.code());
    let mut h = CLASS_SEEDS.build_hasher();
    for j in 0..actors {
        let Some(s) = state.actor(g.from(j)) else {
            h.write_u8(0);
            continue;
        };
        h.write_u64(if identity {
            s.hash_code()
        } else {
            s.derived(code, || m.actors.renamed(&Codes::of(s), &plan, code))
        });
    }
    for j in 0..n {
        match state.saved(g.from(j)) {
            None => h.write_u8(0),
            Some(p) => {
                h.write_u8(1);
                h.write_u64(if identity {
                    p.hash_code()
                } else {
                    p.derived(code, || m.storage.renamed(&Codes::of(p), &plan, code))
                });
            }
        }
    }
    state.timers().permuted(actors, |i| g.to(i)).hash(&mut h);
    state.down().rewrite(&plan).hash(&mut h);
    let renamed_msg = |m: &mut Memos, msg: &Shared<raft_model::Msg>| {
        if identity {
            msg.hash_code()
        } else {
            msg.derived(code, || m.msgs.renamed(&Codes::of(msg), &plan, code))
        }
    };
    if sym.ordered() {
        // A channel's order counts: the packets in channel order, each channel
        // in the order it was sent in.
        let mut packets = std::mem::take(&mut m.packets);
        packets.clear();
        state.for_each_packet(|src, dst, msg, count| {
            let msg = renamed_msg(m, msg);
            packets.push((g.to(usize::from(src)), g.to(usize::from(dst)), msg, count));
        });
        packets.sort_by_key(|&(src, dst, _, _)| (src, dst));
        packets.len().hash(&mut h);
        for p in packets.iter() {
            p.hash(&mut h);
        }
        m.packets = packets;
    } else {
        // A multiset: the sum of its packets' mixed hashes, which no order
        // changes (no sorting).
        let (mut len, mut sum) = (0usize, 0u64);
        state.for_each_packet(|src, dst, msg, count| {
            let msg = renamed_msg(m, msg);
            let ends =
                (g.to(usize::from(src)) as u64) << 40 | (g.to(usize::from(dst)) as u64) << 32;
            len += 1;
            // One mix per packet: the message's hash is mixed already, and
            // an odd multiplier keeps distinct (ends, count) distinct.
            let where_and_how_many = (ends | u64::from(count)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            sum = sum.wrapping_add(mix(msg ^ where_and_how_many));
        });
        len.hash(&mut h);
        h.write_u64(sum);
    }
    let history = state.history();
    h.write_u64(if identity {
        history.hash
    } else {
        m.history.renamed(&history, &plan, code)
    });
    h.finish()
}

/// A bijection of 64-bit words that spreads every input bit over the output
/// (splitmix64's finaliser): packets' hashes are summed, which needs well-mixed
/// terms.
fn mix(x: u64) -> u64 {
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The hashes of renamings done lately by this thread, direct-mapped by the
/// part's hash and the permutation: the same parts are renamed the same way again
/// and again. An entry answers only for a part with both of the same 64-bit
/// hashes ([`Shared::same`]).
struct Memo {
    /// (the part's hash, its check hash, the permutation, the renamed part's hash)
    slots: Vec<(u64, u64, u64, u64)>,
}

const MEMO_SLOTS: usize = 1 << 16;

impl Memo {
    fn new() -> Self {
        Memo {
            slots: vec![(0, 0, 0, 0); MEMO_SLOTS],
        }
    }

    /// The hash of `s` renamed by `plan` (the permutation `perm`, never 0).
    fn renamed<T, S>(&mut self, s: &Codes<T>, plan: &RewritePlan<Id, S>, perm: u64) -> u64
    where
        T: Rewrite<Id> + Hash,
    {
        let (hash, check) = (s.hash, s.check);
        let key = hash ^ perm.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(key as usize) & (MEMO_SLOTS - 1)];
        if slot.0 == hash && slot.1 == check && slot.2 == perm {
            return slot.3;
        }
        let renamed = Shared::hash_code_of(&s.value.rewrite(plan));
        *slot = (hash, check, perm, renamed);
        renamed
    }
}

struct Memos {
    actors: Memo,
    storage: Memo,
    msgs: Memo,
    history: Memo,
    /// The renamed packets of the state being hashed (kept to spare allocations).
    packets: Vec<(usize, usize, u64, u32)>,
}

thread_local! {
    static MEMOS: RefCell<Memos> = RefCell::new(Memos {
        actors: Memo::new(),
        storage: Memo::new(),
        msgs: Memo::new(),
        history: Memo::new(),
        packets: Vec::new(),
    });
}

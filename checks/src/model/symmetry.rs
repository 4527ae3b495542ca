//! Symmetry reduction: a state stands for every state that differs from it only
//! by a rotation of the servers' names (S1 -> S2 -> S3 -> S1).
//!
//! Why rotations and not every permutation: the reduction is sound only if the
//! model's steps commute with the renamings it merges states by, and the client
//! retries the servers round-robin (`target + 1 mod n`, as the labs' clerks do),
//! which rotations keep and other permutations do not (swapping S2 and S3 turns
//! "retry S1 next" into "retry S3 next": tests/symmetry.rs found such a state
//! when the representative sorted servers freely). Everything else the servers do
//! is blind to their names.
//!
//! A class is known by its fingerprint ([`class_hash`]): the least hash of the
//! rotated state's parts in slot order, over the rotations whose servers come
//! first by a summary that no renaming changes (most states have one). It is
//! computed from the parts' cached hashes and their renamed versions' hashes,
//! remembered per thread, without building a rotated state. The checker needs no
//! more: stateright only hashes what its symmetry function returns, so
//! [`canonical_for`] hands it [`State::of_class`]. Being the least over the
//! whole class, the fingerprint is the same whichever member a search meets
//! first, so the reduced counts do not depend on the order of the search.
//! [`representative`] builds the class's member of least hash, for tests and
//! for anyone who wants to see it. Clients are not interchangeable (each has its
//! own operations): they keep their places, though what they hold is renamed.

use super::network::{Network, Packet};
use super::parts::{Codes, Parts};
use super::shared::Shared;
use super::state::{State, MAX_ACTORS};
use crate::bounds::NetworkKind;
use raft_model::Id;
use stateright::{Rewrite, RewritePlan};
use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};

/// The checker's symmetry function for a model on the `kind` network (the
/// ordered network keeps each channel's order when it renames the channel's
/// ends): a stand-in for the state's class, which hashes as [`class_hash`].
pub fn canonical_for(kind: NetworkKind) -> fn(&State) -> State {
    match kind {
        NetworkKind::Ordered => |s| State::of_class(class_hash(NetworkKind::Ordered, s)),
        _ => |s| State::of_class(class_hash(NetworkKind::Unordered, s)),
    }
}

/// [`class_hash`] on `kind`'s network, as a function: the fingerprint the
/// checker's own search ([`crate::checker::engine`]) is given.
pub fn class_hash_for(kind: NetworkKind) -> fn(&State) -> u64 {
    match kind {
        NetworkKind::Ordered => |s| class_hash(NetworkKind::Ordered, s),
        _ => |s| class_hash(NetworkKind::Unordered, s),
    }
}

/// The fingerprint of `state` itself (no symmetry), from its parts' hashes: the
/// hash of its rotation by 0.
pub fn plain_hash(kind: NetworkKind, state: &impl Parts) -> u64 {
    MEMOS.with(|m| rotated_hash(kind, state, 0, &mut m.borrow_mut()))
}

/// The fingerprint of `state`'s class: the same for every rotation of it, and
/// (but for 64-bit collisions) different for states of different classes.
pub fn class_hash(kind: NetworkKind, state: &impl Parts) -> u64 {
    MEMOS.with(|m| {
        let m = &mut *m.borrow_mut();
        candidates(state)
            .map(|r| rotated_hash(kind, state, r, m))
            .min()
            .unwrap_or(0)
    })
}

/// The rotations worth hashing: those whose servers, summed up by what no
/// renaming changes (up or down, term, role, commit index, log length), come
/// first in slot order. Which rotations those are is the same for every member
/// of a class, so the least hash among them is too; most states have one, and
/// only it is hashed.
fn candidates(state: &impl Parts) -> impl Iterator<Item = usize> {
    let n = state.servers().min(MAX_ACTORS);
    let mut summary = [0u64; MAX_ACTORS];
    for (i, s) in summary.iter_mut().enumerate().take(n) {
        *s = summary_of(state, i);
    }
    let rotated = move |r: usize| (0..n).map(move |j| summary[(j + r) % n]);
    let least = (1..n).fold(0, |best, r| {
        if rotated(r).lt(rotated(best)) {
            r
        } else {
            best
        }
    });
    (0..n.max(1)).filter(move |&r| r == least || rotated(r).eq(rotated(least)))
}

/// Server `i` summed up in one number by what a renaming leaves as it is.
fn summary_of(state: &impl Parts, i: usize) -> u64 {
    let Some(s) = state.actor(i).and_then(|s| s.server()) else {
        return 0;
    };
    let small = |x: u64| x.min(0xffff);
    (u64::from(state.down().contains(i)) << 63)
        | (small(s.current_term) << 46)
        | ((s.role as u64) << 44)
        | (small(s.commit_index) << 28)
        | (small(s.log.last_index()) << 12)
        | small(s.log.last_term()).min(0xfff)
}

/// The member of `state`'s class whose hash is [`class_hash`], on an unordered
/// network, duplicating or not.
pub fn representative(state: &State) -> State {
    representative_on(NetworkKind::Unordered, state)
}

/// The member of `state`'s class whose hash is [`class_hash`], for a model on the
/// `kind` network (of two with that hash, the smaller rotation).
pub fn representative_on(kind: NetworkKind, state: &State) -> State {
    let n = state.storage.len();
    let best = MEMOS.with(|m| {
        let m = &mut *m.borrow_mut();
        candidates(state).min_by_key(|&r| rotated_hash(kind, state, r, m))
    });
    rotation(kind, state, best.unwrap_or(0) % n.max(1))
}

/// Server `i`'s slot under the rotation by `r` of `n` servers (server
/// (j + r) mod n goes to slot j); clients keep theirs.
fn slot_of(i: usize, r: usize, n: usize) -> usize {
    if i < n {
        (i + n - r % n) % n
    } else {
        i
    }
}

/// The renaming of the rotation by `r` of `n` servers, and the permutation as a
/// number (4 bits per server: at most 9), which names it in the memos.
fn plan(n: usize, r: usize) -> (RewritePlan<Id, [u8; MAX_ACTORS]>, u64) {
    let mut to = [0u8; MAX_ACTORS];
    let mut perm = 0u64;
    for (i, t) in to.iter_mut().enumerate() {
        *t = slot_of(i, r, n) as u8;
        if i < n {
            perm |= (*t as u64) << (4 * i);
        }
    }
    let plan = RewritePlan::<Id, [u8; MAX_ACTORS]>::new(to, |id, to| {
        let i = usize::from(*id);
        Id::from(to.get(i).map_or(i, |&t| t as usize))
    });
    (plan, perm)
}

/// `state` with its servers' names rotated by `r`: server (j + r) mod n becomes
/// server j. The rotation by 0 is `state` itself, rebuilt nowhere.
pub fn rotation(kind: NetworkKind, state: &State, r: usize) -> State {
    let n = state.storage.len();
    if n == 0 || r.is_multiple_of(n) {
        return state.clone();
    }
    let (plan, _) = plan(n, r);
    let to = |i: usize| slot_of(i, r, n);
    let mut actors = state.actors.clone();
    for (i, s) in state.actors.iter().enumerate() {
        actors[to(i)] = rename(s, &plan);
    }
    let mut storage = state.storage.clone();
    for (i, s) in state.storage.iter().enumerate() {
        storage[to(i)] = s.as_ref().map(|p| rename(p, &plan));
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
        timers: state.timers.permuted(state.actors.len(), to),
        down: state.down.rewrite(&plan),
        network: Network::from_packets(kind, packets),
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

/// The hash of `state` rotated by `r`, from its parts' hashes in slot order. The
/// packets are taken in an order of their own (by channel, then, off the ordered
/// network, by message hash), which depends only on what is in flight.
fn rotated_hash(kind: NetworkKind, state: &impl Parts, r: usize, m: &mut Memos) -> u64 {
    let n = state.servers();
    let actors = state.actor_count();
    let identity = n == 0 || r.is_multiple_of(n);
    let (plan, perm) = plan(n, r);
    let from = |j: usize| if j < n { (j + r) % n } else { j };
    let mut h = CLASS_SEEDS.build_hasher();
    for j in 0..actors {
        let Some(s) = state.actor(from(j)) else {
            h.write_u8(0);
            continue;
        };
        h.write_u64(if identity {
            s.hash_code()
        } else {
            m.actors.renamed(&Codes::of(s), &plan, perm)
        });
    }
    for j in 0..n {
        match state.saved(from(j)) {
            None => h.write_u8(0),
            Some(p) => {
                h.write_u8(1);
                h.write_u64(if identity {
                    p.hash_code()
                } else {
                    m.storage.renamed(&Codes::of(p), &plan, perm)
                });
            }
        }
    }
    state
        .timers()
        .permuted(actors, |i| slot_of(i, r, n))
        .hash(&mut h);
    state.down().rewrite(&plan).hash(&mut h);
    let mut packets = std::mem::take(&mut m.packets);
    packets.clear();
    state.for_each_packet(|src, dst, msg, count| {
        let msg = if identity {
            msg.hash_code()
        } else {
            m.msgs.renamed(&Codes::of(msg), &plan, perm)
        };
        let (src, dst) = (plan.rewrite(&src), plan.rewrite(&dst));
        packets.push((usize::from(src), usize::from(dst), msg, count));
    });
    if kind == NetworkKind::Ordered {
        packets.sort_by_key(|&(src, dst, _, _)| (src, dst));
    } else {
        packets.sort_unstable();
    }
    packets.len().hash(&mut h);
    for p in packets.iter() {
        p.hash(&mut h);
    }
    m.packets = packets;
    let history = state.history();
    h.write_u64(if identity {
        history.hash
    } else {
        m.history.renamed(&history, &plan, perm)
    });
    h.finish()
}

/// The hashes of renamings done lately by this thread, direct-mapped by the
/// part's hash and the permutation: the same parts are renamed the same way again
/// and again. An entry answers only for a part with both of the same 64-bit
/// hashes ([`Shared::same`]).
struct Memo {
    /// (the part's hash, its check hash, the permutation, the renamed part's hash)
    slots: Vec<(u64, u64, u64, u64)>,
}

const MEMO_SLOTS: usize = 1 << 12;

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

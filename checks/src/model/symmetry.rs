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
//! The representative is the rotation whose server slots, compared by what a
//! server is apart from the names it holds (term, role, log, commit index,
//! storage, timers, up or down), come first; ties keep the smallest rotation. Any
//! state of the class would do as its representative (the checker only merges
//! states it maps to the same one), so the tie-break costs reduction, never
//! soundness. Clients are not interchangeable (each has its
//! own operations): they keep their places. When the slots are already in order,
//! the state is its own representative and nothing is rebuilt; otherwise each part
//! is renamed with the model's own `Rewrite<Id>`, and recent renamings are
//! remembered per thread.

use super::network::{Network, Packet};
use super::shared::Shared;
use super::state::{State, MAX_ACTORS};
use super::History;
use crate::bounds::NetworkKind;
use raft_model::{Id, Log, Msg, PersistentState, RaftState, Role, Term};
use stateright::{Rewrite, RewritePlan};
use std::cell::RefCell;
use std::hash::Hash;

/// A server slot's sort key: only what a permutation of servers leaves as it is.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    down: bool,
    term: Term,
    role: Role,
    commit: u64,
    log: &'a Log,
    voted: bool,
    votes: usize,
    knows_leader: bool,
    saved: Option<(Term, bool, &'a Log)>,
    timers: u8,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Slot<'a> {
    Server(Key<'a>),
    Client(usize),
}

fn key(state: &State, i: usize) -> Slot<'_> {
    let Some(s) = state.server(i) else {
        return Slot::Client(i);
    };
    Slot::Server(Key {
        down: state.is_down(i),
        term: s.current_term,
        role: s.role,
        commit: s.commit_index,
        log: &s.log,
        voted: s.voted_for.is_some(),
        votes: s.votes_granted.len(),
        knows_leader: s.leader_hint.is_some(),
        saved: state
            .storage(i)
            .map(|p| (p.current_term, p.voted_for.is_some(), &p.log)),
        timers: state.timers.bits_of(i),
    })
}

/// The representative function for a model on the `kind` network (the ordered
/// network keeps each channel's order when it renames the channel's ends).
pub fn representative_for(kind: NetworkKind) -> fn(&State) -> State {
    match kind {
        NetworkKind::Ordered => |s| representative_on(NetworkKind::Ordered, s),
        _ => representative,
    }
}

/// The representative of `state`'s class (see [`representative_on`]) on an
/// unordered network, duplicating or not.
pub fn representative(state: &State) -> State {
    representative_on(NetworkKind::Unordered, state)
}

/// The representative of `state`'s class, for a model on the `kind` network.
pub fn representative_on(kind: NetworkKind, state: &State) -> State {
    let n = state.storage.len();
    // The rotation by r puts server (j + r) mod n in slot j; keep the first in order.
    let rotated = |r: usize| (0..n).map(move |j| key(state, (j + r) % n));
    let r = (1..n).fold(0, |best, r| {
        if rotated(r).lt(rotated(best)) {
            r
        } else {
            best
        }
    });
    rotation(kind, state, r)
}

/// `state` with its servers' names rotated by `r`: server (j + r) mod n becomes
/// server j. The rotation by 0 is `state` itself, rebuilt nowhere.
pub fn rotation(kind: NetworkKind, state: &State, r: usize) -> State {
    let n = state.storage.len();
    if n == 0 || r.is_multiple_of(n) {
        return state.clone();
    }
    // Server i goes to slot to[i]; clients stay.
    let mut to = [0u8; MAX_ACTORS];
    for (i, t) in to.iter_mut().enumerate() {
        *t = i as u8;
    }
    // The permutation as a number too: 4 bits per server (at most 9).
    let mut perm = 0u64;
    for slot in 0..n {
        let i = (slot + r) % n;
        to[i] = slot as u8;
        perm |= (slot as u64) << (4 * i);
    }
    let plan = RewritePlan::<Id, [u8; MAX_ACTORS]>::new(to, |id, to| {
        let i = usize::from(*id);
        Id::from(to.get(i).map_or(i, |&t| t as usize))
    });
    permute(kind, state, &plan, perm)
}

/// `state` with its servers renamed by `plan`, which moves server `i` to `perm`'s
/// nibble `i`.
fn permute<S>(kind: NetworkKind, state: &State, plan: &RewritePlan<Id, S>, perm: u64) -> State {
    let to = |i: usize| usize::from(plan.rewrite(&Id::from(i)));
    MEMOS.with(|m| {
        let m = &mut *m.borrow_mut();
        let mut actors = state.actors.clone();
        for (i, s) in state.actors.iter().enumerate() {
            actors[to(i)] = m.actors.renamed(s, plan, perm);
        }
        let mut storage = state.storage.clone();
        for (i, s) in state.storage.iter().enumerate() {
            storage[to(i)] = s.as_ref().map(|p| m.storage.renamed(p, plan, perm));
        }
        let packets = state
            .network
            .packets()
            .iter()
            .map(|p| Packet {
                src: plan.rewrite(&p.src),
                dst: plan.rewrite(&p.dst),
                msg: m.msgs.renamed(&p.msg, plan, perm),
                count: p.count,
            })
            .collect();
        State {
            actors,
            storage,
            timers: state.timers.permuted(state.actors.len(), to),
            down: state.down.rewrite(plan),
            network: Network::from_packets(kind, packets),
            history: m.history.renamed(&state.history, plan, perm),
        }
    })
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

/// Renamings done lately by this thread, direct-mapped by the part's hash and the
/// permutation: the same parts are renamed the same way again and again. An entry
/// is used only for a part the same as the one it was made for ([`Shared::same`]).
struct Memo<T> {
    slots: Vec<Option<Renaming<T>>>,
}

/// A key (the part's hash mixed with the permutation), the part, its renaming.
type Renaming<T> = (u64, Shared<T>, Shared<T>);

const MEMO_SLOTS: usize = 1 << 12;

impl<T: Rewrite<Id> + Hash> Memo<T> {
    fn new() -> Self {
        Memo {
            slots: vec![None; MEMO_SLOTS],
        }
    }

    fn renamed<S>(&mut self, s: &Shared<T>, plan: &RewritePlan<Id, S>, perm: u64) -> Shared<T> {
        let key = s.hash_code() ^ perm.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = &mut self.slots[(key as usize) & (MEMO_SLOTS - 1)];
        if let Some((k, orig, r)) = slot {
            if *k == key && orig.same(s) {
                return r.clone();
            }
        }
        let r = rename(s, plan);
        *slot = Some((key, s.clone(), r.clone()));
        r
    }
}

struct Memos {
    actors: Memo<RaftState>,
    storage: Memo<PersistentState>,
    msgs: Memo<Msg>,
    history: Memo<History>,
}

thread_local! {
    static MEMOS: RefCell<Memos> = RefCell::new(Memos {
        actors: Memo::new(),
        storage: Memo::new(),
        msgs: Memo::new(),
        history: Memo::new(),
    });
}

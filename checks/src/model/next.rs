//! A successor not yet built: its parent and what the step changes. The
//! checker's search fingerprints it ([`Parts`]) and builds it ([`Next::build`])
//! only if it is new; `RaftModel::step` builds it at once.

use super::history::History;
use super::memo::{Cmd, Effect};
use super::parts::{counted_in_flight, Codes, Parts};
use super::shared::Shared;
use super::state::{State, Timers};
use crate::bounds::NetworkKind;
use raft_model::{Id, Msg, PersistentState, RaftState, ServerSet};
use std::borrow::Cow;
use std::cell::Cell;
use std::rc::Rc;

/// The state a step leads to, as its parent and the step's changes.
pub struct Next<'a> {
    pub(super) last: &'a State,
    pub(super) changes: Changes,
}

/// What a step changes, apart from the state it was taken in: a successor
/// that may be built on its parent itself rather than on a copy of it
/// ([`Next::detach`], [`Changes::apply`]).
pub struct Changes {
    pub(super) kind: NetworkKind,
    /// The actor the step acted on.
    pub(super) i: usize,
    /// What the actor's handler (or its crash or restart) did: its new state,
    /// if it changed, and its sends and saves are read from it.
    pub(super) effect: Option<Rc<Effect>>,
    /// The packet (its place in the parent's network) one copy of which the
    /// step took.
    pub(super) taken: Option<usize>,
    pub(super) timers: Timers,
    pub(super) down: ServerSet,
    /// The history, if the step changed it (boxed: most steps do not, and a
    /// successor is moved about more than once before it is judged).
    pub(super) history: Option<Box<History>>,
    /// The changed history's two hashes, once a fingerprint has needed them
    /// (forgotten whenever the history changes).
    pub(super) history_codes: Cell<Option<(u64, u64)>>,
}

/// A step's fields read as the successor's (`next.timers`, `next.taken = …`).
impl std::ops::Deref for Next<'_> {
    type Target = Changes;
    fn deref(&self) -> &Changes {
        &self.changes
    }
}

impl std::ops::DerefMut for Next<'_> {
    fn deref_mut(&mut self) -> &mut Changes {
        &mut self.changes
    }
}

impl<'a> Next<'a> {
    /// A step of actor `i` from `last` that changes nothing yet, but for the
    /// last step's marks, which every step forgets.
    pub(super) fn from(last: &'a State, kind: NetworkKind, i: usize) -> Self {
        let mut next = Next::keeping_marks(last, kind, i);
        next.change_history(History::clear_marks);
        next
    }

    /// A step of actor `i` from `last` that changes nothing yet.
    pub(super) fn keeping_marks(last: &'a State, kind: NetworkKind, i: usize) -> Self {
        Next {
            last,
            changes: Changes {
                kind,
                i,
                effect: None,
                taken: None,
                timers: last.timers,
                down: last.down,
                history: None,
                history_codes: Cell::new(None),
            },
        }
    }

    /// Changes the history (the parent's, copied the first time).
    pub(super) fn change_history<R>(&mut self, f: impl FnOnce(&mut Cow<History>) -> R) -> R {
        let c = &mut self.changes;
        change(&mut c.history, &c.history_codes, self.last, f)
    }

    /// The successor, built on a copy of its parent.
    pub fn build(self) -> State {
        self.changes.apply(self.last.clone())
    }

    /// The step's changes, no longer borrowing the parent.
    pub fn detach(self) -> Changes {
        self.changes
    }
}

impl Changes {
    /// The acting actor's new state, if it has one.
    pub(super) fn changed(&self) -> Option<&Shared<RaftState>> {
        self.effect.as_ref().and_then(|e| e.changed.as_ref())
    }

    fn commands(&self) -> &[Cmd] {
        self.effect.as_ref().map_or(&[], |e| &e.commands)
    }

    /// The step's sends, in order: (destination, message).
    fn sends(&self) -> &[(Id, Shared<Msg>)] {
        self.effect.as_ref().map_or(&[], |e| &e.sent)
    }

    /// What the acting actor saved in this step, if anything (its last save).
    fn saved_now(&self) -> Option<&Shared<PersistentState>> {
        self.commands().iter().rev().find_map(|c| match c {
            Cmd::Save(p) => Some(p),
            _ => None,
        })
    }

    /// The successor, built on `parent`: the state the step was taken in
    /// (itself, or a copy of it).
    pub fn apply(self, parent: State) -> State {
        let mut next = parent;
        let src = Id::from(self.i);
        if let Some(k) = self.taken {
            next.network.take_at(k);
        }
        if let Some(changed) = self.changed() {
            if let Some(slot) = next.actors.get_mut(self.i) {
                *slot = changed.clone();
            }
        }
        for (dst, msg) in self.sends() {
            next.network.send(self.kind, src, *dst, msg);
        }
        if let (Some(p), Some(slot)) = (self.saved_now(), next.storage.get_mut(self.i)) {
            if !slot.as_ref().is_some_and(|s| s.same(p)) {
                *slot = Some(p.clone());
            }
        }
        next.timers = self.timers;
        next.down = self.down;
        if let Some(h) = self.history {
            next.history = Shared::with_codes(*h, self.history_codes.get());
        }
        next
    }
}

/// Changes `history` (a successor's of `last`: `None` while it is the
/// parent's, which is copied the first time it changes). A function of the
/// fields, so that a step can read the rest of its successor meanwhile.
pub(super) fn change<R>(
    history: &mut Option<Box<History>>,
    codes: &Cell<Option<(u64, u64)>>,
    last: &State,
    f: impl FnOnce(&mut Cow<History>) -> R,
) -> R {
    codes.set(None);
    let mut cow = match history.take() {
        Some(h) => Cow::Owned(*h),
        None => Cow::Borrowed(&*last.history),
    };
    let out = f(&mut cow);
    *history = match cow {
        Cow::Owned(h) => Some(Box::new(h)),
        Cow::Borrowed(_) => None,
    };
    out
}

impl Parts for Next<'_> {
    fn actor_count(&self) -> usize {
        self.last.actors.len()
    }

    fn servers(&self) -> usize {
        self.last.storage.len()
    }

    fn actor(&self, j: usize) -> Option<&Shared<RaftState>> {
        if j == self.i {
            if let Some(changed) = self.changed() {
                return Some(changed);
            }
        }
        self.last.actors.get(j)
    }

    fn saved(&self, j: usize) -> Option<&Shared<PersistentState>> {
        let saved_now = (j == self.i).then(|| self.saved_now()).flatten();
        saved_now.or_else(|| self.last.saved(j))
    }

    fn timers(&self) -> Timers {
        self.timers
    }

    fn down(&self) -> ServerSet {
        self.down
    }

    /// The parent's count, less the copy taken, plus the sends (on the
    /// duplicating network a send may add nothing: counted one by one there).
    fn in_flight(&self) -> usize {
        if self.kind == NetworkKind::Duplicating {
            return counted_in_flight(self);
        }
        (self.last.network.len())
            .saturating_sub(usize::from(self.taken.is_some()))
            .saturating_add(self.sends().len())
    }

    /// The parent's packets less the one taken, and the step's sends, merged
    /// as `Network::send` would merge them.
    fn for_each_packet(&self, mut f: impl FnMut(Id, Id, &Shared<Msg>, u32)) {
        let src = Id::from(self.i);
        let ordered = self.kind == NetworkKind::Ordered;
        // Whether a send is a copy of (from, to, msg).
        let copy_of = |from: Id, to: Id, msg: &Shared<Msg>, send: &(Id, Shared<Msg>)| {
            from == src && to == send.0 && *msg == send.1
        };
        let (packets, sends) = (self.last.network.packets(), self.sends());
        for (k, p) in packets.iter().enumerate() {
            let mut count = p.count.saturating_sub(u32::from(self.taken == Some(k)));
            if !ordered && p.src == src {
                let again = (sends.iter())
                    .filter(|s| copy_of(p.src, p.dst, &p.msg, s))
                    .count();
                count = match self.kind {
                    // The duplicating network holds a message once.
                    NetworkKind::Duplicating if again > 0 => 1,
                    _ => count.saturating_add(u32::try_from(again).unwrap_or(u32::MAX)),
                };
            }
            if count > 0 {
                f(p.src, p.dst, &p.msg, count);
            }
        }
        for (n, send) in sends.iter().enumerate() {
            let (dst, msg) = (send.0, &send.1);
            if ordered {
                f(src, dst, msg, 1);
                continue;
            }
            let this = |s: &(Id, Shared<Msg>)| copy_of(src, dst, msg, s);
            if packets
                .iter()
                .any(|p| p.src == src && p.dst == dst && p.msg == *msg)
                || sends.iter().take(n).any(this)
            {
                continue; // counted with the packet, or with its first send
            }
            let copies = match self.kind {
                NetworkKind::Duplicating => 1,
                _ => sends.iter().skip(n).filter(|s| this(s)).count(),
            };
            f(src, dst, msg, u32::try_from(copies).unwrap_or(u32::MAX));
        }
    }

    fn history(&self) -> Codes<'_, History> {
        match &self.history {
            None => Codes::of(&self.last.history),
            Some(h) => {
                let (hash, check) = self.history_codes.get().unwrap_or_else(|| {
                    let codes = (Shared::hash_code_of(h), Shared::check_code_of(h));
                    self.history_codes.set(Some(codes));
                    codes
                });
                Codes {
                    value: h,
                    hash,
                    check,
                }
            }
        }
    }
}

//! A successor not yet built: its parent and what the step changes. The
//! checker's search fingerprints it ([`Parts`]) and builds it ([`Next::build`])
//! only if it is new; `RaftModel::step` builds it at once.

use super::history::History;
use super::memo::{Cmd, Effect};
use super::parts::{Codes, Parts};
use super::shared::Shared;
use super::state::{State, Timers};
use crate::bounds::NetworkKind;
use raft_model::{Id, Msg, PersistentState, RaftState, ServerSet};
use std::borrow::Cow;
use std::rc::Rc;

/// The state a step leads to, as its parent and the step's changes.
pub struct Next<'a> {
    pub(super) last: &'a State,
    pub(super) kind: NetworkKind,
    /// The actor the step acted on.
    pub(super) i: usize,
    /// Its new state, when the step made one itself (a crash, a restart);
    /// otherwise the handler's, if it changed it (`effect`).
    pub(super) made: Option<Shared<RaftState>>,
    /// What the actor's handler emitted: sends and saves are read from it.
    pub(super) effect: Option<Rc<Effect>>,
    /// The packet (its place in `last`'s network) one copy of which the step took.
    pub(super) taken: Option<usize>,
    pub(super) timers: Timers,
    pub(super) down: ServerSet,
    pub(super) history: Cow<'a, History>,
    /// The changed history's two hashes, once a fingerprint has needed them.
    history_codes: std::cell::Cell<Option<(u64, u64)>>,
}

impl<'a> Next<'a> {
    /// A step of actor `i` from `last` that changes nothing yet, but for the
    /// last step's marks, which every step forgets.
    pub(super) fn from(last: &'a State, kind: NetworkKind, i: usize) -> Self {
        let mut next = Next::keeping_marks(last, kind, i);
        History::clear_marks(&mut next.history);
        next
    }

    /// A step of actor `i` from `last` that changes nothing yet.
    pub(super) fn keeping_marks(last: &'a State, kind: NetworkKind, i: usize) -> Self {
        Next {
            last,
            kind,
            i,
            made: None,
            effect: None,
            taken: None,
            timers: last.timers,
            down: last.down,
            history: Cow::Borrowed(&*last.history),
            history_codes: std::cell::Cell::new(None),
        }
    }

    /// The acting actor's new state, if it has one.
    pub(super) fn changed(&self) -> Option<&Shared<RaftState>> {
        self.made
            .as_ref()
            .or_else(|| self.effect.as_ref().and_then(|e| e.changed.as_ref()))
    }

    fn commands(&self) -> &[Cmd] {
        self.effect.as_ref().map_or(&[], |e| &e.commands)
    }

    /// The step's sends, in order: (destination, message).
    fn sends(&self) -> impl Iterator<Item = (Id, &Shared<Msg>)> + Clone {
        self.commands().iter().filter_map(|c| match c {
            Cmd::Send(dst, msg) => Some((*dst, msg)),
            _ => None,
        })
    }

    /// The successor, built.
    pub fn build(self) -> State {
        let mut next = self.last.clone();
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
            next.network.send(self.kind, src, dst, msg);
        }
        if let (Some(p), Some(slot)) = (self.saved(self.i), next.storage.get_mut(self.i)) {
            if !slot.as_ref().is_some_and(|s| s.same(p)) {
                *slot = Some(p.clone());
            }
        }
        next.timers = self.timers;
        next.down = self.down;
        if let Cow::Owned(h) = self.history {
            next.history = Shared::new(h);
        }
        next
    }
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
        let saved_now = (j == self.i)
            .then(|| {
                self.commands().iter().rev().find_map(|c| match c {
                    Cmd::Save(p) => Some(p),
                    _ => None,
                })
            })
            .flatten();
        saved_now.or_else(|| self.last.saved(j))
    }

    fn timers(&self) -> Timers {
        self.timers
    }

    fn down(&self) -> ServerSet {
        self.down
    }

    /// The parent's packets less the one taken, and the step's sends, merged
    /// as `Network::send` would merge them.
    fn for_each_packet(&self, mut f: impl FnMut(Id, Id, &Shared<Msg>, u32)) {
        let src = Id::from(self.i);
        let ordered = self.kind == NetworkKind::Ordered;
        // Whether a send is a copy of (from, to, msg).
        let copy_of = |from: Id, to: Id, msg: &Shared<Msg>, send: &(Id, &Shared<Msg>)| {
            from == src && to == send.0 && msg == send.1
        };
        let packets = self.last.network.packets();
        for (k, p) in packets.iter().enumerate() {
            let mut count = p
                .count
                .saturating_sub(u32::from(self.taken == Some(k)));
            if !ordered {
                let again = (self.sends())
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
        for (n, send) in self.sends().enumerate() {
            let (dst, msg) = send;
            if ordered {
                f(src, dst, msg, 1);
                continue;
            }
            if packets.iter().any(|p| copy_of(p.src, p.dst, &p.msg, &send))
                || self.sends().take(n).any(|s| copy_of(src, dst, msg, &s))
            {
                continue; // counted with the packet, or with its first send
            }
            let copies = match self.kind {
                NetworkKind::Duplicating => 1,
                _ => (self.sends().skip(n))
                    .filter(|s| copy_of(src, dst, msg, s))
                    .count(),
            };
            f(src, dst, msg, u32::try_from(copies).unwrap_or(u32::MAX));
        }
    }

    fn history(&self) -> Codes<'_, History> {
        match &self.history {
            Cow::Borrowed(_) => Codes::of(&self.last.history),
            Cow::Owned(h) => {
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

//! The transitions of the checked model: each action runs an actor's handler
//! (`RaftActor::handle`, or `Actor::on_start` for a restart) and makes the
//! successor as its parent and the handler's effect ([`Next`]: its new state,
//! sends, timers and saves), which the checker fingerprints before building;
//! the history moves on by comparing the acting server's state before and after.

use super::history::{
    compare, observe_client_delivery, observe_client_send, observe_compared, observe_delivery,
};
use super::memo::{self, Cmd, Effect, Key};
use super::next::{change, Next};
use super::parts::Parts;
use super::state::{Action, ActionIn, State};
use super::{RaftModel, Shared, Violation};
use crate::bounds::NetworkKind;
use raft_model::{Id, Msg, RaftActor, ServerSet, Timer};
use stateright::actor::Out;
use std::borrow::Cow;
use std::rc::Rc;

impl RaftModel {
    /// The state `action` leads to from `last`, with the history moved on; `None`
    /// if the action is not possible there or changes nothing.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        self.next(last, action.borrowed()).map(Next::build)
    }

    /// [`RaftModel::step`]'s successor, not yet built.
    pub fn next<'a>(&self, last: &'a State, action: ActionIn) -> Option<Next<'a>> {
        let kind = self.bounds.network;
        match action {
            Action::Drop { src, dst, msg } => {
                // A loss keeps the last step's marks (as it always has).
                let mut next = Next::keeping_marks(last, kind, usize::from(dst));
                next.taken = Some(last.network.deliverable_at(kind, src, dst, msg)?);
                Some(next)
            }
            Action::Deliver { src, dst, msg } => self.deliver(last, src, dst, msg),
            Action::Timeout(id, timer) => self.timeout(last, id, timer),
            Action::Crash(id) => self.crash(last, usize::from(id)),
            Action::Recover(id) => self.recover(last, id),
        }
    }

    fn deliver<'a>(
        &self,
        last: &'a State,
        src: Id,
        dst: Id,
        msg: &Shared<Msg>,
    ) -> Option<Next<'a>> {
        let kind = self.bounds.network;
        let i = usize::from(dst);
        let before = last.actors.get(i)?;
        if last.is_down(i) {
            return None;
        }
        let at = last.network.deliverable_at(kind, src, dst, msg)?;
        let effect = memo::effect(
            self.memo,
            i,
            &self.actors[i],
            before,
            Key::Deliver(src, msg),
        );
        let consumed = usize::from(kind != NetworkKind::Duplicating);
        if self.beyond(last, &effect, consumed) {
            return None;
        }
        let mut next = Next::from(last, kind, i);
        if let Some(s) = before.server() {
            next.change_history(|h| observe_delivery(h, s, msg));
        }
        if effect.is_nothing() {
            // Ignored: the message is used up, as on a real network; the
            // duplicating network keeps it, so nothing happened at all.
            if kind == NetworkKind::Duplicating {
                return None;
            }
            next.taken = Some(at);
            if kind == NetworkKind::Unordered {
                return Some(next);
            }
        } else if kind != NetworkKind::Duplicating {
            next.taken = Some(at);
        }
        if let Some(c) = i.checked_sub(self.servers()) {
            next.change_history(|h| {
                if let Some(new) = observe_client_delivery(h, c, dst, msg) {
                    *h = Cow::Owned(new);
                }
            });
        }
        self.take_effect(&mut next, effect);
        self.observe(&mut next, false);
        Some(next)
    }

    fn timeout<'a>(&self, last: &'a State, id: Id, timer: Timer) -> Option<Next<'a>> {
        let i = usize::from(id);
        if !last.timers.is_set(i, timer) {
            return None;
        }
        let before = last.actors.get(i)?;
        let effect = memo::effect(self.memo, i, &self.actors[i], before, Key::Timeout(timer));
        // Only the same timer set again: nothing happened.
        let renews_only = effect.commands.len() == 1
            && matches!(&effect.commands[0], Cmd::SetTimer(t) if *t == timer);
        if (effect.changed.is_none() && renews_only) || self.beyond(last, &effect, 0) {
            return None;
        }
        let mut next = Next::from(last, self.bounds.network, i);
        next.timers.cancel(i, timer);
        self.take_effect(&mut next, effect);
        self.observe(&mut next, false);
        Some(next)
    }

    fn crash<'a>(&self, last: &'a State, i: usize) -> Option<Next<'a>> {
        if i >= self.servers() || last.is_down(i) {
            return None;
        }
        let before = last.actors.get(i)?;
        let mut next = Next::from(last, self.bounds.network, i);
        next.timers.cancel_all(i);
        next.down.insert(i);
        // What a crashed server had in memory is gone: keep only what it will
        // restart from, so that crashes that lose different volatile state lead to
        // one state, not many.
        let effect = memo::effect(
            self.memo,
            i,
            &self.actors[i],
            before,
            Key::Crash(last.saved(i)),
        );
        let restarted = effect.changed.as_ref().and_then(|s| s.server());
        let term_lost = last
            .server(i)
            .zip(restarted)
            .is_some_and(|(s, r)| r.current_term < s.current_term);
        next.change_history(|h| {
            let h = h.to_mut();
            h.crashes += 1;
            h.crashed_before.insert(i);
            if term_lost {
                h.flag(Violation::TermDecreased);
            }
        });
        next.effect = Some(effect);
        Some(next)
    }

    fn recover<'a>(&self, last: &'a State, id: Id) -> Option<Next<'a>> {
        let i = usize::from(id);
        if !last.is_down(i) {
            return None;
        }
        let before = last.actors.get(i)?;
        let effect = memo::effect(
            self.memo,
            i,
            &self.actors[i],
            before,
            Key::Start(last.saved(i)),
        );
        let mut next = Next::from(last, self.bounds.network, i);
        next.down = next
            .down
            .iter()
            .filter(|&j| j != i)
            .fold(ServerSet::EMPTY, |mut d, j| {
                d.insert(j);
                d
            });
        self.take_effect(&mut next, effect);
        self.observe(&mut next, true);
        Some(next)
    }

    /// Takes in what the acting actor's handler did: its timers now, and a
    /// client's sends recorded in the history (its new state, sends and saves
    /// are read from the effect when the successor is fingerprinted or built).
    fn take_effect(&self, next: &mut Next, effect: Rc<Effect>) {
        let i = next.i;
        let id = Id::from(i);
        let client = i.checked_sub(self.servers());
        for c in &effect.commands {
            match c {
                Cmd::Send(_, msg) => {
                    if let Some(c) = client {
                        next.change_history(|h| {
                            if let Some(new) = observe_client_send(h, c, id, msg) {
                                *h = Cow::Owned(new);
                            }
                        });
                    }
                }
                Cmd::SetTimer(t) => next.timers.set(i, *t),
                Cmd::CancelTimer(t) => next.timers.cancel(i, *t),
                Cmd::Save(_) => {}
            }
        }
        next.effect = Some(effect);
    }

    /// With pruning on: whether the step surely leaves the bounds, judged from the
    /// handler's result alone (the acting server's term and log, and the messages
    /// in flight after `consumed` are taken and the step's sends added; on the
    /// duplicating network a send may add nothing, so there sends are not counted).
    fn beyond(&self, last: &State, effect: &Effect, consumed: usize) -> bool {
        if !self.prune {
            return false;
        }
        let b = &self.bounds;
        if let Some(s) = effect.changed.as_ref().and_then(|s| s.server()) {
            if s.current_term > b.max_term || s.log.last_index() > b.max_log as u64 {
                return true;
            }
        }
        if self.bounds.network == NetworkKind::Duplicating {
            return false;
        }
        last.network.len() + effect.sent.len() > b.max_in_flight + consumed
    }

    /// Applies the commands actor `id` emitted at its start (the initial state).
    pub(super) fn apply_commands(&self, id: Id, out: Out<RaftActor>, state: &mut State) {
        let mut next = Next::from(state, self.bounds.network, usize::from(id));
        self.take_effect(&mut next, Rc::new(Effect::from_out(None, out)));
        *state = next.build();
    }

    /// Updates the history with what the step did at the acting server.
    fn observe(&self, next: &mut Next, recovered: bool) {
        let i = next.i;
        if i >= self.servers() || next.down.contains(i) {
            return;
        }
        let Some(before) = next.last.server(i) else {
            return;
        };
        // The fields one by one, so that the history can change meanwhile.
        let (last, c) = (next.last, &mut next.changes);
        let changed = c.effect.as_ref().and_then(|e| e.changed.as_ref());
        let Some(after) = changed.map_or(Some(before), |s| s.server()) else {
            return;
        };
        let compared = match &c.effect {
            Some(e) => e.compared(before, after, recovered),
            None => compare(before, after, recovered),
        };
        change(&mut c.history, &c.history_codes, last, |h| {
            observe_compared(h, i, before, after, recovered, compared)
        });
    }
}

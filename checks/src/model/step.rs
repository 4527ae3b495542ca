//! The transitions of the checked model: each action runs an actor's handler
//! (`RaftActor::handle`, or `Actor::on_start` for a restart) and applies the
//! commands it emitted to the state; the history moves on by comparing the acting
//! server's state before and after.

use super::history::{
    observe_client_delivery, observe_client_send, observe_delivery, observe_server_cow,
};
use super::memo::{self, Cmd, Effect};
use super::state::{Action, State};
use super::{History, RaftModel, Shared, Violation};
use crate::bounds::NetworkKind;
use raft_model::{Id, Msg, RaftActor, RaftState, ServerSet, ServerState, Timer};
use stateright::actor::{Actor, Out};
use std::borrow::Cow;

impl RaftModel {
    /// The state `action` leads to from `last`, with the history moved on; `None`
    /// if the action is not possible there or changes nothing.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        let kind = self.bounds.network;
        match action {
            Action::Drop { src, dst, msg } => {
                let mut next = last.clone();
                next.network
                    .remove_one(kind, src, dst, &msg)
                    .then_some(next)
            }
            Action::Deliver { src, dst, msg } => self.deliver(last, src, dst, msg),
            Action::Timeout(id, timer) => self.timeout(last, id, timer),
            Action::Crash(id) => self.crash(last, usize::from(id)),
            Action::Recover(id) => self.recover(last, id),
        }
    }

    fn deliver(&self, last: &State, src: Id, dst: Id, msg: Shared<Msg>) -> Option<State> {
        let kind = self.bounds.network;
        let i = usize::from(dst);
        let before = last.actors.get(i)?;
        if last.is_down(i) || !last.network.can_deliver(kind, src, dst, &msg) {
            return None;
        }
        let effect = memo::deliver(self.memo, i, &self.actors[i], before, src, &msg);
        let consumed = usize::from(kind != NetworkKind::Duplicating);
        if self.beyond(last, &effect, consumed) {
            return None;
        }
        let mut next = fresh(last);
        if let Some(s) = before.server() {
            let mut h = Cow::Borrowed(&*next.history);
            observe_delivery(&mut h, s, &msg);
            if let Cow::Owned(h) = h {
                next.history = Shared::new(h);
            }
        }
        if effect.is_nothing() {
            // Ignored: the message is used up, as on a real network; the
            // duplicating network keeps it, so nothing happened at all.
            if kind == NetworkKind::Duplicating {
                return None;
            }
            next.network.remove_one(kind, src, dst, &msg);
            if kind == NetworkKind::Unordered {
                return Some(next);
            }
        } else if kind != NetworkKind::Duplicating {
            next.network.remove_one(kind, src, dst, &msg);
        }
        if let Some(c) = i.checked_sub(self.servers()) {
            if let Some(h) = observe_client_delivery(&next.history, c, dst, &msg) {
                next.history = Shared::new(h);
            }
        }
        if let Some(changed) = &effect.changed {
            next.actors[i] = changed.clone();
        }
        self.apply_effect(dst, &effect, &mut next);
        self.observe(last, &mut next, i, false);
        Some(next)
    }

    fn timeout(&self, last: &State, id: Id, timer: Timer) -> Option<State> {
        let i = usize::from(id);
        if !last.timers.is_set(i, timer) {
            return None;
        }
        let before = last.actors.get(i)?;
        let effect = memo::timeout(self.memo, i, &self.actors[i], before, timer);
        // Only the same timer set again: nothing happened.
        let renews_only = effect.commands.len() == 1
            && matches!(&effect.commands[0], Cmd::SetTimer(t) if *t == timer);
        if (effect.changed.is_none() && renews_only) || self.beyond(last, &effect, 0) {
            return None;
        }
        let mut next = fresh(last);
        next.timers.cancel(i, timer);
        if let Some(changed) = &effect.changed {
            next.actors[i] = changed.clone();
        }
        self.apply_effect(id, &effect, &mut next);
        self.observe(last, &mut next, i, false);
        Some(next)
    }

    fn crash(&self, last: &State, i: usize) -> Option<State> {
        if i >= self.servers() || last.is_down(i) {
            return None;
        }
        let mut next = fresh(last);
        next.timers.cancel_all(i);
        next.down.insert(i);
        // What a crashed server had in memory is gone: keep only what it will
        // restart from, so that crashes that lose different volatile state lead to
        // one state, not many.
        let restarted = ServerState::from_storage(next.storage(i));
        let term_lost = last
            .server(i)
            .is_some_and(|s| restarted.current_term < s.current_term);
        next.history_mut(|h| {
            h.crashes += 1;
            h.crashed_before.insert(i);
            if term_lost {
                h.flag(Violation::TermDecreased);
            }
        });
        next.actors[i] = Shared::new(RaftState::Server(restarted));
        Some(next)
    }

    fn recover(&self, last: &State, id: Id) -> Option<State> {
        let i = usize::from(id);
        if !last.is_down(i) {
            return None;
        }
        let mut out = Out::new();
        let storage = last.storage(i).cloned();
        let started = self.actors[i].on_start(id, &storage, &mut out);
        let mut next = fresh(last);
        next.actors[i] = Shared::new(started);
        next.down = next
            .down
            .iter()
            .filter(|&j| j != i)
            .fold(ServerSet::EMPTY, |mut d, j| {
                d.insert(j);
                d
            });
        self.apply_commands(id, out, &mut next);
        self.observe(last, &mut next, i, true);
        Some(next)
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
        last.network.len() + effect.sends > b.max_in_flight + consumed
    }

    /// Applies the commands actor `id` emitted (at its start or restart).
    pub(super) fn apply_commands(&self, id: Id, out: Out<RaftActor>, state: &mut State) {
        self.apply_effect(id, &Effect::from_out(None, out), state);
    }

    /// Applies the commands of actor `id`'s step: sends (a client's are recorded
    /// in the history), timers and saves.
    fn apply_effect(&self, id: Id, effect: &Effect, state: &mut State) {
        let i = usize::from(id);
        let client = i.checked_sub(self.servers());
        for c in &effect.commands {
            match c {
                Cmd::Send(dst, msg) => {
                    if let Some(c) = client {
                        if let Some(h) = observe_client_send(&state.history, c, id, msg) {
                            state.history = Shared::new(h);
                        }
                    }
                    state.network.send(self.bounds.network, id, *dst, msg);
                }
                Cmd::SetTimer(t) => state.timers.set(i, *t),
                Cmd::CancelTimer(t) => state.timers.cancel(i, *t),
                Cmd::Save(p) => {
                    if let Some(slot) = state.storage.get_mut(i) {
                        if !slot.as_ref().is_some_and(|s| s.same(p)) {
                            *slot = Some(p.clone());
                        }
                    }
                }
            }
        }
    }

    /// Updates the history with what the step from `last` to `next` did at server `i`.
    fn observe(&self, last: &State, next: &mut State, i: usize, recovered: bool) {
        if i >= self.servers() || next.is_down(i) {
            return;
        }
        let (Some(before), Some(after)) = (last.server(i), next.server(i)) else {
            return;
        };
        let mut h = Cow::Borrowed(&*next.history);
        observe_server_cow(&mut h, i, before, after, recovered);
        if let Cow::Owned(h) = h {
            next.history = Shared::new(h);
        }
    }
}

/// A copy of `last` for the next step to change: the last step's marks forgotten.
fn fresh(last: &State) -> State {
    let mut next = last.clone();
    let mut h = Cow::Borrowed(&*next.history);
    History::clear_marks(&mut h);
    if let Cow::Owned(h) = h {
        next.history = Shared::new(h);
    }
    next
}

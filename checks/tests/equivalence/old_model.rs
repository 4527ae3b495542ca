//! The checked model as it was before raftlab had a model of its own: stateright's
//! `ActorModel` of raft-model's actors, wrapped to add a history, a total crash
//! bound, no crashes of clients and ignored messages used up. Kept only here, as
//! the reference the new model (`raft_checks::model`) is compared with.
//!
//! The one deliberate difference: stateright's duplicating network remembers the
//! last message it delivered (so a delivery that changes nothing still leads to a
//! new state). Nothing reads it; the new model does not keep it, so here it is
//! forgotten after every step, or the counts would differ by copies of states
//! that differ in it alone.

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::model::history::{observe_client_delivery, observe_client_send, observe_delivery};
use raft_checks::model::{
    client_ops, observe_server, History, Network as NewNetwork, RaftModel, Shared, State, Timers,
    Violation,
};
use raft_model::{ClientConfig, Msg, RaftActor, RaftState, ServerConfig, ServerSet};
use raft_model::{ServerState, Timer};
use stateright::actor::{
    ActorModel, ActorModelAction, ActorModelState, Envelope, LossyNetwork, Network,
};
use stateright::{Model, Property};
use std::borrow::Cow;
use std::sync::Arc;

pub type OldState = ActorModelState<RaftActor, History>;
pub type OldAction = ActorModelAction<Msg, Timer, ()>;

#[derive(Clone)]
pub struct OldModel {
    pub bounds: Bounds,
    pub inner: ActorModel<RaftActor, Bounds, History>,
    /// The new model with the same bounds: whose properties judge the old states.
    pub new: RaftModel,
}

impl OldModel {
    pub fn new(bounds: Bounds) -> Self {
        let n = bounds.servers;
        let ops: Vec<_> = (0..bounds.clients)
            .map(|c| client_ops(c, bounds.ops_per_client))
            .collect();
        let mut cfg = ServerConfig::new(n).with_mutants(bounds.mutants);
        cfg.max_entries_per_append = bounds.max_batch;
        let server = RaftActor::Server(cfg);
        let network = match bounds.network {
            NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
            NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
            NetworkKind::Ordered => Network::new_ordered([]),
        };
        let inner = ActorModel::new(bounds.clone(), History::new(bounds.servers, bounds.clients))
            .actors(std::iter::repeat_n(server, n))
            .actors(
                ops.into_iter()
                    .map(|ops| RaftActor::Client(ClientConfig::new(n, ops))),
            )
            .init_network(network)
            .lossy_network(if bounds.lossy {
                LossyNetwork::Yes
            } else {
                LossyNetwork::No
            })
            .max_crashes(n)
            .record_msg_out(record_invocation)
            .record_msg_in(record_return);
        OldModel {
            new: RaftModel::new(bounds.clone()),
            bounds,
            inner,
        }
    }

    fn servers(&self) -> usize {
        self.bounds.servers
    }

    fn is_down(s: &OldState, i: usize) -> bool {
        s.crashed.get(i).copied().unwrap_or(false)
    }

    fn observe(&self, last: &OldState, next: &mut OldState, i: usize, recovered: bool) {
        if Self::is_down(next, i) {
            return;
        }
        let after = next.actor_states[i].clone();
        let (Some(before), Some(after)) = (last.actor_states[i].server(), after.server()) else {
            return;
        };
        observe_server(&mut next.history, i, before, after, recovered);
    }
}

fn record_invocation(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let c = usize::from(env.src).checked_sub(bounds.servers)?;
    observe_client_send(h, c, env.src, env.msg)
}

fn record_return(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let c = usize::from(env.dst).checked_sub(bounds.servers)?;
    observe_client_delivery(h, c, env.dst, env.msg)
}

/// stateright leaves a message that changes nothing in flight forever; the old
/// model used it up, on networks that deliver each message once.
fn consume_ignored(last: &OldState, action: &OldAction) -> Option<OldState> {
    let ActorModelAction::Deliver { src, dst, msg } = action else {
        return None;
    };
    let i = usize::from(*dst);
    if i >= last.actor_states.len() || OldModel::is_down(last, i) {
        return None;
    }
    let Network::UnorderedNonDuplicating(_) = &last.network else {
        return None;
    };
    let mut next = last.clone();
    if let Network::UnorderedNonDuplicating(multiset) = &mut next.network {
        let env = Envelope {
            src: *src,
            dst: *dst,
            msg: msg.clone(),
        };
        match multiset.get_mut(&env) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                multiset.remove(&env);
            }
            None => return None,
        }
    }
    Some(next)
}

fn per_channel_ok(state: &OldState, limit: usize) -> bool {
    let mut counts: Vec<((usize, usize), usize)> = Vec::new();
    let mut add = |k: (usize, usize), n: usize| match counts.iter_mut().find(|(c, _)| *c == k) {
        Some((_, c)) => {
            *c += n;
            *c <= limit
        }
        None => {
            counts.push((k, n));
            n <= limit
        }
    };
    envelopes(&state.network)
        .into_iter()
        .all(|(s, d, _, n)| add((usize::from(s), usize::from(d)), n))
}

/// Every message in flight with its count, in each channel's order. (stateright's
/// own `iter_all` never ends on the ordered network.)
fn envelopes(n: &Network<Msg>) -> Vec<(raft_model::Id, raft_model::Id, Msg, usize)> {
    match n {
        Network::UnorderedNonDuplicating(m) => m
            .iter()
            .map(|(e, c)| (e.src, e.dst, e.msg.clone(), *c))
            .collect(),
        Network::UnorderedDuplicating(set, _) => set
            .iter()
            .map(|e| (e.src, e.dst, e.msg.clone(), 1))
            .collect(),
        Network::Ordered(map) => map
            .iter()
            .flat_map(|((s, d), q)| q.iter().map(|m| (*s, *d, m.clone(), 1)))
            .collect(),
    }
}

impl OldModel {
    /// The old state as a state of the new model: what the properties judge.
    pub fn convert(&self, s: &OldState) -> State {
        let n = self.servers();
        let kind = self.bounds.network;
        let mut timers = Timers::default();
        for (i, t) in s.timers_set.iter().enumerate() {
            for timer in t.iter() {
                timers.set(i, *timer);
            }
        }
        let mut down = ServerSet::EMPTY;
        for i in (0..n).filter(|&i| Self::is_down(s, i)) {
            down.insert(i);
        }
        let mut network = NewNetwork::default();
        let mut sorted = envelopes(&s.network);
        if kind != NetworkKind::Ordered {
            sorted.sort();
        }
        for (src, dst, msg, count) in sorted {
            let msg = Shared::new(msg);
            for _ in 0..count {
                network.send(kind, src, dst, &msg);
            }
        }
        State {
            actors: s
                .actor_states
                .iter()
                .map(|a| Shared::new(RaftState::clone(a)))
                .collect(),
            storage: s.actor_storages[..n]
                .iter()
                .map(|p| p.clone().map(Shared::new))
                .collect(),
            timers,
            down,
            network,
            history: Shared::new(s.history.clone()),
            class: None,
        }
    }
}

impl Model for OldModel {
    type State = OldState;
    type Action = OldAction;

    fn init_states(&self) -> Vec<OldState> {
        self.inner.init_states()
    }

    fn actions(&self, state: &OldState, actions: &mut Vec<OldAction>) {
        self.inner.actions(state, actions);
        let n = self.servers();
        let may_crash = (state.history.crashes as usize) < self.bounds.crashes;
        actions.retain(|a| match a {
            ActorModelAction::Crash(id) => may_crash && usize::from(*id) < n,
            _ => true,
        });
    }

    fn next_state(&self, last: &OldState, action: OldAction) -> Option<OldState> {
        let mut next = match self.inner.next_state(last, action.clone()) {
            Some(next) => next,
            None => consume_ignored(last, &action)?,
        };
        if let Network::UnorderedDuplicating(_, last_msg) = &mut next.network {
            *last_msg = None; // see the module's comment
        }
        next.history.marks = 0;
        if let ActorModelAction::Deliver { dst, msg, .. } = &action {
            if let Some(before) = last.actor_states[usize::from(*dst)].server() {
                let mut h = Cow::Borrowed(&next.history);
                observe_delivery(&mut h, before, msg);
                if let Cow::Owned(h) = h {
                    next.history = h;
                }
            }
        }
        match action {
            ActorModelAction::Crash(id) => {
                let i = usize::from(id);
                next.history.crashes += 1;
                next.history.crashed_before.insert(i);
                let storage = next.actor_storages[i].clone();
                let restarted = ServerState::from_storage(storage.as_ref());
                if last.actor_states[i]
                    .server()
                    .is_some_and(|s| restarted.current_term < s.current_term)
                {
                    next.history.flag(Violation::TermDecreased);
                }
                next.actor_states[i] = Arc::new(RaftState::Server(restarted));
            }
            ActorModelAction::Recover(id) => self.observe(last, &mut next, usize::from(id), true),
            ActorModelAction::Deliver { dst, .. } if usize::from(dst) < self.servers() => {
                self.observe(last, &mut next, usize::from(dst), false)
            }
            ActorModelAction::Timeout(id, _) if usize::from(id) < self.servers() => {
                self.observe(last, &mut next, usize::from(id), false)
            }
            _ => {}
        }
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        judged_properties(&self.new.bounds)
    }

    fn within_boundary(&self, state: &OldState) -> bool {
        let b = &self.bounds;
        state.network.len() <= b.max_in_flight
            && (b.max_per_channel == usize::MAX || per_channel_ok(state, b.max_per_channel))
            && state.actor_states.iter().all(|s| match s.server() {
                Some(s) => s.current_term <= b.max_term && s.log.len() <= b.max_log,
                None => true,
            })
    }
}

/// Property `K` of the registry, judged on an old state converted to a new one
/// (stateright's properties are plain functions, so one per index). The checker
/// judges every property of a state in turn: the state is converted once.
fn judge<const K: usize>(m: &OldModel, s: &OldState) -> bool {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<Option<(OldState, State)>> = const { RefCell::new(None) };
    }
    let named = raft_checks::properties::named(&m.new.bounds);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.as_ref().is_none_or(|(old, _)| old != s) {
            *last = Some((s.clone(), m.convert(s)));
        }
        let (_, converted) = last.as_ref().expect("just converted");
        (named[K].condition)(&m.new, converted)
    })
}

const JUDGES: [fn(&OldModel, &OldState) -> bool; 20] = [
    judge::<0>,
    judge::<1>,
    judge::<2>,
    judge::<3>,
    judge::<4>,
    judge::<5>,
    judge::<6>,
    judge::<7>,
    judge::<8>,
    judge::<9>,
    judge::<10>,
    judge::<11>,
    judge::<12>,
    judge::<13>,
    judge::<14>,
    judge::<15>,
    judge::<16>,
    judge::<17>,
    judge::<18>,
    judge::<19>,
];

fn judged_properties(bounds: &Bounds) -> Vec<Property<OldModel>> {
    use stateright::Expectation;
    let named = raft_checks::properties::named(bounds);
    assert!(named.len() <= JUDGES.len(), "more properties than judges");
    named
        .iter()
        .zip(JUDGES)
        .map(|(p, judge)| match p.expectation {
            Expectation::Always => Property::always(p.name, judge),
            Expectation::Sometimes => Property::sometimes(p.name, judge),
            Expectation::Eventually => Property::eventually(p.name, judge),
        })
        .collect()
}

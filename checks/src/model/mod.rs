//! The model that the checker explores: stateright's `ActorModel` of raft-model's
//! actor, wrapped to add what `ActorModel` cannot express on its own:
//!
//! - a history of the run ([`history`]) and transition checks (terms never
//!   decrease, commit indexes never decrease, leaders only append), updated by
//!   comparing each state with the next;
//! - a total bound on crashes (stateright bounds only crashes at the same time), and
//!   no crashes of clients;
//! - a message that an actor receives and ignores is consumed, as on a real network
//!   ([`network`]);
//! - symmetry reduction that permutes servers only, never clients ([`symmetry`]).
//!
//! This is the bottom of the checker: it knows nothing of properties, renderings
//! or stateright's `Model` trait, which `crate::checker::model` implements on top.

pub mod clients;
pub mod history;
pub mod network;
pub mod state;
pub mod symmetry;

pub use clients::{client_ops, ClientProgress};
pub use history::{observe_server, History, SnapshotEvent, Violation};
pub use state::{acting_actor, no_log, Action, State};
pub use symmetry::representative;

use crate::bounds::{Bounds, NetworkKind};
use history::{observe_client_delivery, observe_client_send};
use raft_model::{ClientConfig, Msg, Op, RaftActor, RaftState, ServerConfig, ServerState};
use stateright::actor::{ActorModel, ActorModelAction, Envelope, LossyNetwork, Network};
use stateright::Model;
use std::sync::Arc;

/// The Raft model under `bounds`.
#[derive(Clone)]
pub struct RaftModel {
    pub bounds: Bounds,
    pub inner: ActorModel<RaftActor, Bounds, History>,
}

impl RaftModel {
    pub fn new(bounds: Bounds) -> Self {
        let ops = (0..bounds.clients)
            .map(|c| client_ops(c, bounds.ops_per_client))
            .collect();
        RaftModel::with_client_ops(bounds, ops)
    }

    /// The Raft model under `bounds` whose clients perform `ops` (client `c` the
    /// operations `ops[c]`, in order) instead of the generated ones: a recorded run's
    /// clients, for instance. `bounds.clients` must be `ops.len()`.
    pub fn with_client_ops(bounds: Bounds, ops: Vec<Vec<Op>>) -> Self {
        RaftModel::hosting(bounds, ops, 0)
    }

    /// [`RaftModel::with_client_ops`] with servers that snapshot every
    /// `snapshot_interval` applied entries, as a recorded run's nodes did.
    pub fn hosting(bounds: Bounds, ops: Vec<Vec<Op>>, snapshot_interval: u64) -> Self {
        debug_assert_eq!(bounds.clients, ops.len());
        let n = bounds.servers;
        let mut cfg = ServerConfig::new(n).with_mutants(bounds.mutants);
        cfg.max_entries_per_append = bounds.max_batch;
        cfg.snapshot_timer = bounds.snapshots;
        cfg.snapshot_interval = snapshot_interval;
        let server = RaftActor::Server(cfg);
        let network = match bounds.network {
            NetworkKind::Unordered => Network::new_unordered_nonduplicating([]),
            NetworkKind::Duplicating => Network::new_unordered_duplicating([]),
            NetworkKind::Ordered => Network::new_ordered([]),
        };
        let inner = ActorModel::new(bounds.clone(), History::new(bounds.clients))
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
            // Every server may be down at once; the total is bounded in `actions`.
            .max_crashes(n)
            .record_msg_out(record_invocation)
            .record_msg_in(record_return);
        RaftModel { bounds, inner }
    }

    pub fn servers(&self) -> usize {
        self.bounds.servers
    }

    pub fn init(&self) -> Vec<State> {
        self.inner.init_states().into_iter().map(State).collect()
    }

    /// The actions enabled in `state`: stateright's, but crashes only of servers and
    /// only while the run's crash bound allows.
    pub fn enabled(&self, state: &State, actions: &mut Vec<Action>) {
        self.inner.actions(&state.0, actions);
        let n = self.servers();
        let may_crash = (state.history.crashes as usize) < self.bounds.crashes;
        actions.retain(|a| match a {
            ActorModelAction::Crash(id) => may_crash && usize::from(*id) < n,
            _ => true,
        });
    }

    /// The state `action` leads to from `last`, with the history moved on; `None`
    /// if the action changes nothing.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        let acting = acting_actor(&action);
        let mut next = match self.inner.next_state(&last.0, action.clone()) {
            Some(next) => State(next),
            None => network::consume_ignored(last, &action)?,
        };
        match action {
            ActorModelAction::Crash(id) => {
                let i = usize::from(id);
                next.history.crashes += 1;
                next.history.crashed_before.insert(i);
                // What a crashed server had in memory is gone: keep only what it will
                // restart from, so that crashes that lose different volatile state
                // lead to one state, not many.
                let restarted = ServerState::from_storage(next.storage(i));
                if last
                    .server(i)
                    .is_some_and(|s| restarted.current_term < s.current_term)
                {
                    next.history.flag(Violation::TermDecreased);
                }
                next.actor_states[i] = Arc::new(RaftState::Server(restarted));
            }
            ActorModelAction::Recover(id) => self.observe(last, &mut next, usize::from(id), true),
            _ => {
                if let Some(id) = acting.map(usize::from).filter(|i| *i < self.servers()) {
                    self.observe(last, &mut next, id, false);
                }
            }
        }
        Some(next)
    }

    /// Whether `state` is within the bounds (the checker explores no further).
    pub fn in_bounds(&self, state: &State) -> bool {
        let b = &self.bounds;
        state.network.len() <= b.max_in_flight
            && (b.max_per_channel == usize::MAX
                || network::per_channel_ok(state, b.max_per_channel))
            && state.actor_states.iter().all(|s| match s.server() {
                Some(s) => s.current_term <= b.max_term && s.log.last_index() <= b.max_log as u64,
                None => true,
            })
    }

    /// Updates the history with what the step from `last` to `next` did at server `i`.
    fn observe(&self, last: &State, next: &mut State, i: usize, recovered: bool) {
        if next.is_down(i) {
            return;
        }
        let after_arc = next.actor_states[i].clone();
        let (Some(before), Some(after)) = (last.server(i), after_arc.server()) else {
            return;
        };
        observe_server(&mut next.history, i, before, after, recovered);
    }
}

/// A client sent a message: the first send of a sequence number is an invocation.
fn record_invocation(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let c = usize::from(env.src).checked_sub(bounds.servers)?;
    observe_client_send(h, c, env.src, env.msg)
}

/// A client was delivered a message: the reply to the operation in flight returns it.
fn record_return(bounds: &Bounds, h: &History, env: Envelope<&Msg>) -> Option<History> {
    let c = usize::from(env.dst).checked_sub(bounds.servers)?;
    observe_client_delivery(h, c, env.dst, env.msg)
}

//! The model that the checker explores: raft-model's actors (servers, then
//! clients) on a network, with what an actor system needs beyond the actors'
//! handlers, laid out for the checker ([`state`]):
//!
//! - the network's semantics ([`network`]): unordered, duplicating or ordered,
//!   lossy or not; a message an actor receives and ignores is used up, as on a
//!   real network (except on the duplicating network, which keeps every message);
//! - timers: any timer set may fire at any moment;
//! - crashes of servers, bounded in total, and restarts from storage;
//! - a history of the run ([`history`]) and transition checks (terms never
//!   decrease, commit indexes never decrease, leaders only append), updated by
//!   comparing each state with the next;
//! - symmetry reduction that rotates the servers' names, and permutes the
//!   clients' when they are interchangeable ([`symmetry`], [`renaming`]).
//!
//! The Raft behaviour is all in the actors' handlers, called through
//! `RaftActor::handle` and `Actor::on_start`; the transitions are in [`step`],
//! which makes a successor as its parent and the step's changes ([`next`]), to
//! be fingerprinted and judged against the bounds through [`parts`] before it
//! is built.
//! This is the bottom of the checker: it knows nothing of properties, renderings
//! or stateright's `Model` trait, which `crate::checker::model` implements on top.

pub mod clients;
pub mod history;
pub mod lin;
mod memo;
pub mod network;
pub mod next;
pub mod parts;
pub mod renaming;
pub mod shared;
pub mod state;
mod step;
pub mod symmetry;

pub use clients::{client_ops, ClientProgress};
pub use history::{observe_server, History, Mark, SnapshotEvent, Violation};
pub use network::{Network, Packet};
pub use next::{Changes, Next};
pub use parts::Parts;
pub use renaming::{Renaming, Symmetry};
pub use shared::Shared;
pub use state::{no_log, Action, ActionIn, State, Timers, MAX_ACTORS};
pub use symmetry::{canonical_for, class_hash, renamed, representative};

use crate::bounds::Bounds;
use raft_model::{ClientConfig, Id, Op, RaftActor, ServerConfig};
use stateright::actor::{Actor, Out};

/// Most Sometimes properties a check has (see [`RaftModel::witnessing_once`]).
pub const WITNESS_SLOTS: usize = 16;

/// The Raft model under `bounds`.
#[derive(Clone)]
pub struct RaftModel {
    pub bounds: Bounds,
    /// Servers `0..bounds.servers`, then the clients.
    pub actors: Vec<RaftActor>,
    /// Skip building states that are sure to be beyond the bounds (see
    /// [`RaftModel::pruned`]).
    prune: bool,
    /// Set by [`RaftModel::witnessing_once`]: one check's record of which
    /// Sometimes properties it has witnessed (see [`RaftModel::first_witness`]).
    witnessed: Option<std::sync::Arc<Witnessed>>,
    /// This model's number in the handler memo (see [`memo`]), or `None` (see
    /// [`RaftModel::unmemoised`]).
    memo: Option<u64>,
    /// Set by [`RaftModel::judging_always_as_one`].
    pub always_as_one: bool,
}

/// Which Sometimes properties a check has witnessed, by slot.
type Witnessed = [std::sync::atomic::AtomicBool; WITNESS_SLOTS];

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
        let actors = std::iter::repeat_n(server, n)
            .chain(
                ops.into_iter()
                    .map(|ops| RaftActor::Client(ClientConfig::new(n, ops))),
            )
            .collect();
        RaftModel {
            bounds,
            actors,
            prune: false,
            witnessed: None,
            memo: Some(memo::number()),
            always_as_one: false,
        }
    }

    /// The same model without the handler memo: every step calls its handler.
    /// For the test that the memo changes nothing.
    pub fn unmemoised(mut self) -> Self {
        self.memo = None;
        self
    }

    /// The same model for the checker: a step whose handler call already shows
    /// that it leaves the bounds (a term or log past them, more messages in flight
    /// than allowed) leads nowhere instead of to a state the checker would only
    /// throw away. The enabled actions are the same, so paths (and Explorer links)
    /// are too; the Explorer uses the unpruned model, which shows such states and
    /// says they are beyond the bounds.
    pub fn pruned(mut self) -> Self {
        self.prune = true;
        self
    }

    /// The same model for one check: a Sometimes property judges states only
    /// until it first holds, and then says no. stateright judges every property
    /// in every state and, for each state a Sometimes property holds in, copies
    /// the whole path into its discoveries again: for "a leader is elected",
    /// nearly every state. Its verdict needs only the first. Each call makes a
    /// fresh record, so give each check its own.
    pub fn witnessing_once(mut self) -> Self {
        self.witnessed = Some(std::sync::Arc::new(Default::default()));
        self
    }

    /// The same model for a check that stops at its first violation: the
    /// checker sees the Always properties as one
    /// ([`crate::properties::ALWAYS_AS_ONE`]), and the check names the ones
    /// that fail in the violating state. stateright looks every property up in
    /// its shared record of discoveries for every state, under a lock both
    /// threads contend for: one lookup instead of nine.
    pub fn judging_always_as_one(mut self) -> Self {
        self.always_as_one = true;
        self
    }

    /// Whether `holds` is a Sometimes property's first witness in this check (in
    /// slot `slot`), or, on a model not made by [`RaftModel::witnessing_once`],
    /// simply whether it holds.
    pub fn first_witness(&self, slot: usize, holds: impl FnOnce() -> bool) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let Some(flag) = self.witnessed.as_ref().and_then(|w| w.get(slot)) else {
            return holds();
        };
        // Two threads may both see their first witness: both are reported, and
        // stateright keeps one; either is a witness.
        if flag.load(Relaxed) {
            return false;
        }
        let first = holds();
        if first {
            flag.store(true, Relaxed);
        }
        first
    }

    /// Whether this check has witnessed the Sometimes property in `slot` (never,
    /// on a model not made by [`RaftModel::witnessing_once`]).
    pub fn witnessed(&self, slot: usize) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        self.witnessed
            .as_ref()
            .and_then(|w| w.get(slot))
            .is_some_and(|flag| flag.load(Relaxed))
    }

    pub fn servers(&self) -> usize {
        self.bounds.servers
    }

    /// Whether the clients are interchangeable: two or more, all with the same
    /// configuration (the same operations), so that renaming them changes no
    /// step's outcome but the names in it.
    pub fn clients_interchangeable(&self) -> bool {
        let clients = &self.actors[self.servers().min(self.actors.len())..];
        clients.len() >= 2 && clients.windows(2).all(|w| w[0] == w[1])
    }

    /// The renamings this model's states are merged by under symmetry reduction.
    pub fn symmetry(&self) -> Symmetry {
        Symmetry {
            network: self.bounds.network,
            clients: self.clients_interchangeable(),
        }
    }

    /// The one initial state: every actor started (servers with nothing saved).
    pub fn init(&self) -> Vec<State> {
        let clients = self.actors.len() - self.servers();
        let mut state = State {
            actors: Vec::with_capacity(self.actors.len()),
            storage: vec![None; self.servers()],
            timers: Timers::default(),
            down: Default::default(),
            network: Network::default(),
            history: Shared::new(History::new(self.servers(), clients)),
            class: None,
        };
        for (i, actor) in self.actors.iter().enumerate() {
            let mut out = Out::new();
            let s = actor.on_start(Id::from(i), &None, &mut out);
            state.actors.push(Shared::new(s));
            self.apply_commands(Id::from(i), out, &mut state);
        }
        vec![state]
    }

    /// The actions enabled in `state`, in the order the Explorer lists them (and
    /// its links count): losses, deliveries, timeouts, crashes, restarts.
    pub fn enabled(&self, state: &State, actions: &mut Vec<Action>) {
        self.for_each_enabled(state, |a| actions.push(a.owned()));
    }

    /// [`RaftModel::enabled`]'s actions, in the same order, their messages
    /// borrowed from `state`.
    pub fn for_each_enabled<'s>(&self, state: &'s State, mut f: impl FnMut(ActionIn<'s>)) {
        let kind = self.bounds.network;
        if self.bounds.lossy {
            for p in state.network.deliverable(kind) {
                f(Action::Drop {
                    src: p.src,
                    dst: p.dst,
                    msg: &p.msg,
                });
            }
        }
        for p in state.network.deliverable(kind) {
            f(Action::Deliver {
                src: p.src,
                dst: p.dst,
                msg: &p.msg,
            });
        }
        for i in 0..self.actors.len() {
            for t in state.timers.of(i) {
                f(Action::Timeout(Id::from(i), t));
            }
        }
        let n = self.servers();
        let may_crash = (state.history.crashes as usize) < self.bounds.crashes;
        if may_crash {
            for i in (0..n).filter(|&i| !state.is_down(i)) {
                f(Action::Crash(Id::from(i)));
            }
        }
        for i in (0..n).filter(|&i| state.is_down(i)) {
            f(Action::Recover(Id::from(i)));
        }
    }

    /// Whether `state` is within the bounds (the checker explores no further).
    pub fn in_bounds(&self, state: &impl Parts) -> bool {
        let b = &self.bounds;
        state.in_flight() <= b.max_in_flight
            && (b.max_per_channel == usize::MAX || state.per_channel_ok(b.max_per_channel))
            && (0..self.servers()).all(|i| match state.actor(i).and_then(|s| s.server()) {
                Some(s) => s.current_term <= b.max_term && s.log.last_index() <= b.max_log as u64,
                None => true,
            })
    }
}

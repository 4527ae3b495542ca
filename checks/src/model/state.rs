//! A state of the checked model: stateright's actor-system state with the run's
//! history, and the views of it that properties and renderers read.

use super::history::History;
use raft_model::{Log, Msg, PersistentState, RaftActor, ServerState, Timer};
use stateright::actor::{ActorModelAction, ActorModelState};

/// A state of the model. A type of its own so that its `Debug`, which is what
/// stateright's Explorer shows, reads as Raft (see `crate::render::text::state`,
/// wired in `crate::checker::model`) rather than as a dump.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct State(pub ActorModelState<RaftActor, History>);

/// A step of the model: a delivery, a loss, a timeout, a crash or a restart.
pub type Action = ActorModelAction<Msg, Timer, ()>;

impl std::ops::Deref for State {
    type Target = ActorModelState<RaftActor, History>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for State {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl State {
    /// The server state of actor `i`, if it is a server.
    pub fn server(&self, i: usize) -> Option<&ServerState> {
        self.actor_states.get(i).and_then(|s| s.server())
    }

    /// Whether actor `i` is down.
    pub fn is_down(&self, i: usize) -> bool {
        self.crashed.get(i).copied().unwrap_or(false)
    }

    /// The server state of `i` if the server is up.
    pub fn live_server(&self, i: usize) -> Option<&ServerState> {
        if self.is_down(i) {
            None
        } else {
            self.server(i)
        }
    }

    /// What server `i` would restart from: its last save.
    pub fn storage(&self, i: usize) -> Option<&PersistentState> {
        self.actor_storages.get(i).and_then(Option::as_ref)
    }

    /// The log of server `i` as it stands: its state's if up, its storage's if down.
    pub fn log_of(&self, i: usize) -> &Log {
        if self.is_down(i) {
            self.storage(i).map_or(no_log(), |p| &p.log)
        } else {
            self.server(i).map_or(no_log(), |s| &s.log)
        }
    }
}

/// The log of a server that has none.
pub fn no_log() -> &'static Log {
    static NO_LOG: std::sync::OnceLock<Log> = std::sync::OnceLock::new();
    NO_LOG.get_or_init(Log::new)
}

/// The actor an action runs a handler of (none for a loss).
pub fn acting_actor(action: &Action) -> Option<raft_model::Id> {
    match action {
        ActorModelAction::Deliver { dst, .. } => Some(*dst),
        ActorModelAction::Timeout(id, _)
        | ActorModelAction::Crash(id)
        | ActorModelAction::Recover(id) => Some(*id),
        ActorModelAction::SelectRandom { actor, .. } => Some(*actor),
        ActorModelAction::Drop(_) => None,
    }
}

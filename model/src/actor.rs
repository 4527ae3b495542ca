//! The stateright actor: a server or a client, dispatched to their handlers.

use crate::client::{ClientConfig, ClientState};
use crate::msg::{Msg, Timer};
use crate::server::{PersistentState, ServerConfig, ServerState};
use serde::{Deserialize, Serialize};
use stateright::actor::{Actor, Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RaftActor {
    Server(ServerConfig),
    Client(ClientConfig),
}

/// Servers sort before clients, so symmetry reduction can sort servers alone.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RaftState {
    Server(ServerState),
    Client(ClientState),
}

impl RaftState {
    pub fn server(&self) -> Option<&ServerState> {
        match self {
            RaftState::Server(s) => Some(s),
            RaftState::Client(_) => None,
        }
    }

    pub fn client(&self) -> Option<&ClientState> {
        match self {
            RaftState::Client(c) => Some(c),
            RaftState::Server(_) => None,
        }
    }
}

/// Runs `f` on the inner state of `state` as a `Cow` of its own, and writes the
/// result back only if `f` changed it, so that unchanged states stay shared.
fn with_inner<T: Clone>(
    state: &mut Cow<RaftState>,
    get: fn(&RaftState) -> Option<&T>,
    wrap: fn(T) -> RaftState,
    f: impl FnOnce(&mut Cow<T>),
) {
    let Some(inner) = get(state) else { return };
    let mut inner = Cow::Borrowed(inner);
    f(&mut inner);
    if let Cow::Owned(inner) = inner {
        *state = Cow::Owned(wrap(inner));
    }
}

impl Actor for RaftActor {
    type Msg = Msg;
    type State = RaftState;
    type Timer = Timer;
    type Random = ();
    type Storage = PersistentState;

    fn on_start(&self, id: Id, storage: &Option<PersistentState>, o: &mut Out<Self>) -> RaftState {
        match self {
            RaftActor::Server(cfg) => RaftState::Server(cfg.on_start(id, storage, o)),
            RaftActor::Client(cfg) => RaftState::Client(cfg.on_start(id, o)),
        }
    }

    fn on_msg(&self, id: Id, state: &mut Cow<RaftState>, src: Id, msg: Msg, o: &mut Out<Self>) {
        match self {
            RaftActor::Server(cfg) => {
                with_inner(state, RaftState::server, RaftState::Server, |s| {
                    cfg.on_msg(id, s, src, msg, o)
                })
            }
            RaftActor::Client(cfg) => {
                with_inner(state, RaftState::client, RaftState::Client, |s| {
                    cfg.on_msg(id, s, src, msg, o)
                })
            }
        }
    }

    fn on_timeout(&self, id: Id, state: &mut Cow<RaftState>, timer: &Timer, o: &mut Out<Self>) {
        match self {
            RaftActor::Server(cfg) => {
                with_inner(state, RaftState::server, RaftState::Server, |s| {
                    cfg.on_timeout(id, s, *timer, o)
                })
            }
            RaftActor::Client(cfg) => {
                with_inner(state, RaftState::client, RaftState::Client, |s| {
                    cfg.on_timeout(id, s, o)
                })
            }
        }
    }

    fn name(&self) -> String {
        match self {
            RaftActor::Server(_) => "server".into(),
            RaftActor::Client(_) => "client".into(),
        }
    }
}

impl Rewrite<Id> for RaftState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        match self {
            RaftState::Server(s) => RaftState::Server(s.rewrite(plan)),
            RaftState::Client(c) => RaftState::Client(c.rewrite(plan)),
        }
    }
}

//! The stateright actor: a server or a client, dispatched to their handlers.

use crate::client::{ClientConfig, ClientState};
use crate::msg::{Msg, Timer};
use crate::server::{PersistentState, Refusal, ServerConfig, ServerState};
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
///
/// A server state is much larger than a client's (its persistent log keeps a small
/// inline buffer), but boxing it would add a second indirection to every state the
/// checker clones and hashes: stateright already keeps each actor's state behind
/// an `Arc`.
#[allow(clippy::large_enum_variant)]
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

/// An input to a running actor: a message or a timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Deliver { src: Id, msg: Msg },
    Timeout(Timer),
}

/// What one handler call did: the state after it, if the handler changed it (an
/// unchanged state is never copied), and the commands it emitted, in order.
pub struct Stepped {
    pub changed: Option<RaftState>,
    pub out: Out<RaftActor>,
}

impl Stepped {
    /// The state after the step, given the state before it.
    pub fn after<'a>(&'a self, before: &'a RaftState) -> &'a RaftState {
        self.changed.as_ref().unwrap_or(before)
    }
}

impl RaftActor {
    /// Whether actor `id` accepts `msg` from `src` at all (see
    /// [`ServerConfig::admits`]): hosts refuse the rest at their door.
    pub fn admits(&self, id: Id, src: Id, msg: &Msg) -> Result<(), Refusal> {
        match self {
            RaftActor::Server(cfg) => cfg.admits(id, src, msg),
            RaftActor::Client(cfg) => cfg.admits(src, msg),
        }
    }

    /// [`RaftActor::admits`], and for a server in `state` also
    /// [`ServerConfig::plausible`]: exactly what the handlers take.
    pub fn accepts(&self, id: Id, state: &RaftState, src: Id, msg: &Msg) -> Result<(), Refusal> {
        match (self, state) {
            (RaftActor::Server(cfg), RaftState::Server(s)) => cfg.accepts(id, s, src, msg),
            _ => self.admits(id, src, msg),
        }
    }

    /// Runs the handler for `input` on `state`: the one way hosts, the trace
    /// validator and the test kit call a running actor.
    pub fn handle(&self, id: Id, state: &RaftState, input: Input) -> Stepped {
        let mut out = Out::new();
        let mut cow = Cow::Borrowed(state);
        match input {
            Input::Deliver { src, msg } => self.on_msg(id, &mut cow, src, msg, &mut out),
            Input::Timeout(timer) => self.on_timeout(id, &mut cow, &timer, &mut out),
        }
        let changed = match cow {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        };
        Stepped { changed, out }
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
            RaftActor::Client(cfg) => RaftState::Client(cfg.on_start(o)),
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
                    cfg.on_msg(s, src, msg, o)
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
                    cfg.on_timeout(s, o)
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

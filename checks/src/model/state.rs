//! A state of the checked model and its actions, laid out for the checker: every
//! actor's state and every message shared and hashed once ([`Shared`]), timers and
//! crashed servers as bit sets, the network a sorted small vector. Cloning a state
//! copies a few pointers; hashing it hashes a few dozen bytes.

use super::history::History;
use super::network::Network;
use super::shared::Shared;
use raft_model::{Id, Log, Msg, PersistentState, RaftState, ServerSet, ServerState, Timer};

/// The timers set, four bits per actor (one per [`Timer`]).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Timers(u64);

pub use crate::bounds::MAX_ACTORS;

/// Timer bits per actor, and their mask.
const BITS: usize = 4;
const MASK: u64 = 0b1111;

impl Timers {
    fn bit(actor: usize, timer: Timer) -> u64 {
        let t = match timer {
            Timer::Election => 0,
            Timer::Heartbeat => 1,
            Timer::ClientRetry => 2,
            Timer::Snapshot => 3,
        };
        1 << (BITS * actor + t)
    }

    pub fn is_set(self, actor: usize, timer: Timer) -> bool {
        actor < MAX_ACTORS && self.0 & Timers::bit(actor, timer) != 0
    }

    pub fn set(&mut self, actor: usize, timer: Timer) {
        self.0 |= Timers::bit(actor, timer);
    }

    pub fn cancel(&mut self, actor: usize, timer: Timer) {
        self.0 &= !Timers::bit(actor, timer);
    }

    pub fn cancel_all(&mut self, actor: usize) {
        self.0 &= !(MASK << (BITS * actor));
    }

    /// The timers set for `actor`, as four bits.
    pub fn bits_of(self, actor: usize) -> u8 {
        ((self.0 >> (BITS * actor)) & MASK) as u8
    }

    /// The timers set for `actor`, in `Timer` order.
    pub fn of(self, actor: usize) -> impl Iterator<Item = Timer> {
        [
            Timer::Election,
            Timer::Heartbeat,
            Timer::ClientRetry,
            Timer::Snapshot,
        ]
        .into_iter()
        .filter(move |t| self.is_set(actor, *t))
    }

    /// The timers with actors renamed: actor `i`'s become actor `to(i)`'s.
    pub fn permuted(self, actors: usize, to: impl Fn(usize) -> usize) -> Timers {
        let mut out = Timers::default();
        for i in 0..actors {
            out.0 |= ((self.0 >> (BITS * i)) & MASK) << (BITS * to(i));
        }
        out
    }
}

/// A state of the model. Its `Debug`, which is what stateright's Explorer shows,
/// reads as Raft (see `crate::render::text::state`, wired in `crate::checker::model`).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// Per actor (servers `0..n`, then the clients): its state. A crashed server's
    /// is the state it would restart in (its storage, nothing volatile).
    pub actors: Vec<Shared<RaftState>>,
    /// Per server: its last save, if any.
    pub storage: Vec<Option<Shared<PersistentState>>>,
    pub timers: Timers,
    /// Servers that are down.
    pub down: ServerSet,
    pub network: Network,
    /// What the run has done so far.
    pub history: Shared<History>,
    /// Set only on a state that stands for a symmetry class in the checker's
    /// visited set (see [`State::of_class`]); `None` on every real state.
    #[serde(skip)]
    pub class: Option<u64>,
}

/// A real state hashes its parts; a class's stand-in hashes the class alone.
impl std::hash::Hash for State {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if let Some(class) = self.class {
            return h.write_u64(class);
        }
        self.actors.hash(h);
        self.storage.hash(h);
        self.timers.hash(h);
        self.down.hash(h);
        self.network.hash(h);
        self.history.hash(h);
    }
}

/// A step of the model: a delivery, a loss, a timeout, a crash or a restart.
/// `M` is how it holds its message: its own share of it, or (as the checker's
/// search takes the actions of a state it holds, [`ActionIn`]) a reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action<M = Shared<Msg>> {
    /// The network delivers `msg` from `src` to `dst`.
    Deliver { src: Id, dst: Id, msg: M },
    /// The network loses `msg` from `src` to `dst`.
    Drop { src: Id, dst: Id, msg: M },
    /// A timer of the actor fires.
    Timeout(Id, Timer),
    /// A server crashes, losing what it had not saved.
    Crash(Id),
    /// A crashed server restarts from its storage.
    Recover(Id),
}

/// An action of a state, its message borrowed from the state's network: no
/// share of it taken and given back for each of the millions a check lists.
pub type ActionIn<'a> = Action<&'a Shared<Msg>>;

impl<M> Action<M> {
    /// The actor whose handler the action runs (for a loss: the addressee).
    pub fn actor(&self) -> Id {
        match self {
            Action::Deliver { dst, .. } | Action::Drop { dst, .. } => *dst,
            Action::Timeout(id, _) | Action::Crash(id) | Action::Recover(id) => *id,
        }
    }

    /// The same action, its message held as `f` makes it.
    fn map<N>(self, f: impl FnOnce(M) -> N) -> Action<N> {
        match self {
            Action::Deliver { src, dst, msg } => Action::Deliver {
                src,
                dst,
                msg: f(msg),
            },
            Action::Drop { src, dst, msg } => Action::Drop {
                src,
                dst,
                msg: f(msg),
            },
            Action::Timeout(id, t) => Action::Timeout(id, t),
            Action::Crash(id) => Action::Crash(id),
            Action::Recover(id) => Action::Recover(id),
        }
    }
}

impl Action {
    /// This action, its message borrowed.
    pub fn borrowed(&self) -> ActionIn<'_> {
        match self {
            Action::Deliver { src, dst, msg } => Action::Deliver {
                src: *src,
                dst: *dst,
                msg,
            },
            Action::Drop { src, dst, msg } => Action::Drop {
                src: *src,
                dst: *dst,
                msg,
            },
            Action::Timeout(id, t) => Action::Timeout(*id, *t),
            Action::Crash(id) => Action::Crash(*id),
            Action::Recover(id) => Action::Recover(*id),
        }
    }
}

impl ActionIn<'_> {
    /// This action, with its own share of its message.
    pub fn owned(self) -> Action {
        self.map(Shared::clone)
    }
}

impl State {
    /// A stand-in for the symmetry class whose fingerprint is `class`: what the
    /// checker's symmetry function returns (see `symmetry::canonical_for`).
    /// stateright only hashes what that function returns, so the stand-in needs
    /// no parts: building the class's real representative, only to hash and drop
    /// it, was a sixth of the checker's time. Its history is this thread's empty
    /// one, so that making it touches no counter another thread shares.
    pub fn of_class(class: u64) -> State {
        thread_local! {
            static NONE: Shared<History> = Shared::new(History::new(0, 0));
        }
        State {
            actors: Vec::new(),
            storage: Vec::new(),
            timers: Timers::default(),
            down: ServerSet::EMPTY,
            network: Network::default(),
            history: NONE.with(Shared::clone),
            class: Some(class),
        }
    }

    /// The server state of actor `i`, if it is a server.
    pub fn server(&self, i: usize) -> Option<&ServerState> {
        self.actors.get(i).and_then(|s| s.server())
    }

    /// Replaces server `i`'s state (for tests and hand-built states).
    pub fn set_server(&mut self, i: usize, s: ServerState) {
        if let Some(slot) = self.actors.get_mut(i) {
            *slot = Shared::new(RaftState::Server(s));
        }
    }

    /// The history, to change (a copy, if it is shared).
    pub fn history_mut(&mut self, f: impl FnOnce(&mut History)) {
        self.history.update(f);
    }

    /// Whether actor `i` is down.
    pub fn is_down(&self, i: usize) -> bool {
        self.down.contains(i)
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
        self.storage.get(i).and_then(|s| s.as_deref())
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

//! A memo of the actors' handler calls, per thread. A check meets the same actor
//! state with the same input again and again, in state after state that differ
//! elsewhere: the default check makes about 36 million handler calls, of which
//! about 14 thousand are different. A handler is a pure function of (actor,
//! state, input), so each call's result is kept, in the form the next state is
//! built from (the new actor state and the messages already shared and hashed),
//! with the coverage decisions the call took, which are counted again at every
//! reuse so that coverage counts stay those of every call.

use super::shared::Shared;
use raft_model::coverage::{self, Decision};
use raft_model::{Id, Input, Msg, PersistentState, RaftActor, RaftState, Stepped, Timer};
use stateright::actor::{Command, Out};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// What an actor's step does, ready to apply to any state it is met in.
pub struct Effect {
    /// The actor's new state, if the step changed it.
    pub changed: Option<Shared<RaftState>>,
    /// The commands, in the order the handler emitted them.
    pub commands: Vec<Cmd>,
    /// The sends, in order: (destination, message).
    pub sent: Vec<(Id, Shared<Msg>)>,
    /// The coverage decisions the call took.
    taken: Vec<Decision>,
}

/// One command of an [`Effect`].
pub enum Cmd {
    Send(Id, Shared<Msg>),
    SetTimer(Timer),
    CancelTimer(Timer),
    Save(Shared<PersistentState>),
}

impl Effect {
    /// The effect of commands an actor emitted (and of its new state, if any).
    pub fn from_out(changed: Option<RaftState>, out: Out<RaftActor>) -> Effect {
        let commands: Vec<Cmd> = out
            .into_iter()
            .filter_map(|c| match c {
                Command::Send(dst, msg) => Some(Cmd::Send(dst, Shared::new(msg))),
                Command::SetTimer(t, _) => Some(Cmd::SetTimer(t)),
                Command::CancelTimer(t) => Some(Cmd::CancelTimer(t)),
                Command::Save(p) => Some(Cmd::Save(Shared::new(p))),
                // The actors make no random choices.
                Command::ChooseRandom(..) => None,
            })
            .collect();
        let sent: Vec<(Id, Shared<Msg>)> = commands
            .iter()
            .filter_map(|c| match c {
                Cmd::Send(dst, msg) => Some((*dst, msg.clone())),
                _ => None,
            })
            .collect();
        Effect {
            changed: changed.map(Shared::new),
            sent,
            commands,
            taken: Vec::new(),
        }
    }

    /// Whether the step did nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.changed.is_none() && self.commands.is_empty()
    }
}

/// What a memo entry answers: the same model, actor, state and input.
struct Entry {
    state: Shared<RaftState>,
    input: Key,
    effect: Rc<Effect>,
}

/// A handler call's input, as the memo tells inputs apart.
enum Key {
    Deliver(Id, Shared<Msg>),
    Timeout(Timer),
}

impl Key {
    fn same(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Deliver(a, m), Key::Deliver(b, n)) => a == b && m.same(n),
            (Key::Timeout(a), Key::Timeout(b)) => a == b,
            _ => false,
        }
    }

    fn code(&self) -> u64 {
        match self {
            Key::Deliver(src, msg) => msg.hash_code() ^ (usize::from(*src) as u64).rotate_left(7),
            Key::Timeout(t) => *t as u64,
        }
    }

    fn input(&self) -> Input {
        match self {
            Key::Deliver(src, msg) => Input::Deliver {
                src: *src,
                msg: (**msg).clone(),
            },
            Key::Timeout(t) => Input::Timeout(*t),
        }
    }
}

/// Entries a thread keeps before it starts again. The default check needs about
/// 14 thousand; with them its peak memory was 38 to 52 MB higher (each entry
/// keeps its states and messages alive).
const CAPACITY: usize = 1 << 16;

#[derive(Default)]
struct Memo {
    /// The model whose calls the entries are (see [`call`]).
    model: u64,
    entries: HashMap<(usize, u64, u64), Entry, ahash::RandomState>,
}

/// A number for a new model: its actors' calls are its own in the memo.
pub fn number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// The effect of actor `i` (`actor`, of the model numbered `model`, or of a
/// model that keeps no memo) delivered `msg` from `src` in state `state`.
pub fn deliver(
    model: Option<u64>,
    i: usize,
    actor: &RaftActor,
    state: &Shared<RaftState>,
    src: Id,
    msg: &Shared<Msg>,
) -> Rc<Effect> {
    call(model, i, actor, state, Key::Deliver(src, msg.clone()))
}

/// The effect of `timer` firing at actor `i` in state `state`.
pub fn timeout(
    model: Option<u64>,
    i: usize,
    actor: &RaftActor,
    state: &Shared<RaftState>,
    timer: Timer,
) -> Rc<Effect> {
    call(model, i, actor, state, Key::Timeout(timer))
}

/// The memo's answer, or the handler's (kept for next time). `model` names the
/// actors: entries of another model are dropped when a thread moves on to it.
fn call(
    model: Option<u64>,
    i: usize,
    actor: &RaftActor,
    state: &Shared<RaftState>,
    input: Key,
) -> Rc<Effect> {
    let Some(model) = model else {
        let Stepped { changed, out } = actor.handle(Id::from(i), state, input.input());
        return Rc::new(Effect::from_out(changed, out));
    };
    let key = (i, state.hash_code(), input.code());
    let found = MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.model != model {
            m.entries.clear();
            m.model = model;
        }
        m.entries
            .get(&key)
            .filter(|e| e.state.same(state) && e.input.same(&input))
            .map(|e| e.effect.clone())
    });
    if let Some(effect) = found {
        coverage::replay(&effect.taken);
        return effect;
    }
    let (stepped, taken) = coverage::recording(|| actor.handle(Id::from(i), state, input.input()));
    let Stepped { changed, out } = stepped;
    let mut effect = Effect::from_out(changed, out);
    effect.taken = taken;
    let effect = Rc::new(effect);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.entries.len() >= CAPACITY {
            m.entries.clear();
        }
        m.entries.insert(
            key,
            Entry {
                state: state.clone(),
                input,
                effect: effect.clone(),
            },
        );
    });
    effect
}

//! A memo of the actors' handler calls (and of their restarts and crashes),
//! per thread. A check meets the same actor state with the same input again
//! and again, in state after state that differ elsewhere: the default check
//! makes about 36 million handler calls, of which about 14 thousand are
//! different. A handler is a pure function of (actor, state, input), so each
//! call's result is kept, in the form the next state is built from (the new
//! actor state and the messages already shared and hashed), with the coverage
//! decisions the call took, which are counted again at every reuse so that
//! coverage counts stay those of every call.

use super::history::{compare, Compared};
use super::shared::Shared;
use raft_model::coverage::{self, Decision};
use raft_model::{
    Id, Input, Msg, PersistentState, RaftActor, RaftState, ServerState, Stepped, Timer,
};
use stateright::actor::{Actor, Command, Out};
use std::cell::{Cell, RefCell};
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
    /// What the step did at a server that its states tell alone, as a step
    /// (index 0) or as a restart (index 1): see [`Effect::compared`].
    compared: [Cell<Option<Compared>>; 2],
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
            compared: Default::default(),
        }
    }

    /// [`compare`] of `before` and `after`, the server's states before and
    /// after this effect's step: computed once per effect, since every state
    /// the memo gives this effect for is equal to `before`, and `after` is the
    /// effect's own new state (or `before` again).
    pub fn compared(&self, before: &ServerState, after: &ServerState, recovered: bool) -> Compared {
        let cell = &self.compared[usize::from(recovered)];
        cell.get().unwrap_or_else(|| {
            let c = compare(before, after, recovered);
            cell.set(Some(c));
            c
        })
    }

    /// Whether the step did nothing at all.
    pub fn is_nothing(&self) -> bool {
        self.changed.is_none() && self.commands.is_empty()
    }
}

/// What a memo entry answers: the same model, actor, state and input.
struct Entry {
    state: Shared<RaftState>,
    input: Kept,
    effect: Rc<Effect>,
}

/// A handler call's input, as the memo tells inputs apart. Borrowed: a lookup
/// that finds its answer (all but a few thousand of a check's millions) copies
/// and drops no message or storage.
#[derive(Clone, Copy)]
pub enum Key<'a> {
    Deliver(Id, &'a Shared<Msg>),
    Timeout(Timer),
    /// A (re)start from this storage (`Actor::on_start`).
    Start(Option<&'a Shared<PersistentState>>),
    /// A crash: not a handler, but as pure and as often met again. What a
    /// crashed server keeps is what it will restart from.
    Crash(Option<&'a Shared<PersistentState>>),
}

/// A [`Key`] kept in an entry, owning what it names.
enum Kept {
    Deliver(Id, Shared<Msg>),
    Timeout(Timer),
    Start(Option<Shared<PersistentState>>),
    Crash(Option<Shared<PersistentState>>),
}

impl Kept {
    fn of(key: Key) -> Kept {
        match key {
            Key::Deliver(src, msg) => Kept::Deliver(src, msg.clone()),
            Key::Timeout(t) => Kept::Timeout(t),
            Key::Start(p) => Kept::Start(p.cloned()),
            Key::Crash(p) => Kept::Crash(p.cloned()),
        }
    }

    fn key(&self) -> Key<'_> {
        match self {
            Kept::Deliver(src, msg) => Key::Deliver(*src, msg),
            Kept::Timeout(t) => Key::Timeout(*t),
            Kept::Start(p) => Key::Start(p.as_ref()),
            Kept::Crash(p) => Key::Crash(p.as_ref()),
        }
    }
}

impl Key<'_> {
    fn same(self, other: Key) -> bool {
        match (self, other) {
            (Key::Deliver(a, m), Key::Deliver(b, n)) => a == b && m.same(n),
            (Key::Timeout(a), Key::Timeout(b)) => a == b,
            (Key::Start(a), Key::Start(b)) | (Key::Crash(a), Key::Crash(b)) => same_storage(a, b),
            _ => false,
        }
    }

    fn code(self) -> u64 {
        match self {
            Key::Deliver(src, msg) => msg.hash_code() ^ (usize::from(src) as u64).rotate_left(7),
            Key::Timeout(t) => t as u64,
            Key::Start(p) => storage_code(p),
            Key::Crash(p) => storage_code(p).rotate_left(13),
        }
    }

    /// What actor `i` does with this input in `state`.
    fn run(self, actor: &RaftActor, i: usize, state: &RaftState) -> Stepped {
        let id = Id::from(i);
        let storage = |p: Option<&Shared<PersistentState>>| p.map(|p| (**p).clone());
        match self {
            Key::Deliver(src, msg) => actor.handle(
                id,
                state,
                Input::Deliver {
                    src,
                    msg: (**msg).clone(),
                },
            ),
            Key::Timeout(t) => actor.handle(id, state, Input::Timeout(t)),
            Key::Start(p) => {
                let mut out = Out::new();
                let started = actor.on_start(id, &storage(p), &mut out);
                Stepped {
                    changed: Some(started),
                    out,
                }
            }
            Key::Crash(p) => Stepped {
                changed: Some(RaftState::Server(ServerState::from_storage(
                    p.map(|p| &**p),
                ))),
                out: Out::new(),
            },
        }
    }
}

fn same_storage(a: Option<&Shared<PersistentState>>, b: Option<&Shared<PersistentState>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.same(b),
        (None, None) => true,
        _ => false,
    }
}

fn storage_code(p: Option<&Shared<PersistentState>>) -> u64 {
    p.map_or(0x5bd1_e995, |p| p.hash_code())
}

/// Slots a thread keeps, direct-mapped (a new entry takes its slot's place): a
/// lookup is one probe, where a hash map's was a tenth of a check's handler
/// time. The default check makes about 14 thousand different calls; each entry
/// keeps its states and messages alive, so the slots are not many more.
const SLOTS: usize = 1 << 16;

struct Memo {
    /// The model whose calls the entries are (see [`effect`]).
    model: u64,
    /// (actor, entry) at the slot of their key ([`slot_of`]).
    slots: Vec<Option<(usize, Entry)>>,
}

impl Default for Memo {
    fn default() -> Self {
        Memo {
            model: 0,
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }
}

/// The slot of actor `i`'s call in a state of hash `state` with an input of code
/// `input`.
fn slot_of(i: usize, state: u64, input: u64) -> usize {
    let mixed = (state ^ input.rotate_left(29) ^ (i as u64).rotate_left(53))
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 48) as usize & (SLOTS - 1)
}

/// A number for a new model: its actors' calls are its own in the memo.
pub fn number() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// The effect of `input` at actor `i` (`actor`, of the model numbered `model`,
/// or of a model that keeps no memo) in state `state`: the memo's answer, or
/// the handler's (kept for next time). `model` names the actors: entries of
/// another model are dropped when a thread moves on to it.
pub fn effect(
    model: Option<u64>,
    i: usize,
    actor: &RaftActor,
    state: &Shared<RaftState>,
    input: Key,
) -> Rc<Effect> {
    let Some(model) = model else {
        let Stepped { changed, out } = input.run(actor, i, state);
        return Rc::new(Effect::from_out(changed, out));
    };
    // A crash depends on the storage alone: any state with it is the same call.
    let on_state = !matches!(input, Key::Crash(_));
    let slot = slot_of(
        i,
        if on_state { state.hash_code() } else { 0 },
        input.code(),
    );
    let found = MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.model != model {
            m.slots.iter_mut().for_each(|s| *s = None);
            m.model = model;
        }
        match m.slots.get(slot) {
            Some(Some((j, e)))
                if *j == i && (!on_state || e.state.same(state)) && e.input.key().same(input) =>
            {
                Some(e.effect.clone())
            }
            _ => None,
        }
    });
    if let Some(effect) = found {
        coverage::replay(&effect.taken);
        return effect;
    }
    let (stepped, taken) = coverage::recording(|| input.run(actor, i, state));
    let Stepped { changed, out } = stepped;
    let mut effect = Effect::from_out(changed, out);
    effect.taken = taken;
    let effect = Rc::new(effect);
    MEMO.with(|m| {
        if let Some(s) = m.borrow_mut().slots.get_mut(slot) {
            let entry = Entry {
                state: state.clone(),
                input: Kept::of(input),
                effect: effect.clone(),
            };
            *s = Some((i, entry));
        }
    });
    effect
}

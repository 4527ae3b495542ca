//! The clients' operations as stateright's linearizability tester has them,
//! with its verdict and what it was told. A history holds it shared
//! (`Shared<Lin>`): it changes only when an operation is invoked or returns,
//! so the many steps that change the history otherwise (a crash, a new
//! leader, an applied entry) copy and hash a pointer and a number instead of
//! the tester's maps.

use super::shared::Shared;
use raft_model::{Id, KvSpec, Op, OpResult};
use serde::{Deserialize, Serialize};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};

type Tester = LinearizabilityTester<Id, KvSpec>;

/// What the linearizability tester was told.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LinEvent {
    Invoke(Op),
    Return(OpResult),
}

/// The tester, its verdict, and what it was told in order: enough to rebuild
/// it (for the timely engine, which ships states as bytes, and for renaming
/// clients). Its identity is the tester's: two runs whose testers agree are
/// one however their clients interleaved.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "Told", into = "Told")]
pub struct Lin {
    tester: Tester,
    ok: bool,
    events: Vec<(Id, LinEvent)>,
}

/// A [`Lin`] as it is encoded: its events alone. The tester cannot be read
/// back from bytes, and the verdict is judged again rather than believed (the
/// timely engine's states may come from another process).
#[derive(Clone, Serialize, Deserialize)]
struct Told {
    events: Vec<(Id, LinEvent)>,
}

impl From<Told> for Lin {
    fn from(t: Told) -> Lin {
        let tester = tester_of(&t.events);
        Lin {
            ok: judge(&tester),
            tester,
            events: t.events,
        }
    }
}

impl From<Lin> for Told {
    fn from(l: Lin) -> Told {
        Told { events: l.events }
    }
}

impl PartialEq for Lin {
    fn eq(&self, other: &Self) -> bool {
        self.tester == other.tester
    }
}

impl Eq for Lin {}

impl std::hash::Hash for Lin {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.tester.hash(h);
    }
}

impl Default for Lin {
    fn default() -> Self {
        Lin {
            tester: LinearizabilityTester::new(KvSpec::default()),
            ok: true,
            events: Vec::new(),
        }
    }
}

impl Lin {
    pub fn tester(&self) -> &Tester {
        &self.tester
    }

    /// Whether the operations so far are linearizable.
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// This, and client `id`'s `event`. An invalid history (say, two
    /// invocations in flight) makes linearizability fail, so the tester's
    /// error needs no handling here.
    fn told(&self, id: Id, event: LinEvent) -> Lin {
        let mut l = self.clone();
        let _ = match &event {
            LinEvent::Invoke(op) => l.tester.on_invoke(id, op.clone()).map(|_| ()),
            LinEvent::Return(ret) => l.tester.on_return(id, ret.clone()).map(|_| ()),
        };
        l.events.push((id, event));
        l.ok = judge(&l.tester);
        l
    }

    /// This with the clients renamed by `to`: the tester told the same events
    /// by the renamed clients is the renamed tester (it knows clients only by
    /// their ids), and its verdict is the same.
    pub fn renamed(&self, to: impl Fn(&Id) -> Id) -> Lin {
        let events: Vec<(Id, LinEvent)> = (self.events.iter())
            .map(|(id, e)| (to(id), e.clone()))
            .collect();
        Lin {
            tester: tester_of(&events),
            ok: self.ok,
            events,
        }
    }
}

/// `lin` and client `id`'s `event`, shared: remembered per thread, as the same
/// operations return in the same order in state after state (copying the
/// tester's maps and hashing them was a twentieth of a check's time).
pub fn told(lin: &Shared<Lin>, id: Id, event: LinEvent) -> Shared<Lin> {
    use std::cell::RefCell;
    /// (the tester's two hashes, the client, the event, the tester told it)
    type Slot = Option<(u64, u64, Id, LinEvent, Shared<Lin>)>;
    const SLOTS: usize = 1 << 12;
    thread_local! {
        static TOLD: RefCell<Vec<Slot>> = RefCell::new(vec![None; SLOTS]);
    }
    const EVENT_SEEDS: ahash::RandomState =
        ahash::RandomState::with_seeds(0x452821e6, 0x38d01377, 0xbe5466cf, 0x34e90c6c);
    let (hash, check) = (lin.hash_code(), lin.check_code());
    let key = hash ^ EVENT_SEEDS.hash_one((id, &event));
    let at = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 52) as usize & (SLOTS - 1);
    let found = TOLD.with(|t| match t.borrow().get(at) {
        Some(Some((h, c, i, e, told))) if *h == hash && *c == check && *i == id && *e == event => {
            Some(told.clone())
        }
        _ => None,
    });
    if let Some(told) = found {
        return told;
    }
    let told = Shared::new(lin.told(id, event.clone()));
    TOLD.with(|t| {
        if let Some(slot) = t.borrow_mut().get_mut(at) {
            *slot = Some((hash, check, id, event, told.clone()));
        }
    });
    told
}

/// A tester told `events`, in order.
fn tester_of(events: &[(Id, LinEvent)]) -> Tester {
    let mut lin = LinearizabilityTester::new(KvSpec::default());
    for (id, e) in events {
        let _ = match e {
            LinEvent::Invoke(op) => lin.on_invoke(*id, op.clone()).map(|_| ()),
            LinEvent::Return(ret) => lin.on_return(*id, ret.clone()).map(|_| ()),
        };
    }
    lin
}

/// The tester's verdict on a history. Histories repeat across millions of states,
/// so verdicts are remembered per thread.
fn judge(t: &Tester) -> bool {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static VERDICTS: RefCell<HashMap<Tester, bool>> = RefCell::new(HashMap::new());
    }
    if let Some(v) = VERDICTS.with(|m| m.borrow().get(t).copied()) {
        return v;
    }
    let v = t.serialized_history().is_some();
    VERDICTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() > 1 << 14 {
            m.clear();
        }
        m.insert(t.clone(), v);
    });
    v
}

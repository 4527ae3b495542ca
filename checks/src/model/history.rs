//! What a run has done so far, beyond its current state: the history that
//! Election Safety, State Machine Safety, the transition properties and
//! linearizability are judged on. The model checker and the trace validator keep
//! it with the same functions.

use super::clients::ClientProgress;
use raft_model::{Entry, Id, KvSpec, Op, OpResult, Role, ServerSet, ServerState};
use serde::{Deserialize, Serialize};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use stateright::{Rewrite, RewritePlan};
use std::sync::Arc;

/// Transition properties, recorded in `History::violations` the step they fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    TermDecreased = 1,
    CommitDecreased = 2,
    LeaderOverwrote = 4,
    AppliedDifferent = 8,
}

impl Violation {
    pub const ALL: [Violation; 4] = [
        Violation::TermDecreased,
        Violation::CommitDecreased,
        Violation::LeaderOverwrote,
        Violation::AppliedDifferent,
    ];

    /// What went wrong, in a few words.
    pub fn text(self) -> &'static str {
        match self {
            Violation::TermDecreased => "a term decreased",
            Violation::CommitDecreased => "a commit index decreased",
            Violation::LeaderOverwrote => "a leader overwrote its log",
            Violation::AppliedDifferent => "two servers applied different entries",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct History {
    /// `leaders[t]`: every server that has been leader in term `t`.
    pub leaders: Arc<Vec<ServerSet>>,
    /// The entries applied so far, by index (the longest prefix any server applied).
    pub applied: Arc<Vec<Entry>>,
    /// Crashes so far.
    pub crashes: u8,
    /// Servers that have crashed at least once.
    pub crashed_before: ServerSet,
    /// `Violation` bits.
    pub violations: u8,
    /// The clients' operations, for the linearizability check.
    pub lin: Arc<LinearizabilityTester<Id, KvSpec>>,
    /// Per client (0-based): its operations invoked and answered so far.
    pub clients: Arc<Vec<ClientProgress>>,
    /// What `lin` was told, in order: enough to rebuild it from bytes
    /// (stateright's tester cannot be read back), for the timely engine. Not part
    /// of the history's identity (the tester is): two histories whose testers
    /// agree are one, however their clients interleaved.
    pub lin_events: Unweighed<Arc<Vec<(Id, LinEvent)>>>,
}

/// What the linearizability tester was told.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum LinEvent {
    Invoke(Op),
    Return(OpResult),
}

/// A value carried along that takes no part in equality or hashing.
#[derive(Clone, Debug, Default)]
pub struct Unweighed<T>(pub T);

impl<T> PartialEq for Unweighed<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> Eq for Unweighed<T> {}

impl<T> std::hash::Hash for Unweighed<T> {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// A tester told `events`, in order: the one they were recorded from.
pub fn replay_lin(events: &[(Id, LinEvent)]) -> LinearizabilityTester<Id, KvSpec> {
    let mut lin = LinearizabilityTester::new(KvSpec::default());
    for (id, e) in events {
        let _ = match e {
            LinEvent::Invoke(op) => lin.on_invoke(*id, op.clone()).map(|_| ()),
            LinEvent::Return(ret) => lin.on_return(*id, ret.clone()).map(|_| ()),
        };
    }
    lin
}

impl History {
    pub fn new(clients: usize) -> Self {
        History {
            leaders: Arc::default(),
            applied: Arc::default(),
            crashes: 0,
            crashed_before: ServerSet::EMPTY,
            violations: 0,
            lin: Arc::new(LinearizabilityTester::new(KvSpec::default())),
            clients: Arc::new(vec![ClientProgress::default(); clients]),
            lin_events: Unweighed::default(),
        }
    }

    pub fn violated(&self, v: Violation) -> bool {
        self.violations & v as u8 != 0
    }

    pub fn flag(&mut self, v: Violation) {
        self.violations |= v as u8;
    }

    /// Operations answered so far, over all clients.
    pub fn answered(&self) -> u64 {
        self.clients.iter().map(|c| c.returned).sum()
    }

    /// Operations invoked so far, over all clients.
    pub fn invoked(&self) -> u64 {
        self.clients.iter().map(|c| c.invoked).sum()
    }
}

impl Rewrite<Id> for History {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        History {
            leaders: Arc::new(self.leaders.iter().map(|l| l.rewrite(plan)).collect()),
            applied: self.applied.clone(), // entries name clients only
            crashed_before: self.crashed_before.rewrite(plan),
            // Clients are never permuted, so what is keyed by client stays.
            ..self.clone()
        }
    }
}

/// Updates history `h` with a step of server `i` from `before` to `after`
/// (`recovered`: a restart, which may lose volatile state). The model checker and
/// the trace validator keep their histories with this one function.
pub fn observe_server(
    h: &mut History,
    i: usize,
    before: &ServerState,
    after: &ServerState,
    recovered: bool,
) {
    if after.current_term < before.current_term {
        h.flag(Violation::TermDecreased);
    }
    if !recovered {
        if after.commit_index < before.commit_index {
            h.flag(Violation::CommitDecreased);
        }
        if before.role == Role::Leader
            && after.role == Role::Leader
            && after.current_term == before.current_term
            && !after.log.starts_with(&before.log)
        {
            h.flag(Violation::LeaderOverwrote);
        }
    }
    if after.role == Role::Leader {
        let term = after.current_term as usize;
        if !h.leaders.get(term).is_some_and(|l| l.contains(i)) {
            let leaders = Arc::make_mut(&mut h.leaders);
            if leaders.len() <= term {
                leaders.resize(term + 1, ServerSet::EMPTY);
            }
            leaders[term].insert(i);
        }
    }
    let applied_before = if recovered { 0 } else { before.commit_index };
    for (k, entry) in (applied_before as usize..after.commit_index as usize)
        .zip(after.log.iter_from(applied_before + 1))
    {
        match h.applied.get(k) {
            Some(e) if e != entry => h.flag(Violation::AppliedDifferent),
            Some(_) => {}
            None => Arc::make_mut(&mut h.applied).push(entry.clone()),
        }
    }
}

/// Records that client `c` (0-based; actor `id`) sent `msg`: an invocation, if it is
/// one. An invalid history (say, two invocations in flight) makes linearizability
/// fail, so the tester's error needs no handling here.
pub fn observe_client_send(
    h: &History,
    c: usize,
    id: Id,
    msg: &raft_model::Msg,
) -> Option<History> {
    observe_client(
        h,
        c,
        |p| p.on_send(msg).cloned(),
        |lin, events, op| {
            events.push((id, LinEvent::Invoke(op.clone())));
            let _ = lin.on_invoke(id, op);
        },
    )
}

/// Records that client `c` (actor `id`) was delivered `msg`: a return, if it is one.
pub fn observe_client_delivery(
    h: &History,
    c: usize,
    id: Id,
    msg: &raft_model::Msg,
) -> Option<History> {
    observe_client(
        h,
        c,
        |p| p.on_delivery(msg).cloned(),
        |lin, events, result| {
            events.push((id, LinEvent::Return(result.clone())));
            let _ = lin.on_return(id, result);
        },
    )
}

/// The history after client `c`'s event, if `event` finds one in its progress:
/// only then are the progress and the tester copied and moved on.
fn observe_client<T>(
    h: &History,
    c: usize,
    event: impl FnOnce(&mut ClientProgress) -> Option<T>,
    record: impl FnOnce(&mut LinearizabilityTester<Id, KvSpec>, &mut Vec<(Id, LinEvent)>, T),
) -> Option<History> {
    let mut progress = *h.clients.get(c)?;
    let e = event(&mut progress)?;
    let mut h = h.clone();
    Arc::make_mut(&mut h.clients)[c] = progress;
    let lin = Arc::make_mut(&mut h.lin);
    record(lin, Arc::make_mut(&mut h.lin_events.0), e);
    Some(h)
}

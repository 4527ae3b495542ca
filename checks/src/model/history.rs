//! What a run has done so far, beyond its current state: the history that
//! Election Safety, State Machine Safety, the transition properties and
//! linearizability are judged on. The model checker and the trace validator keep
//! it with the same functions.

use super::clients::ClientProgress;
use raft_model::{Entry, Id, KvSpec, KvStore, LogIndex, Role, ServerSet, ServerState};
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
            Violation::AppliedDifferent => {
                "two servers applied different entries (or a snapshot holds another state)"
            }
        }
    }
}

/// What a run has done with snapshots, for the Sometimes properties that show a
/// check with `--snapshots` reaches them (`History::snapshots` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotEvent {
    /// A server installed a snapshot a leader sent.
    Installed = 1,
    /// A server restarted from a storage that holds a snapshot.
    Restarted = 2,
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
    /// `SnapshotEvent` bits.
    pub snapshots: u8,
    /// The clients' operations, for the linearizability check.
    pub lin: Arc<LinearizabilityTester<Id, KvSpec>>,
    /// Per client (0-based): its operations invoked and answered so far.
    pub clients: Arc<Vec<ClientProgress>>,
}

impl History {
    pub fn new(clients: usize) -> Self {
        History {
            leaders: Arc::default(),
            applied: Arc::default(),
            crashes: 0,
            crashed_before: ServerSet::EMPTY,
            violations: 0,
            snapshots: 0,
            lin: Arc::new(LinearizabilityTester::new(KvSpec::default())),
            clients: Arc::new(vec![ClientProgress::default(); clients]),
        }
    }

    pub fn violated(&self, v: Violation) -> bool {
        self.violations & v as u8 != 0
    }

    pub fn flag(&mut self, v: Violation) {
        self.violations |= v as u8;
    }

    pub fn saw(&self, e: SnapshotEvent) -> bool {
        self.snapshots & e as u8 != 0
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
    // Entries applied in this step and compacted in it too (a snapshot taken right
    // after applying them): the log before the step still holds them.
    if !recovered {
        let hidden = after.log.snapshot_index().min(after.commit_index);
        for i in applied_before + 1..=hidden {
            if let Some(entry) = before.log.entry(i) {
                applied(h, i, entry);
            }
        }
    }
    // Entries up to the snapshot were applied with it (judged below).
    let from = applied_before.max(after.log.snapshot_index());
    for (i, entry) in (from + 1..=after.commit_index).zip(after.log.iter_from(from + 1)) {
        applied(h, i, entry);
    }
    observe_snapshot(h, before, after, recovered);
}

/// A server applied `entry` at `index`: it must be what any server applied there.
fn applied(h: &mut History, index: LogIndex, entry: &Entry) {
    let k = (index as usize).saturating_sub(1);
    match h.applied.get(k) {
        Some(e) if e != entry => h.flag(Violation::AppliedDifferent),
        Some(_) => {}
        // The next index: the longest applied prefix grows. (A gap cannot arise:
        // a server applies an index only after its leader applied it.)
        None if h.applied.len() == k => Arc::make_mut(&mut h.applied).push(entry.clone()),
        None => {}
    }
}

/// State Machine Safety for snapshots: a server's snapshot, when it takes,
/// installs or restarts from one, holds the state of the commands applied up to
/// its index (the history's applied prefix, replayed), so a snapshot of anything
/// else (of entries no server applied, say) is a violation. Also records what a
/// run did with snapshots, for its Sometimes properties.
fn observe_snapshot(h: &mut History, before: &ServerState, after: &ServerState, recovered: bool) {
    let index = after.log.snapshot_index();
    if index == 0 && after.snapshot.is_empty() {
        return;
    }
    let moved = recovered
        || index != before.log.snapshot_index()
        || !after.snapshot.ptr_eq(&before.snapshot);
    if !moved {
        return;
    }
    if recovered {
        h.snapshots |= SnapshotEvent::Restarted as u8;
    } else if index > before.commit_index {
        // Beyond what it had applied: it came from a leader.
        h.snapshots |= SnapshotEvent::Installed as u8;
    }
    let holds_applied = h
        .applied
        .get(..index as usize)
        .is_some_and(|prefix| KvStore::of(prefix) == after.snapshot);
    if !holds_applied {
        h.flag(Violation::AppliedDifferent);
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
        |lin, op| {
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
        |lin, result| {
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
    record: impl FnOnce(&mut LinearizabilityTester<Id, KvSpec>, T),
) -> Option<History> {
    let mut progress = *h.clients.get(c)?;
    let e = event(&mut progress)?;
    let mut h = h.clone();
    Arc::make_mut(&mut h.clients)[c] = progress;
    record(Arc::make_mut(&mut h.lin), e);
    Some(h)
}

//! What a run has done so far, beyond its current state: the history that
//! Election Safety, State Machine Safety, the transition properties and
//! linearizability are judged on. The model checker and the trace validator keep
//! it with the same functions.

use super::clients::ClientProgress;
use super::lin::{self, Lin, LinEvent};
use super::shared::Shared;
use raft_model::{Entry, Id, KvSpec, KvStore, LogIndex, Role, ServerSet, ServerState};
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use stateright::semantics::LinearizabilityTester;
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;

/// Transition properties, recorded in `History::violations` the step they fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    TermDecreased = 1,
    CommitDecreased = 2,
    LeaderOverwrote = 4,
    AppliedDifferent = 8,
}

/// Events of one step that Sometimes properties look for, recorded in
/// `History::marks` by the step that does them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// A follower's conflicting entries were cut and replaced by the leader's.
    SuffixReplaced = 1,
    /// A server was delivered a reply of an older term (an election came between).
    StaleReplyArrived = 2,
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

/// The history of a run. A model state holds it shared (`Shared<History>`): it
/// changes in few steps, so most states hash and clone it as one pointer. A
/// step that changes it copies it: the short lists are kept inline (a copy
/// allocates nothing up to term 3 and two clients) and the applied entries
/// shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct History {
    /// `leaders[t]`: every server that has been leader in term `t`.
    pub leaders: SmallVec<[ServerSet; 4]>,
    /// The entries applied so far, by index (the longest prefix any server
    /// applied). Shared: it changes in few steps, and the history is copied
    /// and hashed in many, where this is one pointer and one cached hash.
    pub applied: Shared<Vec<Entry>>,
    /// Crashes so far.
    pub crashes: u8,
    /// Servers that have crashed at least once.
    pub crashed_before: ServerSet,
    /// `Violation` bits.
    pub violations: u8,
    /// What the last step did that a Sometimes property looks for ([`Mark`]
    /// bits): each step starts with none, so a mark tells apart only the states a
    /// marked step leads to.
    pub marks: u8,
    /// The clients' operations, for the linearizability check: judged (and the
    /// verdict kept) whenever an operation is invoked or returns.
    lin: Shared<Lin>,
    /// `SnapshotEvent` bits.
    pub snapshots: u8,
    /// Per client (0-based): its operations invoked and answered so far.
    pub clients: SmallVec<[ClientProgress; 2]>,
    /// The actor id of client 0 (the number of servers): what a renaming of
    /// actors needs to know to permute `clients`.
    pub first_client: usize,
}

impl History {
    /// The history of a run not yet begun, of `clients` clients whose actor ids
    /// follow `servers` servers'.
    pub fn new(servers: usize, clients: usize) -> Self {
        History {
            leaders: SmallVec::new(),
            applied: Shared::new(Vec::new()),
            crashes: 0,
            crashed_before: ServerSet::EMPTY,
            violations: 0,
            marks: 0,
            lin: Shared::new(Lin::default()),
            clients: smallvec::smallvec![ClientProgress::default(); clients],
            first_client: servers,
            snapshots: 0,
        }
    }

    /// The clients' operations so far, as stateright's linearizability tester has them.
    pub fn lin(&self) -> &LinearizabilityTester<Id, KvSpec> {
        self.lin.tester()
    }

    /// Whether the clients' operations so far are linearizable.
    pub fn linearizable(&self) -> bool {
        self.lin.ok()
    }

    pub fn violated(&self, v: Violation) -> bool {
        self.violations & v as u8 != 0
    }

    pub fn flag(&mut self, v: Violation) {
        self.violations |= v as u8;
    }

    pub fn marked(&self, m: Mark) -> bool {
        self.marks & m as u8 != 0
    }

    /// Forgets the last step's marks: the next step starts.
    pub fn clear_marks(h: &mut Cow<History>) {
        if h.marks != 0 {
            h.to_mut().marks = 0;
        }
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
        let mut h = History {
            leaders: self.leaders.iter().map(|l| l.rewrite(plan)).collect(),
            crashed_before: self.crashed_before.rewrite(plan),
            ..self.clone()
        };
        // Where client `c` goes, if the plan keeps it among the clients.
        let place = |c: usize| {
            let id = Id::from(self.first_client.saturating_add(c));
            usize::from(plan.rewrite(&id))
                .checked_sub(self.first_client)
                .filter(|&to| to < self.clients.len())
        };
        if (0..self.clients.len()).all(|c| place(c) == Some(c)) {
            return h; // rotating the servers: nothing here names a client
        }
        for (c, progress) in self.clients.iter().enumerate() {
            if let Some(to) = place(c) {
                h.clients[to] = *progress;
            }
        }
        h.applied = Shared::new(self.applied.rewrite(plan));
        h.lin = Shared::new(self.lin.renamed(|id| plan.rewrite(id)));
        h
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
    let mut cow = Cow::Borrowed(&*h);
    let compared = compare(before, after, recovered);
    observe_compared(&mut cow, i, before, after, recovered, compared);
    if let Cow::Owned(changed) = cow {
        *h = changed;
    }
}

/// What a server's step did that its states before and after tell alone
/// (`Violation` and `Mark` bits): the same for every step between equal states,
/// so the checker keeps it with a handler's memoised effect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compared {
    violations: u8,
    marks: u8,
}

/// [`Compared`] for a step of a server from `before` to `after` (`recovered`:
/// a restart, which may lose volatile state).
pub fn compare(before: &ServerState, after: &ServerState, recovered: bool) -> Compared {
    let mut c = Compared::default();
    if after.current_term < before.current_term {
        c.violations |= Violation::TermDecreased as u8;
    }
    if !recovered {
        if after.commit_index < before.commit_index {
            c.violations |= Violation::CommitDecreased as u8;
        }
        if before.role == Role::Leader
            && after.role == Role::Leader
            && after.current_term == before.current_term
            && !after.log.starts_with(&before.log)
        {
            c.violations |= Violation::LeaderOverwrote as u8;
        }
    }
    if !recovered
        && after.role != Role::Leader
        && !before.log.agrees_through(
            &after.log,
            before.log.last_index().min(after.log.last_index()),
        )
    {
        c.marks |= Mark::SuffixReplaced as u8;
    }
    c
}

/// [`observe_server`] on a history that is copied only if the step changes
/// it, with the step's [`compare`] already known.
pub fn observe_compared(
    h: &mut Cow<History>,
    i: usize,
    before: &ServerState,
    after: &ServerState,
    recovered: bool,
    compared: Compared,
) {
    for v in Violation::ALL {
        if compared.violations & v as u8 != 0 {
            flag(h, v);
        }
    }
    if compared.marks & !h.marks != 0 {
        h.to_mut().marks |= compared.marks;
    }
    if after.role == Role::Leader {
        let term = after.current_term as usize;
        if !h.leaders.get(term).is_some_and(|l| l.contains(i)) {
            let leaders = &mut h.to_mut().leaders;
            if leaders.len() <= term {
                leaders.resize(term + 1, ServerSet::EMPTY);
            }
            leaders[term].insert(i);
        }
    }
    let applied_before = if recovered { 0 } else { before.commit_index };
    // Entries applied in this step and compacted in it too (a snapshot taken right
    // after applying them): the log before the step still holds them. Not so for
    // an installed snapshot that the log does not match at its last entry: the
    // log's entries there may be another term's, which the snapshot replaces
    // (its data is judged below).
    let snap = after.log.snapshot_index();
    if !recovered && before.log.term_at(snap) == Some(after.log.snapshot_term()) {
        for i in applied_before + 1..=snap.min(after.commit_index) {
            if let Some(entry) = before.log.entry(i) {
                applied(h, i, entry);
            }
        }
    }
    // Entries up to the snapshot were applied with it (judged below).
    let from = applied_before.max(after.log.snapshot_index());
    // Most steps apply nothing: no walk into the log is started for them.
    if from < after.commit_index {
        for (i, entry) in (from + 1..=after.commit_index).zip(after.log.iter_from(from + 1)) {
            applied(h, i, entry);
        }
    }
    observe_snapshot(h, before, after, recovered);
}

/// A server applied `entry` at `index`: it must be what any server applied there.
fn applied(h: &mut Cow<History>, index: LogIndex, entry: &Entry) {
    let k = (index as usize).saturating_sub(1);
    match h.applied.get(k) {
        Some(e) if e != entry => flag(h, Violation::AppliedDifferent),
        Some(_) => {}
        // The next index: the longest applied prefix grows. (A gap cannot arise:
        // a server applies an index only after its leader applied it.)
        None if h.applied.len() == k => h.to_mut().applied.update(|a| a.push(entry.clone())),
        None => {}
    }
}

/// Flags `v` in `h`, copying the history only the first time.
fn flag(h: &mut Cow<History>, v: Violation) {
    if !h.violated(v) {
        h.to_mut().flag(v);
    }
}

/// State Machine Safety for snapshots: a server's snapshot, when it takes,
/// installs or restarts from one, holds the state of the commands applied up to
/// its index (the history's applied prefix, replayed), so a snapshot of anything
/// else (of entries no server applied, say) is a violation. Also records what a
/// run did with snapshots, for its Sometimes properties.
fn observe_snapshot(
    h: &mut Cow<History>,
    before: &ServerState,
    after: &ServerState,
    recovered: bool,
) {
    let index = after.log.snapshot_index();
    if index == 0 && after.snapshot.is_empty() {
        return;
    }
    // By value where the maps are not the same ones: a step the handler memo
    // reuses was taken from an equal state, not this one.
    let moved = recovered
        || index != before.log.snapshot_index()
        || (!after.snapshot.ptr_eq(&before.snapshot) && after.snapshot != before.snapshot);
    if !moved {
        return;
    }
    let event = if recovered {
        SnapshotEvent::Restarted as u8
    } else if index > before.commit_index {
        // Beyond what it had applied: it came from a leader.
        SnapshotEvent::Installed as u8
    } else {
        0
    };
    if h.snapshots & event != event {
        h.to_mut().snapshots |= event;
    }
    let holds_applied = h
        .applied
        .get(..index as usize)
        .is_some_and(|prefix| KvStore::of(prefix) == after.snapshot);
    if !holds_applied {
        flag(h, Violation::AppliedDifferent);
    }
}

/// Records that a server whose state was `before` was delivered `msg`: a reply of
/// an older term is marked.
pub fn observe_delivery(h: &mut Cow<History>, before: &ServerState, msg: &raft_model::Msg) {
    use raft_model::Msg;
    let reply_term = match msg {
        Msg::RequestVoteReply(r) => r.term,
        Msg::AppendEntriesReply(r) => r.term,
        _ => return,
    };
    if reply_term < before.current_term {
        h.to_mut().marks |= Mark::StaleReplyArrived as u8;
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
    let mut progress = *h.clients.get(c)?;
    let op = progress.on_send(msg)?.clone();
    let mut h = h.clone();
    h.clients[c] = progress;
    h.lin = lin::told(&h.lin, id, LinEvent::Invoke(op));
    Some(h)
}

/// Records that client `c` (actor `id`) was delivered `msg`: a return, if it is one.
pub fn observe_client_delivery(
    h: &History,
    c: usize,
    id: Id,
    msg: &raft_model::Msg,
) -> Option<History> {
    let mut progress = *h.clients.get(c)?;
    let result = progress.on_delivery(msg)?.clone();
    let mut h = h.clone();
    h.clients[c] = progress;
    h.lin = lin::told(&h.lin, id, LinEvent::Return(result));
    Some(h)
}

//! A Raft server: Figure 2 of the paper, as pure handlers.
//!
//! Every handler reads the server's state and one input (a message, a timer, or the
//! storage at start) and yields the next state plus commands: at most one `Save` of
//! the persistent state, timer changes, and sends, in that order. The host executes
//! the `Save` durably before any send of the same step.
//!
//! This file holds the server's state, the dispatch of inputs, the term rule and
//! the state machine; Figure 2's other sections are beside it: `election.rs`
//! (RequestVote, both sides), `replication.rs` (AppendEntries, both sides, and
//! the commit rule), and `snapshot.rs` (Figure 13).

use crate::actor::RaftActor;
use crate::coverage::{hit, Decision as D};
use crate::kv::{KvStore, OpResult};
use crate::log::Log;
use crate::msg::{ClientRequest, Entry, LogIndex, Msg, Op, Term, Timer};
use crate::mutant::{Mutant, MutantSet};
pub use crate::sanity::Refusal;
use crate::server_set::ServerSet;
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::ops::Range;
use std::time::Duration;

/// What a server needs to know that is not state: the cluster and the timings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServerConfig {
    /// Cluster size. Servers are ids `0..servers`; any other sender is a client.
    pub servers: usize,
    /// A follower that hears nothing from a leader for this long starts an election.
    pub election_timeout: Range<Duration>,
    /// A leader sends AppendEntries to every follower this often.
    pub heartbeat_interval: Range<Duration>,
    /// The most entries one AppendEntries carries.
    pub max_entries_per_append: usize,
    /// The most bytes of entries one AppendEntries carries (by
    /// [`crate::limits::entry_bytes`]; a single larger entry still goes alone).
    pub max_append_bytes: usize,
    /// The largest operation (key plus value bytes) a server takes.
    pub max_op_bytes: usize,
    /// Take a snapshot whenever this many entries were applied since the last one
    /// (0: never). Real nodes' policy: a snapshot bounds the log.
    pub snapshot_interval: u64,
    /// Keep a `Snapshot` timer set, which takes a snapshot at the commit index
    /// whenever it fires: with the model checker, who fires any set timer at any
    /// moment, any server may snapshot at any moment (`--snapshots`).
    pub snapshot_timer: bool,
    /// Known Raft bugs switched on (none by default).
    pub mutants: MutantSet,
}

impl ServerConfig {
    pub fn new(servers: usize) -> Self {
        ServerConfig {
            servers,
            election_timeout: Duration::from_millis(300)..Duration::from_millis(600),
            heartbeat_interval: Duration::from_millis(50)..Duration::from_millis(50),
            max_entries_per_append: 64,
            max_append_bytes: 48 * 1024,
            max_op_bytes: 1024,
            snapshot_interval: 0,
            snapshot_timer: false,
            mutants: MutantSet::NONE,
        }
    }

    pub fn with_mutants(mut self, mutants: MutantSet) -> Self {
        self.mutants = mutants;
        self
    }

    pub(crate) fn has(&self, m: Mutant) -> bool {
        self.mutants.has(m)
    }

    /// How many servers, counting itself, a candidate or a leader needs.
    pub fn quorum(&self) -> usize {
        if self.has(Mutant::SmallQuorum) {
            self.servers / 2
        } else {
            crate::majority(self.servers)
        }
    }
}

/// Figure 2's persistent state, with Figure 13's snapshot: saved before the server
/// answers anyone. The snapshot's metadata (last included index and term) is the
/// log's beginning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PersistentState {
    pub current_term: Term,
    pub voted_for: Option<Id>,
    pub log: Log,
    /// The service's state at `log.snapshot_index()` (empty without a snapshot).
    /// Always written (binary formats cannot skip a field); absent in older JSON.
    #[serde(default)]
    pub snapshot: KvStore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

/// One server's state. `commit_index` doubles as Figure 2's `lastApplied`: entries are
/// applied to `kv` in the same step that commits them, so the two are always equal.
/// A snapshot covers only applied entries: `log.snapshot_index() <= commit_index`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ServerState {
    // Persistent (also in `PersistentState`).
    pub current_term: Term,
    pub voted_for: Option<Id>,
    pub log: Log,
    // Volatile.
    pub role: Role,
    pub commit_index: LogIndex,
    /// The leader of `current_term`, if this server knows it (for client redirects).
    pub leader_hint: Option<Id>,
    /// Candidate: who granted a vote in `current_term`.
    pub votes_granted: ServerSet,
    /// Leader: for each server, the next log index to send (empty unless leader).
    pub next_index: Vec<LogIndex>,
    /// Leader: for each server, the highest index known replicated there (the
    /// leader's own entry is unused: its own log counts as replicated).
    pub match_index: Vec<LogIndex>,
    /// The state machine: entries `1..=commit_index` applied.
    pub kv: KvStore,
    /// Persistent: the snapshot, the state machine at `log.snapshot_index()`.
    pub snapshot: KvStore,
}

impl ServerState {
    /// The state a server starts in: from its storage, or fresh if it has none.
    /// A snapshot holds only committed entries, so a restart has applied them.
    pub fn from_storage(storage: Option<&PersistentState>) -> Self {
        let p = storage.cloned().unwrap_or_default();
        ServerState {
            current_term: p.current_term,
            voted_for: p.voted_for,
            commit_index: p.log.snapshot_index(),
            log: p.log,
            role: Role::Follower,
            leader_hint: None,
            votes_granted: ServerSet::EMPTY,
            next_index: Vec::new(),
            match_index: Vec::new(),
            kv: p.snapshot.clone(),
            snapshot: p.snapshot,
        }
    }

    pub fn last_log_index(&self) -> LogIndex {
        self.log.last_index()
    }

    pub fn last_log_term(&self) -> Term {
        self.log.last_term()
    }

    /// The term of the entry at `index` (0 for index 0, `None` past the end).
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        self.log.term_at(index)
    }

    pub fn persistent(&self) -> PersistentState {
        PersistentState {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: self.log.clone(),
            snapshot: self.snapshot.clone(),
        }
    }
}

/// The commands of one step, collected so that they are emitted in a safe order.
pub(crate) struct Step {
    pub(crate) save: bool,
    timers: Vec<(Timer, Option<Range<Duration>>)>,
    sends: Vec<(Id, Msg)>,
}

impl Step {
    pub(crate) fn new() -> Self {
        Step {
            save: false,
            timers: Vec::new(),
            sends: Vec::new(),
        }
    }

    pub(crate) fn set_timer(&mut self, timer: Timer, range: &Range<Duration>) {
        self.timers.push((timer, Some(range.clone())));
    }

    pub(crate) fn cancel_timer(&mut self, timer: Timer) {
        self.timers.push((timer, None));
    }

    pub(crate) fn send(&mut self, dst: Id, msg: Msg) {
        self.sends.push((dst, msg));
    }

    /// Emits `Save` first, then timers, then sends.
    pub(crate) fn emit(self, cfg: &ServerConfig, state: &ServerState, o: &mut Out<RaftActor>) {
        if self.save {
            let mut p = state.persistent();
            // The two "forgetting" mutants leave a field out of what survives a crash.
            if cfg.has(Mutant::ForgetVotedFor) {
                p.voted_for = None;
            }
            if cfg.has(Mutant::ForgetCurrentTerm) {
                p.current_term = 0;
            }
            if cfg.has(Mutant::ForgetSnapshotMetadata) {
                p.log = p.log.without_snapshot_metadata();
            }
            o.save(p);
        }
        for (timer, range) in self.timers {
            match range {
                Some(range) => o.set_timer(timer, range),
                None => o.cancel_timer(timer),
            }
        }
        for (dst, msg) in self.sends {
            o.send(dst, msg);
        }
    }
}

impl ServerConfig {
    pub(crate) fn peers(&self, id: Id) -> impl Iterator<Item = Id> + '_ {
        (0..self.servers).map(Id::from).filter(move |p| *p != id)
    }

    pub fn on_start(
        &self,
        _id: Id,
        storage: &Option<PersistentState>,
        o: &mut Out<RaftActor>,
    ) -> ServerState {
        let state = ServerState::from_storage(storage.as_ref());
        o.set_timer(Timer::Election, self.election_timeout.clone());
        if self.snapshot_timer {
            o.set_timer(Timer::Snapshot, crate::snapshot::SNAPSHOT_TIMER);
        }
        state
    }

    pub fn on_timeout(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        timer: Timer,
        o: &mut Out<RaftActor>,
    ) {
        let mut step = Step::new();
        match timer {
            Timer::Election if state.role != Role::Leader => {
                hit(D::ElectionStarted);
                self.start_election(id, state.to_mut(), &mut step)
            }
            Timer::Heartbeat if state.role == Role::Leader => {
                hit(D::HeartbeatSent);
                // Figure 2: "repeat during idle periods to prevent election timeouts".
                for peer in self.peers(id) {
                    self.send_heartbeat(state, peer, &mut step);
                }
                step.set_timer(Timer::Heartbeat, &self.heartbeat_interval);
            }
            Timer::Snapshot if self.snapshot_timer => self.on_snapshot_timer(state, &mut step),
            // A timer of a role this server no longer has: let it lapse.
            _ => hit(D::TimerLapsed),
        }
        step.emit(self, state, o);
    }

    /// One entry point for every message, as etcd's `Step`: the term rule that
    /// applies to every RPC first, then the handler of the RPC.
    pub fn on_msg(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        src: Id,
        msg: Msg,
        o: &mut Out<RaftActor>,
    ) {
        let mut step = Step::new();
        if self.accepts(id, state, src, &msg).is_err() {
            return;
        }
        if let Some(term) = msg.term() {
            // Figure 2, all servers: "If RPC request or response contains term T >
            // currentTerm: set currentTerm = T, convert to follower".
            self.observe_term(state, term, &mut step);
        }
        match msg {
            Msg::RequestVote(m) => self.on_request_vote(state, src, m, &mut step),
            Msg::RequestVoteReply(m) => self.on_request_vote_reply(id, state, src, m, &mut step),
            Msg::AppendEntries(m) => self.on_append_entries(state, src, m, &mut step),
            Msg::AppendEntriesReply(m) => {
                self.on_append_entries_reply(id, state, src, m, &mut step)
            }
            Msg::InstallSnapshot(m) => self.on_install_snapshot(state, src, m, &mut step),
            Msg::ClientRequest(m) => self.on_client_request(id, state, src, m, &mut step),
            Msg::ClientReply { .. } | Msg::NotLeader { .. } => {} // refused above
        }
        step.emit(self, state, o);
    }

    /// Which messages server `id` accepts from `src` at all: well-formed ones
    /// (see [`crate::sanity`]), the RPCs servers exchange only from another
    /// server, client requests from anyone, client replies never. The host's door
    /// refuses (and counts) the rest before they reach a handler; the handler
    /// ignores them too.
    pub fn admits(&self, id: Id, src: Id, msg: &Msg) -> Result<(), Refusal> {
        self.well_formed(msg)?;
        let from_peer = usize::from(src) < self.servers && src != id;
        match msg {
            Msg::ClientRequest(_) => Ok(()),
            Msg::ClientReply { .. } | Msg::NotLeader { .. } => Err(Refusal::NotForServers),
            _ if from_peer => Ok(()),
            _ => Err(Refusal::NotFromAPeer),
        }
    }

    /// Adopts a newer term and steps down (the `no-step-down` mutant keeps the role).
    pub(crate) fn observe_term(&self, state: &mut Cow<ServerState>, term: Term, step: &mut Step) {
        if term <= state.current_term {
            return;
        }
        hit(match state.role {
            Role::Follower => D::NewerTermFollower,
            Role::Candidate => D::NewerTermCandidateStepsDown,
            Role::Leader => D::NewerTermLeaderStepsDown,
        });
        let s = state.to_mut();
        s.current_term = term;
        s.voted_for = None;
        s.leader_hint = None;
        step.save = true;
        if !self.has(Mutant::NoStepDown) || s.role == Role::Follower {
            self.become_follower(s, step);
        }
    }

    pub(crate) fn become_follower(&self, s: &mut ServerState, step: &mut Step) {
        if s.role == Role::Leader {
            step.cancel_timer(Timer::Heartbeat);
        }
        s.role = Role::Follower;
        s.votes_granted = ServerSet::EMPTY;
        s.next_index.clear();
        s.match_index.clear();
        step.set_timer(Timer::Election, &self.election_timeout);
    }

    /// Commits and applies entries up to `index`. The leader answers the clients of
    /// the entries it appended itself; older entries' clients retry and are answered
    /// from their session.
    pub(crate) fn apply_up_to(&self, s: &mut ServerState, index: LogIndex, step: &mut Step) {
        let no_dedup = self.has(Mutant::NoDedup);
        let index = index.min(s.last_log_index());
        for i in s.commit_index.saturating_add(1)..=index {
            let Some(entry) = s.log.entry(i) else { break };
            s.kv.apply(entry, no_dedup);
            if s.role == Role::Leader && entry.term == s.current_term {
                if let Some(result) = s.kv.answered(entry.client, entry.seq) {
                    hit(D::LeaderAnswersClient);
                    let reply = Msg::ClientReply {
                        seq: entry.seq,
                        result: result.clone(),
                    };
                    step.send(entry.client, reply);
                }
            }
        }
        s.commit_index = index;
        let applied_since = index.saturating_sub(s.log.snapshot_index());
        if self.snapshot_interval > 0 && applied_since >= self.snapshot_interval {
            self.take_snapshot(s, step);
        }
    }

    /// A client's command: a leader appends it to its log (lab 3's `Start()`); a
    /// follower points the client at the leader it knows.
    fn on_client_request(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        client: Id,
        m: ClientRequest,
        step: &mut Step,
    ) {
        let ClientRequest { seq, op } = m;
        if state.role != Role::Leader {
            let leader_hint = state.leader_hint;
            hit(if leader_hint.is_some() {
                D::ClientRedirected
            } else {
                D::ClientNoLeaderKnown
            });
            step.send(client, Msg::NotLeader { seq, leader_hint });
            return;
        }
        if state.kv.seen(client, seq) {
            // Applied already: answer from the session (an older request: ignore).
            if let Some(result) = state.kv.answered(client, seq) {
                hit(D::ClientAnsweredFromSession);
                let result = result.clone();
                step.send(client, Msg::ClientReply { seq, result });
            } else {
                hit(D::ClientOldRequestIgnored);
            }
            return;
        }
        if self.has(Mutant::LocalRead) {
            if let Op::Get { key } = &op {
                let result = OpResult::Value(state.kv.data.get(key).cloned());
                step.send(client, Msg::ClientReply { seq, result });
                return;
            }
        }
        let term = state.current_term;
        let pending = state
            .log
            .iter_from(state.commit_index.saturating_add(1))
            .any(|e| e.term == term && e.client == client && e.seq == seq);
        if pending {
            hit(D::ClientRequestPending);
            return; // already in this term's log: it commits or this leader is deposed
        }
        hit(D::ClientRequestAppended);
        let s = state.to_mut();
        s.log.push(Entry {
            term,
            client,
            seq,
            op,
        });
        step.save = true;
        // Send the new entry to followers that are up to date; a lagging follower
        // gets it with the entries it lacks once it answers.
        for peer in self.peers(id) {
            if s.next_index[usize::from(peer)] == s.last_log_index() {
                self.send_append_entries(s, peer, step);
            }
        }
        self.advance_commit_index(id, s, step);
    }
}

/// Moves a per-server vector (indexed by server) along a permutation of servers.
fn reindex<S>(v: &[LogIndex], plan: &RewritePlan<Id, S>) -> Vec<LogIndex> {
    let mut out = vec![0; v.len()];
    for (i, x) in v.iter().enumerate() {
        out[usize::from(plan.rewrite(&Id::from(i)))] = *x;
    }
    out
}

impl Rewrite<Id> for ServerState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        ServerState {
            current_term: self.current_term,
            voted_for: self.voted_for.rewrite(plan),
            log: self.log.rewrite(plan),
            role: self.role,
            commit_index: self.commit_index,
            leader_hint: self.leader_hint.rewrite(plan),
            votes_granted: self.votes_granted.rewrite(plan),
            next_index: reindex(&self.next_index, plan),
            match_index: reindex(&self.match_index, plan),
            kv: self.kv.rewrite(plan),
            snapshot: self.snapshot.rewrite(plan),
        }
    }
}

impl Rewrite<Id> for PersistentState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        PersistentState {
            current_term: self.current_term,
            voted_for: self.voted_for.rewrite(plan),
            log: self.log.rewrite(plan),
            snapshot: self.snapshot.rewrite(plan),
        }
    }
}

//! A Raft server: Figure 2 of the paper, as pure handlers.
//!
//! Every handler reads the server's state and one input (a message, a timer, or the
//! storage at start) and yields the next state plus commands: at most one `Save` of
//! the persistent state, timer changes, and sends, in that order. The host executes
//! the `Save` durably before any send of the same step.

use crate::actor::RaftActor;
use crate::coverage::{hit, Decision as D};
use crate::kv::{KvStore, OpResult};
use crate::limits::{batch_len, MAX_TERM};
use crate::log::Log;
use crate::msg::{
    AppendEntries, AppendEntriesReply, ClientRequest, Entry, LogIndex, Msg, Op, RequestVote,
    RequestVoteReply, Term, Timer,
};
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
    fn new() -> Self {
        Step {
            save: false,
            timers: Vec::new(),
            sends: Vec::new(),
        }
    }

    pub(crate) fn set_timer(&mut self, timer: Timer, range: &Range<Duration>) {
        self.timers.push((timer, Some(range.clone())));
    }

    fn cancel_timer(&mut self, timer: Timer) {
        self.timers.push((timer, None));
    }

    pub(crate) fn send(&mut self, dst: Id, msg: Msg) {
        self.sends.push((dst, msg));
    }

    /// Emits `Save` first, then timers, then sends.
    fn emit(self, cfg: &ServerConfig, state: &ServerState, o: &mut Out<RaftActor>) {
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
    fn peers(&self, id: Id) -> impl Iterator<Item = Id> + '_ {
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
    fn observe_term(&self, state: &mut Cow<ServerState>, term: Term, step: &mut Step) {
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

    fn become_follower(&self, s: &mut ServerState, step: &mut Step) {
        if s.role == Role::Leader {
            step.cancel_timer(Timer::Heartbeat);
        }
        s.role = Role::Follower;
        s.votes_granted = ServerSet::EMPTY;
        s.next_index.clear();
        s.match_index.clear();
        step.set_timer(Timer::Election, &self.election_timeout);
    }

    /// Figure 2, followers and candidates: on election timeout, start an election.
    fn start_election(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        let Some(term) = s.current_term.checked_add(1).filter(|t| *t <= MAX_TERM) else {
            // No term is left to start: stay, and try again later (never reached
            // but by a forged term).
            step.set_timer(Timer::Election, &self.election_timeout);
            return;
        };
        s.current_term = term;
        s.role = Role::Candidate;
        s.voted_for = Some(id);
        s.votes_granted = ServerSet::singleton(usize::from(id));
        s.leader_hint = None;
        step.save = true;
        step.set_timer(Timer::Election, &self.election_timeout);
        let request = Msg::RequestVote(RequestVote {
            term: s.current_term,
            last_log_index: s.last_log_index(),
            last_log_term: s.last_log_term(),
        });
        for peer in self.peers(id) {
            step.send(peer, request.clone());
        }
        if s.votes_granted.len() >= self.quorum() {
            self.become_leader(id, s, step);
        }
    }

    /// Figure 2, RequestVote receiver (the term rule already applied).
    fn on_request_vote(
        &self,
        state: &mut Cow<ServerState>,
        candidate: Id,
        m: RequestVote,
        step: &mut Step,
    ) {
        let s: &ServerState = state;
        let free_to_vote =
            s.voted_for.is_none() || s.voted_for == Some(candidate) || self.has(Mutant::DoubleVote);
        // §5.4.1 election restriction: the candidate's log is at least as up to date.
        let up_to_date = (m.last_log_term, m.last_log_index)
            >= (s.last_log_term(), s.last_log_index())
            || self.has(Mutant::NoElectionRestriction);
        let vote_granted = m.term == s.current_term && free_to_vote && up_to_date;
        hit(if m.term != s.current_term {
            D::VoteRefusedStaleTerm
        } else if !free_to_vote {
            D::VoteRefusedVotedOther
        } else if !up_to_date {
            D::VoteRefusedLogBehind
        } else if s.voted_for == Some(candidate) {
            D::VoteGrantedAgain
        } else {
            D::VoteGranted
        });
        if vote_granted && s.voted_for != Some(candidate) {
            let s = state.to_mut();
            s.voted_for = Some(candidate);
            step.save = true;
        }
        if vote_granted {
            step.set_timer(Timer::Election, &self.election_timeout);
        }
        let reply = RequestVoteReply {
            term: state.current_term,
            vote_granted,
        };
        step.send(candidate, Msg::RequestVoteReply(reply));
    }

    /// Figure 2, candidates: "if votes received from majority of servers: become leader".
    fn on_request_vote_reply(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        voter: Id,
        m: RequestVoteReply,
        step: &mut Step,
    ) {
        let voter = usize::from(voter);
        let stale = if m.term != state.current_term {
            Some(D::VoteReplyStaleTerm)
        } else if state.role != Role::Candidate {
            Some(D::VoteReplyNotCandidate)
        } else if !m.vote_granted {
            Some(D::VoteReplyRefused)
        } else if state.votes_granted.contains(voter) {
            Some(D::VoteReplyDuplicate)
        } else {
            None
        };
        if let Some(d) = stale {
            hit(d);
            return;
        }
        let s = state.to_mut();
        s.votes_granted.insert(voter);
        if s.votes_granted.len() >= self.quorum() {
            hit(D::ElectionWon);
            self.become_leader(id, s, step);
        } else {
            hit(D::VoteCounted);
        }
    }

    fn become_leader(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        s.role = Role::Leader;
        s.leader_hint = Some(id);
        s.votes_granted = ServerSet::EMPTY;
        s.next_index = vec![s.last_log_index().saturating_add(1); self.servers];
        s.match_index = vec![0; self.servers];
        step.cancel_timer(Timer::Election);
        step.set_timer(Timer::Heartbeat, &self.heartbeat_interval);
        // Figure 2, leaders: "upon election: send initial empty AppendEntries".
        for peer in self.peers(id) {
            self.send_heartbeat(s, peer, step);
        }
        // A cluster of one commits on its own.
        self.advance_commit_index(id, s, step);
    }

    /// An empty AppendEntries: it asserts leadership and carries the commit index;
    /// the follower verifies its log only up to `prev_log_index`.
    fn send_heartbeat(&self, s: &ServerState, peer: Id, step: &mut Step) {
        self.send_entries_from_next(s, peer, 0, step);
    }

    /// Figure 2, leaders: "if last log index >= nextIndex for a follower: send
    /// AppendEntries RPC with log entries starting at nextIndex".
    fn send_append_entries(&self, s: &ServerState, peer: Id, step: &mut Step) {
        self.send_entries_from_next(s, peer, self.max_entries_per_append, step);
    }

    fn send_entries_from_next(&self, s: &ServerState, peer: Id, batch: usize, step: &mut Step) {
        let mut next = s.next_index.get(usize::from(peer)).copied().unwrap_or(1);
        if next <= s.log.snapshot_index() && !self.has(Mutant::SendEntriesBeforeSnapshot) {
            // The entries the follower needs are compacted (§7): send the snapshot.
            // A heartbeat sends none, and probes from the snapshot instead; the
            // follower's answer brings the snapshot if it lacks it.
            if batch > 0 {
                return self.send_snapshot(s, peer, step);
            }
            next = s.log.snapshot_index().saturating_add(1);
        }
        // next_index stays within 1..=last+1; saturate anyway, never panic.
        let prev_log_index = next.saturating_sub(1).min(s.last_log_index());
        let first = prev_log_index.saturating_add(1);
        let n = batch_len(s.log.iter_from(first), batch, self.max_append_bytes);
        let request = AppendEntries {
            term: s.current_term,
            prev_log_index,
            prev_log_term: s.term_at(prev_log_index).unwrap_or(0),
            entries: s.log.entries_from(first, n),
            leader_commit: s.commit_index,
        };
        step.send(peer, Msg::AppendEntries(request));
    }

    /// Figure 2, AppendEntries receiver (the term rule already applied).
    fn on_append_entries(
        &self,
        state: &mut Cow<ServerState>,
        leader: Id,
        m: AppendEntries,
        step: &mut Step,
    ) {
        let AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } = m;
        let m_len = entries.len() as LogIndex;
        if term < state.current_term {
            hit(D::AppendStaleTerm);
            // Figure 2, receiver 1: reply false; the stale leader learns the term.
            step.send(
                leader,
                reject(state.current_term, 0, 0, state.last_log_index()),
            );
            return;
        }
        if state.role != Role::Follower {
            hit(D::AppendCandidateStepsDown);
        }
        self.heard_from_leader(state, leader, step);

        // Entries up to this server's snapshot are committed, so the leader has them
        // (Leader Completeness): only the entries after the snapshot are checked.
        let Some((prev_log_index, prev_log_term, entries)) =
            crate::snapshot::after_snapshot(&state.log, prev_log_index, prev_log_term, entries)
        else {
            // Well-formed: prev_log_index + entries stays within MAX_INDEX.
            let match_index = prev_log_index.saturating_add(m_len);
            step.send(leader, accept(state.current_term, match_index));
            return;
        };

        // Figure 2, receiver 2: the consistency check, with 6.824's XTerm/XIndex/XLen.
        match state.term_at(prev_log_index) {
            None => {
                hit(D::AppendMissingPrev);
                let x_len = state.last_log_index();
                step.send(leader, reject(state.current_term, 0, 0, x_len));
                return;
            }
            Some(t) if t != prev_log_term => {
                hit(D::AppendConflictingPrev);
                let x_index = (1..=prev_log_index)
                    .rev()
                    .take_while(|i| state.term_at(*i) == Some(t))
                    .last()
                    .unwrap_or(prev_log_index);
                let x_len = state.last_log_index();
                step.send(leader, reject(state.current_term, t, x_index, x_len));
                return;
            }
            Some(_) => {}
        }

        // Receiver 3 and 4: cut the log only at a real conflict, then append what is new.
        // A stale or duplicated AppendEntries whose entries all match changes nothing.
        // In range: `admits` bounds prev_log_index + entries by MAX_INDEX.
        let last_new = prev_log_index.saturating_add(entries.len() as LogIndex);
        let conflict = first_conflict(state, prev_log_index, &entries);
        hit(match conflict {
            _ if entries.is_empty() => D::AppendHeartbeatMatch,
            Some(k)
                if state
                    .term_at(prev_log_index.saturating_add(1 + k as LogIndex))
                    .is_none() =>
            {
                D::AppendNewEntries
            }
            Some(_) if state.last_log_index() > last_new => D::AppendTruncatedLongerSuffix,
            Some(_) => D::AppendTruncatedSuffix,
            None if state.last_log_index() > last_new => D::AppendAllPresentLongerLog,
            None => D::AppendAllPresent,
        });
        if let Some(k) = conflict {
            let s = state.to_mut();
            s.log.truncate_after(prev_log_index + k as LogIndex);
            s.log.extend(entries[k..].iter().cloned());
            step.save = true;
        }
        if self.has(Mutant::TruncateOnStaleAppend) && state.last_log_index() > last_new {
            state.to_mut().log.truncate_after(last_new);
            step.save = true;
        }

        // Receiver 5: commitIndex = min(leaderCommit, index of last new entry).
        let bound = if self.has(Mutant::CommitPastMatch) {
            state.last_log_index()
        } else {
            last_new
        };
        let new_commit = leader_commit.min(bound);
        if new_commit > state.commit_index {
            hit(D::FollowerCommits);
            self.apply_up_to(state.to_mut(), new_commit, step);
        }
        step.send(leader, accept(state.current_term, last_new));
    }

    /// A follower or candidate heard from the leader of its term: it follows it,
    /// and holds no election for now.
    pub(crate) fn heard_from_leader(
        &self,
        state: &mut Cow<ServerState>,
        leader: Id,
        step: &mut Step,
    ) {
        if state.role != Role::Follower || state.leader_hint != Some(leader) {
            let s = state.to_mut();
            if s.role != Role::Follower {
                self.become_follower(s, step);
            }
            s.leader_hint = Some(leader);
        }
        step.set_timer(Timer::Election, &self.election_timeout);
    }

    /// Figure 2, leaders: the follower's answer moves nextIndex/matchIndex.
    fn on_append_entries_reply(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        follower: Id,
        m: AppendEntriesReply,
        step: &mut Step,
    ) {
        let AppendEntriesReply {
            term,
            success,
            match_index,
            x_term,
            x_index,
            x_len,
        } = m;
        if term != state.current_term {
            hit(D::AppendReplyStaleTerm);
            return;
        }
        if state.role != Role::Leader {
            hit(D::AppendReplyNotLeader);
            return;
        }
        let f = usize::from(follower);
        let (Some(&matched), Some(&next_f)) = (state.match_index.get(f), state.next_index.get(f))
        else {
            return; // not a follower of this leader (refused by `admits`)
        };
        // `plausible` bounds match_index by the log: next_index stays in 1..=last+1.
        let last = state.last_log_index();
        if success {
            if match_index > matched {
                hit(D::AppendReplyProgress);
                let s = state.to_mut();
                s.match_index[f] = match_index;
                s.next_index[f] = next_f.max(match_index.saturating_add(1));
                self.advance_commit_index(id, s, step);
            } else {
                hit(D::AppendReplyNoProgress);
            }
            // The follower is alive and still lacks entries (the ones sent may have
            // been lost): send them.
            if state.next_index[f] <= last {
                hit(D::AppendReplySendsMore);
                self.send_append_entries(state, follower, step);
            }
        } else {
            // 6.824 accelerated backtracking: skip a whole conflicting term at once.
            let next = if x_term == 0 {
                hit(D::BackoffToFollowerLength);
                x_len.saturating_add(1)
            } else {
                match state.log.last_index_of_term(x_term) {
                    Some(last) => {
                        hit(D::BackoffPastLeadersTerm);
                        last + 1
                    }
                    None => {
                        hit(D::BackoffToConflictIndex);
                        x_index
                    }
                }
            };
            let next = next
                .min(last.saturating_add(1))
                .max(matched.saturating_add(1));
            if next != next_f {
                state.to_mut().next_index[f] = next;
            }
            self.send_append_entries(state, follower, step);
        }
    }

    /// Figure 2, leaders: commit the highest N on a majority with log[N].term ==
    /// currentTerm (§5.4.2, Figure 8: never by counting replicas of older terms).
    fn advance_commit_index(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        let me = usize::from(id);
        let quorum = self.quorum();
        let mut n = s.last_log_index();
        while n > s.commit_index {
            let replicas = (0..self.servers)
                .filter(|&p| p == me || s.match_index.get(p).is_some_and(|m| *m >= n))
                .count();
            if s.term_at(n) != Some(s.current_term) && !self.has(Mutant::CommitOldTerm) {
                if replicas >= quorum {
                    hit(D::LeaderWaitsForCurrentTerm);
                }
                break; // older entries commit only by way of a current-term entry
            }
            if replicas >= quorum {
                hit(D::LeaderCommits);
                self.apply_up_to(s, n, step);
                return;
            }
            n -= 1;
        }
    }

    /// Commits and applies entries up to `index`. The leader answers the clients of
    /// the entries it appended itself; older entries' clients retry and are answered
    /// from their session.
    fn apply_up_to(&self, s: &mut ServerState, index: LogIndex, step: &mut Step) {
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

/// The position in `entries` (which follow `prev_log_index`) of the first one that
/// the log does not hold (Figure 2, receiver 3: a conflict, or past the end).
pub(crate) fn first_conflict(
    s: &ServerState,
    prev_log_index: LogIndex,
    entries: &[Entry],
) -> Option<usize> {
    entries.iter().enumerate().find_map(|(k, e)| {
        let index = prev_log_index.saturating_add(1 + k as LogIndex);
        match s.term_at(index) {
            Some(t) if t == e.term => None,
            _ => Some(k),
        }
    })
}

/// A successful AppendEntriesReply: the follower's log matches the leader's up to
/// `match_index`.
pub(crate) fn accept(term: Term, match_index: LogIndex) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success: true,
        match_index,
        x_term: 0,
        x_index: 0,
        x_len: 0,
    })
}

pub(crate) fn reject(term: Term, x_term: Term, x_index: LogIndex, x_len: LogIndex) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success: false,
        match_index: 0,
        x_term,
        x_index,
        x_len,
    })
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

//! Messages, log entries, client operations and timers: the model's vocabulary.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::fmt;

/// A Raft term (Figure 2: `currentTerm`, starts at 0).
pub type Term = u64;
/// A position in the log, 1 for the first entry; 0 means "before the first entry".
pub type LogIndex = u64;
/// Keys and values of the key/value service: short ones stored inline, long ones
/// shared, so that cloning a log is cheap and touches no shared counter (the model
/// checker clones logs on two threads at once).
pub type Text = smol_str::SmolStr;

/// A key/value service operation, as submitted by a client (lab 3's `Op`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Op {
    Put { key: Text, value: Text },
    Append { key: Text, value: Text },
    Get { key: Text },
}

/// One log entry: the term in which a leader created it and the client command.
/// `client` + `seq` identify the request so that a retried request is applied once.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub client: Id,
    pub seq: u64,
    pub op: Op,
}

/// Figure 2's RequestVote RPC, sent by candidates. The candidate (`candidateId`) is
/// the envelope's source, which the host authenticates by address.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestVote {
    pub term: Term,
    pub last_log_index: LogIndex,
    pub last_log_term: Term,
}

/// The answer to a [`RequestVote`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RequestVoteReply {
    pub term: Term,
    pub vote_granted: bool,
}

/// Figure 2's AppendEntries RPC, sent by leaders (empty `entries` for a heartbeat).
/// The leader (`leaderId`) is the envelope's source.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppendEntries {
    pub term: Term,
    pub prev_log_index: LogIndex,
    pub prev_log_term: Term,
    pub entries: Vec<Entry>,
    pub leader_commit: LogIndex,
}

/// The answer to an [`AppendEntries`]. `match_index` says which prefix a success
/// verified: replies may arrive in any order, so the leader cannot infer it from its
/// own `next_index`. On failure, `x_term`/`x_index`/`x_len` (6.824's accelerated
/// backtracking): the term of the conflicting entry (0 if none), the first index of
/// that term in the follower's log, and the follower's log length.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppendEntriesReply {
    pub term: Term,
    pub success: bool,
    pub match_index: LogIndex,
    pub x_term: Term,
    pub x_index: LogIndex,
    pub x_len: LogIndex,
}

/// Figure 13's InstallSnapshot RPC, sent by a leader to a follower that lacks
/// entries the leader has compacted into its snapshot. The leader is the
/// envelope's source. The model sends a snapshot whole (Figure 13's `offset` and
/// `done` are transport: a host splits and reassembles it, the follower acts only
/// on the whole); the follower answers with an [`AppendEntriesReply`] whose match
/// index is `last_included_index`, as etcd's followers do, so the leader's
/// bookkeeping of replies is one and the same.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InstallSnapshot {
    pub term: Term,
    pub last_included_index: LogIndex,
    pub last_included_term: Term,
    /// The service's state at `last_included_index`: data and client sessions.
    pub data: crate::kv::KvStore,
}

/// A client command (lab 3: the k/v server's RPC that calls `Start()`). The client
/// is the envelope's source: a request names no client of its own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientRequest {
    pub seq: u64,
    pub op: Op,
}

/// Everything servers and clients send each other: one struct per RPC, as in
/// Figure 2. Senders are the envelope's source.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    RequestVote(RequestVote),
    RequestVoteReply(RequestVoteReply),
    AppendEntries(AppendEntries),
    AppendEntriesReply(AppendEntriesReply),
    InstallSnapshot(InstallSnapshot),
    ClientRequest(ClientRequest),
    /// The command was applied; `result` is what the state machine returned.
    ClientReply {
        seq: u64,
        result: crate::kv::OpResult,
    },
    /// This server is not the leader; try `leader_hint` if known.
    NotLeader {
        seq: u64,
        leader_hint: Option<Id>,
    },
}

impl Msg {
    /// The sender's term, for the messages servers exchange (Figure 2: "if RPC
    /// request or response contains term T > currentTerm ...").
    pub fn term(&self) -> Option<Term> {
        match self {
            Msg::RequestVote(m) => Some(m.term),
            Msg::RequestVoteReply(m) => Some(m.term),
            Msg::AppendEntries(m) => Some(m.term),
            Msg::AppendEntriesReply(m) => Some(m.term),
            Msg::InstallSnapshot(m) => Some(m.term),
            Msg::ClientRequest(_) | Msg::ClientReply { .. } | Msg::NotLeader { .. } => None,
        }
    }
}

/// Timers an actor may set. The model checker fires any set timer at any moment;
/// the real host fires it after a random delay within the range the actor asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    /// Follower/candidate: no word from a leader for too long, start an election.
    Election,
    /// Leader: send AppendEntries (heartbeat, or the entries a follower lacks).
    Heartbeat,
    /// Client: no reply for too long, try the next server.
    ClientRetry,
    /// Any server, only where the configuration asks for it (the model checker's
    /// `--snapshots`): take a snapshot at the commit index, at any moment.
    Snapshot,
}

impl Rewrite<Id> for Op {
    fn rewrite<S>(&self, _: &RewritePlan<Id, S>) -> Self {
        self.clone()
    }
}

impl Rewrite<Id> for Entry {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        Entry {
            client: self.client.rewrite(plan),
            ..self.clone()
        }
    }
}

impl Rewrite<Id> for Msg {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        match self {
            Msg::AppendEntries(m) => Msg::AppendEntries(AppendEntries {
                entries: m.entries.rewrite(plan),
                ..m.clone()
            }),
            Msg::NotLeader { seq, leader_hint } => Msg::NotLeader {
                seq: *seq,
                leader_hint: leader_hint.rewrite(plan),
            },
            // The snapshot's client sessions are keyed by client id.
            Msg::InstallSnapshot(m) => Msg::InstallSnapshot(InstallSnapshot {
                data: m.data.rewrite(plan),
                ..m.clone()
            }),
            other => other.clone(),
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Put { key, value } => write!(f, "put {key}={value}"),
            Op::Append { key, value } => write!(f, "append {key}+={value}"),
            Op::Get { key } => write!(f, "get {key}"),
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{:?}", self.term, self.op)
    }
}

/// Logs print as the list of their entries' terms, as the paper draws them; a log
/// after a snapshot with the snapshot's point first (`2/1: [1,2]`).
pub struct LogTerms(pub Vec<Term>, pub Option<(LogIndex, Term)>);

impl LogTerms {
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> LogTerms {
        LogTerms(entries.into_iter().map(|e| e.term).collect(), None)
    }

    pub fn of_log(log: &crate::log::Log) -> LogTerms {
        let point = (log.snapshot_index() > 0).then(|| (log.snapshot_index(), log.snapshot_term()));
        LogTerms(log.iter().map(|e| e.term).collect(), point)
    }
}

impl fmt::Display for LogTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((index, term)) = self.1 {
            write!(f, "{index}/{term}: ")?;
        }
        f.write_str("[")?;
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str("]")
    }
}

/// The one readable text of a message, as counterexamples, the Explorer and trace
/// reports print it. Actors named inside are always servers (a leader hint).
impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::RequestVote(m) => write!(
                f,
                "RequestVote(term {}, last {}/{})",
                m.term, m.last_log_index, m.last_log_term
            ),
            Msg::RequestVoteReply(m) => write!(
                f,
                "RequestVoteReply(term {}, {})",
                m.term,
                if m.vote_granted { "granted" } else { "refused" }
            ),
            Msg::AppendEntries(m) => write!(
                f,
                "AppendEntries(term {}, prev {}/{}, {:?}, commit {})",
                m.term, m.prev_log_index, m.prev_log_term, m.entries, m.leader_commit
            ),
            Msg::AppendEntriesReply(m) if m.success => write!(
                f,
                "AppendEntriesReply(term {}, ok, match {})",
                m.term, m.match_index
            ),
            Msg::AppendEntriesReply(m) => write!(
                f,
                "AppendEntriesReply(term {}, conflict, xterm {} xindex {} xlen {})",
                m.term, m.x_term, m.x_index, m.x_len
            ),
            Msg::InstallSnapshot(m) => write!(
                f,
                "InstallSnapshot(term {}, last {}/{}, {:?})",
                m.term, m.last_included_index, m.last_included_term, m.data
            ),
            Msg::ClientRequest(m) => write!(f, "ClientRequest(#{} {:?})", m.seq, m.op),
            Msg::ClientReply { seq, result } => write!(f, "ClientReply(#{seq} {result:?})"),
            Msg::NotLeader {
                seq,
                leader_hint: Some(l),
            } => write!(f, "NotLeader(#{seq}, try {})", crate::name::server(*l)),
            Msg::NotLeader {
                seq,
                leader_hint: None,
            } => write!(f, "NotLeader(#{seq}, leader unknown)"),
        }
    }
}

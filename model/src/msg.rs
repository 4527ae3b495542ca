//! Messages, log entries, client operations and timers: the model's vocabulary.

use serde::{Deserialize, Serialize};
use stateright::actor::Id;
use stateright::{Rewrite, RewritePlan};
use std::fmt;
use std::sync::Arc;

/// A Raft term (Figure 2: `currentTerm`, starts at 0).
pub type Term = u64;
/// A position in the log, 1 for the first entry; 0 means "before the first entry".
pub type LogIndex = u64;
/// Keys and values of the key/value service: shared, so that cloning a log is cheap.
pub type Text = Arc<str>;

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

/// Everything servers and clients send each other. Sender ids (`candidateId`,
/// `leaderId` in Figure 2) are the envelope's source, which the host authenticates
/// by address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Msg {
    /// Figure 2 RequestVote RPC, sent by candidates.
    RequestVote {
        term: Term,
        last_log_index: LogIndex,
        last_log_term: Term,
    },
    RequestVoteReply {
        term: Term,
        vote_granted: bool,
    },
    /// Figure 2 AppendEntries RPC, sent by leaders (empty `entries` for heartbeat).
    AppendEntries {
        term: Term,
        prev_log_index: LogIndex,
        prev_log_term: Term,
        entries: Vec<Entry>,
        leader_commit: LogIndex,
    },
    /// `match_index` says which prefix a success verified: replies may arrive in any
    /// order, so the leader cannot infer it from its own `next_index`.
    /// On failure, `x_term`/`x_index`/`x_len` (6.824's accelerated backtracking): the
    /// term of the conflicting entry (0 if none), the first index of that term in the
    /// follower's log, and the follower's log length.
    AppendEntriesReply {
        term: Term,
        success: bool,
        match_index: LogIndex,
        x_term: Term,
        x_index: LogIndex,
        x_len: LogIndex,
    },
    /// A client command (lab 3: the k/v server's RPC that calls `Start()`).
    ClientRequest {
        client: Id,
        seq: u64,
        op: Op,
    },
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
            Msg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => Msg::AppendEntries {
                term: *term,
                prev_log_index: *prev_log_index,
                prev_log_term: *prev_log_term,
                entries: entries.rewrite(plan),
                leader_commit: *leader_commit,
            },
            Msg::ClientRequest { client, seq, op } => Msg::ClientRequest {
                client: client.rewrite(plan),
                seq: *seq,
                op: op.clone(),
            },
            Msg::NotLeader { seq, leader_hint } => Msg::NotLeader {
                seq: *seq,
                leader_hint: leader_hint.rewrite(plan),
            },
            other => other.clone(),
        }
    }
}

/// `S1`, `S2`, ... for servers (the paper's names), `C1`, ... for clients of a model.
pub struct Name(pub Id, pub usize);

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = usize::from(self.0);
        if i < self.1 {
            write!(f, "S{}", i + 1)
        } else if i < self.1 + 1000 {
            write!(f, "C{}", i - self.1 + 1)
        } else {
            write!(f, "client {i:#x}")
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

/// Logs print as the list of their entries' terms, as the paper draws them.
pub struct LogTerms<'a>(pub &'a [Entry]);

impl fmt::Display for LogTerms<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}", e.term)?;
        }
        f.write_str("]")
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Msg::RequestVote {
                term,
                last_log_index,
                last_log_term,
            } => write!(
                f,
                "RequestVote(term {term}, last {last_log_index}/{last_log_term})"
            ),
            Msg::RequestVoteReply { term, vote_granted } => write!(
                f,
                "RequestVoteReply(term {term}, {})",
                if *vote_granted { "granted" } else { "refused" }
            ),
            Msg::AppendEntries {
                term,
                prev_log_index,
                prev_log_term,
                entries,
                leader_commit,
            } => write!(
                f,
                "AppendEntries(term {term}, prev {prev_log_index}/{prev_log_term}, {entries:?}, commit {leader_commit})"
            ),
            Msg::AppendEntriesReply {
                term,
                success,
                match_index,
                x_term,
                x_index,
                x_len,
            } => {
                if *success {
                    write!(f, "AppendEntriesReply(term {term}, ok, match {match_index})")
                } else {
                    write!(
                        f,
                        "AppendEntriesReply(term {term}, conflict, xterm {x_term} xindex {x_index} xlen {x_len})"
                    )
                }
            }
            Msg::ClientRequest { client, seq, op } => {
                write!(f, "ClientRequest(#{seq} {op:?} from {})", usize::from(*client))
            }
            Msg::ClientReply { seq, result } => write!(f, "ClientReply(#{seq} {result:?})"),
            Msg::NotLeader { seq, leader_hint } => match leader_hint {
                Some(l) => write!(f, "NotLeader(#{seq}, try S{})", usize::from(*l) + 1),
                None => write!(f, "NotLeader(#{seq}, leader unknown)"),
            },
        }
    }
}

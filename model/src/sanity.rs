//! Which messages a server takes at all: what Raft can never send is refused
//! before any handler sees it. The host's door asks the same functions (and
//! counts the refusals), and the handlers ask them again, so a message that
//! slips past a door still changes nothing.
//!
//! Two kinds of rule: [`ServerConfig::well_formed`] looks at the message alone
//! (ranges, sizes, the shape of a reply); [`ServerConfig::plausible`] also at the
//! server's state (a reply that claims more than this leader ever sent).

use crate::limits::{entry_bytes, op_bytes, MAX_INDEX, MAX_TERM};
use crate::msg::{AppendEntries, AppendEntriesReply, Msg};
use crate::server::{Role, ServerConfig, ServerState};
use stateright::actor::Id;
use std::fmt;

/// Why a server (or a client) refuses a message before any handler sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// An RPC that only servers exchange, from an actor that is not another server.
    NotFromAPeer,
    /// A reply meant for clients.
    NotForServers,
    /// A message for servers, or a reply from an actor that is not a server.
    NotForClients,
    /// A term above [`MAX_TERM`].
    TermOutOfRange,
    /// An index above [`MAX_INDEX`], or entries that would end past it.
    IndexOutOfRange,
    /// An operation over `max_op_bytes`, or more entries (or bytes) than one
    /// AppendEntries carries.
    TooLarge,
    /// A message whose fields no server sends together (a success with conflict
    /// details, a conflict index past the log it describes, sequence number 0, a
    /// snapshot of nothing).
    Malformed,
    /// A success whose match index is beyond this leader's log: more than it can
    /// have sent.
    BeyondSent,
}

impl Refusal {
    pub const ALL: [Refusal; 8] = [
        Refusal::NotFromAPeer,
        Refusal::NotForServers,
        Refusal::NotForClients,
        Refusal::TermOutOfRange,
        Refusal::IndexOutOfRange,
        Refusal::TooLarge,
        Refusal::Malformed,
        Refusal::BeyondSent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Refusal::NotFromAPeer => "not from a peer",
            Refusal::NotForServers => "not for servers",
            Refusal::NotForClients => "not for clients",
            Refusal::TermOutOfRange => "term out of range",
            Refusal::IndexOutOfRange => "index out of range",
            Refusal::TooLarge => "too large",
            Refusal::Malformed => "malformed",
            Refusal::BeyondSent => "beyond what was sent",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn check(ok: bool, why: Refusal) -> Result<(), Refusal> {
    if ok {
        Ok(())
    } else {
        Err(why)
    }
}

fn term_ok(t: u64) -> Result<(), Refusal> {
    check(t <= MAX_TERM, Refusal::TermOutOfRange)
}

fn index_ok(i: u64) -> Result<(), Refusal> {
    check(i <= MAX_INDEX, Refusal::IndexOutOfRange)
}

impl ServerConfig {
    /// The rules on a message alone: every term and index in range, operations and
    /// batches within the size limits, replies shaped as servers send them.
    pub fn well_formed(&self, msg: &Msg) -> Result<(), Refusal> {
        match msg {
            Msg::RequestVote(m) => {
                term_ok(m.term)?;
                term_ok(m.last_log_term)?;
                index_ok(m.last_log_index)
            }
            Msg::RequestVoteReply(m) => term_ok(m.term),
            Msg::AppendEntries(m) => self.append_well_formed(m),
            Msg::AppendEntriesReply(m) => reply_well_formed(m),
            Msg::InstallSnapshot(m) => {
                term_ok(m.term)?;
                term_ok(m.last_included_term)?;
                index_ok(m.last_included_index)?;
                // A leader sends a snapshot only of entries it has: at least one.
                check(
                    m.last_included_index > 0 && m.last_included_term > 0,
                    Refusal::Malformed,
                )
            }
            Msg::ClientRequest(r) => {
                check(r.seq > 0, Refusal::Malformed)?;
                check(op_bytes(&r.op) <= self.max_op_bytes, Refusal::TooLarge)
            }
            Msg::ClientReply { .. } | Msg::NotLeader { .. } => Ok(()),
        }
    }

    fn append_well_formed(&self, m: &AppendEntries) -> Result<(), Refusal> {
        term_ok(m.term)?;
        term_ok(m.prev_log_term)?;
        index_ok(m.prev_log_index)?;
        index_ok(m.leader_commit)?;
        let n = m.entries.len() as u64;
        index_ok(m.prev_log_index.saturating_add(n))?;
        check(
            m.entries.len() <= self.max_entries_per_append.max(1),
            Refusal::TooLarge,
        )?;
        let mut bytes = 0usize;
        for e in &m.entries {
            term_ok(e.term)?;
            check(op_bytes(&e.op) <= self.max_op_bytes, Refusal::TooLarge)?;
            bytes = bytes.saturating_add(entry_bytes(e));
        }
        // A leader sends one entry even if it is larger than the batch limit.
        check(
            m.entries.len() <= 1 || bytes <= self.max_append_bytes,
            Refusal::TooLarge,
        )
    }

    /// The rules that need the receiver's state: a leader's own log bounds what a
    /// follower can confirm in the leader's term.
    pub fn plausible(&self, state: &ServerState, msg: &Msg) -> Result<(), Refusal> {
        match msg {
            Msg::AppendEntriesReply(m)
                if m.success && state.role == Role::Leader && m.term == state.current_term =>
            {
                check(m.match_index <= state.last_log_index(), Refusal::BeyondSent)
            }
            _ => Ok(()),
        }
    }

    /// [`ServerConfig::admits`] and [`ServerConfig::plausible`] together: whether
    /// server `id`, in `state`, takes `msg` from `src` at all.
    pub fn accepts(&self, id: Id, state: &ServerState, src: Id, msg: &Msg) -> Result<(), Refusal> {
        self.admits(id, src, msg)?;
        self.plausible(state, msg)
    }
}

fn reply_well_formed(m: &AppendEntriesReply) -> Result<(), Refusal> {
    term_ok(m.term)?;
    term_ok(m.x_term)?;
    index_ok(m.match_index)?;
    index_ok(m.x_index)?;
    index_ok(m.x_len)?;
    if m.success {
        check(
            m.x_term == 0 && m.x_index == 0 && m.x_len == 0,
            Refusal::Malformed,
        )
    } else {
        check(
            m.match_index == 0 && m.x_index <= m.x_len,
            Refusal::Malformed,
        )
    }
}

//! Raft, written once as a [stateright] actor.
//!
//! This crate is the single source of Raft behaviour in raftlab: the model checker
//! (`raft-checks`) explores it, the UDP host (`raft-impl`) runs it. It is pure: no I/O,
//! no clock, no randomness. Names follow Figure 2 of the Raft paper.
//!
//! The actor is [`RaftActor`]: either a Raft server or a key/value client. Both kinds
//! live in one enum so that a model can hold servers and clients side by side.

pub mod actor;
pub mod client;
pub mod coverage;
pub mod election;
pub mod footprint;
pub mod kv;
pub mod limits;
pub mod log;
pub mod msg;
pub mod mutant;
pub mod name;
pub mod replication;
pub mod sanity;
pub mod server;
pub mod server_set;
pub mod snapshot;
pub mod testkit;
pub mod trace;
pub mod trace_delta;
pub mod trace_log_digest;
pub mod trace_snapshot;

pub use actor::{Input, RaftActor, RaftState, Stepped};
pub use client::{ClientConfig, ClientState};
pub use kv::{KvSpec, KvStore, OpResult, Session};
pub use limits::{entry_bytes, op_bytes, MAX_INDEX, MAX_TERM};
pub use log::Log;
pub use msg::{
    AppendEntries, AppendEntriesReply, ClientRequest, Entry, InstallSnapshot, LogIndex, Msg, Op,
    RequestVote, RequestVoteReply, Term, Text, Timer,
};
pub use mutant::{Mutant, MutantSet};
pub use sanity::Refusal;
pub use server::{PersistentState, Role, ServerConfig, ServerState};
pub use server_set::ServerSet;
pub use stateright::actor::Id;

/// The number of servers that form a majority of `n` servers: a majority of *all*
/// servers, not of the live ones (lecture: "majority is out of all servers").
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

//! Test-only faults of the host itself, behind one seam: the node's [`Boundary`]
//! with the outside world (its storage, the messages it receives, its timers, the
//! moment its messages leave). The production node uses [`Honest`], which keeps
//! every rule; [`Broken`] breaks one rule on purpose, so that tests can show that
//! `raftlab trace check` notices. The node's loop knows nothing of these faults.

use crate::wal::{StorageError, Store};
use raft_model::RequestVoteReply;
use raft_model::{AppendEntries, AppendEntriesReply, Id, Msg, PersistentState, RequestVote};
use std::fmt;
use std::io;
use std::time::Duration;

/// Where the node meets the outside world. Every method has the honest default.
pub trait Boundary: Send {
    /// What the node starts from, given what its storage holds.
    fn loaded(
        &mut self,
        _storage: &Store,
        read: Option<PersistentState>,
    ) -> Result<Option<PersistentState>, StorageError> {
        Ok(read)
    }

    /// Saves durably.
    fn save(&mut self, storage: &mut Store, state: PersistentState) -> io::Result<()> {
        storage.save(state)
    }

    /// The message the actor is handed for one that arrived from `src`.
    fn received(&mut self, _src: Id, msg: Msg) -> Msg {
        msg
    }

    /// Whether the actor's timer cancellations take effect.
    fn cancels_timers(&self) -> bool {
        true
    }

    /// Whether a batch's messages wait until its save is durable (Raft's rule).
    fn sends_after_save(&self) -> bool {
        true
    }
}

/// The production boundary: every rule kept.
pub struct Honest;

impl Boundary for Honest {}

/// Test-only faults of the host itself: each breaks one rule the host must keep,
/// so that tests can show that `raftlab trace check` notices. Set with the hidden
/// `raftlab node --host-fault NAME`; never use them for anything else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFault {
    /// Transmit a batch's messages before its save is durable (and take 5 ms to
    /// save, as a slow disk would, so that receivers see them first).
    SendBeforeSave,
    /// On restart, ignore the storage file and start empty.
    RestartEmpty,
    /// On restart, read the storage as it was one save before the last.
    RestartOlderSave,
    /// Alter one field of every tenth message delivered from a server.
    FlipMessage,
    /// Ignore the actor's timer cancellations: a cancelled timer still fires.
    FireCancelledTimer,
}

impl HostFault {
    pub const ALL: [HostFault; 5] = [
        HostFault::SendBeforeSave,
        HostFault::RestartEmpty,
        HostFault::RestartOlderSave,
        HostFault::FlipMessage,
        HostFault::FireCancelledTimer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HostFault::SendBeforeSave => "send-before-save",
            HostFault::RestartEmpty => "restart-empty",
            HostFault::RestartOlderSave => "restart-older-save",
            HostFault::FlipMessage => "flip-message",
            HostFault::FireCancelledTimer => "fire-cancelled-timer",
        }
    }
}

impl std::str::FromStr for HostFault {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HostFault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = HostFault::ALL.iter().map(|f| f.name()).collect();
                format!("unknown host fault '{s}': use one of {}", names.join(", "))
            })
    }
}

impl fmt::Display for HostFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A boundary that breaks one rule of the host.
pub struct Broken {
    fault: HostFault,
    /// Messages received from servers so far (`flip-message` alters every tenth).
    server_messages: u64,
    servers: usize,
}

impl Broken {
    pub fn new(fault: HostFault, servers: usize) -> Self {
        Broken {
            fault,
            server_messages: 0,
            servers,
        }
    }
}

impl Boundary for Broken {
    fn loaded(
        &mut self,
        storage: &Store,
        read: Option<PersistentState>,
    ) -> Result<Option<PersistentState>, StorageError> {
        match self.fault {
            HostFault::RestartEmpty => Ok(None),
            // The log read as if its last frame of records had never been written.
            HostFault::RestartOlderSave => Ok(storage.before_last_save()?.or(read)),
            _ => Ok(read),
        }
    }

    fn save(&mut self, storage: &mut Store, state: PersistentState) -> io::Result<()> {
        if self.fault == HostFault::SendBeforeSave {
            // A slow disk, so that receivers see the messages sent before it first.
            std::thread::sleep(Duration::from_millis(5));
        }
        storage.save(state)
    }

    fn received(&mut self, src: Id, msg: Msg) -> Msg {
        if self.fault != HostFault::FlipMessage || usize::from(src) >= self.servers {
            return msg;
        }
        self.server_messages += 1;
        if self.server_messages.is_multiple_of(10) {
            flip_field(msg)
        } else {
            msg
        }
    }

    fn cancels_timers(&self) -> bool {
        self.fault != HostFault::FireCancelledTimer
    }

    fn sends_after_save(&self) -> bool {
        self.fault != HostFault::SendBeforeSave
    }
}

/// The `flip-message` fault's alteration: one field changed, the rest kept.
fn flip_field(msg: Msg) -> Msg {
    match msg {
        Msg::RequestVoteReply(m) => Msg::RequestVoteReply(RequestVoteReply {
            vote_granted: !m.vote_granted,
            ..m
        }),
        Msg::AppendEntriesReply(m) => Msg::AppendEntriesReply(AppendEntriesReply {
            success: !m.success,
            ..m
        }),
        Msg::AppendEntries(m) => Msg::AppendEntries(AppendEntries {
            leader_commit: m.leader_commit.saturating_add(1),
            ..m
        }),
        Msg::RequestVote(m) => Msg::RequestVote(RequestVote {
            last_log_index: m.last_log_index.saturating_add(1),
            ..m
        }),
        other => other,
    }
}

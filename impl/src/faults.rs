//! Fault injection built into the host, so that tests can lose, duplicate, delay and
//! cut messages without root privileges or a network emulator.
//!
//! Faults act on the node's own traffic only: what it sends (drop, duplicate, delay,
//! partition) and what it accepts from servers (partition). They never change what
//! the actor decides; they only change which datagrams reach it or leave it, which is
//! exactly the freedom the model checker's network already has.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The faults a node currently injects.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Probability that an outgoing Raft datagram is silently not sent.
    pub drop: f64,
    /// Probability that an outgoing Raft datagram is sent twice.
    pub duplicate: f64,
    /// Probability that an outgoing Raft datagram is held back for a random delay.
    pub delay: f64,
    /// The longest such delay, in milliseconds.
    pub delay_max_ms: u64,
    /// Servers (0-based indices) this node neither sends to nor accepts messages from.
    pub partition: BTreeSet<u64>,
}

/// A change to a node's faults, sent in a control datagram: `None` leaves a setting
/// as it is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPatch {
    pub drop: Option<f64>,
    pub duplicate: Option<f64>,
    pub delay: Option<f64>,
    pub delay_max_ms: Option<u64>,
    /// The new partition set, replacing the old one (empty: heal).
    pub partition: Option<BTreeSet<u64>>,
}

pub const DEFAULT_DELAY_MAX_MS: u64 = 100;

impl Faults {
    pub fn none() -> Self {
        Faults {
            delay_max_ms: DEFAULT_DELAY_MAX_MS,
            ..Faults::default()
        }
    }

    /// Applies `patch`, or explains which value is out of range (nothing is changed
    /// then).
    pub fn apply(&mut self, patch: &FaultPatch) -> Result<(), String> {
        for (name, p) in [
            ("drop", patch.drop),
            ("duplicate", patch.duplicate),
            ("delay", patch.delay),
        ] {
            if let Some(p) = p {
                check_probability(name, p)?;
            }
        }
        if let Some(p) = patch.drop {
            self.drop = p;
        }
        if let Some(p) = patch.duplicate {
            self.duplicate = p;
        }
        if let Some(p) = patch.delay {
            self.delay = p;
        }
        if let Some(ms) = patch.delay_max_ms {
            self.delay_max_ms = ms;
        }
        if let Some(set) = &patch.partition {
            self.partition = set.clone();
        }
        Ok(())
    }

    pub fn is_none(&self) -> bool {
        self.drop == 0.0 && self.duplicate == 0.0 && self.delay == 0.0 && self.partition.is_empty()
    }
}

pub fn check_probability(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!(
            "--{name} {p} is not a probability: give a number from 0 to 1"
        ))
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let mut parts = Vec::new();
        if self.drop > 0.0 {
            parts.push(format!("drop {}", self.drop));
        }
        if self.duplicate > 0.0 {
            parts.push(format!("duplicate {}", self.duplicate));
        }
        if self.delay > 0.0 {
            parts.push(format!(
                "delay {} (up to {} ms)",
                self.delay, self.delay_max_ms
            ));
        }
        if !self.partition.is_empty() {
            let names: Vec<_> = self
                .partition
                .iter()
                .map(|i| format!("S{}", i + 1))
                .collect();
            parts.push(format!("cut from {}", names.join(",")));
        }
        f.write_str(&parts.join(", "))
    }
}

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

/// The `flip-message` fault's alteration: one field changed, the rest kept.
pub fn flip_field(msg: raft_model::Msg) -> raft_model::Msg {
    use raft_model::Msg;
    match msg {
        Msg::RequestVoteReply { term, vote_granted } => Msg::RequestVoteReply {
            term,
            vote_granted: !vote_granted,
        },
        Msg::AppendEntriesReply {
            term,
            success,
            match_index,
            x_term,
            x_index,
            x_len,
        } => Msg::AppendEntriesReply {
            term,
            success: !success,
            match_index,
            x_term,
            x_index,
            x_len,
        },
        Msg::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } => Msg::AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: leader_commit + 1,
        },
        Msg::RequestVote {
            term,
            last_log_index,
            last_log_term,
        } => Msg::RequestVote {
            term,
            last_log_index: last_log_index + 1,
            last_log_term,
        },
        other => other,
    }
}

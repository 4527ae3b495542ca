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

/// The longest hold-back a node accepts: longer than any election timeout, so
/// a delayed message can arrive terms late, and short enough that held-back
/// datagrams cannot pile up for minutes.
pub const MAX_DELAY_MS: u64 = 10_000;

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
        patch.validate()?;
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

/// A probability is a number from 0 to 1 (NaN is not).
pub fn check_probability(p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!(
            "{p} is not a probability: give a number from 0 to 1"
        ))
    }
}

impl FaultPatch {
    /// Refuses probabilities outside 0..=1 and delays over [`MAX_DELAY_MS`] (a
    /// control datagram may carry anything).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(ms) = self.delay_max_ms {
            if ms > MAX_DELAY_MS {
                return Err(format!(
                    "--delay-ms {ms}: give at most {MAX_DELAY_MS} ms (10 s)"
                ));
            }
        }
        for (name, p) in [
            ("drop", self.drop),
            ("duplicate", self.duplicate),
            ("delay", self.delay),
        ] {
            if let Some(p) = p {
                check_probability(p).map_err(|e| format!("--{name} {e}"))?;
            }
        }
        Ok(())
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
                .map(|i| raft_model::name::server(raft_model::Id::from(*i as usize)))
                .collect();
            parts.push(format!("cut from {}", names.join(",")));
        }
        f.write_str(&parts.join(", "))
    }
}

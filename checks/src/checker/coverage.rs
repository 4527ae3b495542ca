//! Coverage, as TLC reports it: how often a check took each decision of the
//! server's handlers (`raft_model::coverage`), and which it never took. A check
//! proves nothing about a branch it never reached.

use raft_model::coverage::{self, Counts, Decision};
use serde::Serialize;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One decision and how often the check took it.
#[derive(Clone, Debug, Serialize)]
pub struct Reached {
    pub decision: String,
    pub text: &'static str,
    pub count: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    pub decisions: Vec<Reached>,
}

/// A check's turn at the process's decision counters. The counts are the whole
/// process's, so a check that counts runs alone (tests that check in parallel
/// threads wait for each other here), and checks that do not count run side by
/// side (`raftlab mutants`), but never alongside one that counts.
pub struct Turn(Guard);

enum Guard {
    Counting(#[allow(dead_code)] RwLockWriteGuard<'static, ()>),
    NotCounting(#[allow(dead_code)] RwLockReadGuard<'static, ()>),
}

static TURNS: RwLock<()> = RwLock::new(());

impl Turn {
    /// Waits for a turn: alone if `counting`, else shared with others not counting.
    pub fn take(counting: bool) -> Turn {
        Turn(if counting {
            Guard::Counting(TURNS.write().unwrap_or_else(|e| e.into_inner()))
        } else {
            Guard::NotCounting(TURNS.read().unwrap_or_else(|e| e.into_inner()))
        })
    }

    /// Runs `f` and, on a counting turn, what it makes the handlers decide (on
    /// another, no decisions: nothing was counted).
    pub fn count<T>(&self, snapshots: bool, f: impl FnOnce() -> T) -> (T, Coverage) {
        match self.0 {
            Guard::Counting(_) => {
                let before = coverage::snapshot();
                let out = f();
                let counts = coverage::since(&before, &coverage::snapshot());
                (out, Coverage::from_counts(&counts, snapshots))
            }
            Guard::NotCounting(_) => (f(), Coverage::default()),
        }
    }
}

impl Coverage {
    /// The decisions a check could take and how often it took each: with
    /// `snapshots` off, the snapshot decisions are not listed (no server of such
    /// a check takes a snapshot, so none of them is a gap in it).
    pub fn from_counts(counts: &Counts, snapshots: bool) -> Coverage {
        Coverage {
            decisions: Decision::ALL
                .iter()
                .zip(counts)
                .filter(|(d, _)| snapshots || !d.needs_snapshots())
                .map(|(d, &count)| Reached {
                    decision: format!("{d:?}"),
                    text: d.text(),
                    count,
                })
                .collect(),
        }
    }

    /// The decisions never taken.
    pub fn unreached(&self) -> Vec<&Reached> {
        self.decisions.iter().filter(|r| r.count == 0).collect()
    }

    /// How often decision `d` was taken.
    pub fn count(&self, d: Decision) -> u64 {
        let name = format!("{d:?}");
        self.decisions
            .iter()
            .find(|r| r.decision == name)
            .map_or(0, |r| r.count)
    }

    /// One line: how many decisions were reached, and which were not.
    pub fn summary(&self) -> String {
        let never = self.unreached();
        let total = self.decisions.len();
        if total == 0 {
            "not counted (this check ran alongside others)".to_string()
        } else if never.is_empty() {
            format!("every one of the {total} handler decisions reached")
        } else {
            let names: Vec<&str> = never.iter().map(|r| r.decision.as_str()).collect();
            format!(
                "{} of {total} handler decisions reached; never: {}",
                total - never.len(),
                names.join(", ")
            )
        }
    }
}

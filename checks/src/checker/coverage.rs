//! Coverage, as TLC reports it: how often a check took each decision of the
//! server's handlers (`raft_model::coverage`), and which it never took. A check
//! proves nothing about a branch it never reached.

use raft_model::coverage::{self, Counts, Decision};
use serde::Serialize;
use std::sync::Mutex;

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

impl Coverage {
    /// Counts what `f` makes the handlers decide. The counts are the whole
    /// process's, so checks that count take turns: one at a time per process
    /// (tests that check in parallel threads wait for each other here; the
    /// checker uses every core for one check anyway).
    pub fn of<T>(snapshots: bool, f: impl FnOnce() -> T) -> (T, Coverage) {
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let before = coverage::snapshot();
        let out = f();
        let counts = coverage::since(&before, &coverage::snapshot());
        (out, Coverage::from_counts(&counts, snapshots))
    }

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
        if never.is_empty() {
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

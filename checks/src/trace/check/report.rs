//! What `raftlab trace check` found: a count per rule, and the first record that
//! broke each.

use serde::Serialize;

pub const REPLAY: &str = "Steps replay through the model";
pub const TIMERS: &str = "Timeouts fire set timers";
pub const RESTART: &str = "Restarts read the durable storage";
pub const MESSAGES: &str = "Delivered messages were sent";
pub const SAVE_BEFORE_SEND: &str = "Messages left after their save";
pub const GLOBAL_ORDER: &str = "One global order";

/// The first record that broke a rule.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub rule: &'static str,
    /// `S1`.. or `C1`..
    pub node: String,
    pub step: u64,
    pub file: String,
    pub line: usize,
    /// Seconds since the first record of the run.
    pub time_s: f64,
    /// What the record is: `deliver from S2: AppendEntries(..)`.
    pub event: String,
    pub expected: String,
    pub recorded: String,
    /// Position in the global order (to find the earliest failure of all rules).
    #[serde(skip)]
    pub position: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    pub checked: u64,
    /// What `checked` counts: steps, timeouts, deliveries, states...
    pub unit: &'static str,
    /// Extra counts (duplicates and losses, ...).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub failures: u64,
    pub first: Option<Failure>,
    /// The check could not decide (linearizability search stopped by its budget).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecided: bool,
}

impl RuleReport {
    pub(super) fn new(rule: &'static str, unit: &'static str) -> Self {
        RuleReport {
            rule,
            checked: 0,
            unit,
            note: String::new(),
            failures: 0,
            first: None,
            undecided: false,
        }
    }

    pub fn ok(&self) -> bool {
        self.failures == 0
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dir: String,
    pub servers: usize,
    pub clients: usize,
    pub steps: usize,
    /// Crashes (a start with no clean stop before it) and clean stops.
    pub crashes: u64,
    pub restarts: u64,
    pub rules: Vec<RuleReport>,
    /// The earliest failure in the global order, of any rule.
    pub first_failure: Option<Failure>,
    /// No rule broken.
    pub ok: bool,
    /// Every rule decided (if `ok` and not `decided`, nothing is proved).
    pub decided: bool,
    /// Deliveries from actors that left no trace: input the check cannot verify
    /// (their requests are judged as operations of unknown outcome).
    pub unverifiable: u64,
    pub seconds: f64,
}

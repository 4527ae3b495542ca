//! What a check found, as `raftlab check` prints it and `--json` gives it.

use crate::bounds::Bounds;
use crate::model::Action;
use crate::render::text::StepRow;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Holds,
    Violated,
    Witnessed,
    NotWitnessed,
}

/// How a counterexample was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Found {
    /// Breadth-first: no shorter run breaks the property.
    Shortest,
    /// Depth-first, then cut down until no single step can go.
    Minimised,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    pub name: &'static str,
    pub expectation: &'static str,
    pub status: Status,
    pub counterexample: Option<Vec<StepRow>>,
    /// How the counterexample was found (for violations).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<Found>,
    #[serde(skip)]
    pub path: Option<Vec<Action>>,
    /// The counterexample as an Explorer path (`0/4/1`): open it with
    /// `crate::explorer::url` on `raftlab explore` with the same bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_path: Option<String>,
}

impl PropertyResult {
    /// True if the counterexample is a shortest one.
    pub fn shortest(&self) -> bool {
        self.found == Some(Found::Shortest)
    }
}

/// Which engine ran a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// On the threads of this process, with stateright's model API: depth-first
    /// (the proof) on raftlab's own search (`checker::engine`), breadth-first
    /// and simulation on stateright's checkers.
    Stateright,
    /// Breadth-first on timely dataflow: worker threads, and processes on one
    /// or several machines.
    Timely,
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Engine::Stateright => "stateright",
            Engine::Timely => "timely",
        })
    }
}

/// How a timely check was spread: processes, workers in each, and each
/// process's share.
#[derive(Clone, Debug, Serialize)]
pub struct Distributed {
    pub processes: usize,
    /// Workers per process.
    pub workers: usize,
    pub per_process: Vec<super::timely::ProcessStats>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub engine: Engine,
    pub exhaustive: bool,
    pub unique_states: usize,
    pub states: usize,
    pub elapsed_s: f64,
    pub states_per_s: f64,
    pub max_depth: usize,
    pub bounds: Bounds,
    pub strategy: super::run::Strategy,
    pub symmetry: bool,
    pub threads: usize,
    /// Why the run is not exhaustive, if it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    pub properties: Vec<PropertyResult>,
    /// How often the search took each decision of the server's handlers.
    pub coverage: super::coverage::Coverage,
    /// The timely engine's processes and workers (absent for stateright's).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<Distributed>,
}

impl Report {
    pub fn violated(&self) -> Vec<&PropertyResult> {
        self.properties
            .iter()
            .filter(|p| p.status == Status::Violated)
            .collect()
    }

    pub fn proved(&self) -> bool {
        self.exhaustive
            && self
                .properties
                .iter()
                .all(|p| matches!(p.status, Status::Holds | Status::Witnessed))
    }

    /// 0: proved within the bounds; 1: a property violated or a Sometimes property
    /// not witnessed; 3: no violation, but the run was not exhaustive.
    pub fn exit_code(&self) -> i32 {
        let failed = self.properties.iter().any(|p| {
            p.status == Status::Violated || (self.exhaustive && p.status == Status::NotWitnessed)
        });
        if failed {
            1
        } else if self.proved() {
            0
        } else {
            3
        }
    }
}

//! Runs the mutant catalogue: a mutant counts as caught only if the correct model
//! passes the same check.

use super::catalogue::Case;
use super::report::Status;
use super::run::{self, RunOptions, Strategy};
use crate::bounds::Bounds;
use crate::model::Action;
use crate::render::text::StepRow;
use raft_model::MutantSet;
use serde::Serialize;
use std::time::{Duration, Instant};

/// The outcome for one mutant.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub mutant: &'static str,
    pub caught: bool,
    pub property: Option<&'static str>,
    pub length: Option<usize>,
    pub states: usize,
    pub elapsed_s: f64,
    pub bounds: Bounds,
    /// The correct model at the same bounds: exhaustive and nothing violated.
    pub baseline_holds: bool,
    /// The counterexample is a shortest one (breadth-first); otherwise minimal.
    pub shortest: bool,
    #[serde(skip)]
    pub counterexample: Vec<StepRow>,
    #[serde(skip)]
    pub path: Option<Vec<Action>>,
    /// The counterexample as an Explorer path, for `raftlab explore --mutant NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_path: Option<String>,
}

/// Checks the correct model at the case's bounds, then the mutant breadth-first so
/// that its counterexample is a shortest one.
pub fn run(case: &Case, threads: usize) -> Row {
    let started = Instant::now();
    let baseline = Bounds {
        mutants: MutantSet::NONE,
        ..case.bounds.clone()
    };
    let base = run::check(
        &baseline,
        &RunOptions {
            threads,
            ..RunOptions::default()
        },
    );
    let baseline_holds = base.exhaustive && base.violated().is_empty();
    // One thread breadth-first, so that the same property is found first every time.
    let report = run::check(
        &case.bounds,
        &RunOptions {
            threads: if case.breadth_first { 1 } else { threads },
            strategy: if case.breadth_first {
                Strategy::Bfs
            } else {
                Strategy::Dfs
            },
            // stateright's breadth-first search keeps the last violation it meets:
            // `checker::shortest` then finds each one's shortest counterexample.
            shortest_within: case.breadth_first.then_some(Duration::from_secs(300)),
            ..RunOptions::default()
        },
    );
    // Of the properties found violated, the one with the shortest story.
    let worst = report
        .properties
        .iter()
        .filter(|p| p.status == Status::Violated)
        .min_by_key(|p| p.counterexample.as_ref().map_or(usize::MAX, |c| c.len()));
    let caught = baseline_holds && worst.is_some();
    Row {
        mutant: case.mutant.name(),
        caught,
        property: worst.map(|p| p.name),
        length: worst.and_then(|p| p.counterexample.as_ref().map(|c| c.len())),
        states: report.unique_states,
        elapsed_s: started.elapsed().as_secs_f64(),
        bounds: case.bounds.clone(),
        baseline_holds,
        shortest: worst.is_some_and(|p| p.shortest()),
        counterexample: worst
            .and_then(|p| p.counterexample.clone())
            .unwrap_or_default(),
        path: worst.and_then(|p| p.path.clone()),
        explorer_path: worst.and_then(|p| p.explorer_path.clone()),
    }
}

//! Runs the mutant catalogue: a mutant counts as caught only if the correct model
//! passes the same check. These checks do not count coverage, so that they can
//! run side by side (`mutant_pool`).

use super::catalogue::Case;
use super::report::{Report, Status};
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
    /// How long the search for a counterexample took.
    pub elapsed_s: f64,
    /// How long the correct model's check at the same bounds took (shared with
    /// any other mutant at the same bounds, and counted in each).
    pub baseline_s: f64,
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
    let base = baseline(&case.bounds, threads);
    let found = search(case, threads);
    row(case, &base, &found)
}

/// A check and how long it took.
pub struct Timed {
    report: Report,
    elapsed: Duration,
}

fn timed(check: impl FnOnce() -> Report) -> Timed {
    let started = Instant::now();
    let report = check();
    Timed {
        report,
        elapsed: started.elapsed(),
    }
}

/// `bounds` without the mutants they name: what the correct model is checked at.
pub fn correct(bounds: &Bounds) -> Bounds {
    Bounds {
        mutants: MutantSet::NONE,
        ..bounds.clone()
    }
}

/// The correct model at `bounds` (without the mutants they name).
pub fn baseline(bounds: &Bounds, threads: usize) -> Timed {
    let correct = correct(bounds);
    timed(|| {
        run::check(
            &correct,
            &RunOptions {
                threads,
                count_coverage: false,
                ..RunOptions::default()
            },
        )
    })
}

/// The mutant's search for a counterexample, then for its shortest one: every
/// property's, if the search was breadth-first; if not (the story is deep), only
/// the first one's, which is the shortest of all and all a row shows (the search
/// would go on through the largest levels for the others).
pub fn search(case: &Case, threads: usize) -> Timed {
    // One thread breadth-first, so that the same property is found first every time.
    timed(|| {
        run::check(
            &case.bounds,
            &RunOptions {
                threads: if case.breadth_first { 1 } else { threads },
                strategy: if case.breadth_first {
                    Strategy::Bfs
                } else {
                    Strategy::Dfs
                },
                // stateright's searches keep the last violation they meet, not the
                // first: `checker::shortest` then searches level by level.
                shortest_within: Some(Duration::from_secs(300)),
                shortest_first_only: !case.breadth_first,
                count_coverage: false,
                ..RunOptions::default()
            },
        )
    })
}

/// The row for `case`, from the correct model's check at its bounds and its search.
pub fn row(case: &Case, baseline: &Timed, search: &Timed) -> Row {
    let baseline_holds = baseline.report.exhaustive && baseline.report.violated().is_empty();
    let report = &search.report;
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
        elapsed_s: search.elapsed.as_secs_f64(),
        baseline_s: baseline.elapsed.as_secs_f64(),
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

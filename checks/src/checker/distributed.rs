//! `raftlab check --engine timely`: the Raft model checked by the timely engine
//! (`super::timely`), reported like any other check.

use super::counterexample::{explorer_path, replay, rows};
use super::coverage::Coverage;
use super::report::{Distributed, Engine, Found, PropertyResult, Report, Status};
use super::run::{RunOptions, Strategy};
use super::timely::{self, Layout, Outcome, Stopped};
use crate::bounds::{flags, Bounds};
use crate::model::{canonical_for, Action, RaftModel};
use crate::properties;
use stateright::Expectation;
use std::sync::Arc;
use std::time::Duration;

/// Where the timely engine's workers run.
#[derive(Clone)]
pub struct Spread {
    /// Worker threads per process.
    pub workers: usize,
    pub layout: Layout,
    /// Asked while the processes connect: Err gives up (a local worker process
    /// has died).
    pub alive: Option<Arc<dyn Fn() -> Result<(), String> + Send + Sync>>,
}

/// What every process of one check must agree on, in words: the bounds as the
/// flags that set them, and the options that change what is explored.
pub fn identity(bounds: &Bounds, opts: &RunOptions) -> String {
    let bound_flags: Vec<String> = flags(bounds)
        .into_iter()
        .map(|(flag, value)| match value {
            // An unlimited bound reads as such.
            Some(v) if v == usize::MAX.to_string() => format!("--{flag} unlimited"),
            Some(v) => format!("--{flag} {v}"),
            None => format!("--{flag}"),
        })
        .collect();
    format!(
        "bounds: {}; symmetry {}; max depth {}; timeout {}",
        bound_flags.join(" "),
        if opts.symmetry { "on" } else { "off" },
        opts.max_depth.map_or("none".into(), |d| d.to_string()),
        opts.timeout
            .map_or("none".into(), |t| format!("{:.3} s", t.as_secs_f64())),
    )
}

/// Checks `bounds` on timely, spread as `spread` says. The report at process 0;
/// `None` at the other processes; Err if the run failed (nothing is proved).
pub fn check(
    bounds: &Bounds,
    opts: &RunOptions,
    spread: &Spread,
) -> Result<Option<Report>, String> {
    let model = RaftModel::new(bounds.clone());
    let symmetry: timely::codec::Symmetry<RaftModel> =
        opts.symmetry.then(|| canonical_for(model.symmetry()));
    let topts = timely::Options {
        workers: spread.workers,
        layout: spread.layout.clone(),
        max_depth: opts.max_depth,
        timeout: opts.timeout,
        stop_at_violation: true,
        progress: opts.progress,
        identity: identity(bounds, opts),
        alive: spread.alive.clone(),
        counters: Some(handler_decisions()),
    };
    let Some(out) = timely::check(model.clone(), symmetry, &topts)? else {
        return Ok(None);
    };
    Ok(Some(report(&model, bounds, opts, &out)))
}

fn report(model: &RaftModel, bounds: &Bounds, opts: &RunOptions, out: &Outcome<Action>) -> Report {
    let properties: Vec<PropertyResult> = properties::named(bounds)
        .iter()
        .map(|p| verdict(model, p, out))
        .collect();
    let incomplete = out.stopped.map(|s| match s {
        Stopped::Violation => {
            let first = out.violations.first().map_or("", |v| v.property);
            format!("stopped at the first violation ({first})")
        }
        Stopped::Timeout => format!(
            "stopped by --timeout after {:.1} s",
            out.elapsed.as_secs_f64()
        ),
        Stopped::MaxDepth => format!("stopped at --max-depth {}", opts.max_depth.unwrap_or(0)),
    });
    let secs = out.elapsed.as_secs_f64();
    Report {
        engine: Engine::Timely,
        exhaustive: out.exhaustive(),
        unique_states: out.unique as usize,
        states: out.generated as usize,
        elapsed_s: secs,
        states_per_s: out.unique as f64 / secs.max(1e-9),
        max_depth: out.max_depth,
        bounds: bounds.clone(),
        strategy: Strategy::Bfs,
        symmetry: opts.symmetry,
        threads: out.workers_per_process,
        incomplete,
        properties,
        coverage: Coverage::from_counts(&out.counters, bounds.snapshots),
        distributed: Some(Distributed {
            processes: out.processes.len(),
            workers: out.workers_per_process,
            per_process: out.processes.clone(),
        }),
    }
}

/// A property's verdict, with its shortest counterexample if it was violated.
fn verdict(model: &RaftModel, p: &properties::Named, out: &Outcome<Action>) -> PropertyResult {
    let always = p.expectation == Expectation::Always;
    let violation = out.violations.iter().find(|v| v.property == p.name);
    let status = match (always, violation.is_some(), out.witnessed.contains(p.name)) {
        (true, true, _) => Status::Violated,
        (true, false, _) => Status::Holds,
        (false, _, true) => Status::Witnessed,
        (false, _, false) => Status::NotWitnessed,
    };
    let actions = violation.filter(|_| always).map(|v| v.actions.clone());
    PropertyResult {
        name: p.name,
        expectation: if always { "always" } else { "sometimes" },
        status,
        counterexample: actions
            .as_ref()
            .and_then(|a| replay(model, a).map(|path| rows(model, &path))),
        found: actions.as_ref().map(|_| Found::Shortest),
        explorer_path: actions.as_ref().and_then(|a| explorer_path(model, a)),
        path: actions,
    }
}

/// How often this process's handlers took each decision since now.
fn handler_decisions() -> timely::run::Counters {
    let before = raft_model::coverage::snapshot();
    Arc::new(move || raft_model::coverage::since(&before, &raft_model::coverage::snapshot()))
}

/// How long processes wait for each other to start and connect, unless told.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

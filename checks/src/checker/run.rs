//! Runs a check and judges it: the report behind `raftlab check`.

use super::counterexample::{explorer_path, minimize, replay, rows};
use super::coverage::Turn;
use super::engine;
use super::expand;
use super::report::{Found, PropertyResult, Report, Status};
use super::shortest::{Search, Target};
use crate::bounds::Bounds;
use crate::model::{canonical_for, Action, RaftModel, State};
use crate::properties;
use serde::Serialize;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, UniformChooser};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::time::{Duration, Instant};

/// How the checker walks the state space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Breadth-first: shortest paths, more memory, no symmetry reduction.
    Bfs,
    /// Depth-first with symmetry reduction: the proof.
    Dfs,
    /// Random runs: never exhaustive.
    Simulation,
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use clap::ValueEnum;
        match self.to_possible_value() {
            Some(v) => f.write_str(v.get_name()),
            None => Ok(()),
        }
    }
}

/// How to run the checker (as opposed to what to check: `Bounds`).
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub threads: usize,
    pub symmetry: bool,
    pub strategy: Strategy,
    pub max_depth: Option<usize>,
    pub timeout: Option<Duration>,
    /// Print progress to stderr every this often (None: silent).
    pub progress: Option<Duration>,
    /// After a violation, search breadth-first for the shortest counterexample, for at
    /// most this long (then fall back to a minimised depth-first counterexample).
    pub shortest_within: Option<Duration>,
    /// Search for the shortest counterexample of the first property it finds
    /// violated only (the others keep a minimised one).
    pub shortest_first_only: bool,
    /// Simulation: the random seed.
    pub seed: u64,
    /// Count the handlers' decisions (see `coverage::Turn`): off, the check can
    /// run alongside other checks that do not count.
    pub count_coverage: bool,
    /// Depth-first on stateright's `spawn_dfs` instead of raftlab's own search
    /// (`checker::engine`): for `raftlab bench check`'s side-by-side figures.
    pub stateright_dfs: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            symmetry: true,
            strategy: Strategy::Dfs,
            max_depth: None,
            timeout: None,
            progress: None,
            shortest_within: Some(Duration::from_secs(20)),
            shortest_first_only: false,
            seed: 0,
            count_coverage: true,
            stateright_dfs: false,
        }
    }
}

struct Outcome {
    unique: usize,
    states: usize,
    max_depth: usize,
    elapsed: Duration,
    discoveries: HashMap<&'static str, Path<State, Action>>,
    /// The search stopped before every state was done (known of the checker's
    /// own search; stateright's say so only through a violation or the clock).
    called_off: bool,
}

fn drive<C: Checker<RaftModel>>(
    checker: &mut C,
    progress: Option<Duration>,
    started: Instant,
) -> Outcome {
    let handles = checker.handles();
    let mut last_print = Instant::now();
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
        if let Some(every) = progress {
            if last_print.elapsed() >= every {
                last_print = Instant::now();
                let secs = started.elapsed().as_secs_f64();
                let unique = checker.unique_state_count();
                eprintln!(
                    "  ... {:>6.0} s  {:>12} unique states  {:>12} explored  depth {:>3}  {:>9.0} unique/s",
                    secs,
                    unique,
                    checker.state_count(),
                    checker.max_depth(),
                    unique as f64 / secs.max(1e-9)
                );
                let _ = std::io::stderr().flush();
            }
        }
    }
    for h in handles {
        // A checker thread that panicked left its share unsearched: no verdict.
        if let Err(panic) = h.join() {
            std::panic::resume_unwind(panic);
        }
    }
    Outcome {
        unique: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed: started.elapsed(),
        discoveries: checker.discoveries(),
        called_off: false,
    }
}

fn spawn(model: RaftModel, opts: &RunOptions, strategy: Strategy, symmetry: bool) -> Outcome {
    let started = Instant::now();
    let representative = canonical_for(model.symmetry());
    // Its own record of witnesses: the verdicts need only each one's first. It
    // stops at the first violation, so the Always properties can be one.
    let checked = model.witnessing_once().judging_always_as_one();
    let mut b = checked
        .clone()
        .checker()
        .threads(opts.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if symmetry {
        b = b.symmetry_fn(representative);
    }
    if let Some(d) = opts.max_depth {
        b = b.target_max_depth(d);
    }
    if let Some(t) = opts.timeout {
        b = b.timeout(t);
    }
    let mut out = match strategy {
        Strategy::Bfs => drive(&mut b.spawn_bfs(), opts.progress, started),
        Strategy::Dfs if opts.stateright_dfs => drive(&mut b.spawn_dfs(), opts.progress, started),
        Strategy::Dfs => match own_dfs(&checked, opts, symmetry) {
            Ok(mut search) => {
                let mut out = drive(&mut search, opts.progress, started);
                out.called_off = search.was_called_off();
                out
            }
            // A model the engine does not take: stateright's search does.
            Err(e) => {
                say(
                    opts,
                    &format!("{e}: searching on stateright's depth-first search"),
                );
                drive(&mut b.spawn_dfs(), opts.progress, started)
            }
        },
        Strategy::Simulation => drive(
            &mut b.spawn_simulation(opts.seed, UniformChooser),
            opts.progress,
            started,
        ),
    };
    out.discoveries = by_name(&checked, out.discoveries);
    out
}

/// The checker's own depth-first search of `model` (see [`engine`]): with
/// symmetry, states are the same when their classes' fingerprints are.
fn own_dfs(
    model: &RaftModel,
    opts: &RunOptions,
    symmetry: bool,
) -> Result<engine::Dfs<RaftModel>, String> {
    let options = engine::Options {
        threads: opts.threads.max(1),
        timeout: opts.timeout,
        target_max_depth: opts.max_depth,
    };
    expand::search(model.clone(), symmetry, &options)
}

/// The discoveries under the registry's names: the one Always property's
/// becomes each Always property's that fails in the state it was found in.
fn by_name(
    model: &RaftModel,
    mut discoveries: HashMap<&'static str, Path<State, Action>>,
) -> HashMap<&'static str, Path<State, Action>> {
    if let Some(path) = discoveries.remove(properties::ALWAYS_AS_ONE) {
        for name in properties::always_failing(model, path.last_state()) {
            discoveries.insert(name, path.clone());
        }
    }
    discoveries
}

/// Says what a long phase of a check is doing, on stderr, when progress is on.
fn say(opts: &RunOptions, text: &str) {
    if opts.progress.is_some() {
        eprintln!("  {text}");
        let _ = std::io::stderr().flush();
    }
}

/// Checks `bounds` with `opts`. Stops at the first violation; then gives each
/// violated property one counterexample: a shortest one (breadth-first, without
/// symmetry, for at most `opts.shortest_within`), or else the depth-first one cut
/// down to a minimal story.
pub fn check(bounds: &Bounds, opts: &RunOptions) -> Report {
    // Simulation keeps every step: stateright's simulation records a step that
    // leads nowhere as taken, and then cannot replay the run it found.
    let model = match opts.strategy {
        Strategy::Simulation => RaftModel::new(bounds.clone()),
        _ => RaftModel::new(bounds.clone()).pruned(),
    };
    let symmetry = opts.symmetry && opts.strategy != Strategy::Bfs;
    // Held to the end: the shortest-counterexample search runs the handlers too.
    let turn = Turn::take(opts.count_coverage);
    let (out, coverage) = turn.count(bounds.snapshots, || {
        spawn(model.clone(), opts, opts.strategy, symmetry)
    });
    let named = properties::named(bounds);
    let mut results: Vec<PropertyResult> = named
        .iter()
        .map(|p| judge(p, out.discoveries.get(p.name)))
        .collect();
    // stateright's own breadth-first search keeps the last violation it meets,
    // not the first (see `shortest`), so its paths are shortened too.
    shorten(&model, &named, &mut results, opts);
    for r in results.iter_mut().filter(|r| r.status == Status::Violated) {
        if let Some(actions) = &r.path {
            r.counterexample = replay(&model, actions).map(|p| rows(&model, &p));
            r.explorer_path = explorer_path(&model, actions);
        }
    }
    let incomplete = incompleteness(opts, &out, &results);
    let secs = out.elapsed.as_secs_f64();
    Report {
        engine: super::report::Engine::Stateright,
        exhaustive: incomplete.is_none(),
        unique_states: out.unique,
        states: out.states,
        elapsed_s: secs,
        states_per_s: out.unique as f64 / secs.max(1e-9),
        max_depth: out.max_depth,
        bounds: bounds.clone(),
        strategy: opts.strategy,
        symmetry,
        threads: opts.threads,
        incomplete,
        properties: results,
        coverage,
        distributed: None,
    }
}

/// A property's verdict from what the search discovered.
fn judge(p: &properties::Named, found: Option<&Path<State, Action>>) -> PropertyResult {
    let always = p.expectation == Expectation::Always;
    let status = match (always, found) {
        (true, Some(_)) => Status::Violated,
        (true, None) => Status::Holds,
        (false, Some(_)) => Status::Witnessed,
        (false, None) => Status::NotWitnessed,
    };
    let violated = status == Status::Violated;
    PropertyResult {
        name: p.name,
        expectation: if always { "always" } else { "sometimes" },
        status,
        counterexample: None,
        found: None,
        path: found
            .filter(|_| violated)
            .map(|path| path.clone().into_actions()),
        explorer_path: None,
    }
}

/// Gives every violated property its shortest counterexample (one breadth-first
/// search for all of them) or, where that search runs out of time, its depth-first
/// counterexample minimised.
fn shorten(
    model: &RaftModel,
    named: &[properties::Named],
    results: &mut [PropertyResult],
    opts: &RunOptions,
) {
    let violated: BTreeSet<&'static str> = results
        .iter()
        .filter(|r| r.status == Status::Violated)
        .map(|r| r.name)
        .collect();
    if violated.is_empty() {
        return;
    }
    let mut shortest: HashMap<&'static str, Vec<Action>> = HashMap::new();
    if let Some(within) = opts.shortest_within {
        say(
            opts,
            &format!(
                "violated: {}; searching breadth-first for the shortest counterexample \
                 (at most {:.0} s)",
                violated.iter().copied().collect::<Vec<_>>().join(", "),
                within.as_secs_f64()
            ),
        );
        let targets: Vec<Target> = named
            .iter()
            .filter(|p| violated.contains(p.name))
            .map(|p| Target {
                name: p.name,
                holds: p.condition,
            })
            .collect();
        let search = Search {
            symmetry: opts.symmetry,
            within,
            progress: opts.progress.is_some(),
            first_only: opts.shortest_first_only,
        };
        shortest = super::shortest::shortest(model, &targets, search).paths;
    }
    for r in results.iter_mut().filter(|r| r.status == Status::Violated) {
        if let Some(actions) = shortest.remove(r.name) {
            say(
                opts,
                &format!(
                    "{}: shortest counterexample, {} steps",
                    r.name,
                    actions.len()
                ),
            );
            r.path = Some(actions);
            r.found = Some(Found::Shortest);
            continue;
        }
        let (Some(holds), Some(actions)) = (
            named.iter().find(|p| p.name == r.name).map(|p| p.condition),
            r.path.take(),
        ) else {
            continue;
        };
        say(
            opts,
            &format!(
                "{}: no shortest counterexample found in time; minimising the depth-first \
                 one ({} steps)",
                r.name,
                actions.len()
            ),
        );
        let started = Instant::now();
        let mut last_said = Instant::now();
        let mut progress = |len: usize| {
            if last_said.elapsed() >= Duration::from_secs(5) {
                last_said = Instant::now();
                say(opts, &format!("  ... {len} steps so far"));
            }
        };
        let minimised = minimize(model, &actions, holds, &mut progress);
        say(
            opts,
            &format!(
                "{}: minimised to {} steps in {:.1} s",
                r.name,
                minimised.len(),
                started.elapsed().as_secs_f64()
            ),
        );
        r.path = Some(minimised);
        r.found = Some(Found::Minimised);
    }
}

/// Why the run is not exhaustive, if it is not.
fn incompleteness(opts: &RunOptions, out: &Outcome, results: &[PropertyResult]) -> Option<String> {
    let timed_out = opts
        .timeout
        .is_some_and(|t| out.elapsed + Duration::from_millis(50) >= t);
    let depth_cut = opts.max_depth.is_some_and(|d| out.max_depth >= d);
    if opts.strategy == Strategy::Simulation {
        Some("simulation samples random runs; it never covers the state space".to_string())
    } else if let Some(v) = results.iter().find(|r| r.status == Status::Violated) {
        Some(format!("stopped at the first violation ({})", v.name))
    } else if timed_out {
        Some(format!(
            "stopped by --timeout after {:.1} s",
            out.elapsed.as_secs_f64()
        ))
    } else if depth_cut {
        Some(format!(
            "stopped at --max-depth {}",
            opts.max_depth.unwrap_or(0)
        ))
    } else if out.called_off {
        // Neither a violation nor the clock, yet the search did not finish:
        // whatever stopped it, this is no proof.
        Some("the search stopped before every state was done".to_string())
    } else {
        None
    }
}

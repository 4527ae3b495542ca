//! Runs a check and judges it: the report behind `raftlab check`.

use crate::bounds::Bounds;
use crate::display::{self, StepRow};
use crate::model::{representative, Action, RaftModel, State};
use crate::properties;
use serde::Serialize;
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path, UniformChooser};
use std::collections::BTreeSet;
use std::io::Write;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Bfs,
    Dfs,
    Simulation,
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "bfs" => Ok(Strategy::Bfs),
            "dfs" => Ok(Strategy::Dfs),
            "simulation" => Ok(Strategy::Simulation),
            _ => Err(format!(
                "unknown strategy '{s}': use bfs, dfs or simulation"
            )),
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Strategy::Bfs => "bfs",
            Strategy::Dfs => "dfs",
            Strategy::Simulation => "simulation",
        })
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
    /// Simulation: the random seed.
    pub seed: u64,
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
            seed: 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Holds,
    Violated,
    Witnessed,
    NotWitnessed,
}

#[derive(Clone, Debug, Serialize)]
pub struct PropertyResult {
    pub name: &'static str,
    pub expectation: &'static str,
    pub status: Status,
    pub counterexample: Option<Vec<StepRow>>,
    /// True if `counterexample` is a shortest one (found breadth-first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shortest: Option<bool>,
    #[serde(skip)]
    pub path: Option<Vec<Action>>,
    /// The counterexample as an Explorer path (`0/4/1`): open it with
    /// `crate::explore::url` on `raftlab explore` with the same bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explorer_path: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub exhaustive: bool,
    pub unique_states: usize,
    pub states: usize,
    pub elapsed_s: f64,
    pub states_per_s: f64,
    pub max_depth: usize,
    pub bounds: Bounds,
    pub strategy: Strategy,
    pub symmetry: bool,
    pub threads: usize,
    /// Why the run is not exhaustive, if it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    pub properties: Vec<PropertyResult>,
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

struct Outcome {
    unique: usize,
    states: usize,
    max_depth: usize,
    elapsed: Duration,
    discoveries: std::collections::HashMap<&'static str, Path<State, Action>>,
}

fn drive<C: Checker<RaftModel>>(
    mut checker: C,
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
        let _ = h.join();
    }
    Outcome {
        unique: checker.unique_state_count(),
        states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed: started.elapsed(),
        discoveries: checker.discoveries(),
    }
}

fn spawn(
    model: RaftModel,
    opts: &RunOptions,
    strategy: Strategy,
    finish: HasDiscoveries,
    symmetry: bool,
) -> Outcome {
    let started = Instant::now();
    let mut b = model
        .checker()
        .threads(opts.threads.max(1))
        .finish_when(finish);
    if symmetry {
        b = b.symmetry_fn(representative);
    }
    if let Some(d) = opts.max_depth {
        b = b.target_max_depth(d);
    }
    if let Some(t) = opts.timeout {
        b = b.timeout(t);
    }
    match strategy {
        Strategy::Bfs => drive(b.spawn_bfs(), opts.progress, started),
        Strategy::Dfs => drive(b.spawn_dfs(), opts.progress, started),
        Strategy::Simulation => drive(
            b.spawn_simulation(opts.seed, UniformChooser),
            opts.progress,
            started,
        ),
    }
}

/// Turns a path into readable rows.
pub fn rows(model: &RaftModel, path: &Path<State, Action>) -> Vec<StepRow> {
    path.clone()
        .into_vec()
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| {
            let action = w[0].1.as_ref()?;
            Some(display::row(model, i + 1, action, &w[1].0))
        })
        .collect()
}

/// Checks `bounds` with `opts`. Stops at the first violation; then, if asked, searches
/// breadth-first (no symmetry) for the shortest path to that violation.
pub fn check(bounds: &Bounds, opts: &RunOptions) -> Report {
    let model = RaftModel::new(bounds.clone());
    let symmetry = opts.symmetry && opts.strategy != Strategy::Bfs;
    let out = spawn(
        model.clone(),
        opts,
        opts.strategy,
        HasDiscoveries::AnyFailures,
        symmetry,
    );
    let named = properties::named(bounds);

    let mut violated_first: Option<&'static str> = None;
    let mut results = Vec::new();
    for p in &named {
        let found = out.discoveries.get(p.name);
        let (status, path) = match (p.expectation.clone(), found) {
            (Expectation::Always, Some(path)) => {
                violated_first.get_or_insert(p.name);
                (Status::Violated, Some(path.clone()))
            }
            (Expectation::Always, None) => (Status::Holds, None),
            (_, Some(path)) => (Status::Witnessed, Some(path.clone())),
            (_, None) => (Status::NotWitnessed, None),
        };
        let is_violation = status == Status::Violated;
        results.push(PropertyResult {
            name: p.name,
            expectation: if p.expectation == Expectation::Always {
                "always"
            } else {
                "sometimes"
            },
            status,
            counterexample: if is_violation {
                path.as_ref().map(|pa| rows(&model, pa))
            } else {
                None
            },
            shortest: if is_violation {
                Some(opts.strategy == Strategy::Bfs)
            } else {
                None
            },
            path: path.map(|pa| pa.into_actions()),
            explorer_path: None,
        });
    }

    // The shortest counterexample, for each violated property, breadth-first; if
    // that search runs out of time, the depth-first one cut down to a minimal story.
    if opts.strategy != Strategy::Bfs {
        for r in results.iter_mut().filter(|r| r.status == Status::Violated) {
            let found = opts.shortest_within.and_then(|within| {
                let bfs_opts = RunOptions {
                    timeout: Some(within),
                    max_depth: None,
                    progress: None,
                    ..opts.clone()
                };
                let only = HasDiscoveries::AnyOf(BTreeSet::from([r.name]));
                let bfs = spawn(model.clone(), &bfs_opts, Strategy::Bfs, only, false);
                bfs.discoveries.get(r.name).cloned()
            });
            let condition = named.iter().find(|p| p.name == r.name).map(|p| p.condition);
            match (found, condition, r.path.as_ref()) {
                (Some(path), _, _) => {
                    r.counterexample = Some(rows(&model, &path));
                    r.shortest = Some(true);
                    r.path = Some(path.into_actions());
                }
                (None, Some(holds), Some(actions)) => {
                    let actions = minimize(&model, actions, holds);
                    if let Some(path) = replay(&model, &actions) {
                        r.counterexample = Some(rows(&model, &path));
                        r.shortest = Some(false);
                        r.path = Some(actions);
                    }
                }
                _ => {}
            }
        }
    }

    for r in results.iter_mut().filter(|r| r.status == Status::Violated) {
        r.explorer_path = r
            .path
            .as_deref()
            .and_then(|actions| crate::explore::encode(&model, actions));
    }

    let timed_out = opts
        .timeout
        .is_some_and(|t| out.elapsed + Duration::from_millis(50) >= t);
    let depth_cut = opts.max_depth.is_some_and(|d| out.max_depth >= d);
    let incomplete = if opts.strategy == Strategy::Simulation {
        Some("simulation samples random runs; it never covers the state space".to_string())
    } else if violated_first.is_some() {
        Some(format!(
            "stopped at the first violation ({})",
            violated_first.unwrap_or_default()
        ))
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
    } else {
        None
    };
    let secs = out.elapsed.as_secs_f64();
    Report {
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
    }
}

/// Replays `actions` from the initial state; `None` if one of them is not enabled.
pub fn replay(model: &RaftModel, actions: &[Action]) -> Option<Path<State, Action>> {
    let init = model.init_states().into_iter().next()?;
    Path::from_actions(model, init, actions)
}

/// Replays `actions` leniently: an action that is not enabled (or would leave the
/// bounds) is skipped. Returns the actions applied up to the first state where
/// `holds` fails, if one does.
fn violating_run(
    model: &RaftModel,
    actions: &[Action],
    holds: fn(&RaftModel, &State) -> bool,
) -> Option<Vec<Action>> {
    let mut state = model.init_states().into_iter().next()?;
    let mut applied = Vec::new();
    if !holds(model, &state) {
        return Some(applied);
    }
    let mut enabled = Vec::new();
    for a in actions {
        enabled.clear();
        model.actions(&state, &mut enabled);
        if !enabled.contains(a) {
            continue;
        }
        let Some(next) = model.next_state(&state, a.clone()) else {
            continue;
        };
        if !model.within_boundary(&next) {
            continue;
        }
        state = next;
        applied.push(a.clone());
        if !holds(model, &state) {
            return Some(applied);
        }
    }
    None
}

/// Cuts a counterexample down: drops runs of steps, then single steps (with the
/// steps that then become impossible), as long as what is left still violates the
/// property. The result is minimal (no single step can go) though not necessarily
/// shortest.
pub fn minimize(
    model: &RaftModel,
    actions: &[Action],
    holds: fn(&RaftModel, &State) -> bool,
) -> Vec<Action> {
    let Some(mut best) = violating_run(model, actions, holds) else {
        return actions.to_vec();
    };
    let mut chunk = (best.len() / 2).max(1);
    loop {
        let mut improved = false;
        let mut i = 0;
        while i < best.len() {
            let end = (i + chunk).min(best.len());
            let candidate: Vec<Action> = best[..i].iter().chain(&best[end..]).cloned().collect();
            match violating_run(model, &candidate, holds) {
                Some(shorter) if shorter.len() < best.len() => {
                    best = shorter;
                    improved = true;
                }
                _ => i += chunk,
            }
        }
        if chunk == 1 && !improved {
            return best;
        }
        if !improved {
            chunk = (chunk / 2).max(1);
        }
    }
}

//! Counterexamples: replaying a run of actions, cutting one down to a minimal
//! story, its rows as a person reads them, and its Explorer path.

use crate::model::{Action, RaftModel, State};
use crate::render::text::{row, StepRow};
use stateright::Path;

/// Replays `actions` from the initial state; `None` if one of them is not enabled.
pub fn replay(model: &RaftModel, actions: &[Action]) -> Option<Path<State, Action>> {
    let init = model.init().into_iter().next()?;
    Path::from_actions(model, init, actions)
}

/// The Explorer's encoding of the run `actions` from the initial state (`0/4/1`:
/// the initial state, then the index of each action among those enabled), or
/// `None` if an action is not enabled where the run takes it.
pub fn explorer_path(model: &RaftModel, actions: &[Action]) -> Option<String> {
    let path = replay(model, actions)?;
    Some(path.encode(model))
}

/// Turns a path into readable rows.
pub fn rows(model: &RaftModel, path: &Path<State, Action>) -> Vec<StepRow> {
    path.clone()
        .into_vec()
        .windows(2)
        .enumerate()
        .filter_map(|(i, w)| {
            let action = w[0].1.as_ref()?;
            Some(row(model, i + 1, action, &w[1].0))
        })
        .collect()
}

/// Replays `actions` leniently: an action that is not enabled (or would leave the
/// bounds) is skipped. Returns the actions applied up to the first state where
/// `holds` fails, if one does.
fn violating_run(
    model: &RaftModel,
    actions: &[Action],
    holds: fn(&RaftModel, &State) -> bool,
) -> Option<Vec<Action>> {
    let mut state = model.init().into_iter().next()?;
    let mut applied = Vec::new();
    if !holds(model, &state) {
        return Some(applied);
    }
    let mut enabled = Vec::new();
    for a in actions {
        enabled.clear();
        model.enabled(&state, &mut enabled);
        if !enabled.contains(a) {
            continue;
        }
        let Some(next) = model.step(&state, a.clone()) else {
            continue;
        };
        if !model.in_bounds(&next) {
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
/// shortest. `progress` hears of each shorter run found.
pub fn minimize(
    model: &RaftModel,
    actions: &[Action],
    holds: fn(&RaftModel, &State) -> bool,
    progress: &mut dyn FnMut(usize),
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
                    progress(best.len());
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

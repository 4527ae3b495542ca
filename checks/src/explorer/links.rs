//! The links into the Explorer that `check`, `mutants` and `trace explore` print.
//!
//! A link names a path by action indices, as the Explorer's own URLs do
//! (`#/steps/0/4/1`: initial state 0, then the 4th enabled action, then the 1st), so
//! it opens only on an Explorer serving the same model: the same bounds, mutants
//! and clients. `explore_command` gives the `raftlab explore` line that does.
//! (A run's encoding is `crate::checker::counterexample::explorer_path`.)

use crate::bounds::{flags, Bounds};
use crate::checker::catalogue::base_bounds;
use crate::model::{Action, RaftModel};
use raft_model::Mutant;
use stateright::Model;

/// Decodes an Explorer path (`0/4/1`, with or without a leading `#/steps/`) into
/// the run it names, or says which index does not exist.
pub fn decode(model: &RaftModel, encoded: &str) -> Result<Vec<Action>, String> {
    // A whole URL names its path after `#/steps`.
    let s = encoded.trim();
    let trimmed = match s.find("#/steps") {
        Some(i) => &s[i + "#/steps".len()..],
        None => s,
    }
    .trim_matches('/');
    let mut indices = Vec::new();
    for part in trimmed.split('/').filter(|p| !p.is_empty()) {
        let i: usize = part.parse().map_err(|_| {
            format!("'{part}' in the path is not an action index (expected e.g. 0/4/1)")
        })?;
        indices.push(i);
    }
    let Some((&init, steps)) = indices.split_first() else {
        return Ok(Vec::new());
    };
    let mut state =
        model.init_states().into_iter().nth(init).ok_or_else(|| {
            format!("the model has no initial state {init}: the path starts with 0")
        })?;
    let mut actions = Vec::with_capacity(steps.len());
    let mut enabled = Vec::new();
    for (step, &i) in steps.iter().enumerate() {
        enabled.clear();
        model.actions(&state, &mut enabled);
        let action = enabled.get(i).cloned().ok_or_else(|| {
            format!(
                "step {}: only {} actions are enabled, so index {i} does not exist \
                 (was the path made for other bounds or mutants?)",
                step + 1,
                enabled.len()
            )
        })?;
        state = model.next_state(&state, action.clone()).ok_or_else(|| {
            format!(
                "step {}: action {i} ({}) changes nothing in this model",
                step + 1,
                model.format_action(&action)
            )
        })?;
        actions.push(action);
    }
    Ok(actions)
}

/// The page that opens at the end of the path (the whole path listed, its last
/// state shown), or the start page.
pub fn url(addr: &str, encoded: Option<&str>) -> String {
    match encoded {
        Some(p) => format!("http://{addr}/#/steps/{p}"),
        None => format!("http://{addr}/"),
    }
}

/// The `raftlab explore` flags that build the model checked under `bounds`: only
/// the flags that differ from what `explore` assumes without them (the defaults, or
/// with a single mutant, that mutant's catalogue bounds).
pub fn explore_args(bounds: &Bounds) -> Vec<String> {
    let mutants: Vec<Mutant> = bounds.mutants.iter().collect();
    let base = flags(&base_bounds(&mutants));
    let mut args = Vec::new();
    for (flag, value) in flags(bounds) {
        // --servers changes the default in-flight bound, so say it whenever it is given.
        let implied = flag == "max-in-flight" && bounds.servers != base_bounds(&mutants).servers;
        let lossy_by_base = flag == "lossy" && base.iter().any(|(f, _)| *f == "lossy");
        let mutant = flag == "mutant";
        if !(mutant || implied) && (lossy_by_base || base.contains(&(flag, value.clone()))) {
            continue;
        }
        args.push(format!("--{flag}"));
        args.extend(value);
    }
    args
}

/// `raftlab explore ...` for `bounds`, serving on `addr`, as one line to paste.
pub fn explore_command(bounds: &Bounds, addr: &str) -> String {
    let mut line = String::from("raftlab explore");
    for a in explore_args(bounds) {
        line.push(' ');
        line.push_str(&a);
    }
    if addr != super::DEFAULT_ADDR {
        line.push_str(" --addr ");
        line.push_str(addr);
    }
    line
}

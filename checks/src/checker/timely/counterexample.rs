//! A violation's shortest counterexample, from the parent links gathered across
//! workers: walk them back from the violating state to an initial state, then
//! replay the actions from there (the engine keeps no paths, only links).

use super::codec::{fingerprint, StateCodec, Symmetry};
use super::visited::{FpMap, Link};
use std::hash::Hash;

/// The run to the state `target`: the index of its initial state among those
/// within the boundary, and each action's index among those enabled where it is
/// taken. Fails if a link is missing or the links loop.
pub fn chain(links: &FpMap<Link>, target: u64) -> Result<(usize, Vec<usize>), String> {
    let mut actions = Vec::new();
    let mut fp = target;
    loop {
        let link = links
            .get(&fp)
            .ok_or_else(|| format!("no parent link was gathered for state {fp:#018x}"))?;
        if link.parent == 0 {
            actions.reverse();
            return Ok((link.action as usize, actions));
        }
        actions.push(link.action as usize);
        if actions.len() > links.len() {
            return Err("the parent links form a loop".into());
        }
        fp = link.parent;
    }
}

/// Replays a chain from the initial state, checking that it ends in the state
/// whose (representative's) fingerprint is `target`.
pub fn replay<M>(
    model: &M,
    symmetry: Symmetry<M>,
    init: usize,
    indices: &[usize],
    target: u64,
) -> Result<Vec<M::Action>, String>
where
    M: StateCodec,
    M::State: Hash,
    M::Action: Clone,
{
    let mut state = model
        .init_states()
        .into_iter()
        .filter(|s| model.within_boundary(s))
        .nth(init)
        .ok_or_else(|| format!("the model has no initial state {init}"))?;
    let mut actions = Vec::with_capacity(indices.len());
    let mut enabled = Vec::new();
    for (step, &i) in indices.iter().enumerate() {
        enabled.clear();
        model.actions(&state, &mut enabled);
        let action = enabled
            .get(i)
            .cloned()
            .ok_or_else(|| format!("step {}: action {i} is not enabled", step + 1))?;
        state = model
            .next_state(&state, action.clone())
            .ok_or_else(|| format!("step {}: the action changes nothing", step + 1))?;
        actions.push(action);
    }
    let reached = match symmetry {
        Some(representative) => fingerprint(&representative(&state)),
        None => fingerprint(&state),
    };
    if reached != target {
        return Err(
            "replaying the counterexample did not reach the violating state (is the model \
             deterministic, and does decode undo encode?)"
                .into(),
        );
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_runs_from_the_initial_state() {
        let mut links = FpMap::default();
        links.insert(
            10,
            Link {
                parent: 0,
                action: 1,
            },
        );
        links.insert(
            20,
            Link {
                parent: 10,
                action: 3,
            },
        );
        links.insert(
            30,
            Link {
                parent: 20,
                action: 0,
            },
        );
        assert_eq!(chain(&links, 30), Ok((1, vec![3, 0])));
        assert_eq!(chain(&links, 10), Ok((1, vec![])));
        assert!(chain(&links, 40).is_err());
        links.insert(
            10,
            Link {
                parent: 30,
                action: 1,
            },
        );
        assert!(chain(&links, 30).unwrap_err().contains("loop"));
    }
}

//! The host writes a save as its difference from the last one, and a trace line
//! as its difference from the previous state, finding the logs' common prefix with
//! O(log n) comparisons of terms (`Log::common_prefix`). That is exact only if a
//! server's logs at two moments satisfy Log Matching. This test checks it
//! exhaustively within small bounds: the checked model, with each server's log
//! before its last step kept beside the state, and a property that the prefix that
//! log shares with the current one is the one a full comparison finds.

use raft_checks::bounds::Bounds;
use raft_checks::model::{Action, RaftModel, State};
use raft_model::Log;
use stateright::{Checker, Model, Property};
use std::sync::Arc;

/// The checked model, with every server's log before its last step.
struct DiffModel(RaftModel);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DiffState {
    state: State,
    before: Arc<Vec<Log>>,
}

fn exact_prefix(a: &Log, b: &Log) -> u64 {
    a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count() as u64
}

fn diff_is_exact(m: &DiffModel, s: &DiffState) -> bool {
    (0..m.0.servers()).all(|i| match s.state.server(i) {
        Some(now) => {
            let before = &s.before[i];
            before.common_prefix(&now.log) == exact_prefix(before, &now.log)
                && now.log.common_prefix(before) == exact_prefix(&now.log, before)
        }
        None => true,
    })
}

/// A step that cut a log back (the case where a wrong prefix would lose or keep
/// the wrong entries).
fn a_step_truncated(m: &DiffModel, s: &DiffState) -> bool {
    (0..m.0.servers()).any(|i| match s.state.server(i) {
        Some(now) => now.log.common_prefix(&s.before[i]) < s.before[i].last_index(),
        None => false,
    })
}

impl Model for DiffModel {
    type State = DiffState;
    type Action = Action;

    fn init_states(&self) -> Vec<DiffState> {
        self.0
            .init()
            .into_iter()
            .map(|state| DiffState {
                state,
                before: Arc::new(vec![Log::new(); self.0.servers()]),
            })
            .collect()
    }

    fn actions(&self, s: &DiffState, actions: &mut Vec<Action>) {
        self.0.enabled(&s.state, actions)
    }

    fn next_state(&self, last: &DiffState, action: Action) -> Option<DiffState> {
        // A loss runs no handler.
        let acting = match &action {
            Action::Drop { .. } => None,
            a => Some(usize::from(a.actor())),
        };
        let state = self.0.step(&last.state, action)?;
        let mut before = last.before.clone();
        if let Some(i) = acting.filter(|i| *i < self.0.servers()) {
            // A crashed server's state is the one it restarts from (its storage).
            if let Some(s) = last.state.server(i) {
                Arc::make_mut(&mut before)[i] = s.log.clone();
            }
        }
        Some(DiffState { state, before })
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("the diff's common prefix is exact", diff_is_exact),
            Property::sometimes("a step cuts a log back", a_step_truncated),
        ]
    }

    fn within_boundary(&self, s: &DiffState) -> bool {
        self.0.in_bounds(&s.state)
    }
}

#[test]
fn the_diffs_common_prefix_is_exact_for_every_step_of_every_server() {
    // Three terms and a crash: the fewest with which a server holds an old
    // leader's entry that a new leader overwrites (about 2.5 million states,
    // half a minute on two cores).
    let bounds = Bounds {
        ops_per_client: 1,
        max_term: 3,
        max_log: 1,
        crashes: 1,
        ..Bounds::default()
    };
    let checker = DiffModel(RaftModel::new(bounds))
        .checker()
        .threads(2)
        .spawn_dfs()
        .join();
    checker.assert_properties();
    assert!(checker.is_done(), "the search must be exhaustive");
    let states = checker.unique_state_count();
    eprintln!("exhaustive: {states} unique states");
    assert!(states > 100_000, "{states} states");
}

//! Symmetry reduction: servers are interchangeable, so a state stands for every
//! state that differs from it only by a permutation of servers.

use super::state::State;
use raft_model::{Id, PersistentState, RaftState};
use stateright::actor::ActorModelState;
use stateright::{Rewrite, RewritePlan};

/// The representative of `state`'s class: its server slots sorted. Clients are not
/// interchangeable (each has its own operations), so they keep their places.
pub fn representative(state: &State) -> State {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Slot<'a> {
        Server(&'a RaftState, bool, &'a Option<PersistentState>),
        Client(usize),
    }
    let keys: Vec<Slot> = (0..state.actor_states.len())
        .map(|i| match &*state.actor_states[i] {
            s @ RaftState::Server(_) => Slot::Server(s, state.crashed[i], &state.actor_storages[i]),
            RaftState::Client(_) => Slot::Client(i),
        })
        .collect();
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return state.clone(); // already in canonical order
    }
    let plan = RewritePlan::<Id, _>::from_values_to_sort(&keys);
    State(ActorModelState {
        actor_states: plan.reindex(&state.actor_states),
        network: state.network.rewrite(&plan),
        timers_set: plan.reindex(&state.timers_set),
        random_choices: plan.reindex(&state.random_choices),
        crashed: plan.reindex(&state.crashed),
        actor_storages: plan.reindex(&state.actor_storages),
        history: state.history.rewrite(&plan),
    })
}

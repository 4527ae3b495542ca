//! What stateright's checker and Explorer see of the Raft model: the
//! `stateright::Model` impl, which wires the model's transitions (`crate::model`),
//! the properties (`crate::properties`) and the renderings (`crate::render`).

use crate::model::{Action, RaftModel, State};
use crate::properties;
use crate::render;
use stateright::{Model, Path, Property};

impl std::fmt::Debug for State {
    /// What the Explorer shows of a state: Raft's view of it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&render::text::state(self))
    }
}

impl Model for RaftModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        self.init()
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.enabled(state, actions)
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        self.step(last, action)
    }

    fn format_action(&self, action: &Action) -> String {
        render::text::action(self.servers(), action)
    }

    fn format_step(&self, last: &State, action: Action) -> Option<String> {
        let next = self.step(last, action.clone())?;
        Some(render::text::step(self, &action, &next))
    }

    /// The Explorer draws this above the state: the run's last steps as a
    /// message sequence diagram.
    fn as_svg(&self, path: Path<State, Action>) -> Option<String> {
        render::path_svg::svg(self, &path.into_vec())
    }

    /// On a model for one check ([`RaftModel::witnessing_once`]), the Sometimes
    /// properties it has witnessed are left out: stateright reads this list
    /// afresh for every block of states and looks each property up in its
    /// shared record of discoveries for every state (a sixth of a check's
    /// time, locks contended by every thread), though such a property has
    /// nothing left to say. Its discovery stays in the record, and the check's
    /// end (`finish_when`) is judged against the whole list.
    ///
    /// On a model judging the Always properties as one
    /// ([`RaftModel::judging_always_as_one`]), they are one property, first.
    fn properties(&self) -> Vec<Property<Self>> {
        use stateright::Expectation::{Always, Sometimes};
        let mut all = properties::all(&self.bounds);
        all.retain(|p| match p.expectation {
            Always => !self.always_as_one,
            Sometimes => {
                !properties::witness_slot_of(p.name).is_some_and(|slot| self.witnessed(slot))
            }
            _ => true,
        });
        if self.always_as_one {
            all.insert(
                0,
                Property::always(properties::ALWAYS_AS_ONE, properties::always_hold),
            );
        }
        all
    }

    fn within_boundary(&self, state: &State) -> bool {
        self.in_bounds(state)
    }
}

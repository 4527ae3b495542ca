//! The Raft model's states as bytes, for the timely engine (`super::timely`):
//! bincode (variable-length integers) of the state's serde form, in which shared
//! parts are written out whole and the history's linearizability tester is
//! rebuilt from what it was told. A decoded state is checked to fit the model
//! (actor and server counts, network order, ids in range) before the engine
//! expands it, so that bytes from another process can never make a step panic.

use super::timely::StateCodec;
use crate::model::{RaftModel, State};
use bincode::Options;

/// No state of a model within reach comes near this; bytes that claim more are
/// refused before anything is allocated for them.
const MAX_STATE_BYTES: u64 = 1 << 22;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_STATE_BYTES)
}

impl StateCodec for RaftModel {
    fn encode(&self, state: &State, out: &mut Vec<u8>) -> Result<(), String> {
        options()
            .serialize_into(out, state)
            .map_err(|e| format!("a state does not encode: {e}"))
    }

    fn decode(&self, bytes: &[u8]) -> Result<State, String> {
        let state: State = options()
            .deserialize(bytes)
            .map_err(|e| format!("not a state of this model: {e}"))?;
        fits(self, &state)?;
        Ok(state)
    }
}

/// Whether a decoded state has this model's shape.
fn fits(model: &RaftModel, s: &State) -> Result<(), String> {
    let n = model.servers();
    let actors = model.actors.len();
    if s.actors.len() != actors || s.storage.len() != n {
        return Err(format!(
            "a state of {} actors and {} servers' storage, for a model of {actors} actors and {n} servers",
            s.actors.len(),
            s.storage.len()
        ));
    }
    if s.actors
        .iter()
        .enumerate()
        .any(|(i, a)| a.server().is_some() != (i < n))
    {
        return Err("servers and clients out of place".into());
    }
    if s.history.clients.len() != actors - n || s.history.first_client != n {
        return Err("a history for another number of clients or servers".into());
    }
    if s.down.iter().any(|i| i >= n) {
        return Err("a client or unknown server is down".into());
    }
    let in_range = |id: raft_model::Id| usize::from(id) < actors;
    if !s
        .network
        .packets()
        .iter()
        .all(|p| in_range(p.src) && in_range(p.dst))
        || !s.network.well_formed(model.bounds.network)
    {
        return Err("a network out of order or addressed to unknown actors".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::Model;

    /// Every state of a small model's first levels survives the trip as itself.
    #[test]
    fn states_decode_to_themselves_and_garbage_is_refused() {
        let bounds = crate::bounds::Bounds {
            max_term: 2,
            max_log: 1,
            ops_per_client: 1,
            crashes: 1,
            ..crate::bounds::Bounds::default()
        };
        let model = RaftModel::new(bounds);
        let mut level = model.init_states();
        let mut checked = 0;
        let mut actions = Vec::new();
        for _ in 0..8 {
            let mut next = Vec::new();
            for s in &level {
                let mut bytes = Vec::new();
                model.encode(s, &mut bytes).unwrap();
                let back = model.decode(&bytes).unwrap();
                assert!(back == *s, "a state came back different");
                assert_eq!(back.history.linearizable(), s.history.linearizable());
                assert_eq!(
                    crate::checker::timely::codec::fingerprint(&back),
                    crate::checker::timely::codec::fingerprint(s)
                );
                checked += 1;
                model.actions(s, &mut actions);
                next.extend(actions.drain(..).filter_map(|a| model.next_state(s, a)));
            }
            next.truncate(300);
            level = next;
        }
        assert!(checked > 500, "{checked}");
        assert!(model.decode(&[]).is_err());
        assert!(model.decode(&[7; 40]).is_err());
        let mut bytes = Vec::new();
        model.encode(&model.init_states()[0], &mut bytes).unwrap();
        let other = RaftModel::new(crate::bounds::Bounds {
            servers: 5,
            ..crate::bounds::Bounds::default()
        });
        assert!(
            other.decode(&bytes).is_err(),
            "a 3-server state for a 5-server model"
        );
        let mut forged = model.init_states()[0].clone();
        forged.history_mut(|h| h.first_client = 0);
        let mut bytes = Vec::new();
        model.encode(&forged, &mut bytes).unwrap();
        let refused = model.decode(&bytes);
        assert!(refused.is_err(), "a history whose clients are the servers");
    }
}

//! The Raft model's states as bytes, for the timely engine (`super::timely`):
//! bincode (variable-length integers) of a plain form of the state: every
//! actor's state and storage, its timers, the messages in flight, the history
//! with the events its linearizability tester was told (the tester is rebuilt
//! from them: stateright's cannot be read back). A decoded state is checked to
//! fit the model (actor, server and client counts, ids in range, the network of
//! the model's kind) before the engine expands it, so that bytes from another
//! process can never make a step panic.

use super::timely::StateCodec;
use crate::bounds::NetworkKind;
use crate::model::history::{replay_lin, LinEvent, Unweighed};
use crate::model::{ClientProgress, History, RaftModel, State};
use bincode::Options;
use raft_model::{Entry, Id, Msg, PersistentState, RaftState, ServerSet, Timer};
use serde::{Deserialize, Serialize};
use stateright::actor::{ActorModelState, Envelope, Network, RandomChoices, Timers};
use std::sync::Arc;

/// No state of a model within reach comes near this; bytes that claim more are
/// refused before anything is allocated for them.
const MAX_STATE_BYTES: u64 = 1 << 22;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_limit(MAX_STATE_BYTES)
}

/// A state as it is encoded.
#[derive(Serialize, Deserialize)]
struct Plain {
    actors: Vec<RaftState>,
    storages: Vec<Option<PersistentState>>,
    crashed: Vec<bool>,
    timers: Vec<Vec<Timer>>,
    network: PlainNetwork,
    history: PlainHistory,
}

/// The messages in flight: (source, destination, message) and, on the network
/// that delivers each message once, how many copies.
#[derive(Serialize, Deserialize)]
enum PlainNetwork {
    Duplicating(Vec<(Id, Id, Msg)>, Option<(Id, Id, Msg)>),
    Unordered(Vec<(Id, Id, Msg, usize)>),
    /// Each channel's messages in order.
    Ordered(Vec<(Id, Id, Vec<Msg>)>),
}

#[derive(Serialize, Deserialize)]
struct PlainHistory {
    leaders: Vec<ServerSet>,
    applied: Vec<Entry>,
    crashes: u8,
    crashed_before: ServerSet,
    violations: u8,
    clients: Vec<ClientProgress>,
    lin_events: Vec<(Id, LinEvent)>,
}

fn triple(e: &Envelope<Msg>) -> (Id, Id, Msg) {
    (e.src, e.dst, e.msg.clone())
}

fn plain_network(n: &Network<Msg>) -> PlainNetwork {
    match n {
        Network::UnorderedDuplicating(set, last) => {
            PlainNetwork::Duplicating(set.iter().map(triple).collect(), last.as_ref().map(triple))
        }
        Network::UnorderedNonDuplicating(map) => PlainNetwork::Unordered(
            map.iter()
                .map(|(e, n)| (e.src, e.dst, e.msg.clone(), *n))
                .collect(),
        ),
        Network::Ordered(channels) => PlainNetwork::Ordered(
            channels
                .iter()
                .map(|((src, dst), msgs)| (*src, *dst, msgs.iter().cloned().collect()))
                .collect(),
        ),
    }
}

fn envelope((src, dst, msg): (Id, Id, Msg)) -> Envelope<Msg> {
    Envelope { src, dst, msg }
}

fn network(p: PlainNetwork, kind: NetworkKind) -> Result<Network<Msg>, String> {
    Ok(match (p, kind) {
        (PlainNetwork::Duplicating(msgs, last), NetworkKind::Duplicating) => {
            Network::new_unordered_duplicating_with_last_msg(
                msgs.into_iter().map(envelope),
                last.map(envelope),
            )
        }
        (PlainNetwork::Unordered(msgs), NetworkKind::Unordered) => {
            if msgs.iter().any(|m| m.3 == 0) {
                return Err("a message in flight zero times".into());
            }
            Network::new_unordered_nonduplicating(
                msgs.into_iter()
                    .flat_map(|(s, d, m, n)| std::iter::repeat_n(envelope((s, d, m)), n)),
            )
        }
        (PlainNetwork::Ordered(channels), NetworkKind::Ordered) => {
            Network::new_ordered(channels.into_iter().flat_map(|(src, dst, msgs)| {
                msgs.into_iter().map(move |msg| Envelope { src, dst, msg })
            }))
        }
        _ => return Err(format!("a network of another kind than {kind}")),
    })
}

fn plain(s: &State) -> Result<Plain, String> {
    if s.random_choices.iter().any(|r| !r.map.is_empty()) {
        return Err("the model makes no random choices".into());
    }
    let h = &s.history;
    Ok(Plain {
        actors: s.actor_states.iter().map(|a| (**a).clone()).collect(),
        storages: s.actor_storages.clone(),
        crashed: s.crashed.clone(),
        timers: s
            .timers_set
            .iter()
            .map(|t| {
                let mut v: Vec<Timer> = t.iter().copied().collect();
                v.sort();
                v
            })
            .collect(),
        network: plain_network(&s.network),
        history: PlainHistory {
            leaders: (*h.leaders).clone(),
            applied: (*h.applied).clone(),
            crashes: h.crashes,
            crashed_before: h.crashed_before,
            violations: h.violations,
            clients: (*h.clients).clone(),
            lin_events: (*h.lin_events.0).clone(),
        },
    })
}

fn state(model: &RaftModel, p: Plain) -> Result<State, String> {
    let n = model.servers();
    let actors = n + model.bounds.clients;
    if p.actors.len() != actors
        || p.storages.len() != actors
        || p.crashed.len() != actors
        || p.timers.len() != actors
        || p.history.clients.len() != model.bounds.clients
    {
        return Err(format!(
            "a state of {} actors for a model of {actors} ({n} servers)",
            p.actors.len()
        ));
    }
    if p.actors
        .iter()
        .enumerate()
        .any(|(i, a)| matches!(a, RaftState::Server(_)) != (i < n))
    {
        return Err("servers and clients out of place".into());
    }
    let in_range = |id: &Id| usize::from(*id) < actors;
    let ids_ok = match &p.network {
        PlainNetwork::Duplicating(m, last) => m
            .iter()
            .chain(last)
            .all(|(s, d, _)| in_range(s) && in_range(d)),
        PlainNetwork::Unordered(m) => m.iter().all(|(s, d, _, _)| in_range(s) && in_range(d)),
        PlainNetwork::Ordered(c) => c.iter().all(|(s, d, _)| in_range(s) && in_range(d)),
    };
    if !ids_ok || p.history.lin_events.iter().any(|(id, _)| !in_range(id)) {
        return Err("a message or client event of an unknown actor".into());
    }
    let h = p.history;
    let history = History {
        leaders: Arc::new(h.leaders),
        applied: Arc::new(h.applied),
        crashes: h.crashes,
        crashed_before: h.crashed_before,
        violations: h.violations,
        lin: Arc::new(replay_lin(&h.lin_events)),
        clients: Arc::new(h.clients),
        lin_events: Unweighed(Arc::new(h.lin_events)),
    };
    Ok(State(ActorModelState {
        actor_states: p.actors.into_iter().map(Arc::new).collect(),
        network: network(p.network, model.bounds.network)?,
        timers_set: p
            .timers
            .into_iter()
            .map(|ts| {
                let mut t = Timers::new();
                for timer in ts {
                    t.set(timer);
                }
                t
            })
            .collect(),
        random_choices: vec![RandomChoices::default(); actors],
        crashed: p.crashed,
        history,
        actor_storages: p.storages,
    }))
}

impl StateCodec for RaftModel {
    fn encode(&self, s: &State, out: &mut Vec<u8>) -> Result<(), String> {
        options()
            .serialize_into(out, &plain(s)?)
            .map_err(|e| format!("a state does not encode: {e}"))
    }

    fn decode(&self, bytes: &[u8]) -> Result<State, String> {
        let p: Plain = options()
            .deserialize(bytes)
            .map_err(|e| format!("not a state of this model: {e}"))?;
        state(self, p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::Bounds;
    use crate::checker::timely::codec::fingerprint;
    use stateright::Model;

    /// The first levels of a small model's states, on `network`, survive the trip
    /// as themselves; garbage and states of another model are refused.
    fn round_trips(network: NetworkKind, lossy: bool) {
        let model = RaftModel::new(Bounds {
            max_term: 2,
            max_log: 1,
            ops_per_client: 2,
            crashes: 1,
            network,
            lossy,
            max_in_flight: 4,
            ..Bounds::default()
        });
        let mut level = model.init_states();
        let mut checked = 0;
        let mut actions = Vec::new();
        for _ in 0..10 {
            let mut next = Vec::new();
            for s in &level {
                let mut bytes = Vec::new();
                model.encode(s, &mut bytes).unwrap();
                let back = model.decode(&bytes).unwrap();
                assert!(back == *s, "a state came back different");
                assert_eq!(fingerprint(&back), fingerprint(s));
                assert_eq!(back.history.lin, s.history.lin);
                checked += 1;
                model.actions(s, &mut actions);
                next.extend(actions.drain(..).filter_map(|a| model.next_state(s, a)));
            }
            next.truncate(200);
            level = next;
        }
        assert!(checked > 500, "{checked}");
        assert!(model.decode(&[]).is_err());
        assert!(model.decode(&[7; 40]).is_err());
        let mut bytes = Vec::new();
        model.encode(&model.init_states()[0], &mut bytes).unwrap();
        let other = RaftModel::new(Bounds {
            servers: 5,
            ..Bounds::default()
        });
        assert!(
            other.decode(&bytes).is_err(),
            "a 3-server state for 5 servers"
        );
    }

    #[test]
    fn states_on_every_network_decode_to_themselves() {
        round_trips(NetworkKind::Unordered, false);
        round_trips(NetworkKind::Unordered, true);
        round_trips(NetworkKind::Ordered, false);
        round_trips(NetworkKind::Duplicating, false);
    }
}

//! A successor judged before it is built (`model::Next`, which the check's
//! search fingerprints and bounds) reads exactly as the state it builds: on
//! every small bound set of the equivalence test (each network, losses,
//! crashes, 1, 2 and 4 servers) and on one with two clients, four messages in
//! flight and a per-channel limit, for every action of the first states met
//! breadth-first, pruned or not, the two have the same messages in flight, the
//! same fingerprint with and without symmetry, and the same verdict on the
//! bounds. Run in release mode (`cargo test --release`).

#[path = "equivalence/bound_sets.rs"]
mod equivalence;

use equivalence::{bound_sets, small};
use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::model::shared::Shared;
use raft_checks::model::{class_hash, symmetry, Parts, RaftModel, State};
use std::collections::{HashSet, VecDeque};

/// States a bound set is searched to, breadth-first.
const STATES: usize = 4_000;

/// The messages in flight as a fingerprint sees them: (src, dst, message's
/// hash, copies), sorted (by channel alone on the ordered network, whose
/// channels keep their order), so that two lists of the same packets compare
/// equal.
fn packets(kind: NetworkKind, parts: &impl Parts) -> Vec<(usize, usize, u64, u32)> {
    let mut out = Vec::new();
    parts.for_each_packet(|src, dst, msg, count| {
        out.push((usize::from(src), usize::from(dst), msg.hash_code(), count));
    });
    if kind == NetworkKind::Ordered {
        out.sort_by_key(|&(src, dst, _, _)| (src, dst));
    } else {
        out.sort_unstable();
    }
    out
}

/// Checks every successor of the first [`STATES`] states of `model`; returns
/// how many successors it compared.
fn compare_all(name: &str, model: &RaftModel) -> usize {
    let (kind, sym) = (model.bounds.network, model.symmetry());
    let mut seen: HashSet<State> = HashSet::new();
    let mut queue: VecDeque<State> = model.init().into();
    let mut compared = 0;
    let mut actions = Vec::new();
    while let Some(state) = queue.pop_front() {
        if seen.len() >= STATES {
            break;
        }
        if !seen.insert(state.clone()) {
            continue;
        }
        actions.clear();
        model.enabled(&state, &mut actions);
        for action in actions.drain(..) {
            let Some(next) = model.next(&state, action.borrowed()) else {
                assert!(model.step(&state, action).is_none(), "{name}");
                continue;
            };
            let (plain, class) = (symmetry::plain_hash(sym, &next), class_hash(sym, &next));
            let (in_bounds, in_flight) = (model.in_bounds(&next), next.in_flight());
            let (per_channel, seen_packets) = (next.per_channel_ok(1), packets(kind, &next));
            let built = next.build();
            let what = format!("{name}: {action:?} from {state:?}");
            assert_eq!(seen_packets, packets(kind, &built), "{what}");
            assert_eq!(in_flight, built.network.len(), "{what}");
            assert_eq!(per_channel, built.per_channel_ok(1), "{what}");
            assert_eq!(plain, symmetry::plain_hash(sym, &built), "{what}");
            assert_eq!(class, class_hash(sym, &built), "{what}");
            assert_eq!(in_bounds, model.in_bounds(&built), "{what}");
            // The built history keeps the hashes the successor was judged by:
            // they must be its own.
            let (shared, history) = (&built.history, &*built.history);
            assert_eq!(
                (shared.hash_code(), shared.check_code()),
                (
                    Shared::hash_code_of(history),
                    Shared::check_code_of(history)
                ),
                "{what}"
            );
            compared += 1;
            queue.push_back(built);
        }
    }
    compared
}

#[test]
fn a_successor_reads_as_the_state_it_builds() {
    let mut sets = bound_sets();
    sets.push((
        "2 clients, 4 in flight, 1 per channel",
        Bounds {
            clients: 2,
            ops_per_client: 1,
            max_in_flight: 4,
            max_per_channel: 1,
            crashes: 2,
            ..small()
        },
    ));
    sets.push((
        "ordered, 2 clients",
        Bounds {
            clients: 2,
            ops_per_client: 1,
            max_in_flight: 4,
            network: NetworkKind::Ordered,
            ..small()
        },
    ));
    for (name, b) in sets {
        for model in [RaftModel::new(b.clone()), RaftModel::new(b).pruned()] {
            let compared = compare_all(name, &model);
            assert!(compared > 1_000, "{name}: only {compared} successors");
        }
    }
}

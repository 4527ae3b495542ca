//! A per-thread memo of the properties that judge the servers alone. A check
//! judges every state it keeps, and states that differ only in their network,
//! timers or history (most of them) hold the same servers: Log Matching, Leader
//! Completeness and Committed entries on a majority were a tenth of the default
//! check's time, though they see few different sets of servers.

use super::views::{InModel, ServerViews};
use crate::model::State;
use std::cell::RefCell;

/// Slots per thread, direct-mapped by the servers' hash.
const SLOTS: usize = 1 << 12;

/// (the servers' hash, their check hash, the verdict)
type Slot = (u64, u64, bool);

thread_local! {
    static MEMO: RefCell<Vec<Slot>> = RefCell::new(vec![(0, 0, false); SLOTS]);
}

/// `judge` on the first `n` actors of `state`, judged once per thread for each
/// set of servers (told apart by 128 bits of their parts' hashes, as
/// `Shared::same` tells parts apart) and `property` (a number of its own).
pub fn on_servers(
    property: u64,
    n: usize,
    state: &State,
    judge: fn(&dyn ServerViews) -> bool,
) -> bool {
    let (hash, check) = servers_key(property, n, state);
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        let slot = &mut m[(hash as usize) & (SLOTS - 1)];
        if slot.0 == hash && slot.1 == check {
            return slot.2;
        }
        let verdict = judge(&InModel(n, state));
        *slot = (hash, check, verdict);
        verdict
    })
}

/// Two hashes of what the views of the first `n` actors are made of: each
/// server's state if it is up, its storage if it is down.
fn servers_key(property: u64, n: usize, state: &State) -> (u64, u64) {
    let mix = |acc: u64, x: u64| {
        (acc ^ x)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29)
    };
    let (mut hash, mut check) = (mix(property, 1), mix(property, 2));
    for i in 0..n {
        let (h, c) = if state.is_down(i) {
            match state.storage.get(i).and_then(|s| s.as_ref()) {
                Some(p) => (p.hash_code(), p.check_code()),
                None => (1, 1),
            }
        } else {
            match state.actors.get(i) {
                Some(s) => (s.hash_code(), s.check_code()),
                None => (2, 2),
            }
        };
        // Up and down servers with the same parts are different views.
        let down = u64::from(state.is_down(i)) << 63;
        hash = mix(hash, h ^ down);
        check = mix(check, c ^ down);
    }
    (hash, check)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::catalogue::catalogue;
    use crate::model::{Action, RaftModel};
    use crate::properties::{
        committed_logs_agree_in, committed_on_majority_in, leader_completeness_in, log_matching_in,
    };
    use raft_model::MutantSet;
    use std::collections::{HashSet, VecDeque};

    /// On the first states of every mutant's model (where these properties
    /// fail as well as hold), the memo's verdict is the property's own.
    #[test]
    fn the_memo_judges_as_the_property_does() {
        // Numbered as the properties' list numbers them (State Machine
        // Safety's committed-logs half is 4).
        let judges: [fn(&dyn ServerViews) -> bool; 4] = [
            |v| log_matching_in(v),
            |v| leader_completeness_in(v),
            |v| committed_on_majority_in(v),
            |v| committed_logs_agree_in(v),
        ];
        let mut failed = [0usize; 4];
        let mut always_failed = 0usize;
        for case in catalogue() {
            let mut bounds = case.bounds.clone();
            bounds.mutants = MutantSet::NONE.with(case.mutant);
            let m = RaftModel::new(bounds);
            let n = m.servers();
            let mut seen = HashSet::new();
            let mut queue: VecDeque<State> = m.init().into_iter().collect();
            let mut actions: Vec<Action> = Vec::new();
            while let Some(s) = queue.pop_front() {
                if seen.len() >= 20_000
                    || !seen.insert(ahash::RandomState::with_seeds(1, 2, 3, 4).hash_one(&s))
                {
                    continue;
                }
                for (k, judge) in judges.iter().enumerate() {
                    let direct = judge(&InModel(n, &s));
                    assert_eq!(
                        on_servers(k as u64 + 1, n, &s, *judge),
                        direct,
                        "{:?}",
                        case.mutant
                    );
                    failed[k] += usize::from(!direct);
                }
                // The servers-only judgements as one, with the rest of each
                // Always property, judge as every Always property does.
                let each = crate::properties::ALWAYS
                    .iter()
                    .all(|p| (p.condition)(&m, &s));
                assert_eq!(
                    crate::properties::always_hold(&m, &s),
                    each,
                    "{:?}",
                    case.mutant
                );
                always_failed += usize::from(!each);
                m.enabled(&s, &mut actions);
                queue.extend(
                    actions
                        .drain(..)
                        .filter_map(|a| m.step(&s, a))
                        .filter(|t| m.in_bounds(t)),
                );
            }
        }
        assert!(
            failed.iter().all(|&f| f > 0),
            "each property fails somewhere: {failed:?}"
        );
        assert!(always_failed > 0);
    }
}

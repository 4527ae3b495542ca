//! The checked model's network beyond what stateright's `ActorModel` does: the
//! per-channel bound, and messages that an actor ignores are used up.

use super::state::{Action, State};
use raft_model::Id;
use stateright::actor::{ActorModelAction, Envelope, Network};

/// No channel (one actor to another) holds more than `limit` messages.
pub fn per_channel_ok(state: &State, limit: usize) -> bool {
    let mut counts: Vec<((Id, Id), usize)> = Vec::new();
    for env in state.network.iter_all() {
        match counts.iter_mut().find(|(k, _)| *k == (env.src, env.dst)) {
            Some((_, c)) => {
                *c += 1;
                if *c > limit {
                    return false;
                }
            }
            None => counts.push(((env.src, env.dst), 1)),
        }
    }
    true
}

/// stateright treats a delivery that changes nothing as impossible and leaves the
/// message in flight forever; on a real network the message is gone once the actor
/// has ignored it. Model that, for networks that deliver each message once.
pub fn consume_ignored(last: &State, action: &Action) -> Option<State> {
    let ActorModelAction::Deliver { src, dst, msg } = action else {
        return None;
    };
    let i = usize::from(*dst);
    if i >= last.actor_states.len() || last.is_down(i) {
        return None;
    }
    let Network::UnorderedNonDuplicating(_) = &last.network else {
        return None;
    };
    let mut next = last.clone();
    if let Network::UnorderedNonDuplicating(multiset) = &mut next.network {
        let env = Envelope {
            src: *src,
            dst: *dst,
            msg: msg.clone(),
        };
        match multiset.get_mut(&env) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                multiset.remove(&env);
            }
            None => return None,
        }
    }
    Some(next)
}

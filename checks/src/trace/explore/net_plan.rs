//! How the model's network carries a recorded run's messages, worked out from the
//! whole run before any step is taken.

use crate::trace::load::{sends, EvKind, MsgKey, Run};
use crate::trace::merge::Merged;
use raft_model::trace::Event;
use raft_model::{Id, Msg};
use std::collections::HashMap;

/// How the model's network carries the run's messages, worked out from the whole
/// run before any step is taken.
///
/// On the unordered network without duplication, each delivery uses up a copy
/// sent earlier (the latest one not yet used); a copy that no delivery uses was lost (or still in flight when the run
/// ended), and is dropped right after the step that sent it, so that the messages
/// in flight in the Explorer are those still to be delivered. If some message was
/// delivered more often than it was sent, that network cannot deliver it again, so
/// the duplicating network is used: there a message, once sent, stays deliverable
/// any number of times, and it is dropped after its last event in the run (its
/// last delivery, or a last send that was never delivered), so that the Explorer
/// does not show every message ever sent as in flight.
#[derive(Debug, Default)]
pub(super) struct NetPlan {
    pub duplicating: bool,
    /// Position in the global order -> messages (the run's ids) to drop after it.
    pub drops_after: HashMap<usize, Vec<(Id, Id, Msg)>>,
    pub lost: u64,
    pub duplicated: u64,
}

pub(super) fn plan_network(run: &Run, merged: &Merged) -> NetPlan {
    // Per message, its sends and deliveries in the global order: (position, delivery).
    let mut events: HashMap<MsgKey, Vec<(usize, bool)>> = HashMap::new();
    for (pos, &(f, e)) in merged.order.iter().enumerate() {
        let EvKind::Record(r) = run.files[f].events[e].kind else {
            continue;
        };
        let file = &run.files[f];
        let rec = &file.lines[r].rec;
        if let Event::Deliver { src, msg } = &rec.event {
            events
                .entry((*src, file.node, msg))
                .or_default()
                .push((pos, true));
        }
        for (_, dst, msg) in sends(rec) {
            events
                .entry((file.node, dst, msg))
                .or_default()
                .push((pos, false));
        }
    }
    let mut plan = NetPlan::default();
    for evs in events.values() {
        let mut in_flight: i64 = 0;
        for &(_, delivery) in evs {
            in_flight += if delivery { -1 } else { 1 };
            plan.duplicating |= in_flight < 0;
        }
        let s = evs.iter().filter(|e| !e.1).count() as u64;
        let d = evs.len() as u64 - s;
        plan.lost += s.saturating_sub(d);
        plan.duplicated += d.saturating_sub(s);
    }
    let mut keys: Vec<&MsgKey> = events.keys().collect();
    keys.sort(); // the same plan on every run of the program
    for key in keys {
        let evs = &events[key];
        let owned = (key.0, key.1, key.2.clone());
        let mut drop_after =
            |pos: usize| plan.drops_after.entry(pos).or_default().push(owned.clone());
        if plan.duplicating {
            if let Some(&(last, _)) = evs.last() {
                drop_after(last);
            }
        } else {
            let mut unused: Vec<usize> = Vec::new();
            for &(pos, delivery) in evs {
                if delivery {
                    unused.pop();
                } else {
                    unused.push(pos);
                }
            }
            for pos in unused {
                drop_after(pos);
            }
        }
    }
    plan
}

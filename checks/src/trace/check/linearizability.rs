//! The clients' operations, in the global order, checked for linearizability per
//! key (linearizability is local, Herlihy and Wing: a history is linearizable if
//! and only if each key's is), each key by the search of [`super::lin_search`].
//!
//! Operations of clients that left no trace are known only from the servers'
//! side: a request delivered from such a client is an operation called no later
//! than that delivery whose return is unknown, so it may take effect at any
//! moment after it, or never. Judging them so keeps the traced clients' reads
//! honest (they may see those writes) without claiming anything about them.

use super::lin_search::{search, value_text, KeyOp, Verdict};
use super::{Checker, LINEARIZABILITY};
use crate::trace::load::sends;
use raft_model::trace::Event;
use raft_model::{Id, Op, OpResult, Text};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
pub(super) enum LinEvent {
    Invoke(Id, Op),
    Return(Id, OpResult),
    /// A request delivered from a client without a trace (client, sequence number).
    Outside(Id, u64, Op),
}

/// Search steps per key before the verdict is "undecided".
pub const LIN_BUDGET: i64 = 20_000_000;

impl<'r> Checker<'r> {
    /// Feeds the client's invocations and returns to the linearizability history,
    /// by the model checker's rule (`ClientProgress`): an invocation is the first
    /// send of a sequence number, a return the reply to the operation in flight.
    pub(super) fn client_step(&mut self, f: usize, r: usize) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        let a = &mut self.actors[f];
        let id = a.id;
        if let Event::Deliver { msg, .. } = &rec.event {
            if let Some(result) = a.progress.on_delivery(msg) {
                let e = LinEvent::Return(id, result.clone());
                self.lin_events.push((e, self.position, f, r));
            }
        }
        for (_, _, msg) in sends(rec) {
            if let Some(op) = a.progress.on_send(msg) {
                let e = LinEvent::Invoke(id, op.clone());
                self.lin_events.push((e, self.position, f, r));
            }
        }
    }

    pub(super) fn linearizability(&mut self) {
        let events = std::mem::take(&mut self.lin_events);
        let (ops, outside, answered) = events.iter().fold((0, 0, 0), |(i, o, a), e| match e.0 {
            LinEvent::Invoke(..) => (i + 1, o, a),
            LinEvent::Outside(..) => (i, o + 1, a),
            LinEvent::Return(..) => (i, o, a + 1),
        });
        let clients = self.actors.iter().filter(|a| !a.is_server).count();
        let by_key = per_key(&events);
        let rule = self.rule(LINEARIZABILITY);
        rule.checked = ops as u64;
        rule.note = format!(
            "{clients} clients, {answered} answered, {} keys{}",
            by_key.len(),
            if outside > 0 {
                format!(", {outside} operations of untraced clients (unverifiable input)")
            } else {
                String::new()
            }
        );
        let mut undecided = Vec::new();
        for (key, (key_ops, idx)) in &by_key {
            match search(key_ops, LIN_BUDGET as u64) {
                Verdict::Linearizable(_) => {}
                Verdict::Undecided => undecided.push(key.clone()),
                Verdict::Not => self.explain(key, key_ops, idx, &events),
            }
        }
        if !undecided.is_empty() {
            let rule = self.rule(LINEARIZABILITY);
            rule.undecided = true;
            rule.note = format!(
                "{}; the search stopped after {LIN_BUDGET} steps for key(s) {:?}",
                rule.note, undecided
            );
        }
    }

    /// Names the shortest prefix of the key's history that is not linearizable
    /// (not linearizable stays so when extended): its last event.
    fn explain(
        &mut self,
        key: &Text,
        key_ops: &[KeyOp],
        idx: &[usize],
        events: &[(LinEvent, usize, usize, usize)],
    ) {
        let verdict_at = |cut: usize| {
            let prefix: Vec<KeyOp> = key_ops
                .iter()
                .filter(|o| o.call < cut)
                .map(|o| KeyOp {
                    ret: o.ret.filter(|r| *r < cut),
                    result: o.result.clone().filter(|_| o.ret.is_some_and(|r| r < cut)),
                    ..o.clone()
                })
                .collect();
            search(&prefix, LIN_BUDGET as u64)
        };
        let positions: Vec<usize> = idx.iter().map(|&k| k + 1).collect();
        let (mut lo, mut hi) = (0, positions.len());
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            match verdict_at(positions[mid - 1]) {
                Verdict::Not => hi = mid,
                _ => lo = mid,
            }
        }
        let Some(&(_, pos, f, r)) = idx.get(hi.saturating_sub(1)).map(|&k| &events[k]) else {
            return;
        };
        let tail: Vec<String> = idx[..hi]
            .iter()
            .rev()
            .take(6)
            .rev()
            .map(|&k| match &events[k].0 {
                LinEvent::Invoke(c, op) => format!("{} invokes {op:?}", self.run.name_of(*c)),
                LinEvent::Return(c, OpResult::Value(v)) => {
                    format!("{} gets {}", self.run.name_of(*c), value_text(v))
                }
                LinEvent::Return(c, res) => format!("{} gets {res:?}", self.run.name_of(*c)),
                LinEvent::Outside(c, _, op) => {
                    format!("{} (untraced) sent {op:?}", self.run.name_of(*c))
                }
            })
            .collect();
        self.position = pos;
        let checked = self.rule(LINEARIZABILITY).checked;
        self.fail(
            LINEARIZABILITY,
            f,
            r,
            format!("a linearizable history of key {key:?}"),
            format!(
                "no order of the operations explains every result; its history up to here \
                 ends: {}",
                tail.join("; ")
            ),
        );
        self.rule(LINEARIZABILITY).checked = checked;
    }
}

fn op_key(op: &Op) -> &Text {
    match op {
        Op::Put { key, .. } | Op::Append { key, .. } | Op::Get { key } => key,
    }
}

/// Each key's operations (with positions in the global order: an event's index
/// in `events`), and the indexes of the key's events.
type PerKey = BTreeMap<Text, (Vec<KeyOp>, Vec<usize>)>;

fn per_key(events: &[(LinEvent, usize, usize, usize)]) -> PerKey {
    let mut by_key: PerKey = BTreeMap::new();
    // The operation each traced client has in flight: (key, index in its list).
    let mut current: HashMap<Id, (Text, usize)> = HashMap::new();
    let mut outside_seen: std::collections::HashSet<(Id, u64)> = Default::default();
    for (k, (e, ..)) in events.iter().enumerate() {
        match e {
            LinEvent::Invoke(c, op) => {
                let key = op_key(op).clone();
                let (ops, idx) = by_key.entry(key.clone()).or_default();
                current.insert(*c, (key, ops.len()));
                ops.push(KeyOp {
                    op: op.clone(),
                    result: None,
                    call: k,
                    ret: None,
                });
                idx.push(k);
            }
            LinEvent::Return(c, result) => {
                let Some((key, i)) = current.remove(c) else {
                    continue; // a return without an invocation: not an operation
                };
                if let Some((ops, idx)) = by_key.get_mut(&key) {
                    if let Some(o) = ops.get_mut(i) {
                        o.result = Some(result.clone());
                        o.ret = Some(k);
                    }
                    idx.push(k);
                }
            }
            LinEvent::Outside(c, seq, op) => {
                if outside_seen.insert((*c, *seq)) {
                    let (ops, idx) = by_key.entry(op_key(op).clone()).or_default();
                    ops.push(KeyOp {
                        op: op.clone(),
                        result: None,
                        call: k,
                        ret: None,
                    });
                    idx.push(k);
                }
            }
        }
    }
    by_key
}

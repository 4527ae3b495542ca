//! The clients' operations, in the global order, checked for linearizability per
//! key with stateright's `LinearizabilityTester` and the model's `KvSpec`.

use super::{Checker, LINEARIZABILITY};
use crate::trace::load::sends;
use raft_model::trace::Event;
use raft_model::{Id, KvSpec, Op};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub(super) enum LinEvent {
    Invoke(Id, Op),
    Return(Id, raft_model::OpResult),
}

impl<'r> Checker<'r> {
    /// Feeds the client's invocations and returns to the linearizability history,
    /// by the model checker's rule ([`ClientProgress`]): an invocation is the first
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

    /// Linearizability is local (Herlihy and Wing): the history is linearizable if
    /// and only if each key's operations are. So each key is checked on its own,
    /// which keeps the tester's search (exponential at worst) small.
    pub(super) fn linearizability(&mut self) {
        let events = std::mem::take(&mut self.lin_events);
        let ops = events
            .iter()
            .filter(|e| matches!(e.0, LinEvent::Invoke(..)))
            .count();
        let answered = events.len() - ops;
        let clients = self.actors.iter().filter(|a| !a.is_server).count();
        let mut by_key: std::collections::BTreeMap<raft_model::Text, Vec<usize>> =
            Default::default();
        let mut current: HashMap<Id, raft_model::Text> = HashMap::new();
        for (k, (e, ..)) in events.iter().enumerate() {
            let key = match e {
                LinEvent::Invoke(c, op) => {
                    let key = op_key(op).clone();
                    current.insert(*c, key.clone());
                    key
                }
                LinEvent::Return(c, _) => match current.get(c) {
                    Some(key) => key.clone(),
                    None => continue, // a return without an invocation: the tester says so
                },
            };
            by_key.entry(key).or_default().push(k);
        }
        let rule = self.rule(LINEARIZABILITY);
        rule.checked = ops as u64;
        rule.note = format!(
            "{clients} clients, {answered} answered, {} keys",
            by_key.len()
        );
        for (key, idx) in by_key {
            let history: Vec<&LinEvent> = idx.iter().map(|&k| &events[k].0).collect();
            match lin_verdict(&history) {
                Verdict::Linearizable => {}
                Verdict::Undecided => {
                    let rule = self.rule(LINEARIZABILITY);
                    rule.undecided = true;
                    rule.note = format!(
                        "{}; the search for key {key:?} stopped after {LIN_BUDGET} steps",
                        rule.note
                    );
                }
                Verdict::Not(why) => {
                    // Not linearizable stays not linearizable when extended: find the
                    // shortest prefix that is not, and name its last event.
                    let (mut lo, mut hi) = (0, history.len());
                    while lo + 1 < hi {
                        let mid = (lo + hi) / 2;
                        match lin_verdict(&history[..mid]) {
                            Verdict::Not(_) => hi = mid,
                            _ => lo = mid,
                        }
                    }
                    let Some(&(_, pos, f, r)) = idx.get(hi.saturating_sub(1)).map(|&k| &events[k])
                    else {
                        continue;
                    };
                    let text: Vec<String> = history[..hi]
                        .iter()
                        .map(|e| match e {
                            LinEvent::Invoke(c, op) => {
                                format!("{} invokes {op:?}", self.run.name_of(*c))
                            }
                            LinEvent::Return(c, res) => {
                                format!("{} gets {res:?}", self.run.name_of(*c))
                            }
                        })
                        .collect();
                    let tail = text.len().saturating_sub(6);
                    self.position = pos;
                    self.fail(
                        LINEARIZABILITY,
                        f,
                        r,
                        format!("a linearizable history of key {key:?}"),
                        format!(
                            "{why}; its history up to here ends: {}",
                            text[tail..].join("; ")
                        ),
                    );
                    self.rule(LINEARIZABILITY).checked = ops as u64;
                }
            }
        }
    }
}

/// Steps (operations applied to the specification) the tester's search may take
/// per key before the verdict is "undecided".
pub const LIN_BUDGET: i64 = 5_000_000;

enum Verdict {
    Linearizable,
    Not(String),
    Undecided,
}

fn op_key(op: &Op) -> &raft_model::Text {
    match op {
        Op::Put { key, .. } | Op::Append { key, .. } | Op::Get { key } => key,
    }
}

/// [`KvSpec`] with a step budget for the tester's search, which remembers nothing
/// and may take exponential time on a history that is not linearizable: once the
/// budget is spent, no result matches (`None`), so every branch ends at once.
#[derive(Clone, Debug)]
struct Budgeted {
    spec: KvSpec,
    left: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl stateright::semantics::SequentialSpec for Budgeted {
    type Op = Op;
    type Ret = Option<raft_model::OpResult>;
    fn invoke(&mut self, op: &Op) -> Self::Ret {
        use std::sync::atomic::Ordering;
        if self.left.fetch_sub(1, Ordering::Relaxed) <= 0 {
            return None;
        }
        Some(self.spec.invoke(op))
    }
}

/// The verdict of stateright's `LinearizabilityTester` (with the model's `KvSpec`)
/// on one key's history.
fn lin_verdict(history: &[&LinEvent]) -> Verdict {
    use std::sync::atomic::{AtomicI64, Ordering};
    let left = std::sync::Arc::new(AtomicI64::new(LIN_BUDGET));
    let spec = Budgeted {
        spec: KvSpec::default(),
        left: left.clone(),
    };
    let mut t = LinearizabilityTester::<Id, Budgeted>::new(spec);
    for e in history {
        let r = match e {
            LinEvent::Invoke(c, op) => t.on_invoke(*c, op.clone()).map(|_| ()),
            LinEvent::Return(c, res) => t.on_return(*c, Some(res.clone())).map(|_| ()),
        };
        if let Err(e) = r {
            return Verdict::Not(format!("the history is malformed: {e}"));
        }
    }
    // The search recurses once per operation: give it room.
    let search = std::thread::Builder::new()
        .stack_size(1 << 28)
        .spawn(move || t.serialized_history().is_some());
    let found = match search.map(|h| h.join()) {
        Ok(Ok(found)) => found,
        _ => return Verdict::Undecided,
    };
    if found {
        Verdict::Linearizable
    } else if left.load(Ordering::Relaxed) < 0 {
        Verdict::Undecided
    } else {
        Verdict::Not("no order of the operations explains every result".into())
    }
}

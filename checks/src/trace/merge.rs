//! Merging the actors' records into one global order, causal first and real-time
//! second: a delivery is placed only after some step that sent the same message
//! from its source to its destination, and among the records that may come next,
//! the earliest (by recorded wall-clock time) comes first. On one machine the nodes
//! share a clock, so a correct host's run merges in plain time order.

use super::load::{sends, EvKind, MsgKey, Run};
use raft_model::trace::Event;
// Whole messages are hashed at every send and delivery: ahash, not SipHash.
use ahash::AHashMap as HashMap;
use std::collections::BTreeSet;

/// A send: the file, the record, and the index of the command in its `out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SendRef {
    pub file: usize,
    pub rec: usize,
    pub cmd: usize,
}

/// The run in one global order.
#[derive(Debug, Default)]
pub struct Merged {
    /// (file, event index in that file's `events`).
    pub order: Vec<(usize, usize)>,
    /// For each position of `order` that is a delivery: the latest send of the same
    /// message, from the same source to the same destination, merged before it.
    pub matched: Vec<Option<SendRef>>,
    /// Positions of events placed while every actor's next event was a delivery
    /// waiting for a send still to come: no order keeps every delivery after a send
    /// of it (a cycle).
    pub cycles: Vec<usize>,
    /// Events placed before an event of another actor with an earlier time (the
    /// order differs from real time there; never on one machine with a correct host).
    pub out_of_time_order: usize,
}

/// Merges the actors' events into one order (see the module documentation).
/// A delivery that no record sends at all is placed at its own time rather than
/// waited for, so that it does not drag the order of the rest of the run (the
/// validator reports it). Each actor's next event waits in an ordered set (ready,
/// or blocked on the message it delivers), so the merge costs O(log actors) per
/// event, however many clients the run had.
pub fn merge(run: &Run) -> Merged {
    let total: usize = run.files.iter().map(|f| f.events.len()).sum();
    let mut m = Merged {
        order: Vec::with_capacity(total),
        matched: Vec::with_capacity(total),
        ..Merged::default()
    };
    m.out_of_time_order = merge_each(run, &mut |p| {
        if p.cycle {
            m.cycles.push(m.order.len());
        }
        m.order.push((p.file, p.event));
        m.matched.push(p.matched);
    });
    m
}

/// An event as the merge places it (see [`Merged`]).
#[derive(Debug, Clone, Copy)]
pub struct Placed {
    pub file: usize,
    pub event: usize,
    pub matched: Option<SendRef>,
    /// Placed while every actor's next event waited for a send still to come.
    pub cycle: bool,
}

/// [`merge`], handing each event to `emit` as it is placed (so that a checker
/// can judge the run while it is merged); returns the events placed before an
/// earlier-timed one.
pub fn merge_each(run: &Run, emit: &mut dyn FnMut(Placed)) -> usize {
    let mut heads = vec![0usize; run.files.len()];
    let mut sent: HashMap<MsgKey, Vec<SendRef>> = HashMap::new();
    // Sends not merged yet, per message.
    let mut to_come: HashMap<MsgKey, usize> = HashMap::new();
    for f in &run.files {
        for l in &f.lines {
            for (_, dst, msg) in sends(&l.rec) {
                *to_come.entry((f.node, dst, msg)).or_default() += 1;
            }
        }
    }
    let total: usize = run.files.iter().map(|f| f.events.len()).sum();
    let (mut placed, mut out_of_time_order) = (0usize, 0usize);
    let delivery_key = |f: usize, e: usize| delivery_key(run, f, e);
    // Every actor's next event by (time, file); the ready ones; the blocked
    // ones by the message they wait for.
    let mut q = Queue {
        all: BTreeSet::new(),
        ready: BTreeSet::new(),
        waiting: HashMap::new(),
    };
    for f in 0..run.files.len() {
        q.enqueue(run, f, 0, &sent, &to_come);
    }

    while placed < total {
        let Some(&earliest) = q.all.first() else {
            break;
        };
        let best = q.ready.first().copied();
        let (f, cycle) = match best {
            Some((_, f)) => (f, false),
            // Every next event waits for another (a cycle): take the earliest.
            None => (earliest.1, true),
        };
        if best.is_some_and(|b| b.0 > earliest.0) {
            out_of_time_order += 1;
        }
        let e = heads[f];
        let time = run.files[f].events[e].time;
        q.all.remove(&(time, f));
        q.ready.remove(&(time, f));
        if cycle {
            if let Some(k) = delivery_key(f, e) {
                if let Some(v) = q.waiting.get_mut(&k) {
                    v.retain(|&x| x != f);
                }
            }
        }
        heads[f] += 1;
        placed += 1;
        let matched = delivery_key(f, e).and_then(|k| sent.get(&k).and_then(|v| v.last().copied()));
        emit(Placed {
            file: f,
            event: e,
            matched,
            cycle,
        });
        if let EvKind::Record(r) = run.files[f].events[e].kind {
            let file = &run.files[f];
            for (cmd, dst, msg) in sends(&file.lines[r].rec) {
                let k = (file.node, dst, msg);
                if let Some(n) = to_come.get_mut(&k) {
                    *n = n.saturating_sub(1);
                }
                sent.entry(k).or_default().push(SendRef {
                    file: f,
                    rec: r,
                    cmd,
                });
                for g in q.waiting.remove(&k).unwrap_or_default() {
                    let t = run.files[g].events[heads[g]].time;
                    q.ready.insert((t, g));
                }
            }
        }
        q.enqueue(run, f, heads[f], &sent, &to_come);
    }
    out_of_time_order
}

/// The message an event delivers, if it is a delivery.
fn delivery_key(run: &Run, f: usize, e: usize) -> Option<MsgKey<'_>> {
    let file = &run.files[f];
    match file.events.get(e)?.kind {
        EvKind::Record(r) => match &file.lines[r].rec.event {
            Event::Deliver { src, msg } => Some((*src, file.node, msg)),
            _ => None,
        },
        EvKind::Crash => None,
    }
}

/// The actors' next events.
struct Queue<'a> {
    all: BTreeSet<(u64, usize)>,
    ready: BTreeSet<(u64, usize)>,
    waiting: HashMap<MsgKey<'a>, Vec<usize>>,
}

impl<'a> Queue<'a> {
    /// Queues event `h` of file `f`, if it has one: ready, or waiting for a
    /// send of the message it delivers.
    fn enqueue(
        &mut self,
        run: &'a Run,
        f: usize,
        h: usize,
        sent: &HashMap<MsgKey<'a>, Vec<SendRef>>,
        to_come: &HashMap<MsgKey<'a>, usize>,
    ) {
        let Some(ev) = run.files[f].events.get(h) else {
            return;
        };
        self.all.insert((ev.time, f));
        match delivery_key(run, f, h) {
            // Never sent by anyone: waiting would not help.
            Some(k) if !sent.contains_key(&k) && to_come.get(&k).is_some_and(|n| *n > 0) => {
                self.waiting.entry(k).or_default().push(f)
            }
            _ => {
                self.ready.insert((ev.time, f));
            }
        }
    }
}

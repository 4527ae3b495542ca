//! Merging the actors' records into one global order, causal first and real-time
//! second: a delivery is placed only after some step that sent the same message
//! from its source to its destination, and among the records that may come next,
//! the earliest (by recorded wall-clock time) comes first. On one machine the nodes
//! share a clock, so a correct host's run merges in plain time order.

use super::load::{sends, EvKind, MsgKey, Run};
use raft_model::trace::Event;
use std::collections::HashMap;

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
/// validator reports it).
pub fn merge(run: &Run) -> Merged {
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
    let mut m = Merged {
        order: Vec::with_capacity(total),
        matched: Vec::with_capacity(total),
        ..Merged::default()
    };
    let delivery_key = |f: usize, e: usize| -> Option<MsgKey> {
        let file = &run.files[f];
        match file.events[e].kind {
            EvKind::Record(r) => match &file.lines[r].rec.event {
                Event::Deliver { src, msg } => Some((*src, file.node, msg)),
                _ => None,
            },
            EvKind::Crash => None,
        }
    };
    while m.order.len() < total {
        // The earliest event that may come next, and the earliest of all.
        let mut best: Option<(u64, usize)> = None;
        let mut earliest: Option<(u64, usize)> = None;
        for (f, file) in run.files.iter().enumerate() {
            let h = heads[f];
            let Some(ev) = file.events.get(h) else {
                continue;
            };
            let cand = (ev.time, f);
            if earliest.is_none_or(|e| cand < e) {
                earliest = Some(cand);
            }
            let ready = match delivery_key(f, h) {
                Some(k) if sent.contains_key(&k) => true,
                // Never sent by anyone: waiting would not help.
                Some(k) => to_come.get(&k).is_none_or(|n| *n == 0),
                None => true,
            };
            if ready && best.is_none_or(|b| cand < b) {
                best = Some(cand);
            }
        }
        let Some(earliest) = earliest else { break };
        let (f, cycle) = match best {
            Some((_, f)) => (f, false),
            // Every next event waits for another (a cycle): take the earliest.
            None => (earliest.1, true),
        };
        if best.is_some_and(|b| b.0 > earliest.0) {
            m.out_of_time_order += 1;
        }
        let e = heads[f];
        heads[f] += 1;
        let pos = m.order.len();
        m.order.push((f, e));
        let matched = delivery_key(f, e).and_then(|k| sent.get(&k).and_then(|v| v.last().copied()));
        if cycle {
            m.cycles.push(pos);
        }
        m.matched.push(matched);
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
            }
        }
    }
    m
}

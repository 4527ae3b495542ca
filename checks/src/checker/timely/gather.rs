//! After the search: every worker's counts go to worker 0, and the parent links
//! of the violating states are chased from owner to owner back to an initial
//! state, as a second small dataflow that ends (by progress tracking again) when
//! every chain has reached its start.

use super::codec::owner;
use super::report::WorkerStats;
use super::visited::{FpMap, Link, Visited};
use ::timely::dataflow::channels::pact::Exchange;
use ::timely::dataflow::operators::generic::operator::Operator;
use ::timely::dataflow::operators::{Concat, ConnectLoop, Feedback, ToStream};
use ::timely::worker::Worker;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::rc::Rc;

#[derive(Clone, Debug, Serialize, Deserialize)]
enum Gather {
    Stats(WorkerStats),
    /// Asks the owner of `fp` for its link.
    Query {
        fp: u64,
    },
    /// The owner's answer, for worker 0.
    Link {
        fp: u64,
        parent: u64,
        action: u32,
    },
    /// The owner has no link for `fp` (which would be a bug).
    Unknown {
        fp: u64,
    },
}

impl Gather {
    fn route(&self, peers: usize) -> u64 {
        match self {
            Gather::Query { fp } => owner(*fp, peers) as u64,
            _ => 0,
        }
    }
}

/// What worker 0 gathered.
#[derive(Default)]
pub struct Gathered {
    pub stats: Vec<WorkerStats>,
    pub links: FpMap<Link>,
    pub unknown: Vec<u64>,
}

/// Builds the gathering dataflow on `worker`: sends `mine` to worker 0 and chases
/// the links of `mine`'s violating states through the owners' `visited` maps.
/// What arrives at worker 0 is in the returned cell once the dataflow has ended.
pub fn build(
    worker: &mut Worker,
    visited: Rc<RefCell<Visited>>,
    mine: WorkerStats,
) -> Rc<RefCell<Gathered>> {
    let peers = worker.peers();
    let gathered = Rc::new(RefCell::new(Gathered::default()));
    let sink = Rc::clone(&gathered);
    let mut initial: Vec<Gather> = mine
        .violations
        .iter()
        .map(|&(_, _, fp)| Gather::Query { fp })
        .collect();
    initial.push(Gather::Stats(mine));
    worker.dataflow::<u64, _, _>(move |scope| {
        let (handle, cycle) = scope.feedback::<Vec<Gather>>(1);
        initial
            .to_stream(scope)
            .container::<Vec<Gather>>()
            .concat(cycle)
            .unary(
                Exchange::new(move |m: &Gather| m.route(peers)),
                "Gather",
                move |_, _| {
                    move |input, output| {
                        input.for_each_stamp(|cap, data| {
                            let mut session = output.session(&cap);
                            let visited = visited.borrow();
                            let mut sink = sink.borrow_mut();
                            for batch in data {
                                for m in batch.drain(..) {
                                    match m {
                                        Gather::Query { fp } => match visited.get(fp) {
                                            Some(link) => {
                                                session.give(Gather::Link {
                                                    fp,
                                                    parent: link.parent,
                                                    action: link.action,
                                                });
                                                if link.parent != 0 {
                                                    session.give(Gather::Query { fp: link.parent });
                                                }
                                            }
                                            None => session.give(Gather::Unknown { fp }),
                                        },
                                        Gather::Stats(s) => sink.stats.push(s),
                                        Gather::Link { fp, parent, action } => {
                                            sink.links.insert(fp, Link { parent, action });
                                        }
                                        Gather::Unknown { fp } => sink.unknown.push(fp),
                                    }
                                }
                            }
                        });
                    }
                },
            )
            .connect_loop(handle);
    });
    gathered
}

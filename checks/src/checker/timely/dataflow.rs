//! The search as a timely dataflow: one loop whose timestamp is the
//! breadth-first level. States travel through an exchange to their owners; an
//! owner processes a level once timely's progress tracking says nothing more can
//! arrive for it (its input frontier has passed the level), and its successors go
//! round the loop to the next level. When no worker sends anything more, the
//! frontier empties and the dataflow ends: that is how the search knows it is done.

use super::codec::StateCodec;
use super::exchange::Msg;
use super::search::Search;
use ::timely::dataflow::channels::pact::Exchange;
use ::timely::dataflow::operators::generic::operator::Operator;
use ::timely::dataflow::operators::{Capability, Concat, ConnectLoop, Feedback, ToStream};
use ::timely::worker::Worker;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::Hash;
use std::rc::Rc;

/// New states judged and expanded per activation of a worker's operator.
const CHUNK: usize = 4096;

/// Builds the search dataflow on `worker`, starting from `initial` (worker 0's
/// initial states; empty elsewhere). Step the worker until it has no dataflows
/// left to run it.
pub fn build<M>(worker: &mut Worker, search: Rc<RefCell<Search<M>>>, initial: Vec<Msg>)
where
    M: StateCodec + 'static,
    M::State: Hash,
{
    let peers = worker.peers();
    worker.dataflow::<u64, _, _>(move |scope| {
        let (handle, cycle) = scope.feedback::<Vec<Msg>>(1);
        initial
            .to_stream(scope)
            .container::<Vec<Msg>>()
            .concat(cycle)
            .unary_frontier(
                Exchange::new(move |m: &Msg| m.route(peers)),
                "Search",
                move |_initial_capability, info| {
                    // One capability per level with arrivals, held until the level
                    // is processed: the successors are sent at its time.
                    let mut pending: BTreeMap<u64, Capability<u64>> = BTreeMap::new();
                    // The level being worked on, a chunk per activation.
                    let mut working: Option<Capability<u64>> = None;
                    let activator = scope.activator_for(info.address);
                    move |(input, frontier), output| {
                        input.for_each_stamp(|cap, data| {
                            let Some(cap) = cap.retain_least(output.output_index()) else {
                                return;
                            };
                            let time = *cap.time();
                            pending.entry(time).or_insert(cap);
                            let mut s = search.borrow_mut();
                            for batch in data {
                                for m in batch.drain(..) {
                                    s.receive(time, m);
                                }
                            }
                        });
                        loop {
                            if let Some(cap) = working.take() {
                                let done = {
                                    let mut session = output.session(&cap);
                                    search.borrow_mut().work(CHUNK, &mut |m| session.give(m))
                                };
                                if !done {
                                    // Let the owners take this chunk in first.
                                    working = Some(cap);
                                    activator.activate();
                                    return;
                                }
                            }
                            let Some(entry) = pending.first_entry() else {
                                return;
                            };
                            if frontier.frontier().less_equal(entry.key()) {
                                return; // more may still arrive for this level
                            }
                            let time = *entry.key();
                            working = Some(entry.remove());
                            search.borrow_mut().begin(time);
                        }
                    }
                },
            )
            .connect_loop(handle);
    });
}

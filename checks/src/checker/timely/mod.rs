//! The exhaustive check past one machine: breadth-first search of any
//! `stateright::Model` as a [timely dataflow](https://docs.rs/timely), on worker
//! threads in one process or on processes on many machines.
//!
//! # How it searches
//!
//! Every state belongs to one worker: the one its fingerprint (of its symmetry
//! representative, with stateright's own fingerprint function) maps to
//! ([`codec::owner`]). The search is one dataflow loop whose timestamp is the
//! breadth-first level ([`dataflow`]). At each level a worker
//!
//! 1. receives the states found for this level that it owns, from every worker
//!    (an exchange by owner), and drops those it has visited ([`visited`]);
//! 2. once timely's progress tracking says nothing more can arrive for the level
//!    (the operator's input frontier has passed it), records the new ones as
//!    visited with the link to their parent (fingerprint and action index),
//!    judges the properties on them (Always violations, Sometimes witnesses),
//!    and expands them: successors outside `within_boundary` are dropped, the
//!    rest go round the loop to their owners for the next level ([`search`]).
//!
//! When no worker sends anything, the frontier empties and the dataflow ends:
//! termination is timely's progress tracking, not a protocol of our own. A
//! violation stops the search after the level it was found in (every worker gets
//! a stop for the next level), so the counterexample is a shortest one; of the
//! states of that level that break the property, the one with the least
//! fingerprint is taken, and of the ways a level reaches a state, the least
//! (parent, action): counts, verdicts and counterexamples do not depend on how
//! many workers or processes ran.
//!
//! Then a second dataflow ([`gather`]) sends every worker's counts to worker 0
//! and chases the violating states' parent links from owner to owner back to an
//! initial state; worker 0 replays the actions from there ([`counterexample`]).
//!
//! # What a model needs
//!
//! [`StateCodec`]: its states as bytes, to ship them between processes. The
//! engine never looks inside them; it fingerprints states with their `Hash`.
//! Eventually properties are refused (Always and Sometimes are judged).
//!
//! # Processes
//!
//! [`run::Layout::Threads`] runs every worker in this process.
//! [`run::Layout::Cluster`] makes this process one of several, listed in a host
//! file of `host:port` lines ([`cluster`]): process `i` listens on line `i`,
//! connects to the processes before it and accepts the ones after it. Each
//! connection starts with a handshake that refuses a process whose bounds,
//! options, worker count or binary differ (a digest of the description every
//! process computes, plus the description itself for the error message), before
//! the sockets are handed to timely's networking. A process that dies closes its
//! connections; timely then takes the computation down, and [`failure`] turns
//! that into "process N left the run": the check fails, it never reports a
//! partial search as exhaustive. [`launch`] starts `P - 1` local worker
//! processes of the same binary over loopback, the way `--processes P` does.

pub mod cluster;
pub mod codec;
pub mod counterexample;
pub mod dataflow;
pub mod exchange;
pub mod failure;
pub mod gather;
pub mod launch;
pub mod report;
pub mod run;
pub mod search;
pub mod visited;

pub use codec::StateCodec;
pub use report::{Outcome, ProcessStats, Stopped, Violation};
pub use run::{check, Layout, Options};

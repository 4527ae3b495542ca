//! Running the checker: the `stateright::Model` impl, a check and its report,
//! counterexamples, and the mutant catalogue; the depth-first search the proof
//! runs on (`engine`); the same check on timely dataflow (`timely`, and
//! `distributed` for the Raft model's report).

pub mod catalogue;
pub mod counterexample;
pub mod coverage;
pub mod distributed;
pub mod engine;
pub mod expand;
pub mod model;
pub mod mutant_pool;
pub mod mutants;
pub mod report;
pub mod run;
pub mod shortest;
pub mod state_codec;
pub mod timely;

pub use coverage::Coverage;
pub use report::{Distributed, Engine, Found, PropertyResult, Report, Status};
pub use run::{check, RunOptions, Strategy};

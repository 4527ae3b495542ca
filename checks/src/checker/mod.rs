//! Running the checker: the `stateright::Model` impl, a check and its report,
//! counterexamples, and the mutant catalogue.

pub mod catalogue;
pub mod counterexample;
pub mod model;
pub mod mutants;
pub mod report;
pub mod run;
pub mod timely;

pub use report::{Found, PropertyResult, Report, Status};
pub use run::{check, RunOptions, Strategy};

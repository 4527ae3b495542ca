//! raftlab's checks: the checked model, its properties, the checker, the trace
//! validator, and what they show, behind the `raftlab` CLI (`src/bin/raftlab`).
//!
//! Dependencies point one way, from the top of this list to the bottom:
//!
//! - [`explorer`]: stateright's Explorer for the model, and links into it;
//! - [`trace`]: recorded runs of real nodes, checked against the model;
//! - [`checker`]: running a check, its report, counterexamples, mutants;
//! - [`render`]: text and SVG for states, steps and runs;
//! - [`properties`]: what a check judges, in one registry;
//! - [`model`]: the checked model (state, history, network, symmetry);
//! - [`bounds`]: what a check explores.

pub mod bounds;
pub mod checker;
pub mod explorer;
pub mod model;
pub mod properties;
pub mod render;
pub mod trace;

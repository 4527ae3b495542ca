//! raftlab's checks: model configurations, the properties, and the check runner
//! behind the `raftlab` CLI.

pub mod bounds;
pub mod display;
pub mod explore;
pub mod model;
pub mod mutants;
pub mod path_svg;
pub mod properties;
pub mod run;
pub mod trace_check;
pub mod trace_explore;
pub mod trace_load;
pub mod trace_show;

//! Recorded runs of real nodes: reading them ([`load`]), merging their records
//! into one global order ([`merge`]), proving they are behaviours of the model
//! ([`check`]), drawing them ([`show`]) and mapping them to paths of the model for
//! the Explorer ([`explore`]), and simulating runs in one process ([`synth`]).

pub mod check;
pub mod explore;
pub mod load;
pub mod merge;
pub mod show;
pub mod synth;

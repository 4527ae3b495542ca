//! What a person sees: text for actions, states and steps ([`text`]), and message
//! sequence diagrams in SVG ([`svg`] primitives, [`path_svg`] for model runs; a
//! chaos run's latency and throughput charts in [`chaos_svg`]; a
//! recorded run's diagram is `crate::trace::show`).

pub mod chaos_svg;
pub mod path_svg;
pub mod svg;
pub mod text;

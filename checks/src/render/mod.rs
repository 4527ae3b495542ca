//! What a person sees: text for actions, states and steps ([`text`]), and message
//! sequence diagrams in SVG ([`svg`] primitives, [`path_svg`] for model runs; a
//! recorded run's diagram is `crate::trace::show`).

pub mod path_svg;
pub mod svg;
pub mod text;

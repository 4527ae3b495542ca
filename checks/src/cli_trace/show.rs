//! `raftlab trace show`: a recorded run as a message sequence diagram.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The directory of trace files.
    dir: PathBuf,
}

pub fn main(_args: &ShowArgs) -> i32 {
    2
}

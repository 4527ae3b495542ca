//! `raftlab trace show`: a recorded run as a message sequence diagram.

use clap::Args;
use raft_checks::trace::load as trace_load;
use raft_checks::trace::merge::merge;
use raft_checks::trace::show::{svg, ShowOptions};
use std::path::PathBuf;

/// Draw a recorded run as a message sequence diagram (SVG): servers as lifelines,
/// messages as arrows (a cross: never delivered), crashes, restarts, timeouts and
/// elections marked. Rows follow the global order of `raftlab trace check`, the
/// recorded time in the margin. View it in a browser, or convert it, e.g.
/// `rsvg-convert -o run.png run.svg`.
///
/// Exit codes: 0 written; 2 the traces cannot be read, or the file cannot be written.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The directory of trace files.
    dir: PathBuf,
    /// Where to write the SVG [default: DIR/run.svg].
    #[arg(short, long, value_name = "FILE.svg")]
    output: Option<PathBuf>,
    /// Start at this time, in seconds since the first record.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    from: f64,
    /// Draw at most this many rows (events).
    #[arg(long, default_value_t = 400)]
    limit: usize,
    /// Draw idle heartbeats too (left out by default).
    #[arg(long)]
    all: bool,
}

pub fn main(args: &ShowArgs) -> i32 {
    let run = match trace_load::load(&args.dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let merged = merge(&run);
    let opts = ShowOptions {
        from_s: args.from,
        limit: args.limit,
        all: args.all,
    };
    let text = svg(&run, &merged, &opts);
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| args.dir.join("run.svg"));
    match std::fs::write(&out, text) {
        Ok(()) => {
            println!("wrote {}", out.display());
            0
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            2
        }
    }
}

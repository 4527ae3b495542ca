//! `raftlab bench`: measurements that would be too slow, or too noisy, for tests.

use clap::Subcommand;

mod check;
mod cluster;
mod timely;
mod trace;
mod two_phase;

/// Measure real local clusters and the trace checker.
#[derive(Subcommand, Debug)]
#[command(
    about = "Measure the model checker (states per second against the engine's floor), \
                   real local clusters (throughput, latency, fail-over) and the trace checker \
                   (steps per second)"
)]
pub enum BenchCommand {
    /// Benchmark the model checker: the default check's unique and all states per
    /// second and its peak memory per unique state, beside, in the same process,
    /// the same check on stateright's depth-first search (which raftlab's own
    /// replaced) and stateright's engine on a trivial model (two-phase commit:
    /// the floor), with the ratios; and the floor's model on raftlab's search.
    /// Exit 1 if the default check is not proved.
    Check(check::BenchCheckArgs),
    /// Benchmark a local cluster: committed writes per second and latency
    /// percentiles, then leader fail-over time over repeated kill -9 of the leader.
    ///
    /// Starts its own nodes (separate processes on free loopback ports, data in a
    /// temporary directory unless --data is given), with fsync on every save.
    Cluster(cluster::BenchClusterArgs),
    /// Benchmark `raftlab trace check` on simulated runs of growing length.
    Trace(trace::BenchTraceArgs),
    /// The timely engine's check with several layouts (processes x workers) side
    /// by side: time, CPU, peak RSS of every process, RSS bytes per state and
    /// bytes exchanged between processes per state.
    Timely(timely::BenchTimelyArgs),
}

pub fn main(cmd: &BenchCommand) -> i32 {
    match cmd {
        BenchCommand::Check(a) => check::main(a),
        BenchCommand::Cluster(a) => cluster::main(a),
        BenchCommand::Trace(a) => trace::main(a),
        BenchCommand::Timely(a) => match timely::main(a) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e}");
                1
            }
        },
    }
}

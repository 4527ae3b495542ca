//! `raftlab bench`: measurements that would be too slow, or too noisy, for tests.

use clap::Subcommand;

mod cluster;
mod trace;

/// Measure real local clusters and the trace checker.
#[derive(Subcommand, Debug)]
#[command(
    about = "Measure real local clusters (throughput, latency, fail-over) and the trace \
                   checker (steps per second)"
)]
pub enum BenchCommand {
    /// Benchmark a local cluster: committed writes per second and latency
    /// percentiles, then leader fail-over time over repeated kill -9 of the leader.
    ///
    /// Starts its own nodes (separate processes on free loopback ports, data in a
    /// temporary directory unless --data is given), with fsync on every save.
    Cluster(cluster::BenchClusterArgs),
    /// Benchmark `raftlab trace check` on simulated runs of growing length.
    Trace(trace::BenchTraceArgs),
}

pub fn main(cmd: &BenchCommand) -> i32 {
    match cmd {
        BenchCommand::Cluster(a) => cluster::main(a),
        BenchCommand::Trace(a) => trace::main(a),
    }
}

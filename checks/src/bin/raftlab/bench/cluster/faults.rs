//! The fault half of `bench cluster`: a follower's restart and the leader's
//! fail-over, timed.

use super::{ms, puts, quantile, status_of, BenchClusterArgs, Cluster, FailoverReport};
use raft_impl::client;
use raft_impl::link::{leader_of, Link};
use raft_model::Role;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Kills a follower, starts it again, and times it until it answers and until it
/// has caught up with the leader.
pub(super) fn restart_follower(
    cluster: &mut Cluster,
    leader: usize,
) -> Result<(Duration, Duration), String> {
    let n = cluster.nodes.addrs.len();
    if n < 2 {
        return Ok((Duration::ZERO, Duration::ZERO));
    }
    let f = (leader + 1) % n;

    cluster.nodes.procs[f].kill9();
    let t0 = Instant::now();
    cluster.nodes.procs[f]
        .start()
        .map_err(|e| format!("cannot restart S{}: {e}", f + 1))?;
    let deadline = t0 + Duration::from_secs(30);
    let mut answered = None;
    loop {
        if let Some(s) = status_of(&cluster.nodes.link, f) {
            let answers = *answered.get_or_insert(t0.elapsed());
            let l = status_of(&cluster.nodes.link, leader);
            let caught_up = l.is_some_and(|l| {
                s.role == Role::Follower
                    && s.log_len == l.log_len
                    && s.commit_index == l.commit_index
            });
            if caught_up {
                return Ok((answers, t0.elapsed()));
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the restarted S{} did not catch up within 30 s",
                f + 1
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub(super) fn failover(
    cluster: &mut Cluster,
    args: &BenchClusterArgs,
) -> Result<FailoverReport, String> {
    let n = args.nodes;
    let mut elected = Vec::new();
    let mut writable = Vec::new();
    for k in 0..args.kills {
        let (leader, term) = cluster.nodes.settle(Duration::from_secs(20))?;
        let t0 = Instant::now();
        cluster.nodes.procs[leader].kill9();
        let link = cluster.nodes.link.clone();
        let trace = cluster.trace.clone();
        let ops = puts(&format!("failover-{k}"), 1, cluster.keys);
        let writer = std::thread::spawn(move || {
            let r = client::run_ops_traced(&link, ops, Duration::from_secs(20), trace.as_deref());
            (r, t0.elapsed())
        });
        let live: Vec<SocketAddr> = (0..n)
            .filter(|i| *i != leader)
            .map(|i| cluster.nodes.addrs[i])
            .collect();
        let live = Link::new(
            live,
            cluster.nodes.link.cluster,
            cluster.nodes.link.secret.clone(),
        );
        let deadline = t0 + Duration::from_secs(20);
        loop {
            let st = live
                .status_all(Duration::from_millis(100))
                .unwrap_or_default();
            if leader_of(&st).is_some_and(|(_, t)| t > term) {
                elected.push(t0.elapsed());
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("kill {}: no new leader within 20 s", k + 1));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let (r, took) = writer
            .join()
            .map_err(|_| "the writer thread panicked".to_string())?;
        r.map_err(|e| format!("kill {}: write after fail-over: {e}", k + 1))?;
        writable.push(took);
        cluster.nodes.procs[leader]
            .start()
            .map_err(|e| format!("cannot restart {}: {e}", cluster.nodes.procs[leader].name()))?;
        eprint!("\rkill {}/{}", k + 1, args.kills);
    }
    eprintln!();
    elected.sort();
    writable.sort();
    Ok(FailoverReport {
        kills: elected.len(),
        elected_median_ms: ms(quantile(&elected, 0.5)),
        elected_worst_ms: ms(elected.last().copied().unwrap_or_default()),
        writable_median_ms: ms(quantile(&writable, 0.5)),
        writable_worst_ms: ms(writable.last().copied().unwrap_or_default()),
    })
}

//! What a timely check found: each worker's counts, gathered at worker 0 into
//! one outcome with a line per process.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// One worker's counts and findings, sent to worker 0 when the search is over.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WorkerStats {
    pub worker: u32,
    /// States this worker owns (distinct symmetry classes).
    pub unique: u64,
    /// Successors within the boundary it generated, duplicates included.
    pub generated: u64,
    pub max_depth: u32,
    /// Per violated Always property (by index): the shallowest level and the
    /// least fingerprint of a state this worker owns that breaks it.
    pub violations: Vec<(u32, u32, u64)>,
    /// Sometimes properties (by index) witnessed in this worker's states.
    pub witnessed: Vec<u32>,
    pub timed_out: bool,
    pub depth_cut: bool,
    /// Why this worker could not go on (a state that would not decode).
    pub error: Option<String>,
    /// States sent to workers of this process, and to workers of others (with
    /// their bytes as framed on the wire).
    pub sent_local: u64,
    pub sent_remote: u64,
    pub sent_remote_bytes: u64,
    /// The size of its visited map's table.
    pub visited_bytes: u64,
    /// The process's peak resident set size and CPU seconds so far, filled in by
    /// its first worker.
    pub peak_rss: Option<u64>,
    pub cpu_s: Option<f64>,
    /// The process's counters of the model's own (`run::Options::counters`).
    pub counters: Vec<u64>,
}

/// One process's share of a check.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessStats {
    pub process: usize,
    pub workers: usize,
    pub unique_states: u64,
    pub states: u64,
    /// Successors shipped to other processes, and their bytes on the wire.
    pub states_sent_remote: u64,
    pub bytes_sent: u64,
    pub visited_map_bytes: u64,
    /// Peak resident set size (Linux `VmHWM`), if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds (user and system) the process had used when its search ended,
    /// if known: on a shared machine a fairer measure of cost than elapsed time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
}

/// Why a search ended before exhausting the state space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stopped {
    /// An Always property failed (the level it failed in was finished).
    Violation,
    Timeout,
    /// States at the depth limit were not expanded.
    MaxDepth,
}

/// A violated property and its shortest counterexample.
#[derive(Clone, Debug)]
pub struct Violation<A> {
    pub property: &'static str,
    /// The actions from the initial state (the first one within the boundary
    /// when there are several).
    pub actions: Vec<A>,
}

/// What a timely check found, at process 0.
#[derive(Clone, Debug)]
pub struct Outcome<A> {
    pub unique: u64,
    pub generated: u64,
    pub max_depth: usize,
    pub elapsed: Duration,
    pub stopped: Option<Stopped>,
    pub violations: Vec<Violation<A>>,
    pub witnessed: BTreeSet<&'static str>,
    pub workers_per_process: usize,
    pub processes: Vec<ProcessStats>,
    /// The model's own counters, summed over the processes.
    pub counters: Vec<u64>,
}

impl<A> Outcome<A> {
    pub fn exhaustive(&self) -> bool {
        self.stopped.is_none()
    }
}

/// Sums worker counts per process (workers `p * w .. (p + 1) * w` are process `p`).
pub fn per_process(stats: &[WorkerStats], workers_per_process: usize) -> Vec<ProcessStats> {
    let w = workers_per_process.max(1);
    let processes = stats
        .iter()
        .map(|s| s.worker as usize / w + 1)
        .max()
        .unwrap_or(0);
    (0..processes)
        .map(|p| {
            let mine: Vec<&WorkerStats> = stats
                .iter()
                .filter(|s| s.worker as usize / w == p)
                .collect();
            ProcessStats {
                process: p,
                workers: mine.len(),
                unique_states: mine.iter().map(|s| s.unique).sum(),
                states: mine.iter().map(|s| s.generated).sum(),
                states_sent_remote: mine.iter().map(|s| s.sent_remote).sum(),
                bytes_sent: mine.iter().map(|s| s.sent_remote_bytes).sum(),
                visited_map_bytes: mine.iter().map(|s| s.visited_bytes).sum(),
                peak_rss_bytes: mine.iter().find_map(|s| s.peak_rss),
                cpu_s: mine.iter().find_map(|s| s.cpu_s),
            }
        })
        .collect()
}

/// This process's peak resident set size, from `/proc/self/status` (Linux).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// CPU seconds (user and system) this process has used, from `/proc/self/stat`
/// (Linux, in clock ticks of 1/100 s, as on every Linux platform this runs on).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 after the name.
    Some((ticks(11)? + ticks(12)?) as f64 / 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_add_up_per_process() {
        let w = |worker, unique, rss| WorkerStats {
            worker,
            unique,
            generated: unique * 2,
            peak_rss: rss,
            ..WorkerStats::default()
        };
        let stats = vec![
            w(3, 4, None),
            w(0, 1, Some(10)),
            w(1, 2, None),
            w(2, 3, Some(20)),
        ];
        let p = per_process(&stats, 2);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].unique_states, p[0].states, p[0].workers), (3, 6, 2));
        assert_eq!((p[1].unique_states, p[1].peak_rss_bytes), (7, Some(20)));
    }

    #[test]
    fn peak_rss_and_cpu_are_read_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(peak_rss().is_some_and(|b| b > 0));
            let spin = std::time::Instant::now();
            let mut x = 0u64;
            while spin.elapsed().as_millis() < 50 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            assert!(cpu_seconds().is_some_and(|s| s > 0.0));
        }
    }
}

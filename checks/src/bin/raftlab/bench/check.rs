//! `raftlab bench check`: the model checker's speed and memory on the default
//! check, beside stateright's engine on a trivial model in the same process (the
//! floor), so that the ratio means something on a shared, noisy machine; and
//! the same check on stateright's search, so that the gain of raftlab's own
//! search (`checker::engine`) is measured side by side.

use clap::Args;
use raft_checks::bounds::{describe, Bounds};
use raft_checks::checker::{self, RunOptions};
use serde::Serialize;
use stateright::{Checker, Model};
use std::time::Instant;
use tabled::settings::Style;
use tabled::{Table, Tabled};

use super::two_phase::{TwoPhase, TwoPhaseState, MAX_RMS};
use raft_checks::checker::engine;

#[derive(Args, Debug)]
pub struct BenchCheckArgs {
    /// Checker threads for both runs (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Resource managers of the floor's two-phase-commit model (8: about as many
    /// unique states as the default check).
    #[arg(long, default_value_t = 8)]
    floor_rms: usize,
    /// Rounds of (the floor, the default check), one after the other, ending
    /// with the floor: each check's ratio is taken against the floors just
    /// before and after it, and the median of the rounds' ratios is the one
    /// judged. The machine's speed drifts by more than most changes; a ratio
    /// of neighbouring runs, and the middle one of several, says more than
    /// one check beside one floor.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Most rounds (each about fifteen seconds on two cores).
const MAX_ROUNDS: usize = 20;

/// One round: the default check between two runs of the floor.
#[derive(Serialize, Clone, Copy)]
struct Round {
    raftlab_unique_per_s: f64,
    /// The mean of the floors just before and after this round's check.
    floor_unique_per_s: f64,
    unique_ratio: f64,
}

/// One run's figures.
#[derive(Serialize, Tabled, Clone)]
struct Run {
    #[tabled(rename = "run")]
    name: String,
    #[tabled(rename = "unique states")]
    unique: usize,
    #[tabled(rename = "all states")]
    all: usize,
    #[tabled(display_with = "secs")]
    seconds: f64,
    #[tabled(rename = "unique/s", display_with = "rate")]
    unique_per_s: f64,
    #[tabled(rename = "all/s", display_with = "rate")]
    all_per_s: f64,
    #[tabled(rename = "peak RSS MB", display_with = "mb")]
    peak_rss_bytes: Option<u64>,
    #[tabled(rename = "bytes/unique state", display_with = "per_state")]
    bytes_per_unique: Option<f64>,
}

fn secs(s: &f64) -> String {
    format!("{s:.1}")
}
fn rate(r: &f64) -> String {
    format!("{:.0} k", r / 1000.0)
}
fn mb(b: &Option<u64>) -> String {
    b.map_or("not measured".into(), |b| format!("{:.0}", b as f64 / 1e6))
}
fn per_state(b: &Option<f64>) -> String {
    b.map_or("not measured".into(), |b| format!("{b:.1}"))
}

#[derive(Serialize)]
struct BenchReport {
    threads: usize,
    bounds: String,
    exhaustive: bool,
    raftlab: Run,
    /// The same check on stateright's depth-first search, the engine raftlab's
    /// own replaced.
    raftlab_on_stateright: Run,
    floor: Run,
    /// The floor's model on raftlab's own search.
    floor_on_raftlab_engine: Run,
    /// Each round's check against its neighbouring floors, in order.
    rounds: Vec<Round>,
    /// raftlab's unique states per second over the floor's: the median of the
    /// rounds' ratios.
    unique_ratio: f64,
    /// raftlab's states per second (all) over the floor's.
    all_ratio: f64,
    /// raftlab's unique states per second over the same check's on stateright's search.
    engine_gain: f64,
    targets: Targets,
}

#[derive(Serialize)]
struct Targets {
    unique_per_s: f64,
    unique_ratio: f64,
    bytes_per_unique: f64,
}

const TARGETS: Targets = Targets {
    unique_per_s: 500_000.0,
    unique_ratio: 0.75,
    bytes_per_unique: 40.0,
};

/// A field of /proc/self/status, in bytes (Linux; 0 elsewhere).
fn status_bytes(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Runs `f` and returns its result with the peak of resident memory it added:
/// the kernel's high-water mark is reset first (writing 5 to clear_refs).
fn with_peak_rss<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = status_bytes("VmRSS:");
    let out = f();
    let peak = status_bytes("VmHWM:");
    (out, peak.saturating_sub(before))
}

/// The floor's figures: two-phase commit among `rms` managers, depth-first on
/// stateright's search.
fn floor(rms: usize, threads: usize) -> Run {
    let ((unique, all, seconds), rss) = with_peak_rss(|| {
        let started = Instant::now();
        let c = TwoPhase { rms }
            .checker()
            .threads(threads)
            .spawn_dfs()
            .join();
        (
            c.unique_state_count(),
            c.state_count(),
            started.elapsed().as_secs_f64(),
        )
    });
    run(String::new(), unique, all, seconds, rss)
}

/// The same on raftlab's own depth-first search.
fn floor_on_engine(rms: usize, threads: usize) -> Result<Run, String> {
    let started = Instant::now();
    let options = engine::Options {
        threads,
        timeout: None,
        target_max_depth: None,
    };
    let c = engine::Dfs::spawn(
        TwoPhase { rms },
        engine::plain_fingerprint::<TwoPhaseState>,
        &options,
    )?
    .join();
    // Not its memory: it runs last, in what the allocator kept from the runs
    // before, and would show next to nothing.
    Ok(Run {
        peak_rss_bytes: None,
        bytes_per_unique: None,
        ..run(
            format!("two-phase commit, {rms} managers, on raftlab's search"),
            c.unique_state_count(),
            c.state_count(),
            started.elapsed().as_secs_f64(),
            0,
        )
    })
}

fn run(name: String, unique: usize, all: usize, seconds: f64, rss: u64) -> Run {
    let s = seconds.max(1e-9);
    Run {
        name,
        unique,
        all,
        seconds,
        unique_per_s: unique as f64 / s,
        all_per_s: all as f64 / s,
        peak_rss_bytes: Some(rss),
        bytes_per_unique: Some(rss as f64 / unique.max(1) as f64),
    }
}

pub fn main(args: &BenchCheckArgs) -> i32 {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if threads == 0 || args.floor_rms == 0 || args.floor_rms > MAX_RMS {
        return crate::usage_error(&format!(
            "--threads must be at least 1 and --floor-rms between 1 and {MAX_RMS}"
        ));
    }
    if args.rounds == 0 || args.rounds > MAX_ROUNDS {
        return crate::usage_error(&format!(
            "--rounds must be between 1 and {MAX_ROUNDS} (each round is the default check and the floor, about fifteen seconds on two cores)"
        ));
    }
    let bounds = Bounds::default();
    if !args.json {
        eprintln!(
            "bench check: the default check ({}) with {threads} thread(s) in {} round(s) between runs of the floor, then the check on stateright's search, the floor on raftlab's",
            describe(&bounds),
            args.rounds
        );
    }
    let opts = RunOptions {
        threads,
        ..RunOptions::default()
    };
    // The floor before and after each check, on a fresh heap first (the
    // allocator keeps what a run freed, so a later run's peak would show
    // less): the memory figures are the first round's.
    let mut floors = vec![floor(args.floor_rms, threads)];
    let mut checks = Vec::new();
    for round in 1..=args.rounds {
        let (report, rss) = with_peak_rss(|| checker::check(&bounds, &opts));
        let exhaustive = report.exhaustive;
        checks.push((report, rss));
        floors.push(floor(args.floor_rms, threads));
        if !args.json {
            eprintln!("round {round} of {} done", args.rounds);
        }
        if !exhaustive {
            break;
        }
    }
    let rounds: Vec<Round> = checks
        .iter()
        .zip(floors.windows(2))
        .map(|((c, _), f)| {
            let raftlab = c.unique_states as f64 / c.elapsed_s.max(1e-9);
            let floor = f.iter().map(|r| r.unique_per_s).sum::<f64>() / 2.0;
            Round {
                raftlab_unique_per_s: raftlab,
                floor_unique_per_s: floor,
                unique_ratio: raftlab / floor.max(1e-9),
            }
        })
        .collect();
    let middle = median_round(&rounds).unwrap_or(0);
    let Some(((report, _), (_, first_rss))) = checks.get(middle).zip(checks.first()) else {
        eprintln!("error: no round of the check ran");
        return 1;
    };
    let raftlab = Run {
        name: format!("raftlab check (default), median round of {}", rounds.len()),
        ..run(
            String::new(),
            report.unique_states,
            report.states,
            report.elapsed_s,
            *first_rss,
        )
    };
    let (theirs, theirs_rss) = with_peak_rss(|| {
        checker::check(
            &bounds,
            &RunOptions {
                stateright_dfs: true,
                ..opts.clone()
            },
        )
    });
    let raftlab_on_stateright = run(
        "raftlab check (default) on stateright's search".into(),
        theirs.unique_states,
        theirs.states,
        theirs.elapsed_s,
        theirs_rss,
    );
    let floor_on_raftlab_engine = match floor_on_engine(args.floor_rms, threads) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: the floor's model on raftlab's search: {e}; the figures above are complete, run again (or with fewer --threads) for this row"
            );
            return 1;
        }
    };
    let mean = |f: fn(&Run) -> f64| floors.iter().map(f).sum::<f64>() / floors.len() as f64;
    let first_floor = floors
        .first()
        .cloned()
        .unwrap_or_else(|| run(String::new(), 0, 0, 0.0, 0));
    let floor = Run {
        name: format!(
            "floor: two-phase commit, {} managers, on stateright's search (mean of {} runs)",
            args.floor_rms,
            floors.len()
        ),
        seconds: mean(|r| r.seconds),
        unique_per_s: mean(|r| r.unique_per_s),
        all_per_s: mean(|r| r.all_per_s),
        ..first_floor
    };
    let median = rounds.get(middle).copied();
    let out = BenchReport {
        threads,
        bounds: describe(&bounds),
        exhaustive: checks.iter().all(|(c, _)| c.exhaustive),
        unique_ratio: median.map_or(0.0, |r| r.unique_ratio),
        all_ratio: raftlab.all_per_s / floor.all_per_s.max(1e-9),
        engine_gain: raftlab.unique_per_s / raftlab_on_stateright.unique_per_s.max(1e-9),
        raftlab,
        raftlab_on_stateright,
        floor,
        floor_on_raftlab_engine,
        rounds,
        targets: TARGETS,
    };
    if args.json {
        match serde_json::to_string_pretty(&out) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: could not encode the report as JSON: {e}"),
        }
    } else {
        print_table(&out);
    }
    if checks.iter().all(|(c, _)| c.proved()) && theirs.proved() {
        0
    } else {
        1
    }
}

/// The round of median ratio (of an even number of rounds, the lower middle
/// one); `None` if there is none.
fn median_round(rounds: &[Round]) -> Option<usize> {
    let mut order: Vec<usize> = (0..rounds.len()).collect();
    order.sort_by(|&a, &b| {
        let ratio = |i: usize| rounds.get(i).map_or(0.0, |r| r.unique_ratio);
        ratio(a).total_cmp(&ratio(b))
    });
    order.get(order.len().checked_sub(1)? / 2).copied()
}

fn print_table(r: &BenchReport) {
    let mut t = Table::new([
        r.raftlab.clone(),
        r.raftlab_on_stateright.clone(),
        r.floor.clone(),
        r.floor_on_raftlab_engine.clone(),
    ]);
    t.with(Style::modern());
    println!("{t}");
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let each: Vec<String> = r
        .rounds
        .iter()
        .map(|x| format!("{:.2}", x.unique_ratio))
        .collect();
    println!(
        "raftlab / floor: {:.2} x the floor's unique states/s (the median of {} rounds: {}), {:.2} x its states/s",
        r.unique_ratio,
        r.rounds.len(),
        each.join(", "),
        r.all_ratio
    );
    println!(
        "raftlab's search / stateright's, on the same check: {:.2} x the unique states/s",
        r.engine_gain
    );
    println!(
        "targets: >= {:.0} k unique states/s: {}; >= {:.2} x the floor: {}; <= {:.0} bytes per unique state: {}",
        r.targets.unique_per_s / 1000.0,
        verdict(r.raftlab.unique_per_s >= r.targets.unique_per_s),
        r.targets.unique_ratio,
        verdict(r.unique_ratio >= r.targets.unique_ratio),
        r.targets.bytes_per_unique,
        verdict(
            r.raftlab
                .bytes_per_unique
                .is_some_and(|b| b <= r.targets.bytes_per_unique)
        ),
    );
    if !r.exhaustive {
        println!("the default check was not exhaustive: the figures are not the default proof's");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(unique_ratio: f64) -> Round {
        Round {
            raftlab_unique_per_s: 0.0,
            floor_unique_per_s: 0.0,
            unique_ratio,
        }
    }

    #[test]
    fn the_median_round_is_the_middle_ratio() {
        let rounds: Vec<Round> = [0.82, 0.68, 0.78].map(round).to_vec();
        assert_eq!(median_round(&rounds), Some(2));
        let even: Vec<Round> = [0.9, 0.7, 0.8, 0.6].map(round).to_vec();
        assert_eq!(median_round(&even), Some(1), "the lower middle of four");
        assert_eq!(median_round(&[round(0.5)]), Some(0));
        assert_eq!(median_round(&[]), None);
    }
}

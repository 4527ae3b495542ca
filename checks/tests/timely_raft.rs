//! The timely engine on the Raft model is the same check as stateright's: on
//! several small bound sets (unordered, ordered and duplicating networks, a lossy
//! one, crashes, 1 to 4 servers) it reaches exactly the unique states (and all
//! states) of stateright's breadth-first search without symmetry, with the same
//! verdicts; with symmetry it reaches the same count on every layout and every
//! run; and it catches the cheap mutants of the catalogue at their bounds with a
//! counterexample as long as `checker::shortest` finds for the same property,
//! and shortest:
//! stateright, searching every run one step shorter, finds no violation. Each on 1 process x 2 workers and on 2 processes (two timely runs
//! in this test, connected over loopback TCP, 1 worker each).

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::checker::catalogue;
use raft_checks::checker::distributed::{self, Spread};
use raft_checks::checker::run::{check, RunOptions, Strategy};
use raft_checks::checker::timely::cluster::Cluster;
use raft_checks::checker::timely::launch::free_addresses;
use raft_checks::checker::timely::Layout;
use raft_checks::checker::{Report, Status};
use raft_model::Mutant;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Spreading {
    OneProcessTwoWorkers,
    TwoProcesses,
}

const SPREADS: [Spreading; 2] = [Spreading::OneProcessTwoWorkers, Spreading::TwoProcesses];

fn timely(bounds: &Bounds, symmetry: bool, spreading: Spreading) -> Report {
    let opts = RunOptions {
        symmetry,
        progress: None,
        ..RunOptions::default()
    };
    let spread = |workers, layout| Spread {
        workers,
        layout,
        alive: None,
    };
    match spreading {
        Spreading::OneProcessTwoWorkers => {
            distributed::check(bounds, &opts, &spread(2, Layout::Threads))
        }
        Spreading::TwoProcesses => {
            let addresses = free_addresses(2).expect("loopback ports");
            let cluster = |process| {
                Layout::Cluster(Cluster {
                    addresses: addresses.clone(),
                    process,
                    connect_timeout: Duration::from_secs(30),
                })
            };
            let (b, o, s) = (bounds.clone(), opts.clone(), spread(1, cluster(1)));
            let other = std::thread::spawn(move || distributed::check(&b, &o, &s));
            let first = distributed::check(bounds, &opts, &spread(1, cluster(0)));
            let second = other.join().expect("process 1's thread");
            assert!(matches!(second, Ok(None)), "process 1 reports nothing");
            first
        }
    }
    .expect("the run succeeds")
    .expect("process 0 reports")
}

fn stateright(bounds: &Bounds, strategy: Strategy, threads: usize) -> Report {
    check(
        bounds,
        &RunOptions {
            strategy,
            threads,
            progress: None,
            shortest_within: None,
            ..RunOptions::default()
        },
    )
}

fn verdicts(r: &Report) -> Vec<(&'static str, Status)> {
    r.properties.iter().map(|p| (p.name, p.status)).collect()
}

fn small(max_term: u64, max_log: usize, ops: usize, crashes: usize) -> Bounds {
    Bounds {
        max_term,
        max_log,
        ops_per_client: ops,
        crashes,
        ..Bounds::default()
    }
}

/// Small bound sets over every kind of network, with and without crashes.
fn bound_sets() -> Vec<(&'static str, Bounds)> {
    vec![
        ("3 servers, unordered", small(2, 1, 1, 0)),
        (
            "3 servers, lossy, 2 in flight",
            Bounds {
                lossy: true,
                max_in_flight: 2,
                ..small(1, 1, 1, 0)
            },
        ),
        (
            "3 servers, ordered",
            Bounds {
                network: NetworkKind::Ordered,
                ..small(2, 1, 1, 0)
            },
        ),
        (
            "3 servers, duplicating, 5 sent",
            Bounds {
                network: NetworkKind::Duplicating,
                max_in_flight: 5,
                ..small(1, 1, 1, 0)
            },
        ),
        (
            "2 servers, a crash",
            Bounds {
                servers: 2,
                max_in_flight: Bounds::least_in_flight(2),
                ..small(2, 2, 1, 1)
            },
        ),
        (
            "1 server, 2 ops, a crash",
            Bounds {
                servers: 1,
                max_in_flight: Bounds::least_in_flight(1),
                ..small(2, 2, 2, 1)
            },
        ),
        (
            "4 servers",
            Bounds {
                servers: 4,
                max_in_flight: Bounds::least_in_flight(4),
                ..small(1, 1, 1, 0)
            },
        ),
    ]
}

#[test]
fn counts_and_verdicts_are_stateright_breadth_first_ones_without_symmetry() {
    for (name, bounds) in bound_sets() {
        bounds.validate().expect("valid bounds");
        let bfs = stateright(&bounds, Strategy::Bfs, 2);
        assert!(bfs.exhaustive, "{name}");
        for spreading in SPREADS {
            let t = timely(&bounds, false, spreading);
            eprintln!(
                "{name}, {spreading:?}: stateright bfs {} unique / {} all, timely {} / {}",
                bfs.unique_states, bfs.states, t.unique_states, t.states
            );
            assert!(t.exhaustive, "{name} {spreading:?}");
            assert_eq!(t.unique_states, bfs.unique_states, "{name} {spreading:?}");
            assert_eq!(t.states, bfs.states, "{name} {spreading:?}");
            assert_eq!(verdicts(&t), verdicts(&bfs), "{name} {spreading:?}");
        }
    }
}

#[test]
fn symmetric_counts_are_the_same_on_every_layout_and_run() {
    for (name, bounds) in bound_sets() {
        let dfs = stateright(&bounds, Strategy::Dfs, 2);
        let runs: Vec<Report> = [
            Spreading::OneProcessTwoWorkers,
            Spreading::TwoProcesses,
            Spreading::OneProcessTwoWorkers,
        ]
        .into_iter()
        .map(|s| timely(&bounds, true, s))
        .collect();
        let counts: Vec<(usize, usize)> =
            runs.iter().map(|r| (r.unique_states, r.states)).collect();
        eprintln!(
            "{name}: timely with symmetry {counts:?}; stateright dfs {}",
            dfs.unique_states
        );
        assert!(
            counts.windows(2).all(|w| w[0] == w[1]),
            "{name}: {counts:?}"
        );
        for r in &runs {
            assert!(r.exhaustive && r.symmetry, "{name}");
            assert_eq!(verdicts(r), verdicts(&dfs), "{name}");
            // One state per class, whichever member each engine meets first.
            assert_eq!(
                (r.unique_states, r.states),
                (dfs.unique_states, dfs.states),
                "{name}"
            );
        }
    }
}

/// The catalogue's mutants too costly for every test run (seconds to minutes
/// each: see the README); every other one is searched, without symmetry so that
/// "shortest" compares with stateright's breadth-first search.
const COSTLY: [Mutant; 3] = [
    Mutant::NoDedup,
    Mutant::CommitPastMatch,
    Mutant::CommitOldTerm,
];

fn cheap() -> impl Iterator<Item = Mutant> {
    Mutant::ALL.into_iter().filter(|m| !COSTLY.contains(m))
}

/// The shortest counterexample's length and property of a check that must fail.
fn shortest(r: &Report, what: &str) -> (usize, &'static str) {
    r.violated()
        .into_iter()
        .map(|p| {
            assert!(p.shortest(), "{what}");
            assert!(p.explorer_path.is_some(), "{what}: an Explorer link");
            (p.counterexample.as_ref().map_or(0, |c| c.len()), p.name)
        })
        .min()
        .unwrap_or_else(|| panic!("{what} escaped"))
}

#[test]
fn cheap_mutants_are_caught_with_a_shortest_counterexample() {
    for mutant in cheap() {
        let case = catalogue::case(mutant).expect("in the catalogue");
        let what = mutant.name();
        let runs: Vec<Report> = SPREADS
            .iter()
            .map(|&s| timely(&case.bounds, false, s))
            .collect();
        let lengths: Vec<(usize, &'static str)> = runs.iter().map(|r| shortest(r, what)).collect();
        assert_eq!(lengths[0], lengths[1], "{what}: the same on both layouts");
        let (steps, _) = lengths[0];
        // As `raftlab check --mutant NAME --engine timely` runs it: with symmetry.
        let (reduced, _) = shortest(&timely(&case.bounds, true, SPREADS[0]), what);
        // stateright's search, its counterexample shortened by `checker::shortest`
        // (stateright's own keeps the last violation it meets, not the first).
        let bfs = check(
            &case.bounds,
            &RunOptions {
                strategy: Strategy::Bfs,
                threads: 1,
                progress: None,
                shortest_within: Some(Duration::from_secs(300)),
                ..RunOptions::default()
            },
        );
        let (bfs_steps, _) = shortest(&bfs, what);
        // Every run of fewer steps, searched by stateright: none breaks a property.
        let shorter = check(
            &case.bounds,
            &RunOptions {
                strategy: Strategy::Bfs,
                threads: 1,
                max_depth: Some(steps + 1),
                progress: None,
                shortest_within: None,
                ..RunOptions::default()
            },
        );
        eprintln!(
            "{what}: timely {steps} steps ({}; {reduced} with symmetry), checker::shortest {bfs_steps} steps; \
             none shorter: {}",
            lengths[0].1,
            shorter.violated().is_empty()
        );
        assert!(steps <= bfs_steps, "{what}");
        // A property both found violated has a shortest counterexample of one
        // length: the two searches, written apart, agree on it.
        let mut common = 0;
        for p in bfs.violated() {
            if let Some(q) = runs[0].violated().into_iter().find(|q| q.name == p.name) {
                let len = |r: &raft_checks::checker::PropertyResult| {
                    r.counterexample.as_ref().map_or(0, |c| c.len())
                };
                assert_eq!(len(p), len(q), "{what}: {}", p.name);
                common += 1;
            }
        }
        assert!(common > 0, "{what}: a property both found violated");
        assert!(
            shorter.violated().is_empty(),
            "{what}: a shorter run breaks a property"
        );
    }
}

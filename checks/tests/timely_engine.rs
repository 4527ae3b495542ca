//! The timely engine against stateright's own checkers, on small models written
//! for the test: the same unique-state count as stateright's breadth-first search
//! without symmetry, the same as its depth-first search with the same symmetry
//! representative, the same verdicts, and counterexamples as short as
//! stateright's single-threaded breadth-first search finds; with one worker, two
//! workers, and two "processes" (two timely runs in this test connected over
//! loopback TCP, each with two workers).

use raft_checks::checker::timely::cluster::Cluster;
use raft_checks::checker::timely::codec::Symmetry;
use raft_checks::checker::timely::launch::free_addresses;
use raft_checks::checker::timely::{check, Layout, Options, Outcome, StateCodec};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Property};
use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The engine records its network threads' panics per process (a `raftlab
/// check` is one run per process) and clears the record as a run starts, so
/// runs in parallel tests would take each other's: one test runs at a time.
fn one_run_at_a_time() -> MutexGuard<'static, ()> {
    static RUNS: Mutex<()> = Mutex::new(());
    RUNS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The die-hard puzzle: a 3 and a 5 gallon jug; measure 4 gallons.
#[derive(Clone)]
struct Jugs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pour {
    FillSmall,
    FillBig,
    EmptySmall,
    EmptyBig,
    SmallToBig,
    BigToSmall,
}

impl Model for Jugs {
    type State = (u8, u8);
    type Action = Pour;
    fn init_states(&self) -> Vec<(u8, u8)> {
        vec![(0, 0)]
    }
    fn actions(&self, _: &(u8, u8), actions: &mut Vec<Pour>) {
        use Pour::*;
        actions.extend([
            FillSmall, FillBig, EmptySmall, EmptyBig, SmallToBig, BigToSmall,
        ]);
    }
    fn next_state(&self, &(s, b): &(u8, u8), a: Pour) -> Option<(u8, u8)> {
        let next = match a {
            Pour::FillSmall => (3, b),
            Pour::FillBig => (s, 5),
            Pour::EmptySmall => (0, b),
            Pour::EmptyBig => (s, 0),
            Pour::SmallToBig => {
                let m = s.min(5 - b);
                (s - m, b + m)
            }
            Pour::BigToSmall => {
                let m = b.min(3 - s);
                (s + m, b - m)
            }
        };
        (next != (s, b)).then_some(next)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("never 4 in the big jug", |_, s: &(u8, u8)| s.1 != 4),
            Property::sometimes("both jugs hold water", |_, s: &(u8, u8)| s.0 > 0 && s.1 > 0),
        ]
    }
}

impl StateCodec for Jugs {
    fn encode(&self, s: &(u8, u8), out: &mut Vec<u8>) -> Result<(), String> {
        out.extend([s.0, s.1]);
        Ok(())
    }
    fn decode(&self, b: &[u8]) -> Result<(u8, u8), String> {
        match b {
            [s, g] => Ok((*s, *g)),
            _ => Err(format!("{} bytes, not 2", b.len())),
        }
    }
}

/// `n` interchangeable processes sharing a lock, each entering its critical
/// section at most `visits` times; with `broken`, a waiting process may enter
/// while another holds the lock.
#[derive(Clone)]
struct Lock {
    n: usize,
    visits: u8,
    broken: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct LockState {
    /// Per process: phase (0 idle, 1 waiting, 2 critical) and visits so far.
    procs: Vec<(u8, u8)>,
    holder: Option<u8>,
}

impl Model for Lock {
    type State = LockState;
    type Action = (usize, u8);
    fn init_states(&self) -> Vec<LockState> {
        vec![LockState {
            procs: vec![(0, 0); self.n],
            holder: None,
        }]
    }
    fn actions(&self, s: &LockState, actions: &mut Vec<(usize, u8)>) {
        for (i, &(phase, _)) in s.procs.iter().enumerate() {
            actions.push((i, phase));
        }
    }
    fn next_state(&self, s: &LockState, (i, phase): (usize, u8)) -> Option<LockState> {
        let mut next = s.clone();
        let me = u8::try_from(i).ok()?;
        match phase {
            0 => next.procs[i].0 = 1,
            1 if s.holder.is_none() || self.broken => {
                next.procs[i].0 = 2;
                next.holder = Some(me);
            }
            2 => {
                next.procs[i] = (0, s.procs[i].1 + 1);
                if s.holder == Some(me) {
                    next.holder = None;
                }
            }
            _ => return None,
        }
        Some(next)
    }
    fn within_boundary(&self, s: &LockState) -> bool {
        s.procs.iter().all(|p| p.1 <= self.visits)
    }
    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always("mutual exclusion", |_, s: &LockState| {
                s.procs.iter().filter(|p| p.0 == 2).count() <= 1
            }),
            Property::sometimes("every process entered", |_, s: &LockState| {
                s.procs.iter().all(|p| p.1 >= 1)
            }),
        ]
    }
}

/// Processes sorted; the lock holder renamed along.
fn lock_representative(s: &LockState) -> LockState {
    let mut order: Vec<usize> = (0..s.procs.len()).collect();
    order.sort_by_key(|&i| (s.procs[i], s.holder == Some(i as u8)));
    LockState {
        procs: order.iter().map(|&i| s.procs[i]).collect(),
        holder: s
            .holder
            .and_then(|h| order.iter().position(|&i| i == h as usize))
            .map(|p| p as u8),
    }
}

impl StateCodec for Lock {
    fn encode(&self, s: &LockState, out: &mut Vec<u8>) -> Result<(), String> {
        out.push(s.holder.map_or(u8::MAX, |h| h));
        for p in &s.procs {
            out.extend([p.0, p.1]);
        }
        Ok(())
    }
    fn decode(&self, b: &[u8]) -> Result<LockState, String> {
        let (&holder, rest) = b.split_first().ok_or("empty")?;
        if rest.len() != 2 * self.n {
            return Err(format!("{} bytes for {} processes", rest.len(), self.n));
        }
        Ok(LockState {
            holder: (holder != u8::MAX).then_some(holder),
            procs: rest.chunks(2).map(|c| (c[0], c[1])).collect(),
        })
    }
}

/// The layouts every model is checked on.
#[derive(Clone, Copy, Debug)]
enum Run {
    OneWorker,
    TwoWorkers,
    TwoProcesses,
}

const RUNS: [Run; 3] = [Run::OneWorker, Run::TwoWorkers, Run::TwoProcesses];

fn timely<M>(model: M, symmetry: Symmetry<M>, run: Run) -> Outcome<M::Action>
where
    M: StateCodec + Clone + Send + Sync + 'static,
    M::State: std::hash::Hash + Send + 'static,
    M::Action: Clone + Send + 'static,
{
    timely_with(model, symmetry, run, true)
}

fn timely_with<M>(
    model: M,
    symmetry: Symmetry<M>,
    run: Run,
    stop_at_violation: bool,
) -> Outcome<M::Action>
where
    M: StateCodec + Clone + Send + Sync + 'static,
    M::State: std::hash::Hash + Send + 'static,
    M::Action: Clone + Send + 'static,
{
    let opts = |workers, layout| Options {
        workers,
        layout,
        identity: "test".into(),
        stop_at_violation,
        ..Options::default()
    };
    match run {
        Run::OneWorker => check(model, symmetry, &opts(1, Layout::Threads)),
        Run::TwoWorkers => check(model, symmetry, &opts(2, Layout::Threads)),
        Run::TwoProcesses => {
            let addresses = free_addresses(2).expect("loopback ports");
            let cluster = |process| {
                Layout::Cluster(Cluster {
                    addresses: addresses.clone(),
                    process,
                    connect_timeout: Duration::from_secs(30),
                })
            };
            let other = opts(2, cluster(1));
            let second = model.clone();
            let p1 = std::thread::spawn(move || check(second, symmetry, &other));
            let first = check(model, symmetry, &opts(2, cluster(0)));
            let rest = p1.join().expect("process 1's thread");
            assert!(matches!(rest, Ok(None)), "process 1 reports nothing");
            first
        }
    }
    .expect("the run succeeds")
    .expect("process 0 has the outcome")
}

/// stateright's breadth-first search on one thread: its unique-state count when
/// it explores everything, and the length of its first (so shortest)
/// counterexample per violated property when it stops at the first violation.
fn stateright_bfs<M>(model: M) -> (usize, Vec<(&'static str, usize)>)
where
    M: Model + Clone + Send + Sync + 'static,
    M::State: Clone + std::hash::Hash + PartialEq + Send + Sync + std::fmt::Debug + 'static,
    M::Action: Clone + PartialEq + Send + Sync + std::fmt::Debug + 'static,
{
    // A discovery nobody makes: explore everything.
    let never = HasDiscoveries::AllOf(BTreeSet::from(["(no such property)"]));
    let all = model
        .clone()
        .checker()
        .threads(1)
        .finish_when(never)
        .spawn_bfs()
        .join();
    let first = model
        .checker()
        .threads(1)
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    let mut found: Vec<(&'static str, usize)> = first
        .discoveries()
        .into_iter()
        .filter(|(name, _)| {
            all.model()
                .properties()
                .iter()
                .any(|p| p.name == *name && p.expectation == Expectation::Always)
        })
        .map(|(name, path)| (name, path.into_actions().len()))
        .collect();
    found.sort();
    (all.unique_state_count(), found)
}

/// The length of a shortest run to a state that breaks `property`, by a plain
/// breadth-first search: stateright's own can report a longer one, as it records
/// every violating state of a 1500-state block over the first.
fn shortest_violation<M>(model: &M, property: &str) -> Option<usize>
where
    M: Model,
    M::State: Clone + std::hash::Hash + Eq,
{
    let p = model
        .properties()
        .into_iter()
        .find(|p| p.name == property)?;
    let mut seen = std::collections::HashSet::new();
    let mut level: Vec<M::State> = model.init_states();
    let mut depth = 0;
    let mut actions = Vec::new();
    while !level.is_empty() {
        let mut next = Vec::new();
        for s in level {
            if !seen.insert(s.clone()) {
                continue;
            }
            if !(p.condition)(model, &s) {
                return Some(depth);
            }
            model.actions(&s, &mut actions);
            for a in actions.drain(..) {
                if let Some(n) = model.next_state(&s, a).filter(|n| model.within_boundary(n)) {
                    next.push(n);
                }
            }
        }
        level = next;
        depth += 1;
    }
    None
}

fn found<A>(o: &Outcome<A>) -> Vec<(&'static str, usize)> {
    let mut v: Vec<(&'static str, usize)> = o
        .violations
        .iter()
        .map(|v| (v.property, v.actions.len()))
        .chain(o.witnessed.iter().map(|&w| (w, usize::MAX)))
        .collect();
    v.sort();
    v
}

#[test]
fn jugs_same_count_and_a_shortest_counterexample() {
    let _one = one_run_at_a_time();
    let (unique, discoveries) = stateright_bfs(Jugs);
    // stateright finds the puzzle's 6-step solution as its shortest counterexample.
    assert_eq!(discoveries, vec![("never 4 in the big jug", 6)]);
    assert_eq!(shortest_violation(&Jugs, "never 4 in the big jug"), Some(6));
    for run in RUNS {
        let o = timely(Jugs, None, run);
        assert_eq!(
            o.stopped,
            Some(raft_checks::checker::timely::Stopped::Violation)
        );
        assert_eq!(o.violations.len(), 1, "{run:?}");
        let v = &o.violations[0];
        assert_eq!(
            (v.property, v.actions.len()),
            ("never 4 in the big jug", 6),
            "{run:?}"
        );
        // The replayed run really ends with 4 gallons in the big jug.
        let end = v
            .actions
            .iter()
            .try_fold((0u8, 0u8), |s, a| Jugs.next_state(&s, *a));
        assert_eq!(end.map(|s| s.1), Some(4), "{run:?}");
        assert!(
            o.unique <= unique as u64,
            "{run:?}: stops after the violating level"
        );
    }
}

#[test]
fn jugs_exhaustive_without_stopping_reaches_every_state() {
    let _one = one_run_at_a_time();
    let (unique, _) = stateright_bfs(Jugs);
    for run in RUNS {
        let o = timely_with(Jugs, None, run, false);
        assert!(o.exhaustive(), "{run:?}");
        assert_eq!(o.unique, unique as u64, "{run:?}");
        assert_eq!(o.violations.len(), 1);
        assert_eq!(o.witnessed.len(), 1);
    }
}

#[test]
fn lock_counts_match_stateright_with_and_without_symmetry() {
    let _one = one_run_at_a_time();
    let model = Lock {
        n: 3,
        visits: 2,
        broken: false,
    };
    let (unique, discoveries) = stateright_bfs(model.clone());
    assert!(
        discoveries.is_empty(),
        "the correct lock is safe: {discoveries:?}"
    );
    let dfs_symmetric = model
        .clone()
        .checker()
        .threads(1)
        .symmetry_fn(lock_representative)
        .spawn_dfs()
        .join()
        .unique_state_count();
    assert!(dfs_symmetric < unique, "symmetry reduces");
    for run in RUNS {
        let plain = timely(model.clone(), None, run);
        assert!(plain.exhaustive(), "{run:?}");
        assert_eq!(plain.unique, unique as u64, "{run:?} without symmetry");
        assert_eq!(found(&plain), vec![("every process entered", usize::MAX)]);
        let reduced = timely(model.clone(), Some(lock_representative), run);
        assert_eq!(
            reduced.unique, dfs_symmetric as u64,
            "{run:?} with symmetry"
        );
        assert_eq!(found(&reduced), found(&plain));
        eprintln!(
            "lock n=3 visits=2, {run:?}: stateright bfs {unique}, timely {} without symmetry; \
             stateright dfs {dfs_symmetric}, timely {} with symmetry",
            plain.unique, reduced.unique
        );
        let per_process: u64 = reduced.processes.iter().map(|p| p.unique_states).sum();
        assert_eq!(per_process, reduced.unique);
        if let Run::TwoProcesses = run {
            assert_eq!(reduced.processes.len(), 2);
            assert!(reduced
                .processes
                .iter()
                .all(|p| p.unique_states > 0 && p.bytes_sent > 0));
        }
    }
}

#[test]
fn a_broken_lock_gets_the_shortest_counterexample_with_symmetry_too() {
    let _one = one_run_at_a_time();
    let model = Lock {
        n: 3,
        visits: 1,
        broken: true,
    };
    let (_, discoveries) = stateright_bfs(model.clone());
    let shortest = shortest_violation(&model, "mutual exclusion");
    assert_eq!(shortest, Some(4), "two wait, two enter");
    let shortest = 4;
    // stateright's breadth-first search finds it, though not necessarily this short.
    assert!(discoveries
        .iter()
        .any(|d| d.0 == "mutual exclusion" && d.1 >= shortest));
    for run in RUNS {
        for symmetry in [
            None,
            Some(lock_representative as fn(&LockState) -> LockState),
        ] {
            let o = timely(model.clone(), symmetry, run);
            let v = o
                .violations
                .iter()
                .find(|v| v.property == "mutual exclusion")
                .expect("violated");
            assert_eq!(v.actions.len(), shortest, "{run:?}");
            let end = v
                .actions
                .iter()
                .try_fold(model.init_states()[0].clone(), |s, a| {
                    model.next_state(&s, *a)
                });
            assert!(end.is_some_and(|s| s.procs.iter().filter(|p| p.0 == 2).count() == 2));
        }
    }
}

#[test]
fn counterexamples_do_not_depend_on_the_layout() {
    let _one = one_run_at_a_time();
    let model = Lock {
        n: 4,
        visits: 1,
        broken: true,
    };
    let runs: Vec<Vec<(usize, u8)>> = RUNS
        .iter()
        .map(|&run| {
            timely(model.clone(), Some(lock_representative), run).violations[0]
                .actions
                .clone()
        })
        .collect();
    assert!(runs.windows(2).all(|w| w[0] == w[1]), "{runs:?}");
}

fn cluster_opts(addresses: &[String], process: usize, identity: &str) -> Options {
    Options {
        workers: 1,
        layout: Layout::Cluster(Cluster {
            addresses: addresses.to_vec(),
            process,
            connect_timeout: Duration::from_secs(20),
        }),
        identity: identity.into(),
        ..Options::default()
    }
}

#[test]
fn a_process_with_other_bounds_is_refused_by_both() {
    let _one = one_run_at_a_time();
    let addresses = free_addresses(2).unwrap();
    let theirs = cluster_opts(&addresses, 1, "bounds: 4 servers");
    let p1 = std::thread::spawn(move || check(Jugs, None, &theirs).map(|o| o.is_some()));
    let here = check(
        Jugs,
        None,
        &cluster_opts(&addresses, 0, "bounds: 3 servers"),
    );
    let there = p1.join().unwrap();
    for (who, r) in [
        ("process 0", here.map(|o| o.is_some())),
        ("process 1", there),
    ] {
        let e = r.expect_err(who);
        eprintln!("{who}: {e}");
        assert!(
            e.contains("different bounds") && e.contains("4 servers") && e.contains("3 servers"),
            "{who}: {e}"
        );
    }
}

#[test]
fn a_process_that_dies_fails_the_run() {
    let _one = one_run_at_a_time();
    let addresses = free_addresses(2).unwrap();
    let peer = addresses.clone();
    // Process 1 shakes hands, then dies: its connection closes.
    let p1 = std::thread::spawn(move || {
        let c = Cluster {
            addresses: peer,
            process: 1,
            connect_timeout: Duration::from_secs(20),
        };
        let sockets = raft_checks::checker::timely::cluster::connect(&c, 1, "same", &|| Ok(()));
        drop(sockets.expect("the handshake succeeds"));
    });
    let model = Lock {
        n: 4,
        visits: 3,
        broken: false,
    };
    let r = check(model, None, &cluster_opts(&addresses, 0, "same"));
    p1.join().unwrap();
    let e = r.map(|o| o.map(|o| o.unique)).expect_err("the run fails");
    eprintln!("process 0: {e}");
    assert!(e.starts_with("process 1 left the run"), "{e}");
}

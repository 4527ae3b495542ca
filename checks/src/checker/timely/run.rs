//! Runs a check on timely: builds the communication (threads, or processes
//! connected by `cluster`), runs the search and the gathering on every worker,
//! and turns what worker 0 gathered into an [`Outcome`], or a failure into a
//! clear error.

use super::cluster::{self, Cluster};
use super::codec::{StateCodec, Symmetry};
use super::counterexample::{chain, replay};
use super::gather::{self, Gathered};
use super::report::{cpu_seconds, peak_rss, per_process, Outcome, Stopped, Violation};
use super::search::{Limits, Place, Search};
use super::{dataflow, failure};
use ::timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use ::timely::communication::allocator::{AllocatorBuilder, ProcessBuilder};
use ::timely::communication::{Allocator, Hooks};
use ::timely::worker::Worker;
use stateright::Expectation;
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::Hash;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the workers run.
#[derive(Clone, Debug)]
pub enum Layout {
    /// All in this process.
    Threads,
    /// This process is one of several, connected over TCP.
    Cluster(Cluster),
}

/// How to run a timely check.
#[derive(Clone)]
pub struct Options {
    /// Worker threads in this process (the same in every process).
    pub workers: usize,
    pub layout: Layout,
    pub max_depth: Option<usize>,
    pub timeout: Option<Duration>,
    pub stop_at_violation: bool,
    pub progress: Option<Duration>,
    /// What every process must agree on (the bounds and options, in words); the
    /// handshake adds the worker count and the build.
    pub identity: String,
    /// Asked while waiting for the other processes: Err gives up (a launcher's
    /// child died).
    pub alive: Option<Arc<dyn Fn() -> Result<(), String> + Send + Sync>>,
    /// Counters of the model's own (say, how often each handler decision was
    /// taken), read once per process after the search and summed over the
    /// processes into `Outcome::counters`.
    pub counters: Option<Counters>,
}

/// Reads a process's counters.
pub type Counters = Arc<dyn Fn() -> Vec<u64> + Send + Sync>;

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 1,
            layout: Layout::Threads,
            max_depth: None,
            timeout: None,
            stop_at_violation: true,
            progress: None,
            identity: String::new(),
            alive: None,
            counters: None,
        }
    }
}

/// Why a worker stopped without an outcome.
enum WorkerError {
    /// This worker found the problem.
    Failed(String),
    /// Another worker of this process failed first.
    Aborted,
}

/// Checks `model` breadth-first on timely, fingerprinting each state's
/// `symmetry` representative. Returns the outcome at process 0, `None` at the
/// others, or why the run failed (then nothing is proved).
pub fn check<M>(
    model: M,
    symmetry: Symmetry<M>,
    opts: &Options,
) -> Result<Option<Outcome<M::Action>>, String>
where
    M: StateCodec + Send + Sync + 'static,
    M::State: Hash + Send + 'static,
    M::Action: Clone + Send + 'static,
{
    if let Some(p) = model
        .properties()
        .iter()
        .find(|p| p.expectation == Expectation::Eventually)
    {
        return Err(format!(
            "the timely engine judges Always and Sometimes properties; '{}' is an Eventually property",
            p.name
        ));
    }
    if opts.workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    let started = Instant::now();
    // Before the network threads start: a peer that leaves at once makes them
    // panic before any worker runs, and that panic says who left.
    failure::install_hook();
    failure::take();
    let (builders, others) = communication(opts)?;
    let failed = Arc::new(AtomicBool::new(false));
    let model = Arc::new(model);
    let limits = Limits {
        max_depth: opts.max_depth,
        deadline: opts.timeout.map(|t| started + t),
        stop_at_violation: opts.stop_at_violation,
        progress: opts.progress,
    };
    let workers = opts.workers;
    let counters = opts.counters.clone();
    let flag = Arc::clone(&failed);
    let guards = ::timely::communication::initialize_from(builders, others, move |alloc| {
        let model = Arc::clone(&model);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let run = Run {
                limits: limits.clone(),
                workers_per_process: workers,
                counters: counters.clone(),
                started,
            };
            worker_main(alloc, model, symmetry, run, &flag)
        }));
        let r = r.unwrap_or(Err(WorkerError::Aborted));
        if r.is_err() {
            flag.store(true, Ordering::SeqCst);
        }
        r
    })?;
    // Joining also joins timely's network threads, which panic if a connection
    // broke; that is a failure already seen by the workers.
    let results = failure::quietly(|| guards.join());
    let panics = failure::take();
    let mut outcome = None;
    let mut own_error = None;
    for r in results.into_iter().flatten() {
        match r {
            Ok(Ok(Some(o))) => outcome = Some(o),
            Ok(Ok(None)) => {}
            Ok(Err(WorkerError::Failed(e))) => {
                own_error.get_or_insert(e);
            }
            Ok(Err(WorkerError::Aborted)) | Err(_) => {}
        }
    }
    if let Some(e) = own_error {
        return Err(e);
    }
    if failed.load(Ordering::SeqCst) || !panics.is_empty() {
        return Err(failure::explain(&panics));
    }
    let is_first = match &opts.layout {
        Layout::Threads => true,
        Layout::Cluster(c) => c.process == 0,
    };
    match outcome {
        Some(o) => Ok(Some(o)),
        None if is_first => Err(failure::explain(&panics)),
        None => Ok(None),
    }
}

type Communication = (Vec<AllocatorBuilder>, Box<dyn Any + Send>);

/// Threads in one process, or this process's part of a cluster.
fn communication(opts: &Options) -> Result<Communication, String> {
    match &opts.layout {
        Layout::Threads => ::timely::CommunicationConfig::Process(opts.workers).try_build(),
        Layout::Cluster(c) => {
            let always = || Ok(());
            let alive: &(dyn Fn() -> Result<(), String> + Sync) = match &opts.alive {
                Some(f) => f.as_ref(),
                None => &always,
            };
            let sockets = cluster::connect(c, opts.workers, &opts.identity, alive)?;
            let hooks = Hooks::default();
            let local = ProcessBuilder::new_typed_vector(opts.workers, hooks.refill.clone(), None);
            let (builders, guard) =
                initialize_networking_from_sockets(local, sockets, c.process, opts.workers, hooks)
                    .map_err(|e| format!("cannot start timely's networking: {e}"))?;
            Ok((
                builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
                Box::new(guard),
            ))
        }
    }
}

/// Steps the worker until its dataflows are done, or another worker of this
/// process has failed.
fn drive(worker: &mut Worker, failed: &AtomicBool) -> Result<(), WorkerError> {
    while worker.has_dataflows() {
        if failed.load(Ordering::SeqCst) {
            return Err(WorkerError::Aborted);
        }
        worker.step_or_park(Some(Duration::from_millis(100)));
    }
    Ok(())
}

/// What every worker of a run is told.
struct Run {
    limits: Limits,
    workers_per_process: usize,
    counters: Option<Counters>,
    started: Instant,
}

fn worker_main<M>(
    alloc: Allocator,
    model: Arc<M>,
    symmetry: Symmetry<M>,
    run: Run,
    failed: &AtomicBool,
) -> Result<Option<Outcome<M::Action>>, WorkerError>
where
    M: StateCodec + 'static,
    M::State: Hash,
    M::Action: Clone,
{
    let Run {
        limits,
        workers_per_process,
        counters,
        started,
    } = run;
    let mut worker = Worker::new(::timely::WorkerConfig::default(), alloc, Some(started));
    let place = Place {
        me: worker.index(),
        peers: worker.peers(),
        workers_per_process,
    };
    let stop_at_violation = limits.stop_at_violation;
    let search = Rc::new(RefCell::new(Search::new(
        Arc::clone(&model),
        symmetry,
        place,
        limits,
    )));
    let initial = if place.me == 0 {
        search.borrow_mut().initial().map_err(WorkerError::Failed)?
    } else {
        Vec::new()
    };
    dataflow::build(&mut worker, Rc::clone(&search), initial);
    drive(&mut worker, failed)?;
    let mut mine = search.borrow().stats();
    if place.me.is_multiple_of(workers_per_process) {
        mine.peak_rss = peak_rss();
        mine.cpu_s = cpu_seconds();
        mine.counters = counters.map(|read| read()).unwrap_or_default();
    }
    let visited = std::mem::take(&mut search.borrow_mut().visited);
    drop(search);
    let gathered = gather::build(&mut worker, Rc::new(RefCell::new(visited)), mine);
    drive(&mut worker, failed)?;
    if place.me != 0 {
        return Ok(None);
    }
    let g = gathered.borrow();
    let outcome = outcome(
        &*model,
        symmetry,
        &g,
        workers_per_process,
        stop_at_violation,
        started,
    );
    outcome.map(Some).map_err(WorkerError::Failed)
}

/// The whole check's outcome from what worker 0 gathered.
fn outcome<M>(
    model: &M,
    symmetry: Symmetry<M>,
    g: &Gathered,
    workers_per_process: usize,
    stop_at_violation: bool,
    started: Instant,
) -> Result<Outcome<M::Action>, String>
where
    M: StateCodec,
    M::State: Hash,
    M::Action: Clone,
{
    let stats = &g.stats;
    if let Some(e) = stats.iter().find_map(|s| s.error.clone()) {
        return Err(e);
    }
    if let Some(fp) = g.unknown.first() {
        return Err(format!(
            "the owner of state {fp:#018x} has no parent link for it"
        ));
    }
    let properties = model.properties();
    // Per property, the shallowest violating state, least fingerprint first.
    let mut worst: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    for &(p, level, fp) in stats.iter().flat_map(|s| &s.violations) {
        let best = worst.entry(p).or_insert((level, fp));
        *best = (*best).min((level, fp));
    }
    let mut violations = Vec::new();
    for (p, (_, fp)) in &worst {
        let name = properties
            .get(*p as usize)
            .map(|p| p.name)
            .ok_or_else(|| format!("property {p} is not one of the model's"))?;
        let (init, indices) = chain(&g.links, *fp)?;
        let actions =
            replay(model, symmetry, init, &indices, *fp).map_err(|e| format!("{name}: {e}"))?;
        violations.push(Violation {
            property: name,
            actions,
        });
    }
    let witnessed = stats
        .iter()
        .flat_map(|s| &s.witnessed)
        .filter_map(|&p| properties.get(p as usize).map(|p| p.name))
        .collect();
    let stopped = if !violations.is_empty() && stop_at_violation {
        Some(Stopped::Violation)
    } else if stats.iter().any(|s| s.timed_out) {
        Some(Stopped::Timeout)
    } else if stats.iter().any(|s| s.depth_cut) {
        Some(Stopped::MaxDepth)
    } else {
        None
    };
    let mut counters: Vec<u64> = Vec::new();
    for c in stats.iter().map(|s| &s.counters) {
        counters.resize(counters.len().max(c.len()), 0);
        for (sum, n) in counters.iter_mut().zip(c) {
            *sum = sum.saturating_add(*n);
        }
    }
    Ok(Outcome {
        counters,
        unique: stats.iter().map(|s| s.unique).sum(),
        generated: stats.iter().map(|s| s.generated).sum(),
        max_depth: stats.iter().map(|s| s.max_depth).max().unwrap_or(0) as usize,
        elapsed: started.elapsed(),
        stopped,
        violations,
        witnessed,
        workers_per_process,
        processes: per_process(stats, workers_per_process),
    })
}

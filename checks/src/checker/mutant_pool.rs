//! Runs the mutant catalogue's checks side by side, one thread each. Most of them
//! are breadth-first searches that keep to one thread (so that every run finds the
//! same counterexample first), and two of those on two cores take half the time of
//! one after the other. Mutants at the same bounds share one check of the correct
//! model.

use super::catalogue::Case;
use super::mutants::{baseline, correct, row, search, Row, Timed};
use crate::bounds::Bounds;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// One check: the correct model at some bounds, or a mutant's search.
#[derive(Clone, Copy)]
enum Job {
    /// Index into the distinct correct-model bounds.
    Baseline(usize),
    /// Index into the cases.
    Search(usize),
}

/// What the checks have found so far.
struct Results {
    baselines: Vec<Option<Timed>>,
    searches: Vec<Option<Timed>>,
    rows: Vec<Option<Row>>,
}

/// Every case's row, in the order of `cases`, with at most `workers` checks
/// running at once. `done` hears of each row as soon as both its checks are over;
/// with `progress`, a line on stderr that often says what is still running.
pub fn run_all(
    cases: &[Case],
    workers: usize,
    progress: Option<Duration>,
    done: impl Fn(&Row) + Sync,
) -> Vec<Row> {
    let (bounds, base_of) = distinct_baselines(cases);
    let jobs = schedule(cases, &base_of, bounds.len());
    let workers = workers.clamp(1, jobs.len().max(1));
    let running: Mutex<Vec<Option<Job>>> = Mutex::new(vec![None; workers]);
    let idle = AtomicUsize::new(0);
    let results = Mutex::new(Results {
        baselines: bounds.iter().map(|_| None).collect(),
        searches: cases.iter().map(|_| None).collect(),
        rows: cases.iter().map(|_| None).collect(),
    });
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        if let Some(every) = progress {
            let (results, base_of, idle, running) = (&results, &base_of, &idle, &running);
            let say = move |running: &[Option<Job>]| {
                let made = results
                    .lock()
                    .map_or(0, |r| r.rows.iter().flatten().count());
                let now: Vec<String> = running
                    .iter()
                    .flatten()
                    .map(|&j| label(j, cases, base_of))
                    .collect();
                format!(
                    "{made} of {} mutants done; running: {}",
                    cases.len(),
                    now.join(", ")
                )
            };
            scope.spawn(move || report(every, workers, idle, running, say));
        }
        for worker in 0..workers {
            let (running, idle) = (&running, &idle);
            let (jobs, next, results) = (&jobs, &next, &results);
            let (bounds, base_of, done) = (&bounds, &base_of, &done);
            scope.spawn(move || {
                // Counted idle however the worker ends, a panic too, so that
                // the progress line stops and the panic reaches the caller.
                let _idle = IdleOnDrop(idle);
                while let Some(&job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    set(running, worker, Some(job));
                    let found = match job {
                        Job::Baseline(b) => bounds.get(b).map(|b| baseline(b, 1)),
                        Job::Search(i) => cases.get(i).map(|c| search(c, 1)),
                    };
                    let Ok(mut r) = results.lock() else { return };
                    let slot = match job {
                        Job::Baseline(b) => r.baselines.get_mut(b),
                        Job::Search(i) => r.searches.get_mut(i),
                    };
                    if let Some(slot) = slot {
                        *slot = found;
                    }
                    finish_rows(&mut r, cases, base_of, done);
                }
                set(running, worker, None);
            });
        }
    });
    results
        .into_inner()
        .map(|r| r.rows.into_iter().flatten().collect())
        .unwrap_or_default()
}

/// Counts a worker idle when it is dropped.
struct IdleOnDrop<'a>(&'a AtomicUsize);

impl Drop for IdleOnDrop<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Marks what `worker` is running.
fn set(running: &Mutex<Vec<Option<Job>>>, worker: usize, job: Option<Job>) {
    if let Some(slot) = running.lock().ok().as_mut().and_then(|r| r.get_mut(worker)) {
        *slot = job;
    }
}

/// Every `every`, the line `say` makes of the running checks, until every one of
/// the `workers` is idle.
fn report(
    every: Duration,
    workers: usize,
    idle: &AtomicUsize,
    running: &Mutex<Vec<Option<Job>>>,
    say: impl Fn(&[Option<Job>]) -> String,
) {
    let started = Instant::now();
    let mut last = started;
    while idle.load(Ordering::Relaxed) < workers {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= every {
            last = Instant::now();
            let now = running.lock().map(|r| r.clone()).unwrap_or_default();
            eprintln!(
                "  ... {:>5.0} s: {}",
                started.elapsed().as_secs_f64(),
                say(&now)
            );
        }
    }
}

/// What a job is, for a person.
fn label(job: Job, cases: &[Case], base_of: &[usize]) -> String {
    let name = |i: usize| cases.get(i).map_or("?", |c| c.mutant.name());
    match job {
        Job::Search(i) => format!("{} (search)", name(i)),
        Job::Baseline(b) => {
            let first = base_of.iter().position(|&x| x == b).unwrap_or(usize::MAX);
            format!("{} (correct model)", name(first))
        }
    }
}

/// The distinct bounds the correct model is checked at, and for each case the
/// index of its own.
fn distinct_baselines(cases: &[Case]) -> (Vec<Bounds>, Vec<usize>) {
    let mut bounds: Vec<Bounds> = Vec::new();
    let base_of = cases
        .iter()
        .map(|c| {
            let b = correct(&c.bounds);
            bounds.iter().position(|x| *x == b).unwrap_or_else(|| {
                bounds.push(b);
                bounds.len() - 1
            })
        })
        .collect();
    (bounds, base_of)
}

/// The checks in the order they start. The depth-first cases go first: they are
/// depth-first because their stories are too deep for breadth-first search, and
/// so they are the longest checks; started last, one of them would run alone.
fn schedule(cases: &[Case], base_of: &[usize], baselines: usize) -> Vec<Job> {
    let mut order: Vec<usize> = (0..cases.len()).collect();
    order.sort_by_key(|&i| cases.get(i).is_some_and(|c| c.breadth_first));
    let mut queued = vec![false; baselines];
    let mut jobs = Vec::new();
    for i in order {
        let Some(&b) = base_of.get(i) else { continue };
        if let Some(q) = queued.get_mut(b) {
            if !*q {
                *q = true;
                jobs.push(Job::Baseline(b));
            }
        }
        jobs.push(Job::Search(i));
    }
    jobs
}

/// Makes the row of every case whose two checks are over and that has none yet.
fn finish_rows(r: &mut Results, cases: &[Case], base_of: &[usize], done: &impl Fn(&Row)) {
    for (i, case) in cases.iter().enumerate() {
        let made = r.rows.get(i).is_some_and(|row| row.is_some());
        let base = base_of
            .get(i)
            .and_then(|&b| r.baselines.get(b))
            .and_then(|b| b.as_ref());
        let found = r.searches.get(i).and_then(|s| s.as_ref());
        if let (false, Some(base), Some(found)) = (made, base, found) {
            let new = row(case, base, found);
            done(&new);
            if let Some(slot) = r.rows.get_mut(i) {
                *slot = Some(new);
            }
        }
    }
}

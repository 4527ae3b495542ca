//! One worker's part of the breadth-first search, level by level, apart from
//! the dataflow that carries its messages (`dataflow.rs`): it de-duplicates the
//! states it owns, judges the properties on the new ones and expands them.

use super::codec::{fingerprint, owner, StateCodec, Symmetry};
use super::exchange::{stop_all, Candidate, Msg};
use super::report::WorkerStats;
use super::visited::{Arrivals, FpSet, Visited};
use stateright::{Expectation, Model, Property};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When to stop short of exhausting the state space.
#[derive(Clone, Debug)]
pub struct Limits {
    /// States at this depth (the initial states are at depth 1) are counted but
    /// neither judged nor expanded, as in stateright's `target_max_depth`.
    pub max_depth: Option<usize>,
    pub deadline: Option<Instant>,
    /// Expand nothing after the level in which an Always property fails.
    pub stop_at_violation: bool,
    /// Worker 0 prints progress on stderr this often.
    pub progress: Option<Duration>,
}

/// Where this worker sits among the others.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub me: usize,
    pub peers: usize,
    pub workers_per_process: usize,
}

impl Place {
    fn same_process(&self, worker: usize) -> bool {
        worker / self.workers_per_process == self.me / self.workers_per_process
    }
}

/// The level being processed.
struct Current {
    time: u64,
    /// At the depth limit: count the states, do not judge or expand them.
    cut: bool,
    /// Its new states, in fingerprint order, and how far the work has got.
    fresh: Vec<Candidate>,
    next: usize,
    violated: bool,
    out_of_time: bool,
    generated: u64,
    /// The successors sent so far this level.
    sent: FpSet,
}

/// What has arrived for a level not yet processed.
#[derive(Default)]
struct Level {
    arrivals: Arrivals,
    stop: bool,
    new: u64,
    generated: u64,
}

pub struct Search<M: Model> {
    model: Arc<M>,
    properties: Vec<Property<M>>,
    symmetry: Symmetry<M>,
    place: Place,
    limits: Limits,
    pub visited: Visited,
    levels: BTreeMap<u64, Level>,
    current: Option<Current>,
    stopped: bool,
    stats: WorkerStats,
    violations: BTreeMap<u32, (u32, u64)>,
    witnessed: BTreeSet<u32>,
    progress: Progress,
}

/// Worker 0's running totals, from the other workers' `Msg::Progress`.
struct Progress {
    started: Instant,
    last: Instant,
    unique: u64,
    generated: u64,
}

impl<M> Search<M>
where
    M: StateCodec,
    M::State: std::hash::Hash,
{
    pub fn new(model: Arc<M>, symmetry: Symmetry<M>, place: Place, limits: Limits) -> Self {
        let properties = model.properties();
        Search {
            model,
            properties,
            symmetry,
            place,
            limits,
            visited: Visited::default(),
            levels: BTreeMap::new(),
            current: None,
            stopped: false,
            stats: WorkerStats {
                worker: place.me as u32,
                ..WorkerStats::default()
            },
            violations: BTreeMap::new(),
            witnessed: BTreeSet::new(),
            progress: Progress {
                started: Instant::now(),
                last: Instant::now(),
                unique: 0,
                generated: 0,
            },
        }
    }

    fn fingerprint(&self, state: &M::State) -> u64 {
        match self.symmetry {
            Some(representative) => fingerprint(&representative(state)),
            None => fingerprint(state),
        }
    }

    /// The initial states within the boundary, for their owners (worker 0 sends
    /// them, as level 0). They count as generated, as in stateright.
    pub fn initial(&mut self) -> Result<Vec<Msg>, String> {
        let mut out = Vec::new();
        let init = self.model.init_states();
        for (i, s) in init
            .iter()
            .filter(|s| self.model.within_boundary(s))
            .enumerate()
        {
            let mut bytes = Vec::new();
            self.model.encode(s, &mut bytes)?;
            out.push(Msg::State(Candidate {
                fp: self.fingerprint(s),
                parent: 0,
                action: u32::try_from(i).map_err(|_| "too many initial states".to_string())?,
                bytes,
            }));
        }
        self.stats.generated += out.len() as u64;
        Ok(out)
    }

    /// Takes in a message for level `time`.
    pub fn receive(&mut self, time: u64, msg: Msg) {
        match msg {
            Msg::State(c) => {
                // A state visited at an earlier level is no news at this one.
                if !self.visited.contains(c.fp) {
                    self.levels.entry(time).or_default().arrivals.add(c);
                }
            }
            Msg::Stop { .. } => self.levels.entry(time).or_default().stop = true,
            Msg::Progress { new, generated } => {
                let level = self.levels.entry(time).or_default();
                level.new += new;
                level.generated += generated;
            }
        }
    }

    /// Starts processing level `time`, once nothing more can arrive for it:
    /// admits its new states (recording them as visited). Then [`Search::work`]
    /// judges and expands them a chunk at a time.
    pub fn begin(&mut self, time: u64) {
        let level = self.levels.remove(&time).unwrap_or_default();
        if self.place.me == 0 {
            self.say_progress(time, &level);
        }
        self.stopped |= level.stop;
        let fresh = if self.stopped {
            Vec::new()
        } else {
            level.arrivals.admit(&mut self.visited)
        };
        let depth = time as usize + 1;
        if !fresh.is_empty() {
            self.stats.unique += fresh.len() as u64;
            self.stats.max_depth = self.stats.max_depth.max(depth as u32);
        }
        self.current = Some(Current {
            time,
            cut: self.limits.max_depth.is_some_and(|d| depth >= d),
            fresh,
            next: 0,
            violated: false,
            out_of_time: false,
            generated: 0,
            sent: FpSet::default(),
        });
    }

    /// Judges and expands the next `chunk` new states of the level begun, sending
    /// their successors (for the next level) through `emit`; true once the level
    /// is done. Working in chunks lets the owners take in (and drop the
    /// duplicates among) one chunk's successors before the next is made, which
    /// bounds the memory a level takes. An error (a state that does not decode)
    /// stops every worker.
    pub fn work(&mut self, chunk: usize, emit: &mut dyn FnMut(Msg)) -> bool {
        let Some(mut cur) = self.current.take() else {
            return true;
        };
        if let Err(e) = self.work_on(&mut cur, chunk, emit) {
            self.stats.error.get_or_insert(e);
            self.stopped = true;
            stop_all(self.place.peers).for_each(&mut *emit);
            return true;
        }
        if cur.next < cur.fresh.len() {
            self.current = Some(cur);
            return false;
        }
        if cur.fresh.is_empty() {
            return true;
        }
        let stop = (cur.violated && self.limits.stop_at_violation) || cur.out_of_time;
        if stop {
            stop_all(self.place.peers).for_each(&mut *emit);
        }
        self.stats.timed_out |= cur.out_of_time;
        self.stats.depth_cut |= cur.cut;
        self.stats.generated += cur.generated;
        emit(Msg::Progress {
            new: cur.fresh.len() as u64,
            generated: cur.generated,
        });
        true
    }

    fn work_on(
        &mut self,
        cur: &mut Current,
        chunk: usize,
        emit: &mut dyn FnMut(Msg),
    ) -> Result<(), String> {
        let end = (cur.next + chunk.max(1)).min(cur.fresh.len());
        let mut states = Vec::with_capacity(end - cur.next);
        for c in &cur.fresh[cur.next..end] {
            let s = self.model.decode(&c.bytes).map_err(|e| {
                format!(
                    "worker {} received a state (level {}) that does not decode: {e}",
                    self.place.me, cur.time
                )
            })?;
            states.push((c.fp, s));
        }
        // The encodings are no longer needed: free them as the level goes.
        for c in &mut cur.fresh[cur.next..end] {
            c.bytes = Vec::new();
        }
        cur.next = end;
        if cur.cut {
            return Ok(()); // at the depth limit: counted, neither judged nor expanded
        }
        cur.violated |= self.judge(cur.time, &states);
        cur.out_of_time |= self.past_deadline();
        if (cur.violated && self.limits.stop_at_violation) || cur.out_of_time {
            return Ok(()); // the next level will not be searched
        }
        cur.generated += self.expand(&states, &mut cur.sent, emit)?;
        Ok(())
    }

    fn past_deadline(&self) -> bool {
        self.limits.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Judges the properties on a level's new states; true if an Always property
    /// fails. Of the states that break a property, the one with the least
    /// fingerprint at the shallowest level is kept, so that the counterexample does
    /// not depend on how the states were spread over workers.
    fn judge(&mut self, time: u64, states: &[(u64, M::State)]) -> bool {
        let level = time as u32;
        let mut violated = false;
        for (fp, s) in states {
            for (i, p) in self.properties.iter().enumerate() {
                let i = i as u32;
                match p.expectation {
                    Expectation::Always => {
                        if !(p.condition)(&self.model, s) {
                            violated = true;
                            let found = (level, *fp);
                            let best = self.violations.entry(i).or_insert(found);
                            *best = (*best).min(found);
                        }
                    }
                    Expectation::Sometimes => {
                        if !self.witnessed.contains(&i) && (p.condition)(&self.model, s) {
                            self.witnessed.insert(i);
                        }
                    }
                    // Refused before the search starts (`run::check`).
                    Expectation::Eventually => {}
                }
            }
        }
        violated
    }

    /// Sends the successors of some of a level's new states to their owners, each
    /// once a level (`sent`): states are taken in fingerprint order and actions
    /// in their order, so the first way this worker reaches a state is its least
    /// (parent, action). Returns how many successors were within the boundary.
    fn expand(
        &mut self,
        states: &[(u64, M::State)],
        sent: &mut FpSet,
        emit: &mut dyn FnMut(Msg),
    ) -> Result<u64, String> {
        let mut actions = Vec::new();
        let mut generated = 0;
        for (parent, s) in states {
            self.model.actions(s, &mut actions);
            for (i, a) in actions.drain(..).enumerate() {
                let Some(next) = self.model.next_state(s, a) else {
                    continue;
                };
                if !self.model.within_boundary(&next) {
                    continue;
                }
                generated += 1;
                let fp = self.fingerprint(&next);
                if !sent.insert(fp) {
                    continue;
                }
                let to = owner(fp, self.place.peers);
                if to == self.place.me && self.visited.contains(fp) {
                    continue;
                }
                let mut bytes = Vec::new();
                self.model.encode(&next, &mut bytes)?;
                if self.place.same_process(to) {
                    self.stats.sent_local += 1;
                } else {
                    self.stats.sent_remote += 1;
                    self.stats.sent_remote_bytes += framed_size(bytes.len());
                }
                let action = u32::try_from(i).map_err(|_| "a state has over 2^32 actions")?;
                emit(Msg::State(Candidate {
                    fp,
                    parent: *parent,
                    action,
                    bytes,
                }));
            }
        }
        Ok(generated)
    }

    /// Worker 0, before processing `time`: the totals up to the level before it.
    fn say_progress(&mut self, time: u64, level: &Level) {
        let p = &mut self.progress;
        p.unique += level.new;
        p.generated += level.generated;
        let Some(every) = self.limits.progress else {
            return;
        };
        if p.last.elapsed() < every || level.new == 0 {
            return;
        }
        p.last = Instant::now();
        let secs = p.started.elapsed().as_secs_f64();
        eprintln!(
            "  ... {:>6.0} s  level {:>3}  {:>12} unique states  {:>12} explored  {:>9.0} unique/s",
            secs,
            time,
            p.unique,
            p.generated,
            p.unique as f64 / secs.max(1e-9)
        );
        let _ = std::io::stderr().flush();
    }

    /// What this worker found, to be gathered at worker 0.
    pub fn stats(&self) -> WorkerStats {
        let mut s = self.stats.clone();
        s.violations = self
            .violations
            .iter()
            .map(|(&p, &(level, fp))| (p, level, fp))
            .collect();
        s.witnessed = self.witnessed.iter().copied().collect();
        s.visited_bytes = self.visited.bytes() as u64;
        s
    }
}

/// Bytes a shipped state takes on the wire as bincode frames a `Msg::State`: the
/// variant tag, fingerprint, parent, action, the encoding's length and itself.
fn framed_size(encoding: usize) -> u64 {
    (4 + 8 + 8 + 4 + 8 + encoding) as u64
}

//! One thread's depth-first search: its own stack of states, the path to the
//! state it is at, and the properties judged in every state it pops.
//!
//! The path is kept once, not per state: the stack holds, for each state on
//! the path, its children still to search, so a child at depth `d` was reached
//! from the path's first `d - 1` states. stateright's depth-first search copies
//! the whole path into every state it keeps, which for paths of hundreds of
//! steps was a tenth of a check's time.

use super::broker::Job;
use super::visited::Visited;
use super::{Seen, Shared, Successor};
use stateright::{Expectation, Model};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A state to search: its depth (an initial state's is 1) and the index of the
/// action that reached it among its parent's.
struct Entry<S> {
    state: S,
    depth: usize,
    action: u32,
}

/// States a thread searches between looks at the rest of the search (called
/// off, out of time, another thread out of work).
const BLOCK: usize = 256;

/// Searches jobs until the search is over.
pub fn work<M: Model>(sh: &Shared<M>)
where
    M::State: Clone,
{
    let mut actions = Vec::new();
    let mut counted = 0usize;
    let mut recent = Recent::new();
    while let Some(job) = sh.broker.pop() {
        let base = job.path.len();
        let mut path = job.path;
        let mut stack = vec![Entry {
            state: job.state,
            depth: base,
            action: 0,
        }];
        let mut deepest = sh.max_depth.load(Ordering::Relaxed);
        let mut block = 0usize;
        while let Some(e) = stack.pop() {
            if e.depth > base {
                path.truncate(e.depth - 1);
                path.push(e.action);
            }
            if e.depth > deepest {
                deepest = sh
                    .max_depth
                    .fetch_max(e.depth, Ordering::Relaxed)
                    .max(e.depth);
            }
            block += 1;
            if block >= BLOCK {
                block = 0;
                sh.states
                    .fetch_add(std::mem::take(&mut counted), Ordering::Relaxed);
                if sh.broker.is_over() {
                    break;
                }
                if sh.deadline.is_some_and(|d| Instant::now() >= d) {
                    sh.broker.call_off();
                    break;
                }
                if sh.broker.hungry() && stack.len() > 1 {
                    share(sh, &mut stack, &path);
                }
            }
            if sh.target_max_depth.is_some_and(|t| e.depth >= t) {
                continue;
            }
            if !judge(sh, &e.state, &path) {
                sh.broker.call_off();
                break;
            }
            let mut seen = Recorder {
                recent: &mut recent,
                visited: &sh.visited,
            };
            let depth = e.depth + 1;
            sh.expand.successors(
                &sh.model,
                e.state,
                &mut actions,
                &mut seen,
                &mut |index, successor| {
                    let next = match successor {
                        Successor::Outside => return,
                        Successor::Seen => None,
                        Successor::New(next) => Some(next),
                    };
                    counted += 1;
                    if let Some(next) = next {
                        stack.push(Entry {
                            state: next,
                            depth,
                            action: u32::try_from(index).unwrap_or(u32::MAX),
                        });
                    }
                },
            );
        }
    }
    sh.states.fetch_add(counted, Ordering::Relaxed);
}

/// A thread's record of fingerprints: its recent ones, then the shared set.
struct Recorder<'a> {
    recent: &'a mut Recent,
    visited: &'a Visited,
}

impl Seen for Recorder<'_> {
    fn insert(&mut self, fp: u64) -> bool {
        self.recent.insert(fp, |fp| self.visited.insert(fp))
    }

    fn prefetch(&mut self, fp: u64) {
        if !self.recent.contains(fp) {
            self.visited.prefetch(fp);
        }
    }
}

/// The fingerprints this thread met lately, direct-mapped: a search meets a
/// state again mostly soon after it first met it (two orders of the same two
/// steps), and asking the shared set means taking a lock and, most often,
/// missing the cache. A fingerprint is kept here only once the shared set has
/// it, so one found here is surely not new.
struct Recent {
    slots: Vec<u64>,
}

const RECENT_SLOTS: usize = 1 << 15;

impl Recent {
    fn new() -> Self {
        Recent {
            slots: vec![0; RECENT_SLOTS],
        }
    }

    /// Whether `fp` is here (then the shared set surely has it).
    fn contains(&self, fp: u64) -> bool {
        fp != 0 && self.slots.get(fp as usize & (RECENT_SLOTS - 1)) == Some(&fp)
    }

    /// Whether `fp` is new, asking `shared` (which adds it) unless it is here.
    fn insert(&mut self, fp: u64, shared: impl FnOnce(u64) -> bool) -> bool {
        // The low bits: the shared set's shards go by the high ones.
        let Some(slot) = self.slots.get_mut(fp as usize & (RECENT_SLOTS - 1)) else {
            return shared(fp);
        };
        // 0 marks an empty slot, so a fingerprint of 0 is never kept.
        if fp != 0 && *slot == fp {
            return false;
        }
        *slot = fp;
        shared(fp)
    }
}

/// Judges `state`'s properties, recording what it discovers at `path`; false
/// if an Always property fails (the search stops at the first).
fn judge<M: Model>(sh: &Shared<M>, state: &M::State, path: &[u32]) -> bool {
    let mut holds = true;
    for (i, p) in sh.properties.iter().enumerate() {
        let Some(found) = sh.discovered.get(i) else {
            continue;
        };
        match p.expectation {
            Expectation::Always if !(p.condition)(&sh.model, state) => {
                sh.discover(i, p.name, path);
                holds = false;
            }
            Expectation::Sometimes
                if !found.load(Ordering::Relaxed) && (p.condition)(&sh.model, state) =>
            {
                sh.discover(i, p.name, path);
            }
            _ => {}
        }
    }
    holds
}

/// Hands the shallowest half of `stack` to the threads waiting for work.
fn share<S>(sh: &Shared<impl Model<State = S>>, stack: &mut Vec<Entry<S>>, path: &[u32]) {
    let keep = stack.split_off(stack.len() / 2);
    let given = std::mem::replace(stack, keep);
    sh.broker.share(given.into_iter().map(|e| {
        // The entry's parent is on the path, at depth `e.depth - 1`.
        let mut p = path.get(..e.depth - 1).unwrap_or(path).to_vec();
        p.push(e.action);
        Job {
            path: p,
            state: e.state,
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::Recent;
    use std::collections::HashSet;

    /// The recent fingerprints answer as the shared set would, and answer
    /// only for fingerprints the shared set already has.
    #[test]
    fn recent_fingerprints_answer_as_the_shared_set() {
        let mut recent = Recent::new();
        let mut shared = HashSet::new();
        let mut asked = 0usize;
        // Repeats near and far, slots shared by different fingerprints, and 0.
        let fps = (0..50_000u64).map(|i| match i % 4 {
            0 => 0,
            1 => i / 8,
            2 => (i % 97) << 15,
            _ => i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        });
        for fp in fps {
            let expected = !shared.contains(&fp);
            let new = recent.insert(fp, |fp| {
                asked += 1;
                shared.insert(fp)
            });
            assert_eq!(new, expected, "fingerprint {fp:#x}");
            assert!(shared.contains(&fp));
        }
        // Some were answered without asking, and 0 was always asked.
        assert!(asked < 50_000);
        assert!(asked >= 12_500);
    }
}

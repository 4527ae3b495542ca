//! Work sharing between a search's threads, and the search's end.
//!
//! A thread searches its own stack; when another thread has nothing to do, a
//! busy one hands over the shallowest half of its stack (the largest subtrees)
//! as jobs. The search is over when every thread is idle with no job left, or
//! when a thread calls it off (a violation, the timeout).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// A state to search from, with the action indices that reach it from an
/// initial state (the first is the initial state's index).
pub struct Job<S> {
    pub path: Vec<u32>,
    pub state: S,
}

pub struct Broker<S> {
    threads: usize,
    queue: Mutex<Queue<S>>,
    wake: Condvar,
    /// Threads waiting for a job: a busy thread shares work only then.
    idle: AtomicUsize,
    /// Set when the search is over (finished or called off).
    over: AtomicBool,
    /// Set only when it was called off before the end.
    called_off: AtomicBool,
}

struct Queue<S> {
    jobs: Vec<Job<S>>,
    idle: usize,
}

impl<S> Broker<S> {
    pub fn new(threads: usize, jobs: Vec<Job<S>>) -> Self {
        Broker {
            threads: threads.max(1),
            queue: Mutex::new(Queue { jobs, idle: 0 }),
            wake: Condvar::new(),
            idle: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            called_off: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<S>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next job, waiting for one if need be; `None` once the search is over.
    pub fn pop(&self) -> Option<Job<S>> {
        let mut q = self.lock();
        loop {
            if self.is_over() {
                return None;
            }
            if let Some(job) = q.jobs.pop() {
                return Some(job);
            }
            q.idle += 1;
            self.idle.store(q.idle, Ordering::Relaxed);
            if q.idle >= self.threads {
                // Nobody is searching and nothing is queued: every state is done.
                self.over.store(true, Ordering::Relaxed);
                self.wake.notify_all();
                return None;
            }
            // A timed wait, so that a thread sees the search called off even if
            // it missed the notification.
            q = match self.wake.wait_timeout(q, Duration::from_millis(50)) {
                Ok((q, _)) => q,
                Err(p) => p.into_inner().0,
            };
            q.idle -= 1;
            self.idle.store(q.idle, Ordering::Relaxed);
        }
    }

    /// Whether some thread waits for work.
    pub fn hungry(&self) -> bool {
        self.idle.load(Ordering::Relaxed) > 0
    }

    /// Hands `jobs` to the waiting threads.
    pub fn share(&self, jobs: impl IntoIterator<Item = Job<S>>) {
        let mut q = self.lock();
        q.jobs.extend(jobs);
        self.wake.notify_all();
    }

    /// Ends the search before every state is done.
    pub fn call_off(&self) {
        self.called_off.store(true, Ordering::Relaxed);
        self.over.store(true, Ordering::Relaxed);
        let _q = self.lock();
        self.wake.notify_all();
    }

    pub fn is_over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// Whether the search ended before every state was done.
    pub fn was_called_off(&self) -> bool {
        self.called_off.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(n: u32) -> Job<u32> {
        Job {
            path: vec![n],
            state: n,
        }
    }

    /// Pops until the search is over, as a worker does: the jobs it got.
    fn drain(b: &Broker<u32>) -> Vec<u32> {
        std::iter::from_fn(|| b.pop().map(|j| j.state)).collect()
    }

    #[test]
    fn the_search_ends_when_every_thread_is_idle() {
        let b = Broker::new(2, vec![job(1), job(2)]);
        std::thread::scope(|s| {
            let other = s.spawn(|| drain(&b));
            let mut all = drain(&b);
            all.extend(other.join().unwrap_or_default());
            all.sort_unstable();
            // Each job went to one thread, and both then found the search over.
            assert_eq!(all, vec![1, 2]);
        });
        assert!(b.is_over());
        assert!(!b.was_called_off());
    }

    #[test]
    fn a_waiting_thread_gets_shared_work() {
        let b: Broker<u32> = Broker::new(2, vec![]);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| b.pop().map(|j| j.state));
            while !b.hungry() {
                std::thread::yield_now();
            }
            b.share([job(5)]);
            assert_eq!(waiter.join().ok().flatten(), Some(5));
        });
        assert!(!b.is_over());
    }

    #[test]
    fn calling_off_wakes_waiters() {
        let b: Broker<u32> = Broker::new(3, vec![]);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| b.pop().is_none());
            while !b.hungry() {
                std::thread::yield_now();
            }
            b.call_off();
            assert_eq!(waiter.join().ok(), Some(true));
        });
        assert!(b.was_called_off());
    }
}

//! When things happen on a node: its timers' slots and random deadlines, and the
//! datagrams fault injection holds back until they are due.

use raft_model::Timer;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

/// A uniformly random duration in `range`, drawn afresh each time (the lecture's
/// randomised timeouts; a constant range gives its one value).
pub fn random_in(range: &Range<Duration>) -> Duration {
    if range.end <= range.start {
        return range.start;
    }
    let span = (range.end - range.start).as_nanos().min(u64::MAX as u128) as u64;
    range.start + Duration::from_nanos(fastrand::u64(0..span))
}

pub(super) const TIMERS: [Timer; 4] = [
    Timer::Election,
    Timer::Heartbeat,
    Timer::ClientRetry,
    Timer::Snapshot,
];

pub(super) fn timer_slot(t: Timer) -> usize {
    match t {
        Timer::Election => 0,
        Timer::Heartbeat => 1,
        Timer::ClientRetry => 2,
        Timer::Snapshot => 3,
    }
}

/// A datagram held back by fault injection.
pub(super) struct Delayed {
    pub(super) due: Instant,
    pub(super) addr: SocketAddr,
    pub(super) bytes: Vec<u8>,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        self.due == other.due
    }
}
impl Eq for Delayed {}
impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delayed {
    // Reversed: `BinaryHeap` is a max-heap, the earliest due must come out first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.due.cmp(&self.due)
    }
}

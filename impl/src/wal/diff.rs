//! The records of a save: the difference between the state saved last and the one
//! the model asks the host to save now.
//!
//! The model emits its whole persistent state at every save (it keeps its single
//! `Save` command; the model knows nothing of disks). Writing all of it would make
//! a save cost the length of the log; comparing the two logs entry by entry would
//! too. What a save must write is: a truncation if the new log does not extend the
//! common prefix of the two, the entries past that prefix, and the term and vote if
//! they changed. So everything rests on finding the common prefix cheaply.
//!
//! **Why comparing terms is enough.** Both logs are logs of one Raft server at two
//! moments. Raft's Log Matching property (§5.3; checked by the model checker as
//! `Log Matching` over every pair of logs in every reachable state, and it holds
//! across time as well, because an entry is identified by its index and term: one
//! leader per term creates it, and it is only ever copied together with the prefix
//! that the AppendEntries consistency check verified) says: if two logs hold
//! entries with the same index and term, the logs are identical up to that index.
//! So "the terms at index i agree" is true for every i up to the end of the common
//! prefix and false just after it, and a binary search over terms finds its end with
//! O(log n) comparisons of terms, never touching the rest of the log
//! (`raft_model::Log::common_prefix`). `checks/tests/storage_diff.rs` checks
//! exactly this, exhaustively within small bounds (three terms, a crash): for every
//! step of every server, the prefix found equals the one a full comparison finds.
//!
//! The host does not decide anything Raft decides by this: it relies on a property
//! of the model's logs to compress what it writes. If that property were ever
//! broken (a bug in the model), the last entry of the prefix found is compared in
//! full, and if it differs the exact, linear comparison is used instead; and a
//! recorded trace of a run whose storage went wrong this way fails `raftlab trace
//! check` at its next restart ("Restarts read the durable storage").

use super::record::{HardState, Record};
use raft_model::PersistentState;

/// The records that turn the saved state `prev` into `next`, in the order recovery
/// applies them (they are written as one frame, applied whole or not at all).
pub fn diff(prev: &PersistentState, next: &PersistentState) -> Vec<Record> {
    let mut records = Vec::new();
    let keep = prev.log.common_prefix(&next.log);
    if keep < prev.log.last_index() {
        records.push(Record::Truncate {
            keep_below: keep + 1,
        });
    }
    if keep < next.log.last_index() {
        records.push(Record::Append {
            first_index: keep + 1,
            entries: next.log.iter_from(keep + 1).cloned().collect(),
        });
    }
    let hard = |p: &PersistentState| HardState {
        current_term: p.current_term,
        voted_for: p.voted_for,
    };
    if hard(prev) != hard(next) {
        records.push(Record::HardState(hard(next)));
    }
    records
}

#[cfg(test)]
mod tests {
    use super::super::recover::Replay;
    use super::*;
    use proptest::prelude::*;
    use raft_model::testkit::put_entry as entry;
    use raft_model::{Id, Log};

    /// A log by its terms; entries with the same index and term are equal, as Log
    /// Matching guarantees of real logs.
    fn log(terms: &[u64]) -> Log {
        terms
            .iter()
            .enumerate()
            .map(|(i, t)| entry(*t, i as u64))
            .collect()
    }

    fn replay(prev: &PersistentState, records: Vec<Record>) -> PersistentState {
        let mut r = Replay {
            entries: prev.log.iter().cloned().collect(),
            ..Replay::default()
        };
        r.hard_state = HardState {
            current_term: prev.current_term,
            voted_for: prev.voted_for,
        };
        for rec in records {
            r.apply(rec).unwrap();
        }
        PersistentState {
            current_term: r.hard_state.current_term,
            voted_for: r.hard_state.voted_for,
            log: r.entries.into(),
            snapshot: Default::default(),
        }
    }

    /// Logs of one server over time: non-decreasing terms, each a Figure 7-like
    /// variation of a common history.
    fn raft_log() -> impl Strategy<Value = Vec<u64>> {
        proptest::collection::vec(0u64..3, 0..40).prop_map(|steps| {
            let mut term = 1;
            steps
                .into_iter()
                .map(|s| {
                    term += s / 2;
                    term
                })
                .collect()
        })
    }

    /// Two logs of one server over time, as Raft makes them: `a`, and `b` which
    /// keeps `a`'s first `keep` entries and then has entries of a later term (a new
    /// leader's), so the two satisfy Log Matching.
    fn two_logs() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
        (
            raft_log(),
            any::<prop::sample::Index>(),
            0usize..8,
            1u64..3,
            any::<bool>(),
        )
            .prop_map(|(a, keep, tail, bump, swap)| {
                let keep = keep.index(a.len() + 1);
                let newer = a.iter().max().copied().unwrap_or(0) + bump;
                let b = a[..keep]
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(newer, tail))
                    .collect();
                if swap {
                    (b, a)
                } else {
                    (a, b)
                }
            })
    }

    proptest! {
        #[test]
        fn diff_turns_prev_into_next_and_finds_the_exact_common_prefix(
            (a, b) in two_logs(), vote in proptest::option::of(0usize..3),
        ) {
            let prev = PersistentState { current_term: 3, voted_for: None, log: log(&a), snapshot: Default::default() };
            let next = PersistentState { current_term: 4, voted_for: vote.map(Id::from), log: log(&b), snapshot: Default::default() };
            let exact = prev.log.iter().zip(next.log.iter()).take_while(|(x, y)| x == y).count();
            prop_assert_eq!(prev.log.common_prefix(&next.log), exact as u64);
            prop_assert_eq!(replay(&prev, diff(&prev, &next)), next);
        }
    }

    #[test]
    fn an_unchanged_state_needs_no_record_and_an_append_only_its_entries() {
        let p = PersistentState {
            current_term: 2,
            voted_for: None,
            log: log(&[1, 1, 2]),
            snapshot: Default::default(),
        };
        assert_eq!(diff(&p, &p), vec![]);
        let mut q = p.clone();
        q.log.push(entry(2, 3));
        assert_eq!(
            diff(&p, &q),
            vec![Record::Append {
                first_index: 4,
                entries: vec![entry(2, 3)]
            }]
        );
    }

    #[test]
    fn logs_that_break_log_matching_are_still_diffed_exactly() {
        // Same terms, a different last entry: what a broken model could produce.
        let a = log(&[1, 1, 1]);
        let b: Log = a.iter().take(2).cloned().chain([entry(1, 98)]).collect();
        assert_eq!(a.common_prefix(&b), 2);
        let c: Log = a
            .iter()
            .take(1)
            .cloned()
            .chain([entry(1, 99), entry(1, 98)])
            .collect();
        assert_eq!(a.common_prefix(&c), 1);
    }
}

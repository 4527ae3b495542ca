//! Size and range limits: how big an operation, an entry and a batch may be, and
//! how far terms and indexes may go. Raft itself has no limits; a real cluster
//! needs them so that every message fits a datagram and no arithmetic overflows.

use crate::msg::{Entry, LogIndex, Op, Term};

/// The highest term a server adopts or starts. An election every millisecond
/// would take 34 years to get here; a message with a higher term is forged or
/// corrupt, and a server at this term starts no election (`current_term + 1`
/// would pass it).
pub const MAX_TERM: Term = 1 << 40;

/// The highest log index a message may name (a log this long does not fit in
/// memory).
pub const MAX_INDEX: LogIndex = 1 << 40;

/// An upper bound on what an entry's fixed fields take when encoded, beyond its
/// key and value: term, client and sequence number (at most 10 bytes each as
/// varints), the operation's tag and two length prefixes (at most 5 bytes each).
pub const ENTRY_OVERHEAD: usize = 48;

/// The bytes of key and value a client operation carries (what
/// `ServerConfig::max_op_bytes` limits).
pub fn op_bytes(op: &Op) -> usize {
    match op {
        Op::Put { key, value } | Op::Append { key, value } => key.len().saturating_add(value.len()),
        Op::Get { key } => key.len(),
    }
}

/// An upper bound on an entry's encoded size (what
/// `ServerConfig::max_append_bytes` limits, summed over a batch).
pub fn entry_bytes(e: &Entry) -> usize {
    ENTRY_OVERHEAD.saturating_add(op_bytes(&e.op))
}

/// How many of `entries` (a log from some index on) one AppendEntries carries: at
/// most `max_entries`, of at most `max_bytes` bytes together, but at least one if
/// there is one, so that replication always progresses.
pub fn batch_len<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    max_entries: usize,
    max_bytes: usize,
) -> usize {
    let mut bytes = 0usize;
    let mut n = 0;
    for e in entries.into_iter().take(max_entries) {
        bytes = bytes.saturating_add(entry_bytes(e));
        if n > 0 && bytes > max_bytes {
            break;
        }
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use stateright::actor::Id;

    fn entry(bytes: usize) -> Entry {
        Entry {
            term: 1,
            client: Id::from(1usize << 63),
            seq: 1,
            op: Op::Put {
                key: "k".into(),
                value: "v".repeat(bytes.saturating_sub(1)).into(),
            },
        }
    }

    #[test]
    fn batches_stop_at_the_count_or_the_bytes_but_carry_one_entry_at_least() {
        let log: Vec<Entry> = (0..10).map(|_| entry(100)).collect();
        let one = entry_bytes(&log[0]);
        assert_eq!(one, ENTRY_OVERHEAD + 100);
        assert_eq!(batch_len(&log, 64, usize::MAX), 10);
        assert_eq!(batch_len(&log[2..], 3, usize::MAX), 3);
        assert_eq!(batch_len(&log, 64, 3 * one), 3);
        assert_eq!(batch_len(&log, 64, 3 * one - 1), 2);
        assert_eq!(batch_len(&log[4..], 64, 1), 1, "one entry even if larger");
        assert_eq!(batch_len(&log[10..], 64, 1), 0);
        assert_eq!(batch_len(&log, 0, usize::MAX), 0, "a heartbeat");
    }
}

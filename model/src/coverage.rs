//! Coverage, as TLC reports it: every decision the server's handlers make has a
//! name, and the handlers count each one they take. Counting changes nothing the
//! handlers do; the model checker sums the counts of its threads to say which
//! decisions a check reached, how often, and which it never reached.
//!
//! Counts are per thread (a relaxed store of the thread's own counter: no
//! contention between checker threads) and summed over every thread that ever
//! counted, for the whole process: [`snapshot`] before and after a check gives
//! that check's counts, if no other check ran meanwhile.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

macro_rules! decisions {
    ($($(#[doc = $doc:literal])+ $name:ident,)+) => {
        /// A decision of a server's handlers (Figure 2's rules and their arms).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Decision {
            $($(#[doc = $doc])+ $name,)+
        }

        impl Decision {
            pub const ALL: &'static [Decision] = &[$(Decision::$name,)+];

            /// What the decision is, in a few words.
            pub fn text(self) -> &'static str {
                match self {
                    $(Decision::$name => concat!($($doc),+).trim_ascii(),)+
                }
            }
        }
    };
}

decisions! {
    /// RequestVote: refused, the candidate's term is older
    VoteRefusedStaleTerm,
    /// RequestVote: refused, already voted for another candidate this term
    VoteRefusedVotedOther,
    /// RequestVote: refused, the candidate's log is not up to date (§5.4.1)
    VoteRefusedLogBehind,
    /// RequestVote: granted
    VoteGranted,
    /// RequestVote: granted again to the same candidate (a retried request)
    VoteGrantedAgain,
    /// RequestVoteReply: stale, from an older term
    VoteReplyStaleTerm,
    /// RequestVoteReply: stale, this server is no longer a candidate of that term
    VoteReplyNotCandidate,
    /// RequestVoteReply: a refusal
    VoteReplyRefused,
    /// RequestVoteReply: a vote already counted (a duplicate)
    VoteReplyDuplicate,
    /// RequestVoteReply: a vote counted, no majority yet
    VoteCounted,
    /// RequestVoteReply: a vote counted, a majority: become leader
    ElectionWon,
    /// Any RPC: a newer term; a follower adopts it
    NewerTermFollower,
    /// Any RPC: a newer term; a candidate adopts it and steps down
    NewerTermCandidateStepsDown,
    /// Any RPC: a newer term; a leader adopts it and steps down
    NewerTermLeaderStepsDown,
    /// Election timeout: start an election
    ElectionStarted,
    /// A timer of a role the server no longer has lapses
    TimerLapsed,
    /// Heartbeat timer: AppendEntries to every follower
    HeartbeatSent,
    /// AppendEntries: refused, the leader's term is older (receiver rule 1)
    AppendStaleTerm,
    /// AppendEntries: a candidate of the same term steps down to follower
    AppendCandidateStepsDown,
    /// AppendEntries: consistency check fails, no entry at prevLogIndex
    AppendMissingPrev,
    /// AppendEntries: consistency check fails, the entry at prevLogIndex has another term
    AppendConflictingPrev,
    /// AppendEntries: consistency check passes, a heartbeat (no entries)
    AppendHeartbeatMatch,
    /// AppendEntries: new entries appended after the log, no conflict
    AppendNewEntries,
    /// AppendEntries: a conflicting suffix truncated and replaced, no longer than the new entries
    AppendTruncatedSuffix,
    /// AppendEntries: a conflicting suffix longer than the new entries truncated and replaced
    AppendTruncatedLongerSuffix,
    /// AppendEntries: every entry already present (stale or duplicate), nothing cut
    AppendAllPresent,
    /// AppendEntries: every entry present and the log goes on beyond them: nothing cut
    AppendAllPresentLongerLog,
    /// AppendEntries: the follower's commit index advances (receiver rule 5)
    FollowerCommits,
    /// AppendEntriesReply: stale, from an older term
    AppendReplyStaleTerm,
    /// AppendEntriesReply: stale, this server is no longer leader of that term
    AppendReplyNotLeader,
    /// AppendEntriesReply: success, matchIndex advances
    AppendReplyProgress,
    /// AppendEntriesReply: success, nothing new (a duplicate or reordered reply)
    AppendReplyNoProgress,
    /// AppendEntriesReply: success, the follower still lacks entries: send them
    AppendReplySendsMore,
    /// AppendEntriesReply: conflict, the follower's log is too short (XLen)
    BackoffToFollowerLength,
    /// AppendEntriesReply: conflict, the leader has entries of XTerm: after its last one
    BackoffPastLeadersTerm,
    /// AppendEntriesReply: conflict, the leader has no entry of XTerm: to XIndex
    BackoffToConflictIndex,
    /// Leader: commitIndex advances to an entry of its term on a majority
    LeaderCommits,
    /// Leader: an entry of an older term on a majority waits for one of its term (Figure 8)
    LeaderWaitsForCurrentTerm,
    /// Leader: answers the client of an entry it applied
    LeaderAnswersClient,
    /// State machine: a retried request already applied is not applied again
    ApplySkipsDuplicate,
    /// Client request: not the leader, points to the leader it knows
    ClientRedirected,
    /// Client request: not the leader, knows no leader
    ClientNoLeaderKnown,
    /// Client request: applied already, answered from the session
    ClientAnsweredFromSession,
    /// Client request: an older request of the client, ignored
    ClientOldRequestIgnored,
    /// Client request: already in this term's log, waits for it to commit
    ClientRequestPending,
    /// Client request: appended to the leader's log
    ClientRequestAppended,
    /// Snapshot timer: the state at the commit index replaces the log up to it (§7)
    SnapshotTaken,
    /// Snapshot timer: nothing applied since the last snapshot, none taken
    SnapshotNothingNew,
    /// Leader: a follower's next entry is compacted: InstallSnapshot sent (Figure 13)
    SnapshotSent,
    /// InstallSnapshot: refused, the leader's term is older (receiver 1)
    InstallStaleTerm,
    /// InstallSnapshot: no newer than what the server applied, nothing installed
    InstallNotNewer,
    /// InstallSnapshot: an entry matches its last: the entries after it kept (receiver 6)
    InstallKeepsSuffix,
    /// InstallSnapshot: no entry matches its last: the whole log discarded (receiver 7)
    InstallDiscardsLog,
    /// AppendEntries: entries up to the follower's snapshot skipped, the check moved to it
    AppendPastSnapshot,
    /// AppendEntries: every entry at or below the follower's snapshot: accepted as held
    AppendBelowSnapshot,
}

impl Decision {
    /// Whether only a server that takes snapshots can make the decision (a check
    /// without snapshots reaches none of them).
    pub fn needs_snapshots(self) -> bool {
        use Decision::*;
        matches!(
            self,
            SnapshotTaken
                | SnapshotNothingNew
                | SnapshotSent
                | InstallStaleTerm
                | InstallNotNewer
                | InstallKeepsSuffix
                | InstallDiscardsLog
                | AppendPastSnapshot
                | AppendBelowSnapshot
        )
    }
}

/// Counts per decision.
pub type Counts = Vec<u64>;

struct ThreadCounts([AtomicU64; Decision::ALL.len()]);

static THREADS: Mutex<Vec<Arc<ThreadCounts>>> = Mutex::new(Vec::new());

thread_local! {
    static MINE: Arc<ThreadCounts> = {
        let mine = Arc::new(ThreadCounts(std::array::from_fn(|_| AtomicU64::new(0))));
        if let Ok(mut all) = THREADS.lock() {
            all.push(mine.clone());
        }
        mine
    };
}

/// Counts decision `d` on this thread.
pub fn hit(d: Decision) {
    MINE.with(|m| {
        let c = &m.0[d as usize];
        // Only this thread writes its counters: no read-modify-write needed.
        c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
    });
}

/// Runs `f` and says which decisions it took on this thread, in `Decision::ALL`
/// order (a decision taken twice is listed twice): for a host that keeps a
/// handler call's result to use again, and counts its decisions again with
/// [`replay`] each time, so that the counts stay those of every call.
pub fn recording<T>(f: impl FnOnce() -> T) -> (T, Vec<Decision>) {
    let before = this_thread();
    let out = f();
    let after = this_thread();
    let taken = Decision::ALL
        .iter()
        .zip(before.iter().zip(&after))
        .flat_map(|(&d, (b, a))| std::iter::repeat_n(d, a.wrapping_sub(*b) as usize))
        .collect();
    (out, taken)
}

/// Counts again, on this thread, decisions [`recording`] saw a call take.
pub fn replay(taken: &[Decision]) {
    if taken.is_empty() {
        return;
    }
    // One look-up of this thread's counters for the whole call: a checker
    // replays a call's decisions tens of millions of times.
    MINE.with(|m| {
        for &d in taken {
            if let Some(c) = m.0.get(d as usize) {
                c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
            }
        }
    });
}

/// This thread's counts.
fn this_thread() -> [u64; Decision::ALL.len()] {
    MINE.with(|m| std::array::from_fn(|i| m.0[i].load(Relaxed)))
}

/// Every decision's count so far, summed over every thread, in `Decision::ALL` order.
pub fn snapshot() -> Counts {
    let mut sum = vec![0u64; Decision::ALL.len()];
    if let Ok(all) = THREADS.lock() {
        for t in all.iter() {
            for (s, c) in sum.iter_mut().zip(&t.0) {
                *s = s.wrapping_add(c.load(Relaxed));
            }
        }
    }
    sum
}

/// The counts between two snapshots.
pub fn since(before: &Counts, after: &Counts) -> Counts {
    after
        .iter()
        .zip(before)
        .map(|(a, b)| a.wrapping_sub(*b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_call_lists_its_decisions_and_a_replay_counts_them_again() {
        let before = snapshot();
        let ((), taken) = recording(|| {
            hit(Decision::VoteGranted);
            hit(Decision::AppendStaleTerm);
            hit(Decision::VoteGranted);
        });
        assert_eq!(
            taken,
            vec![
                Decision::VoteGranted,
                Decision::VoteGranted,
                Decision::AppendStaleTerm
            ]
        );
        replay(&taken);
        let counts = since(&before, &snapshot());
        assert!(counts[Decision::VoteGranted as usize] >= 4);
        assert!(counts[Decision::AppendStaleTerm as usize] >= 2);
        let ((), none) = recording(|| {});
        assert!(none.is_empty());
    }

    #[test]
    fn hits_are_counted_across_threads_and_every_decision_has_a_text() {
        let before = snapshot();
        hit(Decision::VoteGranted);
        std::thread::spawn(|| hit(Decision::VoteGranted))
            .join()
            .expect("thread");
        let counts = since(&before, &snapshot());
        assert!(counts[Decision::VoteGranted as usize] >= 2);
        for d in Decision::ALL {
            assert!(!d.text().is_empty(), "{d:?}");
        }
        assert_eq!(
            Decision::AppendStaleTerm.text(),
            "AppendEntries: refused, the leader's term is older (receiver rule 1)"
        );
    }
}

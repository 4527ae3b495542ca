//! Known Raft bugs, re-introduced one switch at a time so that the checks can show
//! that every safety property is able to fail. All are off by default.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Mutant {
    /// Voters ignore whether the candidate's log is at least as up to date (§5.4.1).
    NoElectionRestriction,
    /// A leader commits entries of earlier terms by counting replicas (Figure 8).
    CommitOldTerm,
    /// `votedFor` is not persisted: a restarted server can vote twice in a term.
    ForgetVotedFor,
    /// `currentTerm` is not persisted: a restarted server goes back to term 0.
    ForgetCurrentTerm,
    /// A server grants a vote without checking `votedFor`.
    DoubleVote,
    /// A follower cuts its log after the AppendEntries' last entry even when nothing
    /// conflicts, so a stale or duplicated AppendEntries removes newer entries.
    TruncateOnStaleAppend,
    /// The majority is computed as `n / 2` instead of `n / 2 + 1`.
    SmallQuorum,
    /// A leader or candidate that sees a higher term adopts it but keeps its role.
    NoStepDown,
    /// A follower sets `commitIndex = leaderCommit` without bounding it by the last
    /// entry this AppendEntries verified.
    CommitPastMatch,
    /// A retried client request is applied again (no client sessions).
    NoDedup,
    /// A leader answers a Get from its own state machine without going through the
    /// log (a stale leader serves stale reads; etcd's and others' "lease read" bug
    /// without a lease).
    LocalRead,
    /// A server snapshots its whole log, past its commit index: uncommitted
    /// entries are applied to the snapshot and can no longer be replaced (6.824
    /// lab 2D's service that snapshots an index Raft has not committed).
    SnapshotPastCommit,
    /// A follower discards its whole log on InstallSnapshot even when it holds
    /// entries after the snapshot that match the leader's (Figure 13, receiver 6
    /// left out), so entries it acknowledged are gone.
    DiscardLogOnInstall,
    /// A follower installs a snapshot that is newer than its snapshot but older
    /// than what it has applied, moving its state machine back (the race that made
    /// 6.824 add `CondInstallSnapshot`).
    InstallOlderSnapshot,
    /// A save leaves out the snapshot's last included index and term: a restarted
    /// server numbers the entries after its snapshot from 1 again.
    ForgetSnapshotMetadata,
    /// A leader whose follower needs compacted entries sends an AppendEntries from
    /// the entries it still has instead of its snapshot (indexing the log without
    /// its offset).
    SendEntriesBeforeSnapshot,
    /// A snapshot records the server's current term as its last included term,
    /// not the term of the last entry it covers (a common 6.824 lab 2D bug): the
    /// log then looks more up to date than it is, in elections and consistency
    /// checks.
    SnapshotWrongTerm,
}

impl Mutant {
    pub const ALL: [Mutant; 17] = [
        Mutant::NoElectionRestriction,
        Mutant::CommitOldTerm,
        Mutant::ForgetVotedFor,
        Mutant::ForgetCurrentTerm,
        Mutant::DoubleVote,
        Mutant::TruncateOnStaleAppend,
        Mutant::SmallQuorum,
        Mutant::NoStepDown,
        Mutant::CommitPastMatch,
        Mutant::NoDedup,
        Mutant::LocalRead,
        Mutant::SnapshotPastCommit,
        Mutant::DiscardLogOnInstall,
        Mutant::InstallOlderSnapshot,
        Mutant::ForgetSnapshotMetadata,
        Mutant::SendEntriesBeforeSnapshot,
        Mutant::SnapshotWrongTerm,
    ];

    /// True for the mutants of snapshots and log compaction, which need
    /// `--snapshots` to show.
    pub fn needs_snapshots(self) -> bool {
        matches!(
            self,
            Mutant::SnapshotPastCommit
                | Mutant::DiscardLogOnInstall
                | Mutant::InstallOlderSnapshot
                | Mutant::ForgetSnapshotMetadata
                | Mutant::SendEntriesBeforeSnapshot
                | Mutant::SnapshotWrongTerm
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Mutant::NoElectionRestriction => "no-election-restriction",
            Mutant::CommitOldTerm => "commit-old-term",
            Mutant::ForgetVotedFor => "forget-voted-for",
            Mutant::ForgetCurrentTerm => "forget-current-term",
            Mutant::DoubleVote => "double-vote",
            Mutant::TruncateOnStaleAppend => "truncate-on-stale-append",
            Mutant::SmallQuorum => "small-quorum",
            Mutant::NoStepDown => "no-step-down",
            Mutant::CommitPastMatch => "commit-past-match",
            Mutant::NoDedup => "no-dedup",
            Mutant::LocalRead => "local-read",
            Mutant::SnapshotPastCommit => "snapshot-past-commit",
            Mutant::DiscardLogOnInstall => "discard-log-on-install",
            Mutant::InstallOlderSnapshot => "install-older-snapshot",
            Mutant::ForgetSnapshotMetadata => "forget-snapshot-metadata",
            Mutant::SendEntriesBeforeSnapshot => "send-entries-before-snapshot",
            Mutant::SnapshotWrongTerm => "snapshot-wrong-term",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Mutant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mutant {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Mutant::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
                format!("unknown mutant '{s}'; known mutants: {}", names.join(", "))
            })
    }
}

/// The mutants switched on in one actor configuration.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MutantSet(u32);

impl MutantSet {
    pub const NONE: MutantSet = MutantSet(0);

    pub fn with(mut self, m: Mutant) -> Self {
        self.0 |= m.bit();
        self
    }

    pub fn has(self, m: Mutant) -> bool {
        self.0 & m.bit() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Mutant> {
        Mutant::ALL.into_iter().filter(move |m| self.has(*m))
    }
}

impl fmt::Debug for MutantSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Mutant::name))
            .finish()
    }
}

//! Figure 2's log replication: what a leader sends (AppendEntries from a
//! follower's nextIndex, or its snapshot), the AppendEntries receiver, the
//! leader's bookkeeping of its followers' answers, and its commit rule.

use crate::coverage::{hit, Decision as D};
use crate::limits::batch_len;
use crate::msg::{AppendEntries, AppendEntriesReply, Entry, LogIndex, Msg, Term, Timer};
use crate::mutant::Mutant;
use crate::server::{Role, ServerConfig, ServerState, Step};
use stateright::actor::Id;
use std::borrow::Cow;

impl ServerConfig {
    /// An empty AppendEntries: it asserts leadership and carries the commit index;
    /// the follower verifies its log only up to `prev_log_index`.
    pub(crate) fn send_heartbeat(&self, s: &ServerState, peer: Id, step: &mut Step) {
        self.send_entries_from_next(s, peer, 0, step);
    }

    /// Figure 2, leaders: "if last log index >= nextIndex for a follower: send
    /// AppendEntries RPC with log entries starting at nextIndex".
    pub(crate) fn send_append_entries(&self, s: &ServerState, peer: Id, step: &mut Step) {
        self.send_entries_from_next(s, peer, self.max_entries_per_append, step);
    }

    pub(crate) fn send_entries_from_next(
        &self,
        s: &ServerState,
        peer: Id,
        batch: usize,
        step: &mut Step,
    ) {
        let mut next = s.next_index.get(usize::from(peer)).copied().unwrap_or(1);
        if next <= s.log.snapshot_index() && !self.has(Mutant::SendEntriesBeforeSnapshot) {
            // The entries the follower needs are compacted (§7): send the snapshot.
            // A heartbeat sends none, and probes from the snapshot instead; the
            // follower's answer brings the snapshot if it lacks it.
            if batch > 0 {
                return self.send_snapshot(s, peer, step);
            }
            next = s.log.snapshot_index().saturating_add(1);
        }
        // next_index stays within 1..=last+1; saturate anyway, never panic.
        let prev_log_index = next.saturating_sub(1).min(s.last_log_index());
        let first = prev_log_index.saturating_add(1);
        let n = batch_len(s.log.iter_from(first), batch, self.max_append_bytes);
        let request = AppendEntries {
            term: s.current_term,
            prev_log_index,
            prev_log_term: s.term_at(prev_log_index).unwrap_or(0),
            entries: s.log.entries_from(first, n),
            leader_commit: s.commit_index,
        };
        step.send(peer, Msg::AppendEntries(request));
    }

    /// Figure 2, AppendEntries receiver (the term rule already applied).
    pub(crate) fn on_append_entries(
        &self,
        state: &mut Cow<ServerState>,
        leader: Id,
        m: AppendEntries,
        step: &mut Step,
    ) {
        let AppendEntries {
            term,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
        } = m;
        let m_len = entries.len() as LogIndex;
        if term < state.current_term {
            hit(D::AppendStaleTerm);
            // Figure 2, receiver 1: reply false; the stale leader learns the term.
            step.send(
                leader,
                reject(state.current_term, 0, 0, state.last_log_index()),
            );
            return;
        }
        if state.role != Role::Follower {
            hit(D::AppendCandidateStepsDown);
        }
        self.heard_from_leader(state, leader, step);

        // Entries up to this server's snapshot are committed, so the leader has them
        // (Leader Completeness): only the entries after the snapshot are checked.
        let Some((prev_log_index, prev_log_term, entries)) =
            crate::snapshot::after_snapshot(&state.log, prev_log_index, prev_log_term, entries)
        else {
            // Well-formed: prev_log_index + entries stays within MAX_INDEX.
            let match_index = prev_log_index.saturating_add(m_len);
            step.send(leader, accept(state.current_term, match_index));
            return;
        };

        // Figure 2, receiver 2: the consistency check, with 6.824's XTerm/XIndex/XLen.
        match state.term_at(prev_log_index) {
            None => {
                hit(D::AppendMissingPrev);
                let x_len = state.last_log_index();
                step.send(leader, reject(state.current_term, 0, 0, x_len));
                return;
            }
            Some(t) if t != prev_log_term => {
                hit(D::AppendConflictingPrev);
                let x_index = (1..=prev_log_index)
                    .rev()
                    .take_while(|i| state.term_at(*i) == Some(t))
                    .last()
                    .unwrap_or(prev_log_index);
                let x_len = state.last_log_index();
                step.send(leader, reject(state.current_term, t, x_index, x_len));
                return;
            }
            Some(_) => {}
        }

        // Receiver 3 and 4: cut the log only at a real conflict, then append what is new.
        // A stale or duplicated AppendEntries whose entries all match changes nothing.
        // In range: `admits` bounds prev_log_index + entries by MAX_INDEX.
        let last_new = prev_log_index.saturating_add(entries.len() as LogIndex);
        let conflict = first_conflict(state, prev_log_index, &entries);
        hit(match conflict {
            _ if entries.is_empty() => D::AppendHeartbeatMatch,
            Some(k)
                if state
                    .term_at(prev_log_index.saturating_add(1 + k as LogIndex))
                    .is_none() =>
            {
                D::AppendNewEntries
            }
            Some(_) if state.last_log_index() > last_new => D::AppendTruncatedLongerSuffix,
            Some(_) => D::AppendTruncatedSuffix,
            None if state.last_log_index() > last_new => D::AppendAllPresentLongerLog,
            None => D::AppendAllPresent,
        });
        if let Some(k) = conflict {
            let s = state.to_mut();
            s.log.truncate_after(prev_log_index + k as LogIndex);
            s.log.extend(entries[k..].iter().cloned());
            step.save = true;
        }
        if self.has(Mutant::TruncateOnStaleAppend) && state.last_log_index() > last_new {
            state.to_mut().log.truncate_after(last_new);
            step.save = true;
        }

        // Receiver 5: commitIndex = min(leaderCommit, index of last new entry).
        let bound = if self.has(Mutant::CommitPastMatch) {
            state.last_log_index()
        } else {
            last_new
        };
        let new_commit = leader_commit.min(bound);
        if new_commit > state.commit_index {
            hit(D::FollowerCommits);
            self.apply_up_to(state.to_mut(), new_commit, step);
        }
        step.send(leader, accept(state.current_term, last_new));
    }

    /// A follower or candidate heard from the leader of its term: it follows it,
    /// and holds no election for now.
    pub(crate) fn heard_from_leader(
        &self,
        state: &mut Cow<ServerState>,
        leader: Id,
        step: &mut Step,
    ) {
        if state.role != Role::Follower || state.leader_hint != Some(leader) {
            let s = state.to_mut();
            if s.role != Role::Follower {
                self.become_follower(s, step);
            }
            s.leader_hint = Some(leader);
        }
        step.set_timer(Timer::Election, &self.election_timeout);
    }

    /// Figure 2, leaders: the follower's answer moves nextIndex/matchIndex.
    pub(crate) fn on_append_entries_reply(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        follower: Id,
        m: AppendEntriesReply,
        step: &mut Step,
    ) {
        let AppendEntriesReply {
            term,
            success,
            match_index,
            x_term,
            x_index,
            x_len,
        } = m;
        if term != state.current_term {
            hit(D::AppendReplyStaleTerm);
            return;
        }
        if state.role != Role::Leader {
            hit(D::AppendReplyNotLeader);
            return;
        }
        let f = usize::from(follower);
        let (Some(&matched), Some(&next_f)) = (state.match_index.get(f), state.next_index.get(f))
        else {
            return; // not a follower of this leader (refused by `admits`)
        };
        // `plausible` bounds match_index by the log: next_index stays in 1..=last+1.
        let last = state.last_log_index();
        if success {
            if match_index > matched {
                hit(D::AppendReplyProgress);
                let s = state.to_mut();
                s.match_index[f] = match_index;
                s.next_index[f] = next_f.max(match_index.saturating_add(1));
                self.advance_commit_index(id, s, step);
            } else {
                hit(D::AppendReplyNoProgress);
            }
            // The follower is alive and still lacks entries (the ones sent may have
            // been lost): send them.
            if state.next_index[f] <= last {
                hit(D::AppendReplySendsMore);
                self.send_append_entries(state, follower, step);
            }
        } else {
            // 6.824 accelerated backtracking: skip a whole conflicting term at once.
            let next = if x_term == 0 {
                hit(D::BackoffToFollowerLength);
                x_len.saturating_add(1)
            } else {
                match state.log.last_index_of_term(x_term) {
                    Some(last) => {
                        hit(D::BackoffPastLeadersTerm);
                        last + 1
                    }
                    None => {
                        hit(D::BackoffToConflictIndex);
                        x_index
                    }
                }
            };
            let next = next
                .min(last.saturating_add(1))
                .max(matched.saturating_add(1));
            if next != next_f {
                state.to_mut().next_index[f] = next;
            }
            self.send_append_entries(state, follower, step);
        }
    }

    /// Figure 2, leaders: commit the highest N on a majority with log[N].term ==
    /// currentTerm (§5.4.2, Figure 8: never by counting replicas of older terms).
    pub(crate) fn advance_commit_index(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        let me = usize::from(id);
        let quorum = self.quorum();
        let mut n = s.last_log_index();
        while n > s.commit_index {
            let replicas = (0..self.servers)
                .filter(|&p| p == me || s.match_index.get(p).is_some_and(|m| *m >= n))
                .count();
            if s.term_at(n) != Some(s.current_term) && !self.has(Mutant::CommitOldTerm) {
                if replicas >= quorum {
                    hit(D::LeaderWaitsForCurrentTerm);
                }
                break; // older entries commit only by way of a current-term entry
            }
            if replicas >= quorum {
                hit(D::LeaderCommits);
                self.apply_up_to(s, n, step);
                return;
            }
            n -= 1;
        }
    }
}

/// The position in `entries` (which follow `prev_log_index`) of the first one that
/// the log does not hold (Figure 2, receiver 3: a conflict, or past the end).
pub(crate) fn first_conflict(
    s: &ServerState,
    prev_log_index: LogIndex,
    entries: &[Entry],
) -> Option<usize> {
    entries.iter().enumerate().find_map(|(k, e)| {
        let index = prev_log_index.saturating_add(1 + k as LogIndex);
        match s.term_at(index) {
            Some(t) if t == e.term => None,
            _ => Some(k),
        }
    })
}

/// A successful AppendEntriesReply: the follower's log matches the leader's up to
/// `match_index`.
pub fn accept(term: Term, match_index: LogIndex) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success: true,
        match_index,
        x_term: 0,
        x_index: 0,
        x_len: 0,
    })
}

pub(crate) fn reject(term: Term, x_term: Term, x_index: LogIndex, x_len: LogIndex) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success: false,
        match_index: 0,
        x_term,
        x_index,
        x_len,
    })
}

//! Figure 2's elections: a follower or candidate whose election timer fires
//! starts an election; the RequestVote receiver; counting votes; a new leader's
//! first steps.

use crate::coverage::{hit, Decision as D};
use crate::limits::MAX_TERM;
use crate::msg::{Msg, RequestVote, RequestVoteReply, Timer};
use crate::mutant::Mutant;
use crate::server::{Role, ServerConfig, ServerState, Step};
use crate::server_set::ServerSet;
use stateright::actor::Id;
use std::borrow::Cow;

impl ServerConfig {
    /// Figure 2, followers and candidates: on election timeout, start an election.
    pub(crate) fn start_election(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        let Some(term) = s.current_term.checked_add(1).filter(|t| *t <= MAX_TERM) else {
            // No term is left to start: stay, and try again later (never reached
            // but by a forged term).
            step.set_timer(Timer::Election, &self.election_timeout);
            return;
        };
        s.current_term = term;
        s.role = Role::Candidate;
        s.voted_for = Some(id);
        s.votes_granted = ServerSet::singleton(usize::from(id));
        s.leader_hint = None;
        step.save = true;
        step.set_timer(Timer::Election, &self.election_timeout);
        let request = Msg::RequestVote(RequestVote {
            term: s.current_term,
            last_log_index: s.last_log_index(),
            last_log_term: s.last_log_term(),
        });
        for peer in self.peers(id) {
            step.send(peer, request.clone());
        }
        if s.votes_granted.len() >= self.quorum() {
            self.become_leader(id, s, step);
        }
    }

    /// Figure 2, RequestVote receiver (the term rule already applied).
    pub(crate) fn on_request_vote(
        &self,
        state: &mut Cow<ServerState>,
        candidate: Id,
        m: RequestVote,
        step: &mut Step,
    ) {
        let s: &ServerState = state;
        let free_to_vote =
            s.voted_for.is_none() || s.voted_for == Some(candidate) || self.has(Mutant::DoubleVote);
        // §5.4.1 election restriction: the candidate's log is at least as up to date.
        let up_to_date = (m.last_log_term, m.last_log_index)
            >= (s.last_log_term(), s.last_log_index())
            || self.has(Mutant::NoElectionRestriction);
        let vote_granted = m.term == s.current_term && free_to_vote && up_to_date;
        hit(if m.term != s.current_term {
            D::VoteRefusedStaleTerm
        } else if !free_to_vote {
            D::VoteRefusedVotedOther
        } else if !up_to_date {
            D::VoteRefusedLogBehind
        } else if s.voted_for == Some(candidate) {
            D::VoteGrantedAgain
        } else {
            D::VoteGranted
        });
        if vote_granted && s.voted_for != Some(candidate) {
            let s = state.to_mut();
            s.voted_for = Some(candidate);
            step.save = true;
        }
        if vote_granted {
            step.set_timer(Timer::Election, &self.election_timeout);
        }
        let reply = RequestVoteReply {
            term: state.current_term,
            vote_granted,
        };
        step.send(candidate, Msg::RequestVoteReply(reply));
    }

    /// Figure 2, candidates: "if votes received from majority of servers: become leader".
    pub(crate) fn on_request_vote_reply(
        &self,
        id: Id,
        state: &mut Cow<ServerState>,
        voter: Id,
        m: RequestVoteReply,
        step: &mut Step,
    ) {
        let voter = usize::from(voter);
        let stale = if m.term != state.current_term {
            Some(D::VoteReplyStaleTerm)
        } else if state.role != Role::Candidate {
            Some(D::VoteReplyNotCandidate)
        } else if !m.vote_granted {
            Some(D::VoteReplyRefused)
        } else if state.votes_granted.contains(voter) {
            Some(D::VoteReplyDuplicate)
        } else {
            None
        };
        if let Some(d) = stale {
            hit(d);
            return;
        }
        let s = state.to_mut();
        s.votes_granted.insert(voter);
        if s.votes_granted.len() >= self.quorum() {
            hit(D::ElectionWon);
            self.become_leader(id, s, step);
        } else {
            hit(D::VoteCounted);
        }
    }

    pub(crate) fn become_leader(&self, id: Id, s: &mut ServerState, step: &mut Step) {
        s.role = Role::Leader;
        s.leader_hint = Some(id);
        s.votes_granted = ServerSet::EMPTY;
        s.next_index = vec![s.last_log_index().saturating_add(1); self.servers];
        s.match_index = vec![0; self.servers];
        step.cancel_timer(Timer::Election);
        step.set_timer(Timer::Heartbeat, &self.heartbeat_interval);
        // Figure 2, leaders: "upon election: send initial empty AppendEntries".
        for peer in self.peers(id) {
            self.send_heartbeat(s, peer, step);
        }
        // A cluster of one commits on its own.
        self.advance_commit_index(id, s, step);
    }
}

//! A key/value client (lab 3's clerk): sends its operations one at a time, follows
//! leader hints, and retries with the same sequence number until answered.

use crate::actor::RaftActor;
use crate::msg::{ClientRequest, Msg, Op, Timer};
use crate::server::Refusal;
use serde::{Deserialize, Serialize};
use stateright::actor::{Id, Out};
use stateright::{Rewrite, RewritePlan};
use std::borrow::Cow;
use std::ops::Range;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientConfig {
    /// Cluster size: servers are ids `0..servers`.
    pub servers: usize,
    /// The operations to perform, in order.
    pub ops: Vec<Op>,
    /// With no answer for this long, try the next server.
    pub retry_timeout: Range<Duration>,
    /// The first request goes out after this delay.
    pub start_delay: Range<Duration>,
}

impl ClientConfig {
    pub fn new(servers: usize, ops: Vec<Op>) -> Self {
        ClientConfig {
            servers,
            ops,
            retry_timeout: Duration::from_millis(400)..Duration::from_millis(400),
            start_delay: Duration::ZERO..Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClientState {
    /// How many operations have been answered; the one in flight has `seq = done + 1`.
    pub done: u64,
    /// The server the client believes is leader.
    pub target: Id,
}

impl ClientState {
    pub fn seq(&self) -> u64 {
        self.done + 1
    }
}

impl ClientConfig {
    /// Which messages a client accepts: replies from servers.
    pub fn admits(&self, src: Id, msg: &Msg) -> Result<(), Refusal> {
        match msg {
            Msg::ClientReply { .. } | Msg::NotLeader { .. } if usize::from(src) < self.servers => {
                Ok(())
            }
            _ => Err(Refusal::NotForClients),
        }
    }

    fn current_op(&self, state: &ClientState) -> Option<&Op> {
        self.ops.get(state.done as usize)
    }

    fn next_server(&self, after: Id) -> Id {
        Id::from((usize::from(after) + 1) % self.servers)
    }

    fn send_current(&self, state: &ClientState, o: &mut Out<RaftActor>) {
        if let Some(op) = self.current_op(state) {
            let request = Msg::ClientRequest(ClientRequest {
                seq: state.seq(),
                op: op.clone(),
            });
            o.send(state.target, request);
            o.set_timer(Timer::ClientRetry, self.retry_timeout.clone());
        } else {
            o.cancel_timer(Timer::ClientRetry);
        }
    }

    /// The client starts at a moment of the checker's choosing: its first request
    /// is sent when the retry timer first fires, to S1 (the timer moves the target
    /// on by one), so no message is in flight before then.
    pub fn on_start(&self, o: &mut Out<RaftActor>) -> ClientState {
        if !self.ops.is_empty() {
            o.set_timer(Timer::ClientRetry, self.start_delay.clone());
        }
        ClientState {
            done: 0,
            target: Id::from(self.servers.saturating_sub(1)),
        }
    }

    pub fn on_msg(&self, state: &mut Cow<ClientState>, src: Id, msg: Msg, o: &mut Out<RaftActor>) {
        if self.current_op(state).is_none() {
            return;
        }
        match msg {
            Msg::ClientReply { seq, .. } if seq == state.seq() => {
                let s = state.to_mut();
                s.done += 1;
                s.target = src;
                self.send_current(s, o);
            }
            Msg::NotLeader { seq, leader_hint } if seq == state.seq() => match leader_hint {
                Some(leader) if leader != src && usize::from(leader) < self.servers => {
                    state.to_mut().target = leader;
                    self.send_current(state, o);
                }
                // No leader known: wait for the retry timer rather than spin.
                _ => {
                    let next = self.next_server(src);
                    if state.target != next {
                        state.to_mut().target = next;
                    }
                }
            },
            _ => {}
        }
    }

    pub fn on_timeout(&self, state: &mut Cow<ClientState>, o: &mut Out<RaftActor>) {
        if self.current_op(state).is_none() {
            return;
        }
        let s = state.to_mut();
        s.target = self.next_server(s.target);
        self.send_current(s, o);
    }
}

impl Rewrite<Id> for ClientState {
    fn rewrite<S>(&self, plan: &RewritePlan<Id, S>) -> Self {
        ClientState {
            done: self.done,
            target: self.target.rewrite(plan),
        }
    }
}

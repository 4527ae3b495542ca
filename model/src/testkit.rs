//! A hand-driven cluster for tests and worked examples: every step (a timer, a
//! delivery, a crash) is chosen by the caller, and runs the real handlers.

use crate::actor::{Input, RaftActor, RaftState};
use crate::msg::{ClientRequest, Entry, Msg, Op, Term, Timer};
use crate::server::{PersistentState, ServerConfig, ServerState};
use stateright::actor::{Actor, Command, Id, Out};

/// A message sent and not yet delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub src: Id,
    pub dst: Id,
    pub msg: Msg,
}

#[derive(Clone)]
pub struct Cluster {
    pub actor: RaftActor,
    pub cfg: ServerConfig,
    pub states: Vec<ServerState>,
    pub storage: Vec<Option<PersistentState>>,
    /// Messages in flight, in the order sent.
    pub net: Vec<Sent>,
}

impl Cluster {
    /// `n` fresh servers.
    pub fn new(cfg: ServerConfig) -> Self {
        let n = cfg.servers;
        Cluster {
            actor: RaftActor::Server(cfg.clone()),
            cfg,
            states: vec![ServerState::from_storage(None); n],
            storage: vec![None; n],
            net: Vec::new(),
        }
    }

    fn run(&mut self, i: usize, input: Input) -> Vec<Sent> {
        let before = RaftState::Server(self.states[i].clone());
        let stepped = self.actor.handle(Id::from(i), &before, input);
        if let Some(RaftState::Server(s)) = stepped.changed {
            self.states[i] = s;
        }
        let mut sent = Vec::new();
        for c in stepped.out {
            match c {
                Command::Send(dst, msg) => sent.push(Sent {
                    src: Id::from(i),
                    dst,
                    msg,
                }),
                Command::Save(p) => self.storage[i] = Some(p),
                _ => {}
            }
        }
        self.net.extend(sent.iter().cloned());
        sent
    }

    /// Fires timer `t` at server `i`; returns what it sent.
    pub fn timeout(&mut self, i: usize, t: Timer) -> Vec<Sent> {
        self.run(i, Input::Timeout(t))
    }

    /// Delivers `msg` from `src` to server `dst` (whether or not it is in flight).
    pub fn deliver(&mut self, src: usize, dst: usize, msg: Msg) -> Vec<Sent> {
        let src = Id::from(src);
        self.run(dst, Input::Deliver { src, msg })
    }

    /// Delivers the oldest message in flight from `src` to `dst`; panics if none.
    pub fn deliver_next(&mut self, src: usize, dst: usize) -> Vec<Sent> {
        let k = self
            .net
            .iter()
            .position(|m| m.src == Id::from(src) && m.dst == Id::from(dst))
            .unwrap_or_else(|| {
                panic!(
                    "no message in flight from {} to {}",
                    crate::name::server(Id::from(src)),
                    crate::name::server(Id::from(dst))
                )
            });
        let m = self.net.remove(k);
        self.deliver(src, dst, m.msg)
    }

    /// Drops every message in flight to or from server `i`.
    pub fn isolate(&mut self, i: usize) {
        let id = Id::from(i);
        self.net.retain(|m| m.src != id && m.dst != id);
    }

    /// Crashes server `i` and restarts it from its storage.
    pub fn restart(&mut self, i: usize) {
        self.isolate(i);
        let storage = self.storage[i].clone();
        let mut out = Out::new();
        if let RaftState::Server(s) = self.actor.on_start(Id::from(i), &storage, &mut out) {
            self.states[i] = s;
        }
    }

    /// Delivers every message in flight, oldest first, until none is left or `limit`
    /// deliveries were made; messages to or from `down` servers are dropped.
    pub fn settle(&mut self, down: &[usize], limit: usize) -> usize {
        let mut delivered = 0;
        while delivered < limit && !self.net.is_empty() {
            let m = self.net.remove(0);
            let (src, dst) = (usize::from(m.src), usize::from(m.dst));
            if down.contains(&src) || down.contains(&dst) || dst >= self.states.len() {
                continue;
            }
            self.deliver(src, dst, m.msg);
            delivered += 1;
        }
        delivered
    }
}

/// A client's request to append `value` to key `x`; the client is whoever
/// delivers it (the envelope's source).
pub fn append_request(seq: u64, value: &str) -> Msg {
    Msg::ClientRequest(ClientRequest {
        seq,
        op: Op::Append {
            key: "x".into(),
            value: value.into(),
        },
    })
}

/// A log entry for tests: a put by one fixed client, told apart by its term and
/// sequence number (entries with the same two are equal).
pub fn put_entry(term: Term, seq: u64) -> Entry {
    Entry {
        term,
        client: Id::from(1usize << 63),
        seq,
        op: Op::Put {
            key: "k".into(),
            value: format!("{term}/{seq}").into(),
        },
    }
}

//! One Raft server as a real process: the model's actor behind a UDP socket.
//!
//! The host decides nothing Raft decides. It turns datagrams into `on_msg`, timer
//! expiries into `on_timeout`, start into `on_start(storage)`, and executes the
//! commands the actor returns:
//!
//! - `Save`: durably (see [`crate::wal`]: what changed since the last save is
//!   appended to the log) **before** any `Send` of the same step. Datagrams that arrive together are handled as a batch whose saves are
//!   written once, before any of the batch's sends go out (group commit). This is
//!   safe: the durable state is then at least as new as every step whose messages
//!   leave, and a crash before the fsync loses only the batch's inputs, which is
//!   message loss, a behaviour the model already allows.
//! - `SetTimer(t, range)`: a fresh uniformly random deadline within `range`.
//! - `CancelTimer`, `Send`: as named; sends pass through fault injection.
//!
//! With a trace directory, every handler call is recorded (see [`crate::trace`]):
//! records reach the file before the save they lead to, and a `flush` record after
//! the save and before the sends, so the trace shows what was durable when.

use crate::auth::{self, Secret};
use crate::faults::{FaultPatch, Faults};
use crate::host_fault::{Boundary, Broken, Honest, HostFault};
use crate::snapshot_transfer::{self, ChunkError, Reassembly};
use crate::trace::{self, run_step, Recorder};
use crate::wal::{StorageError, Store, WalOptions};
use crate::wire::{
    self, id_to_u64, is_client_id, DecodeError, Dropped, NodeStatus, Unsent, Wire, ANY_CLUSTER,
    MAX_APPEND_BYTES, MAX_DATAGRAM, MAX_ENTRIES_PER_APPEND, MAX_OP_BYTES,
};
use raft_model::{
    Id, Input, Msg, PersistentState, RaftActor, RaftState, Refusal, Role, ServerConfig,
};
use stateright::actor::{Actor, Command, Out};
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How a node is set up.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// 0-based server index: this node is S{index+1} and listens on `peers[index]`.
    pub index: usize,
    pub peers: Vec<SocketAddr>,
    pub data_dir: PathBuf,
    pub faults: Faults,
    /// Print role and term changes on stderr.
    pub verbose: bool,
    /// Record every handler call in `DIR/node-{index+1}.jsonl`.
    pub trace: Option<PathBuf>,
    /// A test-only fault of the host itself (see [`HostFault`]).
    pub host_fault: Option<HostFault>,
    /// The cluster's id; `None`: the one kept in the data directory, or for a
    /// fresh directory one derived from `peers` (see [`crate::cluster_id`]).
    pub cluster_id: Option<u64>,
    /// The cluster's shared secret: every datagram must carry its tag.
    pub secret: Option<Secret>,
    /// Take a snapshot every this many applied entries (0: never); see
    /// [`DEFAULT_SNAPSHOT_INTERVAL`].
    pub snapshot_interval: u64,
}

/// The host's settings of the model's server configuration: the model's default
/// timings, AppendEntries small enough for one datagram, and a snapshot every
/// `snapshot_interval` applied entries (0: never).
pub fn server_config(servers: usize, snapshot_interval: u64) -> ServerConfig {
    let mut cfg = ServerConfig::new(servers);
    cfg.max_entries_per_append = MAX_ENTRIES_PER_APPEND;
    cfg.max_append_bytes = MAX_APPEND_BYTES;
    cfg.max_op_bytes = MAX_OP_BYTES;
    cfg.snapshot_interval = snapshot_interval;
    cfg
}

/// How many applied entries a node lets pass before it takes a snapshot, unless
/// told otherwise: the log on disk then stays below about this many entries (a few
/// hundred kilobytes), and a follower that was away for longer catches up by one
/// InstallSnapshot.
pub const DEFAULT_SNAPSHOT_INTERVAL: u64 = 10_000;

/// Clients whose address is remembered, at most; the least recently heard are forgotten.
const MAX_CLIENTS: usize = 65_536;

/// Datagrams handled per batch before the batch's saves and sends are flushed.
const MAX_BATCH: usize = 64;

/// One running server.
pub struct Node {
    cfg: NodeConfig,
    /// The model's server actor, with the host's settings (`server_config`).
    actor: RaftActor,
    /// This server's model id (`cfg.index`).
    id: Id,
    /// The actor's state after its last step.
    state: RaftState,
    socket: UdpSocket,
    storage: Store,
    /// Where the node meets the outside world: honest, or broken on purpose by a
    /// test-only host fault.
    boundary: Box<dyn Boundary>,
    /// When each of the actor's timers fires (`timer_slot`), if set.
    timers: [Option<Instant>; 4],
    /// InstallSnapshot messages arriving in chunks.
    reassembly: Reassembly,
    /// Datagrams held back by injected delay, earliest due first.
    delayed: BinaryHeap<Delayed>,
    /// The address each client id last sent from, and when, to route replies.
    clients: HashMap<Id, (SocketAddr, Instant)>,
    /// Datagrams refused at the door, by reason.
    dropped: Dropped,
    /// Datagrams not sent as asked, by reason.
    unsent: Unsent,
    /// Durable saves done.
    saves: u64,
    /// InstallSnapshot messages reassembled and delivered.
    snapshots_received: u64,
    /// Network faults injected now (changed at run time by control datagrams).
    faults: Faults,
    /// The current batch's newest save and its sends, executed by `flush`.
    pending_save: Option<PersistentState>,
    pending_sends: Vec<(Id, Msg)>,
    /// Role and term last reported on stderr.
    last_seen: (Role, u64),
    /// The trace recorder, with `--trace`.
    trace: Option<Recorder>,
    /// The cluster id every datagram in and out names.
    cluster: u64,
}

impl Node {
    /// Opens the storage (refusing a corrupt one), binds the socket and calls
    /// `on_start` with what the storage held.
    pub fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        let n = cfg.peers.len();
        if n == 0 || n > raft_model::server_set::MAX_SERVERS {
            return Err(NodeError::Config(format!(
                "a cluster needs 1 to {} servers, --peers lists {n}",
                raft_model::server_set::MAX_SERVERS
            )));
        }
        if cfg.index >= n {
            return Err(NodeError::Config(format!(
                "--id {} is not among the {n} --peers (ids run from 1 to {n})",
                cfg.index + 1
            )));
        }
        for (i, a) in cfg.peers.iter().enumerate() {
            if let Some(j) = cfg.peers[..i].iter().position(|b| b == a) {
                return Err(NodeError::Config(format!(
                    "--peers lists {a} twice (for {} and {}): every server needs its own \
                     address",
                    raft_model::name::server(Id::from(j)),
                    raft_model::name::server(Id::from(i))
                )));
            }
        }
        let (storage, loaded) = Store::open(
            &cfg.data_dir,
            cfg.index as u64,
            n as u64,
            WalOptions::default(),
        )
        .map_err(NodeError::Storage)?;
        if let Some(t) = &loaded.torn_tail {
            eprintln!(
                "{}: recovering the log: {t}",
                raft_model::name::server(Id::from(cfg.index))
            );
        }
        let cluster = crate::cluster_id::settle(&cfg.data_dir, cfg.cluster_id, || {
            crate::cluster_id::from_peers(&cfg.peers)
        })
        .map_err(NodeError::Config)?;
        let mut boundary: Box<dyn Boundary> = match cfg.host_fault {
            Some(f) => Box::new(Broken::new(f, n)),
            None => Box::new(Honest),
        };
        let saved = boundary
            .loaded(&storage, loaded.state)
            .map_err(NodeError::Storage)?;
        let addr = cfg.peers[cfg.index];
        let socket = UdpSocket::bind(addr).map_err(|e| NodeError::Bind(addr, e))?;
        let actor = RaftActor::Server(server_config(n, cfg.snapshot_interval));
        let id = Id::from(cfg.index);
        let mut recorder = match &cfg.trace {
            Some(dir) => {
                let path = trace::node_file(dir, cfg.index);
                Some(Recorder::open(&path, id).map_err(|e| NodeError::Trace(path, e))?)
            }
            None => None,
        };
        let mut out = Out::new();
        let state = actor.on_start(id, &saved, &mut out);
        if let Some(r) = &mut recorder {
            r.start(&actor, &saved, &state, &out);
        }
        if cfg.verbose {
            match &saved {
                Some(p) => eprintln!(
                    "{}: restarted from {} (term {}, snapshot up to {}, {} log entries after it)",
                    raft_model::name::server(id),
                    storage.dir().display(),
                    p.current_term,
                    p.log.snapshot_index(),
                    p.log.len()
                ),
                None => eprintln!(
                    "{}: fresh node, storage {}",
                    raft_model::name::server(id),
                    storage.dir().display()
                ),
            }
        }
        let faults = cfg.faults.clone();
        let last_seen = state
            .server()
            .map_or((Role::Follower, 0), |s| (s.role, s.current_term));
        let mut node = Node {
            cfg,
            actor,
            id,
            state,
            socket,
            storage,
            boundary,
            timers: [None; 4],
            reassembly: Reassembly::default(),
            delayed: BinaryHeap::new(),
            clients: HashMap::new(),
            dropped: Dropped::default(),
            unsent: Unsent::default(),
            saves: 0,
            snapshots_received: 0,
            faults,
            pending_save: None,
            pending_sends: Vec::new(),
            last_seen,
            trace: recorder,
            cluster,
        };
        node.absorb(out);
        node.flush()?;
        Ok(node)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Runs until `stop` is set (then flushes and returns), or a save fails.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), NodeError> {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            if stop.load(Ordering::Relaxed) {
                self.flush()?;
                if let Some(t) = &mut self.trace {
                    t.stopped();
                    t.write_out()
                        .map_err(|e| NodeError::Trace(t.path().to_path_buf(), e))?;
                }
                return Ok(());
            }
            let now = Instant::now();
            self.send_due_delayed(now);
            self.fire_due_timers(now);
            self.flush()?;

            // Sleep until the next timer or held-back datagram, waking at least every
            // 100 ms to notice `stop`.
            let mut next = now + Duration::from_millis(100);
            for t in self.timers.iter().flatten() {
                next = next.min(*t);
            }
            if let Some(d) = self.delayed.peek() {
                next = next.min(d.due);
            }
            let wait = next.saturating_duration_since(Instant::now());
            if wait.is_zero() {
                continue;
            }
            // A zero read timeout means "block forever" to the OS: keep it positive.
            self.socket
                .set_read_timeout(Some(wait.max(Duration::from_micros(10))))
                .map_err(NodeError::Io)?;
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) => self.on_datagram(&buf[..len], from),
                Err(e) if is_timeout(&e) => continue,
                // e.g. ECONNREFUSED from an ICMP error for an earlier send: not fatal.
                Err(_) => continue,
            }
            // Drain what else has arrived, so one fsync covers the whole batch.
            self.socket.set_nonblocking(true).map_err(NodeError::Io)?;
            for _ in 1..MAX_BATCH {
                match self.socket.recv_from(&mut buf) {
                    Ok((len, from)) => self.on_datagram(&buf[..len], from),
                    Err(e) if is_timeout(&e) => break,
                    Err(_) => continue,
                }
            }
            self.socket.set_nonblocking(false).map_err(NodeError::Io)?;
        }
    }

    fn fire_due_timers(&mut self, now: Instant) {
        for t in TIMERS {
            let slot = timer_slot(t);
            if self.timers[slot].is_some_and(|due| due <= now) {
                self.timers[slot] = None;
                self.step(Input::Timeout(t));
            }
        }
    }

    fn deliver(&mut self, src: Id, msg: Msg) {
        let msg = self.boundary.received(src, msg);
        self.step(Input::Deliver { src, msg });
    }

    fn step(&mut self, input: Input) {
        let out = run_step(
            &self.actor,
            self.id,
            &mut self.state,
            input,
            self.trace.as_mut(),
        );
        self.absorb(out);
    }

    /// Takes one step's commands: timers now, saves and sends at the next `flush`.
    fn absorb(&mut self, out: Out<RaftActor>) {
        for c in out {
            match c {
                // Each Save carries the whole persistent state: the last one wins.
                Command::Save(p) => self.pending_save = Some(p),
                Command::SetTimer(t, range) => {
                    self.timers[timer_slot(t)] = Some(Instant::now() + random_in(&range))
                }
                Command::CancelTimer(t) if self.boundary.cancels_timers() => {
                    self.timers[timer_slot(t)] = None
                }
                Command::CancelTimer(_) => {}
                Command::Send(dst, msg) => self.pending_sends.push((dst, msg)),
                // The model's actor makes no random choices (`Random = ()`).
                Command::ChooseRandom(..) => {}
            }
        }
        self.report_changes();
    }

    /// Saves durably, then sends: the one ordering that keeps Raft safe on a crash.
    /// With a trace: the batch's records reach the file first, then the save, then
    /// a flush record, then the sends.
    fn flush(&mut self) -> Result<(), NodeError> {
        if !self.boundary.sends_after_save() && self.pending_save.is_some() {
            self.transmit_pending();
        }
        self.write_trace()?;
        if let Some(p) = self.pending_save.take() {
            self.boundary
                .save(&mut self.storage, p)
                .map_err(|e| NodeError::Save(self.storage.path(), e))?;
            self.saves += 1;
            if let Some(t) = &mut self.trace {
                t.flushed();
            }
            self.write_trace()?;
        }
        self.transmit_pending();
        Ok(())
    }

    fn transmit_pending(&mut self) {
        for (dst, msg) in std::mem::take(&mut self.pending_sends) {
            self.transmit(dst, msg);
        }
    }

    fn write_trace(&mut self) -> Result<(), NodeError> {
        match &mut self.trace {
            Some(t) => t
                .write_out()
                .map_err(|e| NodeError::Trace(t.path().to_path_buf(), e)),
            None => Ok(()),
        }
    }

    pub fn status(&self, nonce: u64) -> NodeStatus {
        let (role, term, voted_for, leader_hint, log_len, commit_index) = match &self.state {
            RaftState::Server(s) => (
                s.role,
                s.current_term,
                s.voted_for.map(id_to_u64),
                s.leader_hint.map(id_to_u64),
                s.log.last_index(),
                s.commit_index,
            ),
            RaftState::Client(_) => (Role::Follower, 0, None, None, 0, 0),
        };
        let snapshot_index = self.state.server().map_or(0, |s| s.log.snapshot_index());
        NodeStatus {
            nonce,
            index: self.cfg.index as u64,
            servers: self.cfg.peers.len() as u64,
            role,
            term,
            voted_for,
            leader_hint,
            log_len,
            snapshot_index,
            commit_index,
            dropped: self.dropped.clone(),
            unsent: self.unsent.clone(),
            faults: self.faults.clone(),
            clients_known: self.clients.len() as u64,
            saves: self.saves,
            cluster_id: self.cluster,
            snapshots_received: self.snapshots_received,
        }
    }

    fn report_changes(&mut self) {
        let Some(s) = self.state.server() else { return };
        let now = (s.role, s.current_term);
        if now != self.last_seen {
            if self.cfg.verbose {
                eprintln!(
                    "{}: {:?} in term {}",
                    raft_model::name::server(self.id),
                    s.role,
                    s.current_term
                );
            }
            self.last_seen = now;
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// For tests and tools: a status id that is unlikely to repeat.
pub fn nonce() -> u64 {
    crate::random::u64()
}

mod door;
mod error;
mod outbox;
mod timing;

pub use timing::random_in;
use timing::{timer_slot, Delayed, TIMERS};

pub use error::NodeError;

#[cfg(test)]
#[path = "door_props.rs"]
mod door_props;

#[cfg(test)]
mod tests;

//! The client side: the model's client actor hosted over a UDP socket.
//!
//! A real client draws a random id (63 bits from the OS, the top bit set: never a
//! server id) and runs `RaftActor::Client` itself: following leader hints and
//! retrying with the same sequence number is the model's client logic, not
//! re-written here. The host only watches the replies go by to hand each
//! operation's result to the caller. One id serves one *session*: a list of
//! operations done in order; a tool that goes on after a session gave up starts a
//! new session with a new id.

use crate::link::{bind_for, Link};
use crate::node::random_in;
use crate::trace::{run_step, ClientTrace, Recorder};
use crate::wire::{id_to_u64, op_bytes, random_client_id, Wire, MAX_DATAGRAM, MAX_OP_BYTES};
use raft_model::{ClientConfig, Id, Input, Msg, Op, OpResult, RaftActor, RaftState, Timer};
use stateright::actor::{Actor, Command, Out};
use std::fmt;
use std::io;
use std::net::UdpSocket;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use crate::link::{leader_of, local_addrs, DEFAULT_BASE_PORT, DEFAULT_NODES};

/// One answered operation.
#[derive(Clone, Debug)]
pub struct Completed {
    pub op: Op,
    pub result: OpResult,
    /// From the first send of this operation to its answer, retries included.
    pub latency: Duration,
    /// The 0-based index of the server that answered (the leader).
    pub server: usize,
}

/// One operation of a session, as it went: invoked (first sent) at `invoked`,
/// answered at `answered` if it was.
#[derive(Clone, Debug)]
pub struct OpReport {
    pub op: Op,
    pub invoked: Instant,
    pub answered: Option<(Instant, OpResult, usize)>,
}

#[derive(Debug)]
pub enum ClientError {
    Usage(String),
    Io(io::Error),
    /// No answer within the deadline: most likely no leader has a majority.
    Timeout {
        done: usize,
        total: usize,
        waited: Duration,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Usage(m) => f.write_str(m),
            ClientError::Io(e) => write!(f, "socket error: {e}"),
            ClientError::Timeout {
                done,
                total,
                waited,
            } => write!(
                f,
                "no answer after {:.1} s ({done} of {total} operation(s) done): no leader with \
                 a majority answered. Is the cluster running (`raftlab cluster`), are a majority \
                 of its nodes up and reachable, and does --cluster list their addresses? \
                 `raftlab client status` shows what each node says. An unanswered write may \
                 still be applied later.",
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Every operation answered.
    Done,
    /// The operation in flight went unanswered for the operation timeout.
    GaveUp,
    /// The deadline came with an operation in flight (or none started).
    Deadline,
}

/// Spaces operations out to at most a rate, shared by the sessions of a workload.
pub struct Pacer {
    every: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// At most `per_second` operations a second in all (0: no limit).
    pub fn new(per_second: f64) -> Option<Pacer> {
        (per_second > 0.0 && per_second.is_finite()).then(|| Pacer {
            every: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(Instant::now()),
        })
    }

    /// The moment the next operation may start (and takes that slot).
    fn slot(&self) -> Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let at = (*next).max(now);
        *next = at + self.every;
        at
    }
}

/// What a session runs with besides its operations.
pub struct SessionOptions<'a> {
    /// Record the client actor's steps here.
    pub trace: Option<&'a ClientTrace>,
    /// Give up on an operation unanswered this long (the session ends).
    pub op_timeout: Duration,
    /// End the session at this moment, whatever is in flight.
    pub deadline: Instant,
    /// Start operations no faster than this.
    pub pace: Option<&'a Pacer>,
}

/// Runs `ops` in order against the cluster as one client, each operation retried
/// (with the same sequence number) until it is answered; fails once `timeout` has
/// passed with operations still unanswered.
pub fn run_ops(
    link: &Link,
    ops: Vec<Op>,
    timeout: Duration,
) -> Result<Vec<Completed>, ClientError> {
    run_ops_traced(link, ops, timeout, None)
}

/// [`run_ops`], recording every handler call of the client actor in `trace`.
pub fn run_ops_traced(
    link: &Link,
    ops: Vec<Op>,
    timeout: Duration,
    trace: Option<&ClientTrace>,
) -> Result<Vec<Completed>, ClientError> {
    let total = ops.len();
    let started = Instant::now();
    let opts = SessionOptions {
        trace,
        op_timeout: timeout,
        deadline: started + timeout,
        pace: None,
    };
    let mut done = Vec::with_capacity(total);
    let end = run_session(link, ops, &opts, &mut |r| {
        if let Some((at, result, server)) = r.answered {
            done.push(Completed {
                op: r.op,
                result,
                latency: at.saturating_duration_since(r.invoked),
                server,
            });
        }
    })?;
    match end {
        SessionEnd::Done => Ok(done),
        SessionEnd::GaveUp | SessionEnd::Deadline => Err(ClientError::Timeout {
            done: done.len(),
            total,
            waited: started.elapsed(),
        }),
    }
}

/// Checks what a caller asks before any datagram leaves.
fn check_usage(link: &Link, ops: &[Op]) -> Result<(), ClientError> {
    if link.addrs.is_empty() {
        return Err(ClientError::Usage(
            "--cluster lists no address: give the nodes' addresses, e.g. 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002".into(),
        ));
    }
    if let Some(op) = ops.iter().find(|op| op_bytes(op) > MAX_OP_BYTES) {
        return Err(ClientError::Usage(format!(
            "{op:?}: key and value together take {} bytes, more than the {MAX_OP_BYTES} a node \
             accepts; use a shorter value",
            op_bytes(op)
        )));
    }
    Ok(())
}

/// One client session: a fresh client id doing `ops` in order. Each operation is
/// reported as it ends (answered, or left in flight when the session ends).
pub fn run_session(
    link: &Link,
    ops: Vec<Op>,
    opts: &SessionOptions,
    report: &mut dyn FnMut(OpReport),
) -> Result<SessionEnd, ClientError> {
    check_usage(link, &ops)?;
    let mut s = Session::start(link, ops, opts)?;
    let end = s.run(opts, report);
    s.finish(end, report)
}

/// A running session: the client actor, its socket, its operation in flight.
struct Session<'a> {
    link: &'a Link,
    socket: UdpSocket,
    actor: RaftActor,
    ops: Vec<Op>,
    id: Id,
    state: RaftState,
    recorder: Option<Recorder>,
    retry: Option<Instant>,
    /// The operation in flight: its index and when it was first sent.
    in_flight: Option<(usize, Instant)>,
}

impl<'a> Session<'a> {
    fn start(link: &'a Link, ops: Vec<Op>, opts: &SessionOptions) -> Result<Self, ClientError> {
        let socket = bind_for(link.addrs[0]).map_err(ClientError::Io)?;
        let mut cfg = ClientConfig::new(link.addrs.len(), ops.clone());
        // Retry sooner than the model's default when a node is silent (dead or
        // partitioned), randomised so concurrent clients spread out.
        cfg.retry_timeout = Duration::from_millis(250)..Duration::from_millis(400);
        let actor = RaftActor::Client(cfg);
        let id = random_client_id();
        let mut recorder = opts.trace.map(|t| t.recorder(id));
        if let Some(p) = opts.pace {
            sleep_until(p.slot(), opts.deadline);
        }
        let mut out = Out::new();
        let state = actor.on_start(id, &None, &mut out);
        if let Some(r) = &mut recorder {
            r.start(&actor, &None, &state, &out);
        }
        let mut s = Session {
            link,
            socket,
            actor,
            ops,
            id,
            state,
            recorder,
            retry: None,
            in_flight: None,
        };
        s.execute(out)?;
        Ok(s)
    }

    fn done(&self) -> usize {
        self.state.client().map_or(0, |c| c.done as usize)
    }

    fn run(
        &mut self,
        opts: &SessionOptions,
        report: &mut dyn FnMut(OpReport),
    ) -> Result<SessionEnd, ClientError> {
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        loop {
            if self.done() >= self.ops.len() {
                return Ok(SessionEnd::Done);
            }
            let now = Instant::now();
            if now >= opts.deadline {
                return Ok(SessionEnd::Deadline);
            }
            if self
                .in_flight
                .is_some_and(|(_, t)| now.saturating_duration_since(t) >= opts.op_timeout)
            {
                return Ok(SessionEnd::GaveUp);
            }
            if self.retry.is_some_and(|t| t <= now) {
                self.retry = None;
                self.step(Input::Timeout(Timer::ClientRetry))?;
                continue;
            }
            let give_up = self
                .in_flight
                .map_or(opts.deadline, |(_, t)| t + opts.op_timeout);
            let until = self
                .retry
                .map_or(opts.deadline, |t| t.min(opts.deadline))
                .min(give_up);
            let wait = until
                .saturating_duration_since(now)
                .max(Duration::from_micros(10));
            self.socket
                .set_read_timeout(Some(wait))
                .map_err(ClientError::Io)?;
            let Ok((len, from)) = self.socket.recv_from(&mut buf) else {
                continue;
            };
            // Only this cluster's datagrams, and only the servers' own addresses
            // speak as servers; anything else is ignored.
            let Some(Wire::Raft { src, dst, msg }) = self.link.decode(&buf[..len]) else {
                continue;
            };
            let server = id_to_u64(src) as usize;
            if dst != self.id
                || self.link.addrs.get(server) != Some(&from)
                || self.actor.accepts(self.id, &self.state, src, &msg).is_err()
            {
                continue;
            }
            self.deliver(src, msg, server, opts, report)?;
        }
    }

    fn deliver(
        &mut self,
        src: Id,
        msg: Msg,
        server: usize,
        opts: &SessionOptions,
        report: &mut dyn FnMut(OpReport),
    ) -> Result<(), ClientError> {
        let done = self.done();
        let answer = match &msg {
            Msg::ClientReply { seq, result } if *seq == done as u64 + 1 => Some(result.clone()),
            _ => None,
        };
        if let (Some(result), Some((k, invoked))) = (answer, self.in_flight) {
            let at = Instant::now();
            report(OpReport {
                op: self.ops[k].clone(),
                invoked,
                answered: Some((at, result, server)),
            });
            self.in_flight = None;
            // The next operation starts when the actor takes this reply: hold it
            // until the pace allows (a reply delivered late is allowed: the network
            // may delay any message).
            if let Some(p) = opts.pace.filter(|_| done + 1 < self.ops.len()) {
                sleep_until(p.slot(), opts.deadline);
            }
        }
        self.step(Input::Deliver { src, msg })
    }

    fn step(&mut self, input: Input) -> Result<(), ClientError> {
        let out = run_step(
            &self.actor,
            self.id,
            &mut self.state,
            input,
            self.recorder.as_mut(),
        );
        self.execute(out)
    }

    /// Records reach the file before the sends they describe leave.
    fn execute(&mut self, out: Out<RaftActor>) -> Result<(), ClientError> {
        if let Some(r) = &mut self.recorder {
            r.write_out().map_err(ClientError::Io)?;
        }
        for c in out {
            match c {
                Command::Send(dst, msg) => {
                    if let Msg::ClientRequest(r) = &msg {
                        let k = r.seq.saturating_sub(1) as usize;
                        if self.in_flight.is_none_or(|(i, _)| i != k) {
                            self.in_flight = Some((k, Instant::now()));
                        }
                    }
                    let Some(addr) = self.link.addrs.get(id_to_u64(dst) as usize) else {
                        continue;
                    };
                    let w = Wire::Raft {
                        src: self.id,
                        dst,
                        msg,
                    };
                    if let Ok(bytes) = self.link.encode(&w) {
                        // A lost request is retried by the client actor's timer.
                        let _ = self.socket.send_to(&bytes, addr);
                    }
                }
                Command::SetTimer(_, range) => {
                    self.retry = Some(Instant::now() + random_in(&range))
                }
                Command::CancelTimer(_) => self.retry = None,
                Command::Save(_) | Command::ChooseRandom(..) => {}
            }
        }
        Ok(())
    }

    /// Reports the operation left in flight, and ends the actor's trace.
    fn finish(
        mut self,
        end: Result<SessionEnd, ClientError>,
        report: &mut dyn FnMut(OpReport),
    ) -> Result<SessionEnd, ClientError> {
        if let Some((k, invoked)) = self.in_flight.take() {
            report(OpReport {
                op: self.ops[k].clone(),
                invoked,
                answered: None,
            });
        }
        if let Some(r) = &mut self.recorder {
            r.stopped();
            r.write_out().map_err(ClientError::Io)?;
        }
        end
    }
}

fn sleep_until(at: Instant, deadline: Instant) {
    let now = Instant::now();
    let until = at.min(deadline);
    if until > now {
        std::thread::sleep(until - now);
    }
}

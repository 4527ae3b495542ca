//! The client side: the model's client actor hosted over a UDP socket, plus the
//! host-level status and control requests.
//!
//! A real client picks a random 64-bit id with the top bit set (never a server id)
//! and runs `RaftActor::Client` itself: following leader hints and retrying with the
//! same sequence number is the model's client logic, not re-written here. The host
//! only watches the replies go by to hand each operation's result to the caller.

use crate::faults::{FaultPatch, Faults};
use crate::node::random_in;
use crate::trace::{client_file as trace_file, run_step, Recorder};
use crate::wire::{
    self, id_to_u64, op_bytes, random_client_id, NodeStatus, Wire, MAX_DATAGRAM, MAX_OP_BYTES,
};
use raft_model::{ClientConfig, Id, Input, Msg, Op, OpResult, RaftActor, RaftState, Timer};
use stateright::actor::{Actor, Command, Out};
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

/// The addresses `raftlab cluster` uses by default: node i on 127.0.0.1:7000+i-1.
pub const DEFAULT_BASE_PORT: u16 = 7000;
pub const DEFAULT_NODES: usize = 3;

pub fn local_addrs(base_port: u16, n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], base_port.wrapping_add(i as u16))))
        .collect()
}

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

/// Runs `ops` in order against the cluster as one client, each operation retried
/// (with the same sequence number) until it is answered; fails once `timeout` has
/// passed with operations still unanswered.
pub fn run_ops(
    cluster: &[SocketAddr],
    ops: Vec<Op>,
    timeout: Duration,
) -> Result<Vec<Completed>, ClientError> {
    run_ops_traced(cluster, ops, timeout, None)
}

/// [`run_ops`], recording every handler call of the client actor in
/// `trace/client-ID.jsonl` if `trace` is given.
pub fn run_ops_traced(
    cluster: &[SocketAddr],
    ops: Vec<Op>,
    timeout: Duration,
    trace: Option<&Path>,
) -> Result<Vec<Completed>, ClientError> {
    if cluster.is_empty() {
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
    let total = ops.len();
    let socket = bind_for(cluster[0]).map_err(ClientError::Io)?;
    let mut cfg = ClientConfig::new(cluster.len(), ops.clone());
    // Retry sooner than the model's default when a node is silent (dead or
    // partitioned), randomised so concurrent clients spread out.
    cfg.retry_timeout = Duration::from_millis(250)..Duration::from_millis(400);
    let actor = RaftActor::Client(cfg);
    let id = random_client_id();
    let mut recorder = match trace {
        Some(dir) => Some(Recorder::open(&trace_file(dir, id), id).map_err(ClientError::Io)?),
        None => None,
    };
    let started = Instant::now();
    let deadline = started + timeout;
    let mut retry: Option<Instant> = None;
    let mut out = Out::new();
    let mut state = actor.on_start(id, &None, &mut out);
    if let Some(r) = &mut recorder {
        r.start(&actor, &None, &state, &out);
    }
    let mut op_started = Instant::now();
    let mut results = Vec::with_capacity(total);
    // Records reach the file before the sends they describe leave.
    write_trace(&mut recorder)?;
    execute(&socket, cluster, id, out, &mut retry);
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let done = match &state {
            RaftState::Client(c) => c.done as usize,
            RaftState::Server(_) => 0,
        };
        if done >= total {
            stop_trace(&mut recorder)?;
            return Ok(results);
        }
        let now = Instant::now();
        if now >= deadline {
            stop_trace(&mut recorder)?;
            return Err(ClientError::Timeout {
                done,
                total,
                waited: now - started,
            });
        }
        if retry.is_some_and(|t| t <= now) {
            retry = None;
            let input = Input::Timeout(Timer::ClientRetry);
            let out = run_step(&actor, id, &mut state, input, recorder.as_mut());
            write_trace(&mut recorder)?;
            execute(&socket, cluster, id, out, &mut retry);
            continue;
        }
        let until = retry.map_or(deadline, |t| t.min(deadline));
        let wait = until
            .saturating_duration_since(now)
            .max(Duration::from_micros(10));
        socket
            .set_read_timeout(Some(wait))
            .map_err(ClientError::Io)?;
        let (len, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => continue,
        };
        // Only the servers' own addresses speak as servers; anything else is ignored.
        let Ok(Wire::Raft { src, dst, msg }) = wire::decode(&buf[..len]) else {
            continue;
        };
        let s = id_to_u64(src) as usize;
        if dst != id || cluster.get(s) != Some(&from) || actor.admits(id, src, &msg).is_err() {
            continue;
        }
        let answer = match &msg {
            Msg::ClientReply { seq, result } if *seq == done as u64 + 1 => Some(result.clone()),
            _ => None,
        };
        let out = run_step(
            &actor,
            id,
            &mut state,
            Input::Deliver { src, msg },
            recorder.as_mut(),
        );
        let now_done = state.client().map_or(0, |c| c.done as usize);
        if now_done > done {
            if let (Some(result), Some(op)) = (answer, ops.get(done)) {
                results.push(Completed {
                    op: op.clone(),
                    result,
                    latency: op_started.elapsed(),
                    server: s,
                });
            }
            op_started = Instant::now();
        }
        write_trace(&mut recorder)?;
        execute(&socket, cluster, id, out, &mut retry);
    }
}

fn write_trace(recorder: &mut Option<Recorder>) -> Result<(), ClientError> {
    match recorder {
        Some(r) => r.write_out().map_err(ClientError::Io),
        None => Ok(()),
    }
}

fn stop_trace(recorder: &mut Option<Recorder>) -> Result<(), ClientError> {
    if let Some(r) = recorder {
        r.stopped();
    }
    write_trace(recorder)
}

fn execute(
    socket: &UdpSocket,
    cluster: &[SocketAddr],
    id: Id,
    out: Out<RaftActor>,
    retry: &mut Option<Instant>,
) {
    for c in out {
        match c {
            Command::Send(dst, msg) => {
                let Some(addr) = cluster.get(id_to_u64(dst) as usize) else {
                    continue;
                };
                if let Ok(bytes) = wire::encode(&Wire::Raft { src: id, dst, msg }) {
                    // A lost request is retried by the client actor's timer.
                    let _ = socket.send_to(&bytes, addr);
                }
            }
            Command::SetTimer(_, range) => *retry = Some(Instant::now() + random_in(&range)),
            Command::CancelTimer(_) => *retry = None,
            Command::Save(_) | Command::ChooseRandom(..) => {}
        }
    }
}

fn bind_for(target: SocketAddr) -> io::Result<UdpSocket> {
    let any: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(any)
}

/// Sends `request(nonce)` to every address and collects the first matching reply
/// from each, resending to the silent ones a few times, until `timeout`.
fn ask_all<T>(
    addrs: &[SocketAddr],
    timeout: Duration,
    request: impl Fn(u64) -> Wire,
    accept: impl Fn(Wire, u64) -> Option<T>,
) -> io::Result<Vec<Option<T>>> {
    let socket = bind_for(addrs.first().copied().unwrap_or(([127, 0, 0, 1], 0).into()))?;
    let nonce = fastrand::u64(..);
    let bytes = wire::encode(&request(nonce)).map_err(io::Error::other)?;
    let mut answers: Vec<Option<T>> = addrs.iter().map(|_| None).collect();
    let start = Instant::now();
    let resend_every = (timeout / 4).max(Duration::from_millis(20));
    let mut next_send = start;
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    while answers.iter().any(Option::is_none) {
        let now = Instant::now();
        if now >= start + timeout {
            break;
        }
        if now >= next_send {
            for (a, ans) in addrs.iter().zip(&answers) {
                if ans.is_none() {
                    let _ = socket.send_to(&bytes, a);
                }
            }
            next_send = now + resend_every;
        }
        let until = next_send.min(start + timeout);
        socket.set_read_timeout(Some(
            until
                .saturating_duration_since(now)
                .max(Duration::from_micros(10)),
        ))?;
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(w) = wire::decode(&buf[..len]) else {
            continue;
        };
        if let Some(i) = addrs.iter().position(|a| *a == from) {
            if answers[i].is_none() {
                answers[i] = accept(w, nonce);
            }
        }
    }
    Ok(answers)
}

/// Each node's status, `None` for a node that did not answer within `timeout`.
pub fn status_all(addrs: &[SocketAddr], timeout: Duration) -> io::Result<Vec<Option<NodeStatus>>> {
    ask_all(
        addrs,
        timeout,
        |nonce| Wire::Status { nonce },
        |w, nonce| match w {
            Wire::StatusReply(s) if s.nonce == nonce => Some(*s),
            _ => None,
        },
    )
}

/// Changes the faults of the node at `addr`; returns the faults now in force.
pub fn set_faults(
    addr: SocketAddr,
    patch: FaultPatch,
    timeout: Duration,
) -> Result<Faults, String> {
    let answers = ask_all(
        &[addr],
        timeout,
        |nonce| Wire::Control {
            nonce,
            patch: patch.clone(),
        },
        |w, nonce| match w {
            Wire::ControlReply { nonce: n, result } if n == nonce => Some(result),
            _ => None,
        },
    )
    .map_err(|e| format!("socket error: {e}"))?;
    match answers.into_iter().next().flatten() {
        Some(r) => r,
        None => Err(format!(
            "the node at {addr} did not answer within {:.1} s: is it running?",
            timeout.as_secs_f64()
        )),
    }
}

/// The leader among `statuses`: the node that says it leads in the highest term.
pub fn leader_of(statuses: &[Option<NodeStatus>]) -> Option<(usize, u64)> {
    statuses
        .iter()
        .flatten()
        .filter(|s| s.role == raft_model::Role::Leader)
        .max_by_key(|s| s.term)
        .map(|s| (s.index as usize, s.term))
}

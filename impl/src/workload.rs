//! A workload of concurrent clients in one process: each client a thread doing
//! sessions of random operations (put, append, get) over a key set, closed loop
//! or paced to a rate, for a given time; every operation's call, answer and
//! outcome kept for the report and the pictures. One trace file for all of them
//! (see [`crate::trace::ClientTrace`]).

use crate::client::{run_session, OpReport, Pacer, SessionEnd, SessionOptions};
use crate::link::Link;
use crate::trace::ClientTrace;
use raft_model::{Op, OpResult};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the clients do.
#[derive(Clone, Debug)]
pub struct WorkloadOptions {
    pub clients: usize,
    pub keys: usize,
    /// Operations per session (one client id).
    pub ops_per_session: usize,
    /// Give up on an operation unanswered this long (the session ends there).
    pub op_timeout: Duration,
    /// Operations per second in all (`None`: closed loop, each client as fast
    /// as it is answered).
    pub rate: Option<f64>,
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    Put,
    Append,
    Get,
}

impl OpKind {
    pub fn of(op: &Op) -> OpKind {
        match op {
            Op::Put { .. } => OpKind::Put,
            Op::Append { .. } => OpKind::Append,
            Op::Get { .. } => OpKind::Get,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Append => "append",
            OpKind::Get => "get",
        }
    }
}

/// How an operation ended, as Jepsen names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered: it took effect (a write) or saw this value (a read).
    Ok,
    /// Not answered, and known to have had no effect: a read.
    Fail,
    /// Not answered, and may or may not take effect: a write.
    Info,
}

/// One operation, its times in seconds from the workload's start.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OpRecord {
    pub client: usize,
    pub kind: OpKind,
    pub start_s: f64,
    /// When it was answered, or when its client gave up on it.
    pub end_s: f64,
    pub outcome: Outcome,
}

/// Runs the workload against `link` until `until`, recording into `trace`.
pub fn run(
    link: &Link,
    o: &WorkloadOptions,
    trace: Option<Arc<ClientTrace>>,
    t0: Instant,
    until: Instant,
) -> Vec<OpRecord> {
    let records = Arc::new(Mutex::new(Vec::new()));
    let pacer = o.rate.and_then(Pacer::new).map(Arc::new);
    let threads: Vec<_> = (0..o.clients)
        .map(|c| {
            let link = link.clone();
            let o = o.clone();
            let trace = trace.clone();
            let records = records.clone();
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                client_loop(
                    c,
                    &link,
                    &o,
                    trace.as_deref(),
                    pacer.as_deref(),
                    t0,
                    until,
                    &records,
                )
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let mut v = std::mem::take(&mut *records.lock().unwrap_or_else(|e| e.into_inner()));
    v.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    v
}

#[allow(clippy::too_many_arguments)]
fn client_loop(
    c: usize,
    link: &Link,
    o: &WorkloadOptions,
    trace: Option<&ClientTrace>,
    pace: Option<&Pacer>,
    t0: Instant,
    until: Instant,
    records: &Mutex<Vec<OpRecord>>,
) {
    let mut rng = fastrand::Rng::with_seed(o.seed.wrapping_mul(1000).wrapping_add(c as u64));
    let opts = SessionOptions {
        trace,
        op_timeout: o.op_timeout,
        deadline: until,
        pace,
    };
    while Instant::now() < until {
        let ops = random_ops(&mut rng, c, o);
        let mut mine = Vec::new();
        let end = run_session(link, ops, &opts, &mut |r| mine.push(record(c, r, t0)));
        records
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(mine);
        if !matches!(end, Ok(SessionEnd::Done) | Ok(SessionEnd::GaveUp)) {
            break;
        }
    }
}

fn record(client: usize, r: OpReport, t0: Instant) -> OpRecord {
    let s = |i: Instant| i.saturating_duration_since(t0).as_secs_f64();
    let kind = OpKind::of(&r.op);
    match r.answered {
        Some((at, _result, _)) => OpRecord {
            client,
            kind,
            start_s: s(r.invoked),
            end_s: s(at),
            outcome: Outcome::Ok,
        },
        None => OpRecord {
            client,
            kind,
            start_s: s(r.invoked),
            end_s: s(Instant::now()),
            outcome: if kind == OpKind::Get {
                Outcome::Fail
            } else {
                Outcome::Info
            },
        },
    }
}

/// Operations of client `c`: a third each of puts, appends and gets, over the
/// keys; values name the client and a counter, so every write is distinct.
fn random_ops(rng: &mut fastrand::Rng, c: usize, o: &WorkloadOptions) -> Vec<Op> {
    (0..o.ops_per_session.max(1))
        .map(|_| {
            let key: raft_model::Text = format!("k{}", rng.usize(..o.keys.max(1))).into();
            let value: raft_model::Text = format!("{c}.{} ", rng.u32(..1_000_000)).into();
            match rng.u8(..3) {
                0 => Op::Put { key, value },
                1 => Op::Append { key, value },
                _ => Op::Get { key },
            }
        })
        .collect()
}

/// The final reads of every key (one session), recorded like the rest.
pub fn read_back(
    link: &Link,
    keys: usize,
    trace: Option<&ClientTrace>,
    timeout: Duration,
) -> Result<Vec<(String, Option<String>)>, String> {
    let ops: Vec<Op> = (0..keys)
        .map(|k| Op::Get {
            key: format!("k{k}").into(),
        })
        .collect();
    let done =
        crate::client::run_ops_traced(link, ops, timeout, trace).map_err(|e| e.to_string())?;
    Ok(done
        .into_iter()
        .map(|c| {
            let key = match &c.op {
                Op::Get { key } | Op::Put { key, .. } | Op::Append { key, .. } => key.to_string(),
            };
            let v = match c.result {
                OpResult::Value(v) => v.map(|v| v.to_string()),
                OpResult::Done => None,
            };
            (key, v)
        })
        .collect())
}

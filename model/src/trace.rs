//! The trace vocabulary: what a host records about every handler call of this
//! crate's actor, so that a recorded run can be replayed through the same handlers.
//!
//! A trace is one JSON-lines file per actor (node or client); each line is a
//! [`Record`]: a handler call (start, deliver, timeout) with the state after it and
//! the commands it emitted, or a host event (a group commit became durable, a clean
//! stop). The format is documented in `traces/README.md`.
//!
//! To keep lines small, states and saves are recorded as changes: a server state
//! lists its small fields in full and its log and key/value store as the change from
//! the previous record of the same actor (the start record changes from nothing),
//! and a `Save` lists the change from the previous save (or from the storage read at
//! start). [`TraceState::apply`] and [`TraceCommand::decode`] undo the encoding
//! exactly; [`TraceState::between`] and [`TraceCommand::encode`] make it.

use crate::actor::RaftActor;
use crate::client::ClientConfig;
use crate::msg::{Msg, Op, Term, Timer};
use crate::mutant::MutantSet;
use crate::server::{PersistentState, ServerConfig, ServerState};
pub use crate::trace_delta::{DeltaError, KvDelta, LogDelta, ServerDelta, TraceState};
pub use crate::trace_log_digest::{LogChain, LogDigest};
pub use crate::trace_snapshot::{SavedSnapshot, SnapshotPoint, StoredState};
use serde::{Deserialize, Serialize};
use stateright::actor::{Command, Id};
use std::ops::Range;
use std::time::Duration;

/// The format version, in every start record. 2: a start names the log it read
/// by digest ([`StoredState`]); 1 copied it.
pub const FORMAT: u32 = 2;

/// The versions a reader reads.
pub const FORMATS_READ: std::ops::RangeInclusive<u32> = 1..=FORMAT;

/// One line of a trace file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The actor: a server's index (S1 is 0) or a client's id.
    pub node: Id,
    /// This actor's handler calls are numbered from 0, across restarts. A flush or
    /// stop record carries the number of the last handler call it covers.
    pub step: u64,
    /// Wall-clock time when the record was made, in nanoseconds since the Unix epoch.
    pub time_ns: u64,
    pub event: Event,
    /// The actor's state after the handler call, as a change from the previous
    /// record's state; absent when the handler left the state as it was (and on
    /// flush and stop records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<TraceState>,
    /// The commands the handler emitted, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out: Vec<TraceCommand>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `on_start`. Boxed: a start is rare and large, and every record in memory
    /// would otherwise be as large (the JSON is the same as a struct variant's).
    Start(Box<Start>),
    /// `on_msg`: a message from `src`.
    Deliver { src: Id, msg: Msg },
    /// `on_timeout`.
    Timeout { timer: Timer },
    /// The host's group commit: every `Save` of steps up to `step` is durable now,
    /// and the sends of those steps may leave. Recorded only for batches that saved.
    Flush,
    /// A clean stop: everything was flushed. A start that follows a start without a
    /// stop in between is a restart after a crash.
    Stop,
}

/// `on_start`, with the storage it read (`None`: a fresh actor), its log and
/// snapshot by digest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Start {
    pub format: u32,
    pub actor: ActorConfig,
    pub storage: Option<StoredState>,
    /// Bytes of an incomplete last line that the host cut from the file before
    /// this start (a crash while writing a record; nothing that record described
    /// had left the node).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub repaired_bytes: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// What the actor is, so that a reader can rebuild it: the model's configuration
/// minus what a host never changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorConfig {
    Server {
        servers: usize,
        election_timeout_us: [u64; 2],
        heartbeat_interval_us: [u64; 2],
        max_entries_per_append: usize,
        /// Absent in traces made before batches were capped in bytes: no cap.
        #[serde(default = "no_byte_cap")]
        max_append_bytes: usize,
        /// Absent in traces made before the model limited operations: the host's
        /// limit then, 1 KiB.
        #[serde(default = "old_op_limit")]
        max_op_bytes: usize,
        /// Absent: no snapshots (as before they existed).
        #[serde(default, skip_serializing_if = "is_zero")]
        snapshot_interval: u64,
        #[serde(default, skip_serializing_if = "is_false")]
        snapshot_timer: bool,
        /// Known Raft bugs switched on; a trace of a correct host has none.
        #[serde(default, skip_serializing_if = "is_no_mutant")]
        mutants: MutantSet,
    },
    Client {
        servers: usize,
        ops: Vec<Op>,
        retry_timeout_us: [u64; 2],
        /// When the first request goes out (absent: at once).
        #[serde(default, skip_serializing_if = "is_zero_range")]
        start_delay_us: [u64; 2],
    },
}

fn no_byte_cap() -> usize {
    usize::MAX
}

fn old_op_limit() -> usize {
    1024
}

fn is_false(v: &bool) -> bool {
    !*v
}

fn is_zero_range(r: &[u64; 2]) -> bool {
    *r == [0, 0]
}

fn is_no_mutant(m: &MutantSet) -> bool {
    *m == MutantSet::NONE
}

/// A duration range in whole microseconds, as traces record them.
pub fn range_us(r: &Range<Duration>) -> [u64; 2] {
    [r.start.as_micros() as u64, r.end.as_micros() as u64]
}

fn range_from_us(r: [u64; 2]) -> Range<Duration> {
    Duration::from_micros(r[0])..Duration::from_micros(r[1])
}

impl ActorConfig {
    pub fn of(actor: &RaftActor) -> ActorConfig {
        match actor {
            RaftActor::Server(c) => ActorConfig::Server {
                servers: c.servers,
                election_timeout_us: range_us(&c.election_timeout),
                heartbeat_interval_us: range_us(&c.heartbeat_interval),
                max_entries_per_append: c.max_entries_per_append,
                max_append_bytes: c.max_append_bytes,
                max_op_bytes: c.max_op_bytes,
                snapshot_interval: c.snapshot_interval,
                snapshot_timer: c.snapshot_timer,
                mutants: c.mutants,
            },
            RaftActor::Client(c) => ActorConfig::Client {
                servers: c.servers,
                ops: c.ops.clone(),
                retry_timeout_us: range_us(&c.retry_timeout),
                start_delay_us: range_us(&c.start_delay),
            },
        }
    }

    pub fn actor(&self) -> RaftActor {
        match self {
            ActorConfig::Server {
                servers,
                election_timeout_us,
                heartbeat_interval_us,
                max_entries_per_append,
                max_append_bytes,
                max_op_bytes,
                snapshot_interval,
                snapshot_timer,
                mutants,
            } => {
                let mut c = ServerConfig::new(*servers).with_mutants(*mutants);
                c.election_timeout = range_from_us(*election_timeout_us);
                c.heartbeat_interval = range_from_us(*heartbeat_interval_us);
                c.max_entries_per_append = *max_entries_per_append;
                c.max_append_bytes = *max_append_bytes;
                c.max_op_bytes = *max_op_bytes;
                c.snapshot_interval = *snapshot_interval;
                c.snapshot_timer = *snapshot_timer;
                RaftActor::Server(c)
            }
            ActorConfig::Client {
                servers,
                ops,
                retry_timeout_us,
                start_delay_us,
            } => {
                let mut c = ClientConfig::new(*servers, ops.clone());
                c.retry_timeout = range_from_us(*retry_timeout_us);
                c.start_delay = range_from_us(*start_delay_us);
                RaftActor::Client(c)
            }
        }
    }

    pub fn servers(&self) -> usize {
        match self {
            ActorConfig::Server { servers, .. } | ActorConfig::Client { servers, .. } => *servers,
        }
    }
}

/// A command as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceCommand {
    /// The persistent state to save, as a change from the previous save.
    Save {
        current_term: Term,
        voted_for: Option<Id>,
        log: LogDelta,
        #[serde(default, skip_serializing_if = "SavedSnapshot::is_unchanged")]
        snapshot: SavedSnapshot,
    },
    SetTimer {
        timer: Timer,
        range_us: [u64; 2],
    },
    CancelTimer {
        timer: Timer,
    },
    Send {
        dst: Id,
        msg: Msg,
    },
}

/// A command in full, comparable: the model's `Command` (which has no `PartialEq`),
/// with timer ranges in whole microseconds as traces record them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Cmd {
    Save(PersistentState),
    SetTimer(Timer, [u64; 2]),
    CancelTimer(Timer),
    Send(Id, Msg),
}

pub type ActorCommand = Command<Msg, Timer, (), PersistentState>;

impl Cmd {
    /// The command `c`; `None` for a random choice, which this crate's actor never
    /// makes (`Random = ()`).
    pub fn of(c: &ActorCommand) -> Option<Cmd> {
        Some(match c {
            Command::Save(p) => Cmd::Save(p.clone()),
            Command::SetTimer(t, r) => Cmd::SetTimer(*t, range_us(r)),
            Command::CancelTimer(t) => Cmd::CancelTimer(*t),
            Command::Send(dst, msg) => Cmd::Send(*dst, msg.clone()),
            Command::ChooseRandom(..) => return None,
        })
    }
}

impl TraceCommand {
    /// Encodes `c`; `last_save` is the previous save (or the storage read at start),
    /// and becomes `c` if `c` is a save; `state` is the actor's state after the
    /// step. `None` for a random choice, which this crate's actor never makes
    /// (`Random = ()`).
    pub fn encode(
        c: &ActorCommand,
        last_save: &mut PersistentState,
        state: Option<&ServerState>,
    ) -> Option<TraceCommand> {
        Some(match c {
            Command::Save(p) => {
                let log = LogDelta::between(&last_save.log, &p.log);
                let snapshot = SavedSnapshot::encode(&last_save.snapshot, &p.snapshot, state);
                *last_save = p.clone();
                TraceCommand::Save {
                    current_term: p.current_term,
                    voted_for: p.voted_for,
                    log,
                    snapshot,
                }
            }
            Command::SetTimer(timer, r) => TraceCommand::SetTimer {
                timer: *timer,
                range_us: range_us(r),
            },
            Command::CancelTimer(timer) => TraceCommand::CancelTimer { timer: *timer },
            Command::Send(dst, msg) => TraceCommand::Send {
                dst: *dst,
                msg: msg.clone(),
            },
            Command::ChooseRandom(..) => return None,
        })
    }

    /// The command this records; `last_save` and `state` as for
    /// [`TraceCommand::encode`].
    pub fn decode(
        &self,
        last_save: &mut PersistentState,
        state: Option<&ServerState>,
    ) -> Result<Cmd, DeltaError> {
        Ok(match self {
            TraceCommand::Save {
                current_term,
                voted_for,
                log,
                snapshot,
            } => {
                let p = PersistentState {
                    current_term: *current_term,
                    voted_for: *voted_for,
                    log: log.apply(&last_save.log)?,
                    snapshot: snapshot.decode(&last_save.snapshot, state)?,
                };
                *last_save = p.clone();
                Cmd::Save(p)
            }
            TraceCommand::SetTimer { timer, range_us } => Cmd::SetTimer(*timer, *range_us),
            TraceCommand::CancelTimer { timer } => Cmd::CancelTimer(*timer),
            TraceCommand::Send { dst, msg } => Cmd::Send(*dst, msg.clone()),
        })
    }
}

impl Cmd {
    /// The command as a person reads it; `name` names actors (a trace names its
    /// clients by their files).
    pub fn text(&self, name: &dyn Fn(Id) -> String) -> String {
        match self {
            Cmd::Save(p) => format!(
                "save(term {}, voted {}, log {})",
                p.current_term,
                p.voted_for.map_or("-".to_string(), crate::name::server),
                crate::msg::LogTerms::of_log(&p.log)
            ),
            Cmd::SetTimer(t, r) => format!("set {t:?} timer {}..{} ms", r[0] / 1000, r[1] / 1000),
            Cmd::CancelTimer(t) => format!("cancel {t:?} timer"),
            Cmd::Send(dst, msg) => format!("send to {} {msg:?}", name(*dst)),
        }
    }
}

#[cfg(test)]
mod tests;

//! `raftlab trace explore`: a recorded run that `raftlab trace check` validated, as
//! a path of the model from its initial state, so that stateright's Explorer steps
//! through the real cluster's execution as it steps through a counterexample.
//!
//! Nothing here decides what Raft does. Each recorded handler call becomes the
//! model's action for it (a delivery, a timeout, a crash, a restart), the model's
//! own `next_state` takes it, and the acting actor's state after it must equal the
//! recorded state, or the path is refused ([`Divergence`]). The mapping:
//!
//! - Actors: servers keep their ids `0..n`. The run's clients (random 64-bit ids)
//!   are the model's clients `n..n+c`, in the order `trace check` names them (C1 is
//!   the first to record), each with its recorded operations
//!   ([`RaftModel::with_client_ops`]). Ids inside messages and states (a request's
//!   client, log entries, client sessions) are renamed with the model's own
//!   `Rewrite<Id>`, so the model's handlers produce the messages the run's did.
//! - Starts: the model starts every actor at once, in its initial state. A first
//!   start reads no storage, so it is the model's initial state of that actor
//!   whenever it happened. A crash (kill -9) is `Crash`, the start after it
//!   `Recover`, which reads the model's last save: it must be the storage the real
//!   node read. A clean stop followed by a start is mapped the same way.
//! - Network: see [`NetPlan`]. Unordered without duplication if no message was
//!   delivered more often than sent, else duplicating; lossy if a message must be
//!   dropped.
//! - Steps that change nothing: stateright has no step for a delivery or timeout
//!   that leaves the state as it was and sends nothing (apart from the model's
//!   unordered network, where the message is consumed: see `consume_ignored` in
//!   `crate::model::network`). Such a recorded step is left out of the path, which loses nothing:
//!   the state is the same with or without it. They are counted.
//!
//! What cannot be mapped faithfully (a client that crashed or restarted, a restart
//! that read an older storage than the last save) ends the path at the last
//! faithful step, with [`LeftOut`] saying what and why.

mod mapper;
mod net_plan;

use crate::bounds::{Bounds, NetworkKind};
use crate::model::{Action, RaftModel};
use crate::trace::check::{self, Report};
use crate::trace::load::{self, EvKind, LoadError, Run};
use crate::trace::merge::{self, Merged};
use mapper::{starts_later, Mapper};
use net_plan::plan_network;
use raft_model::trace::{ActorConfig, Event};
use raft_model::{Id, MutantSet, Op};
use serde::Serialize;
use stateright::{Rewrite, RewritePlan};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

type IdMap = Arc<BTreeMap<Id, Id>>;

fn lookup(x: &Id, m: &IdMap) -> Id {
    m.get(x).copied().unwrap_or(*x)
}

/// The run's client ids and the model's, both ways. Server ids are the same in both.
#[derive(Clone, Debug)]
pub struct Ids {
    to_model: IdMap,
    to_real: IdMap,
}

impl Ids {
    /// `x` (a message, a state, a storage) with the run's client ids renamed to the
    /// model's.
    pub fn to_model<T: Rewrite<Id>>(&self, x: &T) -> T {
        x.rewrite(&RewritePlan::new(self.to_model.clone(), lookup))
    }

    /// `x` with the model's client ids renamed to the run's.
    pub fn to_real<T: Rewrite<Id>>(&self, x: &T) -> T {
        x.rewrite(&RewritePlan::new(self.to_real.clone(), lookup))
    }

    fn knows(&self, servers: usize, real: Id) -> bool {
        usize::from(real) < servers || self.to_model.contains_key(&real)
    }
}

/// A client of the run and its name in the model.
#[derive(Clone, Debug, Serialize)]
pub struct ClientName {
    /// `C1`.. (as `trace check` and the Explorer name it).
    pub name: String,
    /// Its id in the run (hex).
    pub real: String,
    /// Its actor index in the model.
    pub model: usize,
}

/// What the path covers of the run, and how.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub network: NetworkKind,
    pub lossy: bool,
    /// Handler calls recorded (starts, deliveries, timeouts), as `trace check` counts.
    pub records: usize,
    /// First starts: the model's initial state.
    pub starts: usize,
    /// Starts after a crash or clean stop: `Recover`.
    pub restarts: usize,
    /// `Crash` actions: kills, and clean stops that a start follows.
    pub crashes: usize,
    /// `Deliver` actions.
    pub deliveries: usize,
    /// Deliveries left out because the model's handler ignores them (no step in
    /// stateright on the duplicating network; the state is the same without them).
    pub ignored_deliveries: usize,
    /// `Timeout` actions.
    pub timeouts: usize,
    /// Timeouts left out because they only set the same timer again.
    pub ignored_timeouts: usize,
    /// `Drop` actions.
    pub drops: usize,
    /// Sends never delivered, and deliveries beyond a message's sends (the figures
    /// of `trace check`).
    pub lost: u64,
    pub duplicated: u64,
    /// The run's clients, in the model's order.
    pub clients: Vec<ClientName>,
    /// The path ends before the run does: why.
    pub left_out: Option<LeftOut>,
    /// Time taken to map the run (after reading and checking it).
    pub seconds: f64,
}

impl Summary {
    /// Why the model's network is what it is, and what its drops are.
    pub fn network_reason(&self) -> String {
        let never = match self.lost {
            0 => "every message sent was delivered".to_string(),
            1 => "1 message was never delivered".to_string(),
            n => format!("{n} messages were never delivered"),
        };
        match (self.network, self.lossy) {
            (NetworkKind::Duplicating, _) => format!(
                "duplicating, because {} delivered more often than sent: a sent message \
                 stays deliverable, and is dropped (lossy) after its last delivery or send \
                 in the run; {never}",
                match self.duplicated {
                    1 => "1 message was".to_string(),
                    n => format!("{n} messages were"),
                }
            ),
            (_, true) => format!(
                "unordered, each message delivered at most once (none was delivered more \
                 often than sent); lossy: {never} (lost, or in flight when the run ended), \
                 each is dropped right after the step that sent it"
            ),
            (_, false) => format!(
                "unordered, each message delivered at most once (none was delivered more \
                 often than sent); no loss: {never}"
            ),
        }
    }
}

/// The path ends before the run does, at the last step the model can take
/// faithfully.
#[derive(Clone, Debug, Serialize)]
pub struct LeftOut {
    /// `S3 step 12 (traces/x/node-3.jsonl:40)`.
    pub at: String,
    /// The record, in a few words.
    pub event: String,
    pub why: String,
    /// Handler calls of the run from there on, not in the path.
    pub records_not_mapped: usize,
}

/// The model cannot take a recorded step, or reaches a state the run did not:
/// a contradiction between the model and a validated run (a bug in this mapping
/// or in the checks), never a path to show.
#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    /// The step of the path that fails (1-based).
    pub path_step: usize,
    pub at: String,
    pub event: String,
    pub expected: String,
    pub recorded: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the model's path leaves the run at path step {}: {} ({})\n  model:    {}\n  \
             recorded: {}",
            self.path_step, self.at, self.event, self.expected, self.recorded
        )
    }
}

/// A recorded run as a path of the model.
#[derive(Clone)]
pub struct TracePath {
    /// The model whose actors match the run.
    pub model: RaftModel,
    /// Actions that replay from the model's initial state.
    pub actions: Vec<Action>,
    pub summary: Summary,
    pub ids: Ids,
}

/// Why a trace directory is not opened.
#[derive(Debug)]
pub enum OpenError {
    Unreadable(LoadError),
    /// `trace check` found a rule broken or undecided: the report says which.
    NotABehaviour(Box<Report>),
    Diverged(Box<Divergence>),
}

/// Loads `dir`, validates it as `raftlab trace check` does, and maps the run to a
/// path of the model. Returns the check's report too.
pub fn open(dir: &Path) -> Result<(Report, TracePath), OpenError> {
    let run = load::load(dir).map_err(OpenError::Unreadable)?;
    let merged = merge::merge(&run);
    let report = check::check_merged(&run, &merged);
    if !(report.ok && report.decided) {
        return Err(OpenError::NotABehaviour(Box::new(report)));
    }
    let path = path(&run, &merged).map_err(OpenError::Diverged)?;
    Ok((report, path))
}

/// Maps a run (validated by `trace check`: this does not check it again) to a path
/// of the model; see the module documentation.
pub fn path(run: &Run, merged: &Merged) -> Result<TracePath, Box<Divergence>> {
    let started = Instant::now();
    let n = run.servers;
    let client_files: Vec<usize> = (0..run.files.len())
        .filter(|&f| !run.files[f].is_server())
        .collect();
    let mut to_model = BTreeMap::new();
    let mut to_real = BTreeMap::new();
    let mut clients = Vec::new();
    let mut ops: Vec<Vec<Op>> = Vec::new();
    for (k, &f) in client_files.iter().enumerate() {
        let file = &run.files[f];
        to_model.insert(file.node, Id::from(n + k));
        to_real.insert(Id::from(n + k), file.node);
        clients.push(ClientName {
            name: file.name.clone(),
            real: format!("{:#x}", usize::from(file.node)),
            model: n + k,
        });
        ops.push(match &file.config {
            ActorConfig::Client { ops, .. } => ops.clone(),
            ActorConfig::Server { .. } => Vec::new(),
        });
    }
    let ids = Ids {
        to_model: Arc::new(to_model),
        to_real: Arc::new(to_real),
    };
    let batches: Vec<usize> = run
        .files
        .iter()
        .filter_map(|f| match f.config {
            ActorConfig::Server {
                max_entries_per_append,
                ..
            } => Some(max_entries_per_append),
            ActorConfig::Client { .. } => None,
        })
        .collect();
    let net = plan_network(run, merged);
    // Crashes the path takes: kills, and clean stops that a start follows.
    let crashes: usize = run
        .files
        .iter()
        .filter(|f| f.is_server())
        .map(|f| {
            f.events
                .iter()
                .enumerate()
                .filter(|(k, ev)| match ev.kind {
                    EvKind::Crash => true,
                    EvKind::Record(r) => {
                        matches!(f.lines[r].rec.event, Event::Stop) && starts_later(f, *k)
                    }
                })
                .count()
        })
        .sum();
    let lossy = net.drops_after.values().any(|v| !v.is_empty());
    let bounds = Bounds {
        servers: n,
        clients: client_files.len(),
        ops_per_client: ops.iter().map(Vec::len).max().unwrap_or(0),
        // Unbounded while mapping (the bounds do not change which actions are
        // enabled); set to the run's maxima below.
        max_term: u64::MAX,
        max_log: usize::MAX,
        crashes,
        network: if net.duplicating {
            NetworkKind::Duplicating
        } else {
            NetworkKind::Unordered
        },
        lossy,
        max_in_flight: usize::MAX,
        max_per_channel: usize::MAX,
        max_batch: batches.first().copied().unwrap_or(64),
        snapshots: false,
        mutants: MutantSet::NONE,
    };
    let interval = run
        .files
        .iter()
        .find_map(|f| match f.config {
            raft_model::trace::ActorConfig::Server {
                snapshot_interval, ..
            } => Some(snapshot_interval),
            _ => None,
        })
        .unwrap_or(0);
    let model = RaftModel::hosting(bounds.clone(), ops.clone(), interval);
    let Some(init) = model.init().into_iter().next() else {
        return Err(Box::new(Divergence {
            path_step: 0,
            at: "the initial state".into(),
            event: String::new(),
            expected: "an initial state".into(),
            recorded: "the model has none".into(),
        }));
    };
    let summary = Summary {
        network: bounds.network,
        lossy,
        records: run.steps(),
        starts: 0,
        restarts: 0,
        crashes: 0,
        deliveries: 0,
        ignored_deliveries: 0,
        timeouts: 0,
        ignored_timeouts: 0,
        drops: 0,
        lost: net.lost,
        duplicated: net.duplicated,
        clients,
        left_out: None,
        seconds: 0.0,
    };
    let mut m = Mapper {
        run,
        ids,
        model,
        state: init,
        actions: Vec::new(),
        summary,
        recorded: vec![None; run.files.len()],
        started: vec![false; run.files.len()],
        max_term: 0,
        max_log: 0,
        max_in_flight: 0,
    };
    m.observe_bounds();
    if batches.windows(2).any(|w| w[0] != w[1]) {
        m.leave_out(
            merged,
            0,
            "the servers were configured with different max_entries_per_append, and the \
             model's servers share one configuration"
                .into(),
        );
    } else {
        m.map_all(merged, &net)?;
    }
    let final_bounds = Bounds {
        max_term: m.max_term,
        max_log: m.max_log,
        max_in_flight: m.max_in_flight,
        ..bounds
    };
    m.summary.seconds = started.elapsed().as_secs_f64();
    Ok(TracePath {
        model: RaftModel::with_client_ops(final_bounds, ops),
        actions: m.actions,
        summary: m.summary,
        ids: m.ids,
    })
}

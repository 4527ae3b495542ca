//! The trace validator behind `raftlab trace check`: proves that a recorded run of
//! real nodes is a behaviour of the model. It decides nothing about Raft itself:
//! every step is replayed through the model's handlers (`RaftActor::on_start`,
//! `on_msg`, `on_timeout`), and every global state is judged by the property
//! functions of [`crate::properties`], with the history kept by
//! [`crate::model::observe_server`], as in the model checker.
//!
//! Rules, each with a count of what it checked and the first record that broke it:
//!
//! - replay: the handler, given the previous recorded state and the recorded input,
//!   returns exactly the recorded state and commands;
//! - timers: a timeout fires a timer that is set (set and not cancelled or fired
//!   since, as the model's timers work);
//! - restart: a start reads the storage last made durable (a flush record) before
//!   the crash, or the one being saved when it struck, and a first start reads none;
//! - messages: every delivery has a send of the same message from its source to its
//!   destination earlier in the global order (duplicates and losses are allowed,
//!   and counted);
//! - save before send: a delivered message left its sender only after every save
//!   of the sender's steps up to the sending one was durable;
//! - global order: the records merge into one order that keeps deliveries after
//!   sends (see [`crate::trace::merge`]);
//! - the server invariants ([`crate::properties::server_invariants`]) on every
//!   global state of that order;
//! - linearizability of the clients' operations, in that order.

mod delivery;
mod describe;
mod invariants;
mod judge;
mod lin_search;
mod linearizability;
mod positions;
mod replay;
pub mod report;
mod restart;
mod server_step;
mod stream;

pub use describe::{describe, diff_states};
pub use lin_search::{search as lin_search, KeyOp, Verdict as LinVerdict};
pub use linearizability::LIN_BUDGET;
pub use report::*;
pub use stream::check_streamed;

use crate::model::{ClientProgress, History};
use crate::properties::{server_invariants, ServerInvariant, LINEARIZABILITY};
use crate::trace::load::{EvKind, MsgKey, Run};
use crate::trace::merge::{merge, Merged};
use linearizability::LinEvent;
use raft_model::trace::Event;
use raft_model::{Id, Input, Msg, PersistentState, RaftActor, RaftState, Timer};
// Whole messages are hashed at every send and delivery: ahash, not SipHash.
use ahash::AHashMap as HashMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// One actor's replay.
struct Replay {
    actor: RaftActor,
    id: Id,
    is_server: bool,
    /// The state after the previous record (None before the first start).
    state: Option<RaftState>,
    /// The last save, the base of the next recorded save.
    save_base: PersistentState,
    /// The newest save of this incarnation (None: none yet).
    last_saved: Option<Arc<PersistentState>>,
    /// The storage durable now: read at start, then the newest save at each flush.
    durable: Option<Arc<PersistentState>>,
    /// A save not yet covered by a flush record.
    pending: bool,
    timers: BTreeSet<Timer>,
    up: bool,
    started: bool,
    /// The previous incarnation ended with a stop record.
    clean: bool,
    /// Records whose sends wait for a flush record.
    unreleased: Vec<usize>,
    /// Client: its operations invoked and answered so far.
    progress: ClientProgress,
    /// Server: the state as recorded, kept beside the replayed one and changed
    /// in place by each record (see `server_step`).
    shadow: Option<raft_model::ServerState>,
    /// The last save holds the log the actor's state has (every step that
    /// changes the log saves it; cleared by one that does not).
    saved_log_current: bool,
    /// Digests the logs a restart may have read (see `restart`).
    chain: raft_model::trace::LogChain,
}

/// How `trace check` judges a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    /// Judge every global state with the registry's property functions on whole
    /// states (the reference the incremental judge is tested against), instead
    /// of incrementally. Costs the length of the logs at every step.
    pub full_judge: bool,
}

/// Progress of a long check: records done and in all.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize);

struct Checker<'r> {
    run: &'r Run,
    rules: Vec<RuleReport>,
    actors: Vec<Replay>,
    /// File index of each server.
    server_files: Vec<usize>,
    history: History,
    /// The registry's server invariants, judged on every global state.
    invariants: Vec<(&'static str, ServerInvariant)>,
    /// Per message: sends merged so far, and how many of them may have left.
    sent: HashMap<MsgKey<'r>, (u64, u64)>,
    delivered: HashMap<MsgKey<'r>, u64>,
    /// The last message merged from one actor to another (for failure reports).
    last_sent: HashMap<(Id, Id), &'r Msg>,
    /// Invocations and returns in the global order, with (position, file, record).
    lin_events: Vec<(LinEvent, usize, usize, usize)>,
    crashes: u64,
    restarts: u64,
    position: usize,
    /// Deliveries from actors outside the traced run.
    unverifiable: u64,
    /// The incremental judge of the server invariants (`None`: the registry's
    /// functions on whole states, with `history`).
    judge: Option<judge::Judge>,
}

/// Checks a loaded run. Never panics on what the files hold: a handler that panics
/// on a recorded input is a replay failure.
pub fn check(run: &Run) -> Report {
    check_merged(run, &merge(run))
}

pub fn check_merged(run: &Run, merged: &Merged) -> Report {
    check_with(run, merged, CheckOptions::default(), None)
}

/// [`check_merged`] with options, reporting progress as it goes.
pub fn check_with(
    run: &Run,
    merged: &Merged,
    opts: CheckOptions,
    progress: Option<Progress>,
) -> Report {
    let started = Instant::now();
    let mut c = Checker::new(run, opts);
    c.run_all(merged, progress);
    c.finish(started)
}
impl<'r> Checker<'r> {
    fn new(run: &'r Run, opts: CheckOptions) -> Self {
        let mut rules = vec![
            RuleReport::new(REPLAY, "steps"),
            RuleReport::new(TIMERS, "timeouts"),
            RuleReport::new(RESTART, "starts"),
            RuleReport::new(MESSAGES, "deliveries"),
            RuleReport::new(SAVE_BEFORE_SEND, "deliveries"),
            RuleReport::new(GLOBAL_ORDER, "events"),
        ];
        let invariants = server_invariants();
        for (name, _) in &invariants {
            rules.push(RuleReport::new(name, "states"));
        }
        rules.push(RuleReport::new(LINEARIZABILITY, "operations"));
        let actors = run
            .files
            .iter()
            .map(|f| Replay {
                actor: f.config.actor(),
                id: f.node,
                is_server: f.is_server(),
                state: None,
                save_base: PersistentState::default(),
                last_saved: None,
                durable: None,
                pending: false,
                timers: BTreeSet::new(),
                up: false,
                started: false,
                clean: false,
                unreleased: Vec::new(),
                progress: ClientProgress::default(),
                shadow: None,
                saved_log_current: true,
                chain: Default::default(),
            })
            .collect();
        let server_files = (0..run.servers)
            .map(|s| run.file_of(Id::from(s)).unwrap_or(usize::MAX))
            .collect();
        Checker {
            run,
            rules,
            actors,
            server_files,
            history: History::new(0, 0),
            invariants,
            sent: HashMap::new(),
            delivered: HashMap::new(),
            last_sent: HashMap::new(),
            lin_events: Vec::new(),
            crashes: 0,
            restarts: 0,
            position: 0,
            unverifiable: 0,
            judge: (!opts.full_judge).then(|| judge::Judge::new(run.servers)),
        }
    }

    fn rule(&mut self, name: &str) -> &mut RuleReport {
        let k = self.rules.iter().position(|r| r.rule == name).unwrap_or(0);
        &mut self.rules[k]
    }

    fn pass(&mut self, name: &'static str) {
        self.rule(name).checked += 1;
    }

    fn fail(&mut self, name: &'static str, f: usize, r: usize, expected: String, recorded: String) {
        let failure = self.failure(name, f, r, expected, recorded);
        let rule = self.rule(name);
        rule.checked += 1;
        rule.failures += 1;
        if rule.first.is_none() {
            rule.first = Some(failure);
        }
    }

    fn failure(
        &self,
        name: &'static str,
        f: usize,
        r: usize,
        expected: String,
        recorded: String,
    ) -> Failure {
        let file = &self.run.files[f];
        let line = &file.lines[r];
        Failure {
            rule: name,
            node: file.name.clone(),
            step: line.rec.step,
            file: file.path.display().to_string(),
            line: line.line,
            time_s: line.rec.time_ns.saturating_sub(self.run.t0) as f64 / 1e9,
            event: describe(self.run, &line.rec),
            expected,
            recorded,
            position: self.position,
        }
    }

    fn run_all(&mut self, merged: &Merged, mut progress: Option<Progress>) {
        let cycles: BTreeSet<usize> = merged.cycles.iter().copied().collect();
        let total = merged.order.len();
        for (pos, &(f, e)) in merged.order.iter().enumerate() {
            if pos % 4096 == 0 {
                if let Some(p) = progress.as_mut() {
                    p(pos, total);
                }
            }
            self.place(pos, f, e, cycles.contains(&pos));
        }
        self.order_note(merged.out_of_time_order);
    }

    /// Judges event `e` of file `f`, placed at `pos` of the global order
    /// (`cycle`: placed while every actor waited for a send still to come).
    fn place(&mut self, pos: usize, f: usize, e: usize, cycle: bool) {
        self.position = pos;
        match self.run.files[f].events[e].kind {
            EvKind::Crash => {
                // The record before the crash locates it.
                let r = match e.checked_sub(1).map(|p| self.run.files[f].events[p].kind) {
                    Some(EvKind::Record(r)) => r,
                    _ => 0,
                };
                self.pass(GLOBAL_ORDER);
                self.crash(f, r);
            }
            EvKind::Record(r) => {
                if cycle {
                    self.fail(
                        GLOBAL_ORDER,
                        f,
                        r,
                        "an order of the records with a send of this message before it".into(),
                        "none: every actor's next record waits for a message still to be sent \
                         (a cycle)"
                            .into(),
                    );
                } else {
                    self.pass(GLOBAL_ORDER);
                }
                self.record(f, r);
            }
        }
    }

    fn order_note(&mut self, out_of_time_order: usize) {
        self.rule(GLOBAL_ORDER).note = if out_of_time_order > 0 {
            format!("{out_of_time_order} events placed before earlier-timed ones")
        } else {
            "the real-time order".into()
        };
    }

    fn crash(&mut self, f: usize, r: usize) {
        let a = &mut self.actors[f];
        a.up = false;
        a.timers.clear();
        a.unreleased.clear();
        if a.is_server {
            self.crashes += 1;
            self.server_down(f);
            self.judge_states(f, r);
        }
    }

    /// A server went down: the invariants see its durable storage now.
    fn server_down(&mut self, f: usize) {
        let a = &self.actors[f];
        let i = usize::from(a.id);
        if let Some(j) = &mut self.judge {
            j.set_live(i, None);
            j.set_log(
                i,
                a.durable
                    .as_ref()
                    .map_or(crate::model::no_log(), |p| &p.log),
            );
        }
    }

    fn record(&mut self, f: usize, r: usize) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        match &rec.event {
            Event::Start(s) => self.start(f, r, &s.storage),
            Event::Deliver { src, msg } => {
                self.delivery(f, r, *src, msg);
                let (src, msg) = (*src, msg.clone());
                self.any_step(f, r, Input::Deliver { src, msg });
            }
            Event::Timeout { timer } => {
                let a = &mut self.actors[f];
                if a.timers.remove(timer) {
                    self.pass(TIMERS);
                } else {
                    let set: Vec<String> = a.timers.iter().map(|t| format!("{t:?}")).collect();
                    let set = if set.is_empty() {
                        "none".to_string()
                    } else {
                        set.join(", ")
                    };
                    self.fail(
                        TIMERS,
                        f,
                        r,
                        format!("a timeout of a timer that is set (set: {set})"),
                        format!("the {timer:?} timer fired, which is not set"),
                    );
                }
                self.any_step(f, r, Input::Timeout(*timer));
            }
            Event::Flush => {
                let a = &mut self.actors[f];
                if a.pending {
                    a.durable = a.last_saved.clone();
                    a.pending = false;
                }
                for k in std::mem::take(&mut a.unreleased) {
                    self.release(f, k);
                }
            }
            Event::Stop => {
                let a = &mut self.actors[f];
                a.up = false;
                a.clean = true;
                a.timers.clear();
                if a.is_server {
                    self.server_down(f);
                    self.judge_states(f, r);
                }
            }
        }
    }

    fn any_step(&mut self, f: usize, r: usize, input: Input) {
        if self.actors[f].is_server {
            self.server_step(f, r, input);
        } else {
            self.step(f, r, input);
        }
    }

    fn finish(mut self, started: Instant) -> Report {
        let (mut dup, mut lost) = (0u64, 0u64);
        for (k, (s, _)) in &self.sent {
            let d = self.delivered.get(k).copied().unwrap_or(0);
            dup += d.saturating_sub(*s);
            lost += s.saturating_sub(d);
        }
        self.rule(MESSAGES).note = format!("{dup} duplicated, {lost} lost");
        if self.unverifiable > 0 {
            let n = self.unverifiable;
            self.rule(MESSAGES).note +=
                &format!("; {n} from actors that left no trace (unverifiable input, not judged)");
        }
        let (crashes, restarts) = (self.crashes, self.restarts);
        self.rule(RESTART).note = format!("{restarts} restarts, {crashes} after a crash");
        self.linearizability();
        // Several rules may break at one record: a wrong input (restart, timer,
        // message) is the cause, and the replay that differs its consequence.
        let cause_first = |rule: &str| match rule {
            RESTART | TIMERS | MESSAGES | SAVE_BEFORE_SEND | GLOBAL_ORDER => 0,
            REPLAY => 1,
            _ => 2,
        };
        let first_failure = self
            .rules
            .iter()
            .filter_map(|r| r.first.clone())
            .min_by_key(|f| (f.position, cause_first(f.rule)));
        let clients = self.actors.iter().filter(|a| !a.is_server).count();
        Report {
            unverifiable: self.unverifiable,
            dir: self.run.dir.display().to_string(),
            servers: self.run.servers,
            clients,
            steps: self.run.steps(),
            crashes,
            restarts,
            ok: self.rules.iter().all(RuleReport::ok),
            decided: self.rules.iter().all(|r| !r.undecided),
            rules: self.rules,
            first_failure,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

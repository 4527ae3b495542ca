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
//!   sends (see [`crate::trace_load`]);
//! - the server invariants ([`crate::properties::server_invariants`]) on every
//!   global state of that order;
//! - linearizability of the clients' operations, in that order.

use crate::bounds::Bounds;
use crate::model::{observe_server, History};
use crate::properties::{server_invariants, ServerView, LINEARIZABILITY};
use crate::trace_load::{merge, sends, EvKind, Merged, MsgKey, Run};
use raft_model::trace::{Cmd, DeltaError, Event, Record, TraceCommand};
use raft_model::{Id, KvSpec, Msg, Op, PersistentState, RaftActor, RaftState, ServerState, Timer};
use serde::Serialize;
use stateright::actor::{Actor, Out};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

pub const REPLAY: &str = "Steps replay through the model";
pub const TIMERS: &str = "Timeouts fire set timers";
pub const RESTART: &str = "Restarts read the durable storage";
pub const MESSAGES: &str = "Delivered messages were sent";
pub const SAVE_BEFORE_SEND: &str = "Messages left after their save";
pub const GLOBAL_ORDER: &str = "One global order";

/// Terms and indexes beyond this are refused: no real run gets near, and the
/// history's per-term table must stay small.
const SANE: u64 = 1 << 40;

/// The first record that broke a rule.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    pub rule: &'static str,
    /// `S1`.. or `C1`..
    pub node: String,
    pub step: u64,
    pub file: String,
    pub line: usize,
    /// Seconds since the first record of the run.
    pub time_s: f64,
    /// What the record is: `deliver from S2: AppendEntries(..)`.
    pub event: String,
    pub expected: String,
    pub recorded: String,
    /// Position in the global order (to find the earliest failure of all rules).
    #[serde(skip)]
    pub position: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct RuleReport {
    pub rule: &'static str,
    pub checked: u64,
    /// What `checked` counts: steps, timeouts, deliveries, states...
    pub unit: &'static str,
    /// Extra counts (duplicates and losses, ...).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    pub failures: u64,
    pub first: Option<Failure>,
    /// The check could not decide (linearizability search stopped by its budget).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub undecided: bool,
}

impl RuleReport {
    fn new(rule: &'static str, unit: &'static str) -> Self {
        RuleReport {
            rule,
            checked: 0,
            unit,
            note: String::new(),
            failures: 0,
            first: None,
            undecided: false,
        }
    }

    pub fn ok(&self) -> bool {
        self.failures == 0
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dir: String,
    pub servers: usize,
    pub clients: usize,
    pub steps: usize,
    /// Crashes (a start with no clean stop before it) and clean stops.
    pub crashes: u64,
    pub restarts: u64,
    pub rules: Vec<RuleReport>,
    /// The earliest failure in the global order, of any rule.
    pub first_failure: Option<Failure>,
    /// No rule broken.
    pub ok: bool,
    /// Every rule decided (if `ok` and not `decided`, nothing is proved).
    pub decided: bool,
    pub seconds: f64,
}

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
    /// Client: the highest sequence number invoked.
    invoked: u64,
}

#[derive(Clone, Debug)]
enum LinEvent {
    Invoke(Id, Op),
    Return(Id, raft_model::OpResult),
}

struct Checker<'r> {
    run: &'r Run,
    rules: Vec<RuleReport>,
    actors: Vec<Replay>,
    /// File index of each server.
    server_files: Vec<usize>,
    history: History,
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
}

/// Checks a loaded run. Never panics on what the files hold: a handler that panics
/// on a recorded input is a replay failure.
pub fn check(run: &Run) -> Report {
    check_merged(run, &merge(run))
}

pub fn check_merged(run: &Run, merged: &Merged) -> Report {
    let started = Instant::now();
    let mut c = Checker::new(run);
    c.run_all(merged);
    c.finish(started)
}

impl<'r> Checker<'r> {
    fn new(run: &'r Run) -> Self {
        let mut rules = vec![
            RuleReport::new(REPLAY, "steps"),
            RuleReport::new(TIMERS, "timeouts"),
            RuleReport::new(RESTART, "starts"),
            RuleReport::new(MESSAGES, "deliveries"),
            RuleReport::new(SAVE_BEFORE_SEND, "deliveries"),
            RuleReport::new(GLOBAL_ORDER, "events"),
        ];
        for (name, _) in server_invariants() {
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
                invoked: 0,
            })
            .collect();
        let server_files = (0..run.servers)
            .map(|s| run.file_of(Id::from(s)).unwrap_or(usize::MAX))
            .collect();
        let bounds = Bounds {
            servers: run.servers,
            clients: 0,
            ..Bounds::default()
        };
        Checker {
            run,
            rules,
            actors,
            server_files,
            history: History::new(&bounds),
            sent: HashMap::new(),
            delivered: HashMap::new(),
            last_sent: HashMap::new(),
            lin_events: Vec::new(),
            crashes: 0,
            restarts: 0,
            position: 0,
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

    fn run_all(&mut self, merged: &Merged) {
        let cycles: BTreeSet<usize> = merged.cycles.iter().copied().collect();
        for (pos, &(f, e)) in merged.order.iter().enumerate() {
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
                    if cycles.contains(&pos) {
                        self.fail(
                            GLOBAL_ORDER,
                            f,
                            r,
                            "an order of the records with a send of this message before it".into(),
                            "none: every actor's next record waits for a message still to be \
                             sent (a cycle)"
                                .into(),
                        );
                    } else {
                        self.pass(GLOBAL_ORDER);
                    }
                    self.record(f, r);
                }
            }
        }
        self.rule(GLOBAL_ORDER).note = if merged.out_of_time_order > 0 {
            format!(
                "{} events placed before earlier-timed ones",
                merged.out_of_time_order
            )
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
            self.judge_states(f, r);
        }
    }

    fn record(&mut self, f: usize, r: usize) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        match &rec.event {
            Event::Start { storage, .. } => self.start(f, r, storage),
            Event::Deliver { src, msg } => {
                self.delivery(f, r, *src, msg);
                let (actor, id) = (self.actors[f].actor.clone(), self.actors[f].id);
                let (src, msg) = (*src, msg.clone());
                self.step(f, r, move |s, o| actor.on_msg(id, s, src, msg, o));
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
                let (actor, id, timer) = (self.actors[f].actor.clone(), self.actors[f].id, *timer);
                self.step(f, r, move |s, o| actor.on_timeout(id, s, &timer, o));
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
                    self.judge_states(f, r);
                }
            }
        }
    }

    /// The sends of record `r` of file `f` may have left.
    fn release(&mut self, f: usize, r: usize) {
        let file = &self.run.files[f];
        for (_, dst, msg) in sends(&file.lines[r].rec) {
            if let Some(e) = self.sent.get_mut(&(file.node, dst, msg)) {
                e.1 += 1;
            }
        }
    }

    fn delivery(&mut self, f: usize, r: usize, src: Id, msg: &'r Msg) {
        let run = self.run;
        let dst = run.files[f].node;
        let key = (src, dst, msg);
        *self.delivered.entry(key).or_default() += 1;
        let (s, d) = (run.name_of(src), run.name_of(dst));
        match self.sent.get(&key).copied() {
            None => {
                let recorded = if run.file_of(src).is_none() {
                    format!("{s} left no trace: record every client with --trace DIR")
                } else {
                    match self.last_sent.get(&(src, dst)) {
                        Some(m) => format!(
                            "{s} never sent it to {d}; its last message to {d} was {}",
                            short_msg(run, m)
                        ),
                        None => format!("{s} had sent nothing to {d}"),
                    }
                };
                let expected = format!("a message {s} sent to {d} earlier");
                self.fail(MESSAGES, f, r, expected, recorded);
            }
            Some((_, released)) => {
                self.pass(MESSAGES);
                if released > 0 {
                    self.pass(SAVE_BEFORE_SEND);
                } else {
                    self.fail(
                        SAVE_BEFORE_SEND,
                        f,
                        r,
                        format!(
                            "{s} made the saves of the step that sent it durable (a flush \
                             record) before it left"
                        ),
                        format!("it arrived before {s}'s flush record for that step"),
                    );
                }
            }
        }
    }

    fn start(&mut self, f: usize, r: usize, storage: &'r Option<PersistentState>) {
        let a = &self.actors[f];
        let allowed: Vec<Option<Arc<PersistentState>>> = if !a.started {
            vec![None]
        } else if a.clean || !a.pending {
            vec![a.durable.clone()]
        } else {
            // A crash while saving: the save may have become durable before the flush
            // record was written.
            vec![a.durable.clone(), a.last_saved.clone()]
        };
        let restart = a.started;
        let read = storage.clone().map(Arc::new);
        if allowed.contains(&read) {
            self.pass(RESTART);
        } else {
            let what = if !restart {
                "no storage: a trace begins at the node's first start (record from a fresh \
                 data directory)"
                    .to_string()
            } else {
                let mut v: Vec<String> = allowed
                    .iter()
                    .map(|p| storage_text(&p.as_deref().cloned()))
                    .collect();
                v.dedup();
                format!(
                    "the storage last made durable: {}",
                    v.join(", or (crash while saving) ")
                )
            };
            self.fail(RESTART, f, r, what, storage_text(storage));
        }
        if restart {
            self.restarts += 1;
        }
        let a = &mut self.actors[f];
        a.save_base = storage.clone().unwrap_or_default();
        a.last_saved = None;
        a.durable = read;
        a.pending = false;
        a.timers.clear();
        a.unreleased.clear();
        a.up = true;
        a.started = true;
        a.clean = false;
        let previous = a.state.take();
        let (actor, id) = (a.actor.clone(), a.id);
        let started = catch_unwind(AssertUnwindSafe(|| {
            let mut out = Out::new();
            let s = actor.on_start(id, storage, &mut out);
            (s, out)
        }));
        let replayed = started.map(|(s, out)| (Some(s), out)).map_err(panic_text);
        // For the history, a restart goes from what the storage holds (as a crash in
        // the model leaves it).
        let before = RaftState::Server(ServerState::from_storage(storage.as_ref()));
        self.judge_step(f, r, previous, replayed, Some(before));
    }

    fn step(
        &mut self,
        f: usize,
        r: usize,
        call: impl FnOnce(&mut Cow<RaftState>, &mut Out<RaftActor>),
    ) {
        let Some(prev) = self.actors[f].state.take() else {
            return; // a file always starts with a start record (checked at load)
        };
        let replayed = catch_unwind(AssertUnwindSafe(|| {
            let mut out = Out::new();
            let mut cow = Cow::Borrowed(&prev);
            call(&mut cow, &mut out);
            let s = match cow {
                Cow::Owned(s) => Some(s),
                Cow::Borrowed(_) => None,
            };
            (s, out)
        }))
        .map_err(panic_text);
        self.judge_step(f, r, Some(prev), replayed, None);
    }

    /// Compares a replayed step with its record, then moves the run on with the
    /// recorded state and commands (the replayed ones where the record is unusable).
    /// A state of `None` means "as before the step" (`prev`), so that the common
    /// step that changes nothing costs no copy of the state.
    fn judge_step(
        &mut self,
        f: usize,
        r: usize,
        prev: Option<RaftState>,
        replayed: Result<(Option<RaftState>, Out<RaftActor>), String>,
        history_before: Option<RaftState>,
    ) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        let is_start = matches!(rec.event, Event::Start { .. });
        let base = if is_start { None } else { prev.as_ref() };
        let recorded_state: Result<Option<RaftState>, String> = match &rec.state {
            Some(d) => d
                .apply(base)
                .map_err(|e| e.to_string())
                .and_then(|s| well_formed(&s, run.servers).map(|_| Some(s))),
            None if is_start => Err("a start record without a state".to_string()),
            None => Ok(None),
        };
        let a = &mut self.actors[f];
        // Decoding a save moves the base on; keep the old one only if it may be needed.
        let saves = rec
            .out
            .iter()
            .any(|c| matches!(c, TraceCommand::Save { .. }));
        let save_base_before = saves.then(|| a.save_base.clone());
        let recorded_cmds: Result<Vec<Cmd>, DeltaError> =
            rec.out.iter().map(|c| c.decode(&mut a.save_base)).collect();
        let mut problem: Option<(String, String)> = None;
        let (replayed_state, replayed_cmds) = match replayed {
            Ok((s, out)) => (
                Ok(s),
                Some(out.iter().filter_map(Cmd::of).collect::<Vec<Cmd>>()),
            ),
            Err(p) => {
                problem = Some((
                    "the model's handler to accept this input".into(),
                    format!("the handler panicked: {p}"),
                ));
                (Err(()), None)
            }
        };
        if let (Ok(rs), Ok(es)) = (&recorded_state, &replayed_state) {
            let rs = rs.as_ref().or(base);
            let es = es.as_ref().or(base);
            if let (Some(rs), Some(es)) = (rs, es) {
                if rs != es {
                    problem.get_or_insert(diff_states(run, es, rs));
                }
            }
        }
        if let Err(e) = &recorded_state {
            problem.get_or_insert((
                "a state of the model".into(),
                format!("a state that is not: {e}"),
            ));
        }
        match (&recorded_cmds, &replayed_cmds) {
            (Err(e), _) => {
                problem.get_or_insert((
                    "commands that decode".into(),
                    format!("a save that does not: {e}"),
                ));
            }
            (Ok(rc), Some(ec)) if rc != ec => {
                problem.get_or_insert(diff_cmds(run, ec, rc));
            }
            _ => {}
        }
        match problem {
            None => self.pass(REPLAY),
            Some((e, g)) => self.fail(REPLAY, f, r, e, g),
        }
        // Move on with what the host recorded (it is what the host did), or with the
        // model's version where the record cannot be used.
        let changed: Option<RaftState> = match (recorded_state, replayed_state) {
            (Ok(s), _) => s,
            (Err(_), Ok(s)) => s,
            (Err(_), Err(())) => None,
        };
        let a = &mut self.actors[f];
        let cmds = match (recorded_cmds, replayed_cmds) {
            (Ok(c), _) => c,
            (Err(_), Some(c)) => {
                if let Some(b) = save_base_before {
                    a.save_base = b;
                }
                for c in &c {
                    if let Cmd::Save(p) = c {
                        a.save_base = p.clone();
                    }
                }
                c
            }
            (Err(_), None) => Vec::new(),
        };
        for c in cmds {
            match c {
                Cmd::Save(p) => {
                    a.last_saved = Some(Arc::new(p));
                    a.pending = true;
                }
                Cmd::SetTimer(t, _) => {
                    a.timers.insert(t);
                }
                Cmd::CancelTimer(t) => {
                    a.timers.remove(&t);
                }
                Cmd::Send(..) => {}
            }
        }
        let is_server = a.is_server;
        // Sends: merged now; they may leave now, or at the next flush record if a
        // save of this incarnation is not yet durable.
        let node = run.files[f].node;
        let mut any_send = false;
        for (_, dst, msg) in sends(rec) {
            any_send = true;
            self.sent.entry((node, dst, msg)).or_default().0 += 1;
            self.last_sent.insert((node, dst), msg);
        }
        let a = &mut self.actors[f];
        if any_send {
            if a.pending {
                a.unreleased.push(r);
            } else {
                self.release(f, r);
            }
        }
        let Some(changed) = changed else {
            // Nothing changed: the state stays, and so does every invariant's verdict.
            self.actors[f].state = prev;
            if !is_server {
                self.client_step(f, r, None);
            }
            return;
        };
        let before = history_before.or(prev);
        self.actors[f].state = Some(changed);
        let a = &self.actors[f];
        if is_server {
            let (Some(RaftState::Server(b)), Some(RaftState::Server(n))) =
                (before.as_ref(), a.state.as_ref())
            else {
                return;
            };
            if is_start || b != n {
                let i = usize::from(a.id);
                observe_server(&mut self.history, i, b, n, is_start);
            }
            if is_start || relevant_change(b, n) {
                self.judge_states(f, r);
            }
        } else {
            self.client_step(f, r, before.as_ref());
        }
    }

    /// Feeds the client's invocations and returns to the linearizability history.
    /// `before`: the state before the step, `None` if the step did not change it.
    fn client_step(&mut self, f: usize, r: usize, before: Option<&RaftState>) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        let a = &mut self.actors[f];
        let id = a.id;
        let done_after = a
            .state
            .as_ref()
            .and_then(RaftState::client)
            .map_or(0, |c| c.done);
        let done_before = match before {
            Some(b) => b.client().map_or(0, |c| c.done),
            None => done_after,
        };
        if let Event::Deliver {
            msg: Msg::ClientReply { seq, result },
            ..
        } = &rec.event
        {
            if *seq == done_before + 1 && done_after == *seq {
                let e = LinEvent::Return(id, result.clone());
                self.lin_events.push((e, self.position, f, r));
            }
        }
        for (_, _, msg) in sends(rec) {
            if let Msg::ClientRequest(raft_model::ClientRequest { seq, op }) = msg {
                if *seq > a.invoked {
                    a.invoked = *seq;
                    let e = LinEvent::Invoke(id, op.clone());
                    self.lin_events.push((e, self.position, f, r));
                }
            }
        }
    }

    /// Judges the global state after a step of server file `f` (record `r`).
    fn judge_states(&mut self, f: usize, r: usize) {
        let views: Vec<ServerView> = self
            .server_files
            .iter()
            .map(|&sf| match self.actors.get(sf) {
                Some(a) if a.up => {
                    let live = a.state.as_ref().and_then(RaftState::server);
                    ServerView {
                        live,
                        log: live.map_or(&[], |s| &s.log),
                    }
                }
                Some(a) => ServerView {
                    live: None,
                    log: a.durable.as_ref().map_or(&[], |p| &p.log),
                },
                None => ServerView {
                    live: None,
                    log: &[],
                },
            })
            .collect();
        let mut failed = Vec::new();
        for (name, holds) in server_invariants() {
            if holds(&self.history, &views) {
                failed.push((name, None));
            } else {
                failed.push((name, Some(servers_text(self.run, &views, &self.history))));
            }
        }
        for (name, detail) in failed {
            match detail {
                None => self.pass(name),
                Some(d) => self.fail(name, f, r, format!("{name} holds"), d),
            }
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

    /// Linearizability is local (Herlihy and Wing): the history is linearizable if
    /// and only if each key's operations are. So each key is checked on its own,
    /// which keeps the tester's search (exponential at worst) small.
    fn linearizability(&mut self) {
        let events = std::mem::take(&mut self.lin_events);
        let ops = events
            .iter()
            .filter(|e| matches!(e.0, LinEvent::Invoke(..)))
            .count();
        let answered = events.len() - ops;
        let clients = self.actors.iter().filter(|a| !a.is_server).count();
        let mut by_key: std::collections::BTreeMap<raft_model::Text, Vec<usize>> =
            Default::default();
        let mut current: HashMap<Id, raft_model::Text> = HashMap::new();
        for (k, (e, ..)) in events.iter().enumerate() {
            let key = match e {
                LinEvent::Invoke(c, op) => {
                    let key = op_key(op).clone();
                    current.insert(*c, key.clone());
                    key
                }
                LinEvent::Return(c, _) => match current.get(c) {
                    Some(key) => key.clone(),
                    None => continue, // a return without an invocation: the tester says so
                },
            };
            by_key.entry(key).or_default().push(k);
        }
        let rule = self.rule(LINEARIZABILITY);
        rule.checked = ops as u64;
        rule.note = format!(
            "{clients} clients, {answered} answered, {} keys",
            by_key.len()
        );
        for (key, idx) in by_key {
            let history: Vec<&LinEvent> = idx.iter().map(|&k| &events[k].0).collect();
            match lin_verdict(&history) {
                Verdict::Linearizable => {}
                Verdict::Undecided => {
                    let rule = self.rule(LINEARIZABILITY);
                    rule.undecided = true;
                    rule.note = format!(
                        "{}; the search for key {key:?} stopped after {LIN_BUDGET} steps",
                        rule.note
                    );
                }
                Verdict::Not(why) => {
                    // Not linearizable stays not linearizable when extended: find the
                    // shortest prefix that is not, and name its last event.
                    let (mut lo, mut hi) = (0, history.len());
                    while lo + 1 < hi {
                        let mid = (lo + hi) / 2;
                        match lin_verdict(&history[..mid]) {
                            Verdict::Not(_) => hi = mid,
                            _ => lo = mid,
                        }
                    }
                    let Some(&(_, pos, f, r)) = idx.get(hi.saturating_sub(1)).map(|&k| &events[k])
                    else {
                        continue;
                    };
                    let text: Vec<String> = history[..hi]
                        .iter()
                        .map(|e| match e {
                            LinEvent::Invoke(c, op) => {
                                format!("{} invokes {op:?}", self.run.name_of(*c))
                            }
                            LinEvent::Return(c, res) => {
                                format!("{} gets {res:?}", self.run.name_of(*c))
                            }
                        })
                        .collect();
                    let tail = text.len().saturating_sub(6);
                    self.position = pos;
                    self.fail(
                        LINEARIZABILITY,
                        f,
                        r,
                        format!("a linearizable history of key {key:?}"),
                        format!(
                            "{why}; its history up to here ends: {}",
                            text[tail..].join("; ")
                        ),
                    );
                    self.rule(LINEARIZABILITY).checked = ops as u64;
                }
            }
        }
    }
}

/// Steps (operations applied to the specification) the tester's search may take
/// per key before the verdict is "undecided".
pub const LIN_BUDGET: i64 = 5_000_000;

enum Verdict {
    Linearizable,
    Not(String),
    Undecided,
}

fn op_key(op: &Op) -> &raft_model::Text {
    match op {
        Op::Put { key, .. } | Op::Append { key, .. } | Op::Get { key } => key,
    }
}

/// [`KvSpec`] with a step budget for the tester's search, which remembers nothing
/// and may take exponential time on a history that is not linearizable: once the
/// budget is spent, no result matches (`None`), so every branch ends at once.
#[derive(Clone, Debug)]
struct Budgeted {
    spec: KvSpec,
    left: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl stateright::semantics::SequentialSpec for Budgeted {
    type Op = Op;
    type Ret = Option<raft_model::OpResult>;
    fn invoke(&mut self, op: &Op) -> Self::Ret {
        use std::sync::atomic::Ordering;
        if self.left.fetch_sub(1, Ordering::Relaxed) <= 0 {
            return None;
        }
        Some(self.spec.invoke(op))
    }
}

/// The verdict of stateright's `LinearizabilityTester` (with the model's `KvSpec`)
/// on one key's history.
fn lin_verdict(history: &[&LinEvent]) -> Verdict {
    use std::sync::atomic::{AtomicI64, Ordering};
    let left = std::sync::Arc::new(AtomicI64::new(LIN_BUDGET));
    let spec = Budgeted {
        spec: KvSpec::default(),
        left: left.clone(),
    };
    let mut t = LinearizabilityTester::<Id, Budgeted>::new(spec);
    for e in history {
        let r = match e {
            LinEvent::Invoke(c, op) => t.on_invoke(*c, op.clone()).map(|_| ()),
            LinEvent::Return(c, res) => t.on_return(*c, Some(res.clone())).map(|_| ()),
        };
        if let Err(e) = r {
            return Verdict::Not(format!("the history is malformed: {e}"));
        }
    }
    // The search recurses once per operation: give it room.
    let search = std::thread::Builder::new()
        .stack_size(1 << 28)
        .spawn(move || t.serialized_history().is_some());
    let found = match search.map(|h| h.join()) {
        Ok(Ok(found)) => found,
        _ => return Verdict::Undecided,
    };
    if found {
        Verdict::Linearizable
    } else if left.load(Ordering::Relaxed) < 0 {
        Verdict::Undecided
    } else {
        Verdict::Not("no order of the operations explains every result".into())
    }
}

/// Did the step change what the server invariants look at?
fn relevant_change(b: &ServerState, n: &ServerState) -> bool {
    b.current_term != n.current_term
        || b.role != n.role
        || b.commit_index != n.commit_index
        || b.log.len() != n.log.len()
        || b.log != n.log
}

/// Refuses recorded server states that no handler can be given (they would make
/// the model's handlers index out of range).
fn well_formed(s: &RaftState, servers: usize) -> Result<(), String> {
    let Some(s) = s.server() else { return Ok(()) };
    let len = s.log.len() as u64;
    if s.current_term >= SANE || s.log.iter().any(|e| e.term >= SANE) {
        return Err(format!("a term of {} or more", SANE));
    }
    if s.commit_index > len {
        return Err(format!(
            "commit_index {} beyond a log of {len} entries",
            s.commit_index
        ));
    }
    for (name, v) in [
        ("next_index", &s.next_index),
        ("match_index", &s.match_index),
    ] {
        if !(v.is_empty() || v.len() == servers) {
            return Err(format!(
                "{name} has {} entries for {servers} servers",
                v.len()
            ));
        }
    }
    if s.role == raft_model::Role::Leader && s.next_index.len() != servers {
        return Err("a leader without next_index".into());
    }
    if s.next_index.iter().any(|&i| i == 0 || i > len + 1) || s.match_index.iter().any(|&i| i > len)
    {
        return Err("next_index or match_index outside the log".into());
    }
    Ok(())
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// A message as a person reads it.
pub fn short_msg(_run: &Run, m: &Msg) -> String {
    format!("{m:?}")
}

/// What a record is, in a few words.
pub fn describe(run: &Run, rec: &Record) -> String {
    match &rec.event {
        Event::Start { storage, .. } => format!("start from {}", storage_text(storage)),
        Event::Deliver { src, msg } => {
            format!(
                "deliver from {}: {}",
                run.name_of(*src),
                short_msg(run, msg)
            )
        }
        Event::Timeout { timer } => format!("timeout: {timer:?}"),
        Event::Flush => "flush".into(),
        Event::Stop => "stop".into(),
    }
}

fn storage_text(p: &Option<PersistentState>) -> String {
    match p {
        None => "no storage".into(),
        Some(p) => format!(
            "storage (term {}, voted for {}, log {})",
            p.current_term,
            p.voted_for
                .map_or("nobody".to_string(), |v| format!("S{}", usize::from(v) + 1)),
            raft_model::msg::LogTerms(&p.log)
        ),
    }
}

fn server_text(s: &ServerState) -> String {
    format!(
        "{:?} term {} voted {} log {} commit {}",
        s.role,
        s.current_term,
        s.voted_for
            .map_or("-".to_string(), |v| format!("S{}", usize::from(v) + 1)),
        raft_model::msg::LogTerms(&s.log),
        s.commit_index
    )
}

fn servers_text(run: &Run, views: &[ServerView], h: &History) -> String {
    let mut parts: Vec<String> = views
        .iter()
        .enumerate()
        .map(|(i, v)| match v.live {
            Some(s) => format!("S{}: {}", i + 1, server_text(s)),
            None => format!(
                "S{}: down, stored log {}",
                i + 1,
                raft_model::msg::LogTerms(v.log)
            ),
        })
        .collect();
    let leaders: Vec<String> = h
        .leaders
        .iter()
        .enumerate()
        .filter(|(_, l)| l.len() > 1)
        .map(|(t, l)| format!("term {t} had leaders {l:?}"))
        .collect();
    parts.extend(leaders);
    let _ = run;
    parts.join("; ")
}

/// The first fields in which `expected` and `recorded` differ.
pub fn diff_states(run: &Run, expected: &RaftState, recorded: &RaftState) -> (String, String) {
    let text = |s: &RaftState| match s {
        RaftState::Client(c) => format!(
            "client state with {} answered, target {}",
            c.done,
            run.name_of(c.target)
        ),
        RaftState::Server(s) => format!("server state {}", server_text(s)),
    };
    let (e, r) = match (expected, recorded) {
        (RaftState::Server(e), RaftState::Server(r)) => (e, r),
        _ => return (text(expected), text(recorded)),
    };
    let mut es = Vec::new();
    let mut rs = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            es.push(format!("{name} {a}"));
            rs.push(format!("{name} {b}"));
        }
    };
    let id = |v: Option<Id>| v.map_or("-".to_string(), |v| run.name_of(v));
    field(
        "current_term",
        e.current_term.to_string(),
        r.current_term.to_string(),
    );
    field("voted_for", id(e.voted_for), id(r.voted_for));
    field("role", format!("{:?}", e.role), format!("{:?}", r.role));
    field(
        "commit_index",
        e.commit_index.to_string(),
        r.commit_index.to_string(),
    );
    field("leader_hint", id(e.leader_hint), id(r.leader_hint));
    field(
        "votes_granted",
        format!("{:?}", e.votes_granted),
        format!("{:?}", r.votes_granted),
    );
    field(
        "next_index",
        format!("{:?}", e.next_index),
        format!("{:?}", r.next_index),
    );
    field(
        "match_index",
        format!("{:?}", e.match_index),
        format!("{:?}", r.match_index),
    );
    if e.log != r.log {
        let k = e.log.iter().zip(&r.log).take_while(|(a, b)| a == b).count();
        field(
            "log",
            format!(
                "{} (from index {}: {:?})",
                raft_model::msg::LogTerms(&e.log),
                k + 1,
                e.log.get(k)
            ),
            format!(
                "{} (from index {}: {:?})",
                raft_model::msg::LogTerms(&r.log),
                k + 1,
                r.log.get(k)
            ),
        );
    }
    field("kv", format!("{:?}", e.kv), format!("{:?}", r.kv));
    if e.kv.sessions != r.kv.sessions {
        field(
            "sessions",
            format!("{:?}", e.kv.sessions),
            format!("{:?}", r.kv.sessions),
        );
    }
    (
        format!("state with {}", es.join(", ")),
        format!("state with {}", rs.join(", ")),
    )
}

/// The first command in which `expected` and `recorded` differ.
fn diff_cmds(run: &Run, expected: &[Cmd], recorded: &[Cmd]) -> (String, String) {
    let k = expected
        .iter()
        .zip(recorded)
        .take_while(|(a, b)| a == b)
        .count();
    let text = |c: Option<&Cmd>| match c {
        None => "nothing more".to_string(),
        Some(c) => c.text(&|id| run.name_of(id)),
    };
    (
        format!(
            "{} commands; command {}: {}",
            expected.len(),
            k + 1,
            text(expected.get(k))
        ),
        format!(
            "{} commands; command {}: {}",
            recorded.len(),
            k + 1,
            text(recorded.get(k))
        ),
    )
}

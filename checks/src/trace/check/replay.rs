//! The replay rule: each handler call, run by the model on the previous recorded
//! state with the recorded input, yields exactly the recorded state and commands.

use super::describe::{diff_cmds, diff_states};
use super::invariants::relevant_change;
use super::judge::Live;
use super::{Checker, REPLAY};
use crate::model::observe_server;
use crate::trace::load::{sends, Run};
use raft_model::trace::{Cmd, DeltaError, Event, Record, TraceCommand};
use raft_model::{Input, RaftActor, RaftState, ServerState};
use stateright::actor::Out;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Terms and indexes beyond this are refused: no real run gets near, and the
/// history's per-term table must stay small.
const SANE: u64 = 1 << 40;

/// What the model's handler did with a recorded input: the state after it (`None`:
/// unchanged) and its commands, or the text of its panic.
pub(super) type Replayed = Result<(Option<RaftState>, Vec<Cmd>), String>;

/// Runs a handler of the model, catching a panic (a recorded input that a handler
/// cannot take is a replay failure, never a crash of the validator).
pub(super) fn replay(call: impl FnOnce() -> (Option<RaftState>, Out<RaftActor>)) -> Replayed {
    catch_unwind(AssertUnwindSafe(call))
        .map(|(s, out)| (s, out.iter().filter_map(Cmd::of).collect()))
        .map_err(panic_text)
}

impl<'r> Checker<'r> {
    /// A delivery or a timeout: the model's handler on the previous recorded state.
    pub(super) fn step(&mut self, f: usize, r: usize, input: Input) {
        let Some(prev) = self.actors[f].state.take() else {
            return; // a file always starts with a start record (checked at load)
        };
        let (actor, id) = (&self.actors[f].actor, self.actors[f].id);
        let replayed = replay(|| {
            let stepped = actor.handle(id, &prev, input);
            (stepped.changed, stepped.out)
        });
        self.judge_step(f, r, Some(prev), replayed, None);
    }

    /// Compares a replayed step with its record, then moves the run on with the
    /// recorded state and commands (the replayed ones where the record is unusable).
    /// A state of `None` means "as before the step" (`prev`), so that the common
    /// step that changes nothing costs no copy of the state. `history_before` is
    /// what the history compares the new state with, if not `prev` (a restart).
    pub(super) fn judge_step(
        &mut self,
        f: usize,
        r: usize,
        prev: Option<RaftState>,
        replayed: Replayed,
        history_before: Option<RaftState>,
    ) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        let is_start = matches!(rec.event, Event::Start(_));
        // A start's state is recorded as a change from what its storage gives.
        let base = if is_start {
            history_before.as_ref()
        } else {
            prev.as_ref()
        };
        let recorded_state = recorded_state(rec, base, run.servers);
        let state_after = match &recorded_state {
            Ok(s) => s.as_ref().or(base).and_then(RaftState::server),
            Err(_) => None,
        };
        // Decoding a save moves the base on; keep the old one only if it may be needed.
        let saves = rec
            .out
            .iter()
            .any(|c| matches!(c, TraceCommand::Save { .. }));
        let save_base_before = saves.then(|| self.actors[f].save_base.clone());
        let recorded_cmds: Result<Vec<Cmd>, DeltaError> = {
            let a = &mut self.actors[f];
            rec.out
                .iter()
                .map(|c| c.decode(&mut a.save_base, state_after))
                .collect()
        };
        match problem(run, base, &recorded_state, &recorded_cmds, &replayed) {
            None => self.pass(REPLAY),
            Some((e, g)) => self.fail(REPLAY, f, r, e, g),
        }
        // Move on with what the host recorded (it is what the host did), or with the
        // model's version where the record cannot be used.
        let (replayed_state, replayed_cmds) = match replayed {
            Ok((s, c)) => (Some(s), Some(c)),
            Err(_) => (None, None),
        };
        let changed = recorded_state.ok().or(replayed_state).flatten();
        let cmds = match (recorded_cmds, replayed_cmds) {
            (Ok(c), _) => c,
            (Err(_), Some(c)) => {
                let a = &mut self.actors[f];
                if let Some(b) = save_base_before {
                    a.save_base = b;
                }
                if let Some(Cmd::Save(p)) = c.iter().rev().find(|c| matches!(c, Cmd::Save(_))) {
                    a.save_base = p.clone();
                }
                c
            }
            (Err(_), None) => Vec::new(),
        };
        self.take_commands(f, cmds);
        self.merge_sends(f, r);
        self.advance(f, r, prev, changed, history_before, is_start);
    }

    /// The effects of a step's commands on what the validator tracks of its actor:
    /// the save under way, the timers that are set.
    pub(super) fn take_commands(&mut self, f: usize, cmds: Vec<Cmd>) {
        let a = &mut self.actors[f];
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
    }

    /// Sends are merged now; they may leave now, or at the next flush record if a
    /// save of this incarnation is not yet durable.
    pub(super) fn merge_sends(&mut self, f: usize, r: usize) {
        let run = self.run;
        let rec = &run.files[f].lines[r].rec;
        let node = run.files[f].node;
        let mut any_send = false;
        for (_, dst, msg) in sends(rec) {
            any_send = true;
            self.sent.entry((node, dst, msg)).or_default().0 += 1;
            self.last_sent.insert((node, dst), msg);
        }
        if !any_send {
            return;
        }
        if self.actors[f].pending {
            self.actors[f].unreleased.push(r);
        } else {
            self.release(f, r);
        }
    }

    /// Moves the actor to its state after the step, and judges what it changed.
    fn advance(
        &mut self,
        f: usize,
        r: usize,
        prev: Option<RaftState>,
        changed: Option<RaftState>,
        history_before: Option<RaftState>,
        is_start: bool,
    ) {
        let is_server = self.actors[f].is_server;
        let Some(changed) = changed else {
            // Nothing changed: the state stays, and so does every invariant's verdict.
            self.actors[f].state = prev;
            if !is_server {
                self.client_step(f, r);
            }
            return;
        };
        let before = history_before.or(prev);
        self.actors[f].state = Some(changed);
        if !is_server {
            self.client_step(f, r);
            return;
        }
        if is_start {
            // The recorded state is kept beside the replayed one from here on.
            let a = &mut self.actors[f];
            a.shadow = a.state.as_ref().and_then(RaftState::server).cloned();
            a.saved_log_current = true;
        }
        let a = &self.actors[f];
        let (Some(RaftState::Server(b)), Some(RaftState::Server(n))) =
            (before.as_ref(), a.state.as_ref())
        else {
            return;
        };
        let i = usize::from(a.id);
        match &mut self.judge {
            Some(j) => {
                let b_last = b.log.last_index() as usize;
                let b_id = j.id_through(i, b_last);
                j.set_live(i, None);
                j.set_log(i, &n.log);
                j.set_live(i, Some(Live::of(n)));
                j.observe(i, (Live::of(b), b_last, b_id), n, is_start);
            }
            None if is_start || b != n => observe_server(&mut self.history, i, b, n, is_start),
            None => {}
        }
        if is_start || relevant_change(b, n) {
            self.judge_states(f, r);
        }
    }

    /// Moves server file `f` to `state` after a delivery or timeout (record
    /// `r`), and judges what the step changed. `before`: the server's fields,
    /// log length and commit index before the step; `keep`: the entries the
    /// record kept (`None`: an unusable record, the whole log is looked at);
    /// `full_before`: the whole state before, for the registry's functions.
    pub(super) fn advance_server(
        &mut self,
        f: usize,
        r: usize,
        state: ServerState,
        before: (Live, usize, usize),
        keep: Option<usize>,
        full_before: Option<ServerState>,
    ) {
        let i = usize::from(self.actors[f].id);
        let (b, b_len, _) = before;
        let relevant = match &mut self.judge {
            Some(j) => {
                let b_id = j.id_through(i, b_len);
                match keep {
                    Some(k)
                        if k <= j.log_len(i)
                            && k <= state.log.last_index() as usize
                            && k >= state.log.snapshot_index() as usize =>
                    {
                        j.replace_from(i, k, state.log.iter_from(k as u64 + 1))
                    }
                    _ => j.set_log(i, &state.log),
                }
                let last = state.log.last_index() as usize;
                let log_changed = last != b_len || j.id_through(i, last) != b_id;
                j.set_live(i, Some(Live::of(&state)));
                j.observe(i, (b, b_len, b_id), &state, false);
                let n = Live::of(&state);
                log_changed || n != b
            }
            None => {
                let Some(old) = full_before else { return };
                if old != state {
                    observe_server(&mut self.history, i, &old, &state, false);
                }
                relevant_change(&old, &state)
            }
        };
        self.actors[f].state = Some(RaftState::Server(state));
        if relevant {
            self.judge_states(f, r);
        }
    }
}

/// The state a record says its actor reached (`None`: unchanged), given the state
/// of the previous record (`None` at a start).
fn recorded_state(
    rec: &Record,
    base: Option<&RaftState>,
    servers: usize,
) -> Result<Option<RaftState>, String> {
    match &rec.state {
        Some(d) => d
            .apply(base)
            .map_err(|e| e.to_string())
            .and_then(|s| well_formed(&s, servers).map(|_| Some(s))),
        None if matches!(rec.event, Event::Start(_)) => {
            Err("a start record without a state".to_string())
        }
        None => Ok(None),
    }
}

/// The first difference between a record and the model's replay of it, as
/// (expected, recorded).
fn problem(
    run: &Run,
    base: Option<&RaftState>,
    recorded_state: &Result<Option<RaftState>, String>,
    recorded_cmds: &Result<Vec<Cmd>, DeltaError>,
    replayed: &Replayed,
) -> Option<(String, String)> {
    let (replayed_state, replayed_cmds) = match replayed {
        Ok((s, c)) => (s, c),
        Err(p) => {
            return Some((
                "the model's handler to accept this input".into(),
                format!("the handler panicked: {p}"),
            ))
        }
    };
    let recorded = match recorded_state {
        Ok(s) => s,
        Err(e) => {
            return Some((
                "a state of the model".into(),
                format!("a state that is not: {e}"),
            ))
        }
    };
    if let (Some(rs), Some(es)) = (recorded.as_ref().or(base), replayed_state.as_ref().or(base)) {
        if rs != es {
            return Some(diff_states(run, es, rs));
        }
    }
    match recorded_cmds {
        Err(e) => Some((
            "commands that decode".into(),
            format!("a save that does not: {e}"),
        )),
        Ok(rc) if rc != replayed_cmds => Some(diff_cmds(run, replayed_cmds, rc)),
        Ok(_) => None,
    }
}

/// Refuses recorded server states that no handler can be given (they would make
/// the model's handlers index out of range).
pub(super) fn well_formed(s: &RaftState, servers: usize) -> Result<(), String> {
    let Some(s) = s.server() else { return Ok(()) };
    let len = s.log.last_index();
    if s.current_term >= SANE || s.log.iter().any(|e| e.term >= SANE) {
        return Err(format!("a term of {} or more", SANE));
    }
    if s.commit_index > len || s.commit_index < s.log.snapshot_index() {
        return Err(format!(
            "commit_index {} outside a log of {} to {len}",
            s.commit_index,
            s.log.snapshot_index()
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

pub(super) fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

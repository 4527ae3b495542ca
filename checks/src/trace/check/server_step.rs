//! A server's delivery or timeout, replayed at the cost of what it changed.
//!
//! The handler runs on the actor's own state (no copy), and the record is kept
//! beside it as a second state (`shadow`) that each record's changes are applied
//! to in place. The two are compared only where they can differ: from the first
//! log entry that either the record or the handler may have changed (the model's
//! [`raft_model::ServerConfig::log_footprint`]), the store's keys that the record
//! or the newly applied entries name, and the small fields. The model's save is
//! compared the same way with the record's save. A difference is reported as the
//! replay rule's failure, with both states in full, and the run goes on from
//! what the host recorded, as for every other record.

use super::describe::{diff_cmds, diff_states};
use super::replay::{panic_text, Replayed};
use super::{Checker, REPLAY};
use raft_model::trace::{Cmd, KvDelta, Record, ServerDelta, TraceCommand, TraceState};
use raft_model::{
    Entry, Id, Input, Op, PersistentState, RaftActor, RaftState, ServerConfig, ServerState, Text,
    MAX_INDEX, MAX_TERM,
};
use stateright::actor::Out;
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What the record said the step did to the log: keep the entries through index
/// `keep`, append; or `snapshot`: its snapshot moved (taken or installed), and
/// the log is judged again from there.
pub(super) struct LogChange<'a> {
    pub keep: usize,
    pub append: &'a [Entry],
    pub snapshot: bool,
}

impl<'r> Checker<'r> {
    pub(super) fn server_step(&mut self, f: usize, r: usize, input: Input) {
        let run = self.run;
        let rec: &'r Record = &run.files[f].lines[r].rec;
        let Some(RaftState::Server(prev)) = self.actors[f].state.take() else {
            return; // a file always starts with a start record (checked at load)
        };
        let RaftActor::Server(cfg) = &self.actors[f].actor else {
            return;
        };
        let id = self.actors[f].id;
        let kept = cfg.log_footprint(&prev, &input) as usize;
        let before = (
            super::judge::Live::of(&prev),
            prev.log.last_index() as usize,
            prev.commit_index as usize,
        );
        let snapshot_before = (prev.log.snapshot_index(), prev.log.snapshot_term());
        let full_before = self.judge.is_none().then(|| prev.clone());
        let replayed = run_owned(cfg, id, prev, input);
        // The record's state and commands, applied in place.
        let Some(mut shadow) = self.actors[f].shadow.take() else {
            return;
        };
        let change = match apply_record(&mut shadow, rec, run.servers) {
            Ok(c) => c,
            Err(e) => {
                // Unusable record: the replay goes on with the model's state.
                self.fail(
                    REPLAY,
                    f,
                    r,
                    "a state of the model".into(),
                    format!("a state that is not: {e}"),
                );
                let _ = self.compare_cmds(f, rec, &[], kept, &shadow);
                let state = match replayed {
                    Ok((s, cmds)) => {
                        self.take_commands(f, cmds);
                        s
                    }
                    Err(_) => shadow.clone(),
                };
                self.actors[f].shadow = Some(state.clone());
                self.merge_sends(f, r);
                self.advance_server(f, r, state, before, None, full_before);
                return;
            }
        };
        let (state, cmds) = match replayed {
            Err(p) => {
                self.fail(
                    REPLAY,
                    f,
                    r,
                    "the model's handler to accept this input".into(),
                    format!("the handler panicked: {p}"),
                );
                let _ = self.compare_cmds(f, rec, &[], kept, &shadow);
                (shadow.clone(), self.recorded_cmds(f, rec))
            }
            Ok((replayed, cmds)) => {
                let start = kept.min(change.keep);
                let kv = match &rec.state {
                    Some(TraceState::Server(d)) => Some(&d.kv),
                    _ => None,
                };
                // A snapshot moved: the whole log after it and the whole store.
                let moved = change.snapshot
                    || (replayed.log.snapshot_index(), replayed.log.snapshot_term())
                        != snapshot_before;
                let state_ok = if moved {
                    same_after_snapshot(&replayed, &shadow)
                } else {
                    same_state(&replayed, &shadow, start, before.2, kv)
                };
                let saves = self.compare_cmds(f, rec, &cmds, kept, &shadow);
                match (state_ok, saves) {
                    (true, Ok(true)) => {
                        self.pass(REPLAY);
                        (replayed, cmds)
                    }
                    (false, _) => {
                        let (e, g) = diff_states(
                            run,
                            &RaftState::Server(replayed),
                            &RaftState::Server(shadow.clone()),
                        );
                        self.fail(REPLAY, f, r, e, g);
                        (shadow.clone(), self.recorded_cmds(f, rec))
                    }
                    (true, Ok(false)) => {
                        let recorded = self.recorded_cmds(f, rec);
                        let (e, g) = diff_cmds(run, &cmds, &recorded);
                        self.fail(REPLAY, f, r, e, g);
                        (replayed, recorded)
                    }
                    (true, Err(e)) => {
                        self.fail(
                            REPLAY,
                            f,
                            r,
                            "commands that decode".into(),
                            format!("a save that does not: {e}"),
                        );
                        (replayed, cmds)
                    }
                }
            }
        };
        let log_changed = change.keep < before.1 || !change.append.is_empty() || change.snapshot;
        let saved = rec
            .out
            .iter()
            .any(|c| matches!(c, TraceCommand::Save { .. }));
        if log_changed && !saved {
            self.actors[f].saved_log_current = false;
        }
        self.actors[f].shadow = Some(shadow);
        self.take_commands(f, cmds);
        self.merge_sends(f, r);
        let keep = (!change.snapshot).then_some(change.keep);
        self.advance_server(f, r, state, before, keep, full_before);
    }

    /// The record's commands in full (to report a difference, or to go on with),
    /// after [`Checker::compare_cmds`] applied its saves.
    fn recorded_cmds(&self, f: usize, rec: &Record) -> Vec<Cmd> {
        let base = &self.actors[f].save_base;
        rec.out
            .iter()
            .filter_map(|c| match c {
                TraceCommand::Save { .. } => Some(Cmd::Save(base.clone())),
                c => c.decode(&mut PersistentState::default(), None).ok(),
            })
            .collect()
    }

    /// Applies the record's saves to the last save in place, and compares the
    /// model's commands with the record's, saves by what can have changed:
    /// `Ok(true)` if they agree.
    fn compare_cmds(
        &mut self,
        f: usize,
        rec: &Record,
        replayed: &[Cmd],
        kept: usize,
        recorded: &ServerState,
    ) -> Result<bool, String> {
        let a = &mut self.actors[f];
        // Entries up to where neither this step nor the record changed the log
        // are the last save's, if the last save had the log this step started
        // from (every step that changes the log saves it).
        let mut from = if a.saved_log_current { kept } else { 0 };
        let mut saves = 0;
        let snapshot_before = (
            a.save_base.log.snapshot_index(),
            a.save_base.log.snapshot_term(),
        );
        let mut snapshot_saved = false;
        for c in &rec.out {
            if let TraceCommand::Save { log, snapshot, .. } = c {
                from = from.min(usize::try_from(log.keep).unwrap_or(usize::MAX));
                snapshot_saved |= !snapshot.is_unchanged() || log.snapshot.is_some();
                // The model's decoding, in place (the log and store are
                // persistent structures: the copies share their parts).
                c.decode(&mut a.save_base, Some(recorded))
                    .map_err(|e| e.to_string())?;
                saves += 1;
            }
        }
        if saves > 0 {
            a.saved_log_current = true;
        }
        if rec.out.len() != replayed.len() || saves > 1 {
            return Ok(false);
        }
        let base = &a.save_base;
        Ok(rec.out.iter().zip(replayed).all(|(c, m)| match (c, m) {
            (TraceCommand::Save { .. }, Cmd::Save(p)) => {
                let point = (p.log.snapshot_index(), p.log.snapshot_term());
                let base_point = (base.log.snapshot_index(), base.log.snapshot_term());
                // The snapshot's data is compared when either side moved it.
                let snapshot_ok = point == base_point
                    && (!(snapshot_saved || point != snapshot_before)
                        || p.snapshot == base.snapshot);
                p.current_term == base.current_term
                    && p.voted_for == base.voted_for
                    && p.log.last_index() == base.log.last_index()
                    && snapshot_ok
                    && p.log
                        .iter_from(from as u64 + 1)
                        .eq(base.log.iter_from(from as u64 + 1))
            }
            (TraceCommand::Send { dst, msg }, Cmd::Send(d, m)) => dst == d && msg == m,
            (TraceCommand::SetTimer { timer, range_us }, Cmd::SetTimer(t, r)) => {
                timer == t && range_us == r
            }
            (TraceCommand::CancelTimer { timer }, Cmd::CancelTimer(t)) => timer == t,
            _ => false,
        }))
    }
}

/// Runs the model's server handler on `state` itself (no copy of it).
fn run_owned(
    cfg: &ServerConfig,
    id: raft_model::Id,
    state: ServerState,
    input: Input,
) -> Result<(ServerState, Vec<Cmd>), String> {
    let r: Replayed = catch_unwind(AssertUnwindSafe(move || {
        let mut cow = Cow::Owned(state);
        let mut out = Out::new();
        match input {
            Input::Deliver { src, msg } => cfg.on_msg(id, &mut cow, src, msg, &mut out),
            Input::Timeout(t) => cfg.on_timeout(id, &mut cow, t, &mut out),
        }
        (Some(RaftState::Server(cow.into_owned())), out)
    }))
    .map(|(s, out)| (s, out.into_iter().filter_map(into_cmd).collect()))
    .map_err(panic_text);
    match r {
        Ok((Some(RaftState::Server(s)), cmds)) => Ok((s, cmds)),
        Ok(_) => Err("the handler lost the server's state".into()),
        Err(e) => Err(e),
    }
}

/// The command, moved (the model's save is a whole copy of the log: copying it
/// again would cost its length once more).
fn into_cmd(c: raft_model::trace::ActorCommand) -> Option<Cmd> {
    use stateright::actor::Command;
    Some(match c {
        Command::Save(p) => Cmd::Save(p),
        Command::SetTimer(t, r) => Cmd::SetTimer(t, raft_model::trace::range_us(&r)),
        Command::CancelTimer(t) => Cmd::CancelTimer(t),
        Command::Send(dst, msg) => Cmd::Send(dst, msg),
        Command::ChooseRandom(..) => return None,
    })
}

/// Applies a record's state change to `s` in place; what it did to the log.
fn apply_record<'a>(
    s: &mut ServerState,
    rec: &'a Record,
    servers: usize,
) -> Result<LogChange<'a>, String> {
    let d: &ServerDelta = match &rec.state {
        None => {
            return Ok(LogChange {
                keep: s.log.last_index() as usize,
                append: &[],
                snapshot: false,
            })
        }
        Some(TraceState::Server(d)) => d,
        Some(TraceState::Client(_)) => return Err("a client state for a server".into()),
    };
    if d.log.snapshot.is_some() || !d.snapshot.is_empty() {
        // A snapshot taken or installed (rare): the model's own decoding.
        let next = d.apply(Some(&*s)).map_err(|e| e.to_string())?;
        super::replay::well_formed(&RaftState::Server(next.clone()), servers)?;
        *s = next;
        return Ok(LogChange {
            keep: s.log.snapshot_index() as usize,
            append: &[],
            snapshot: true,
        });
    }
    let keep = usize::try_from(d.log.keep).unwrap_or(usize::MAX);
    let (first, last) = (s.log.snapshot_index() as usize, s.log.last_index() as usize);
    if keep > last || keep < first {
        return Err(format!(
            "the log keeps entries up to {keep} of a log that holds {} to {last}",
            first + 1
        ));
    }
    if d.current_term > MAX_TERM || d.log.append.iter().any(|e| e.term > MAX_TERM) {
        return Err(format!("a term above {MAX_TERM}"));
    }
    let len = keep.saturating_add(d.log.append.len()) as u64;
    if len > MAX_INDEX || d.commit_index > len {
        return Err(format!(
            "commit_index {} beyond a log of {len} entries",
            d.commit_index
        ));
    }
    for (name, v) in [
        ("next_index", &d.next_index),
        ("match_index", &d.match_index),
    ] {
        if !(v.is_empty() || v.len() == servers) {
            return Err(format!(
                "{name} has {} entries for {servers} servers",
                v.len()
            ));
        }
    }
    if d.role == raft_model::Role::Leader && d.next_index.len() != servers {
        return Err("a leader without next_index".into());
    }
    if d.next_index.iter().any(|&i| i == 0 || i > len + 1) || d.match_index.iter().any(|&i| i > len)
    {
        return Err("next_index or match_index outside the log".into());
    }
    s.current_term = d.current_term;
    s.voted_for = d.voted_for;
    s.role = d.role;
    s.commit_index = d.commit_index;
    s.leader_hint = d.leader_hint;
    s.votes_granted = d.votes_granted;
    s.next_index.clone_from(&d.next_index);
    s.match_index.clone_from(&d.match_index);
    s.log.truncate_after(keep as u64);
    s.log.extend(d.log.append.iter().cloned());
    d.kv.apply_to(&mut s.kv);
    Ok(LogChange {
        keep,
        append: &d.log.append,
        snapshot: false,
    })
}

/// Whether the replayed state equals the recorded one, comparing the log from
/// `from` on (both hold the same entries before it) and the store where either
/// may have changed since `commit_before`.
fn same_state(
    r: &ServerState,
    s: &ServerState,
    from: usize,
    commit_before: usize,
    kv: Option<&KvDelta>,
) -> bool {
    let small = r.current_term == s.current_term
        && r.voted_for == s.voted_for
        && r.role == s.role
        && r.commit_index == s.commit_index
        && r.leader_hint == s.leader_hint
        && r.votes_granted == s.votes_granted
        && r.next_index == s.next_index
        && r.match_index == s.match_index;
    small
        && r.log.last_index() == s.log.last_index()
        && r.log.snapshot_index() == s.log.snapshot_index()
        && r.log
            .iter_from(from as u64 + 1)
            .eq(s.log.iter_from(from as u64 + 1))
        && same_store(r, s, commit_before, kv)
}

/// [`same_state`] for a step that moved a snapshot: every field, the log after
/// the snapshot, the store and the snapshot's data (costs the store's size, once
/// per snapshot).
fn same_after_snapshot(r: &ServerState, s: &ServerState) -> bool {
    let point = |x: &ServerState| (x.log.snapshot_index(), x.log.snapshot_term());
    point(r) == point(s)
        && same_state(r, s, r.log.snapshot_index() as usize, 0, None)
        && r.kv == s.kv
        && r.snapshot == s.snapshot
}

/// The handler changes the store only by applying committed entries (the
/// model's `ServerState::kv`), the record only where its change says: so the
/// stores agree if they agree on the keys and sessions that either names.
fn same_store(
    r: &ServerState,
    s: &ServerState,
    commit_before: usize,
    kv: Option<&KvDelta>,
) -> bool {
    let commit = r.commit_index as usize;
    if commit < commit_before {
        return r.kv == s.kv;
    }
    if r.kv.data.len() != s.kv.data.len() || r.kv.sessions.len() != s.kv.sessions.len() {
        return false;
    }
    // The stores agreed before the step (the replay goes on from the recorded
    // state), so comparing them whole gives the same answer: cheaper when the
    // step applied more entries than the stores hold (a restarted server
    // catching up applies its whole log).
    let applied = commit.saturating_sub(commit_before);
    if applied > r.kv.data.len() + r.kv.sessions.len() {
        return r.kv == s.kv;
    }
    let key_agrees = |k: &Text| r.kv.data.get(k) == s.kv.data.get(k);
    let session_agrees = |c: &Id| r.kv.sessions.get(c) == s.kv.sessions.get(c);
    let mut applied = r
        .log
        .iter_from(commit_before as u64 + 1)
        .take(commit.saturating_sub(commit_before));
    let by_handler = applied.all(|e| key_agrees(op_key(&e.op)) && session_agrees(&e.client));
    let by_record = kv.is_none_or(|d| {
        d.set.iter().all(|(k, _)| key_agrees(k))
            && d.unset.iter().all(key_agrees)
            && d.sessions.iter().all(|(c, _)| session_agrees(c))
            && d.sessions_unset.iter().all(session_agrees)
    });
    by_handler && by_record
}

fn op_key(op: &Op) -> &Text {
    match op {
        Op::Put { key, .. } | Op::Append { key, .. } | Op::Get { key } => key,
    }
}

//! Maps a recorded run, record by record in the global order, to the model's
//! actions, taken by the model itself, comparing the acting actor's state after
//! each with the recorded one.

use super::net_plan::NetPlan;
use super::{Divergence, Ids, LeftOut, Summary};
use crate::model::Shared;
use crate::model::{Action, RaftModel, State};
use crate::trace::check::{describe, diff_states};
use crate::trace::load::{is_step, EvKind, Run, TraceFile};
use crate::trace::merge::Merged;
use raft_model::trace::{Event, LogChain};
use raft_model::{RaftState, ServerState};
use stateright::Model;

/// Does file `f` start again after its event `k`?
pub(super) fn starts_later(f: &TraceFile, k: usize) -> bool {
    f.events[k + 1..].iter().any(|ev| match ev.kind {
        EvKind::Record(r) => matches!(f.lines[r].rec.event, Event::Start(_)),
        EvKind::Crash => false,
    })
}

pub(super) struct Mapper<'r> {
    pub(super) run: &'r Run,
    pub(super) ids: Ids,
    pub(super) model: RaftModel,
    pub(super) state: State,
    pub(super) actions: Vec<Action>,
    pub(super) summary: Summary,
    /// Per file: the recorded state after its last record so far (the run's ids).
    pub(super) recorded: Vec<Option<RaftState>>,
    pub(super) started: Vec<bool>,
    pub(super) max_term: u64,
    pub(super) max_log: usize,
    pub(super) max_in_flight: usize,
}

/// Whether the model took an action, or had no step for it (it changes nothing).
enum Taken {
    Yes,
    NoOp,
}

impl Mapper<'_> {
    pub(super) fn map_all(
        &mut self,
        merged: &Merged,
        net: &NetPlan,
    ) -> Result<(), Box<Divergence>> {
        let run = self.run;
        for (pos, &(f, e)) in merged.order.iter().enumerate() {
            let file = &run.files[f];
            let id = self.ids.to_model(&file.node);
            let r = match file.events[e].kind {
                EvKind::Crash => {
                    if !file.is_server() {
                        self.leave_out(merged, pos, client_restart());
                        return Ok(());
                    }
                    let r = e.checked_sub(1).map_or(0, |p| match file.events[p].kind {
                        EvKind::Record(r) => r,
                        EvKind::Crash => 0,
                    });
                    self.take(f, r, Action::Crash(id))?;
                    self.summary.crashes += 1;
                    continue;
                }
                EvKind::Record(r) => r,
            };
            let rec = &file.lines[r].rec;
            match &rec.event {
                Event::Start(_) if !self.started[f] => {
                    // The model started it in its initial state, and it has not moved
                    // since (this is its first record): compared below.
                    self.started[f] = true;
                    self.summary.starts += 1;
                }
                Event::Start(start) => {
                    let storage = &start.storage;
                    if !file.is_server() {
                        self.leave_out(merged, pos, client_restart());
                        return Ok(());
                    }
                    let i = usize::from(id);
                    let saved = self.state.storage(i).cloned();
                    let saved = saved.map(|p| self.ids.to_real(&p));
                    let chain = &mut LogChain::default();
                    let same = match (&saved, storage) {
                        (None, None) => true,
                        (Some(p), Some(st)) => st.names(p, chain),
                        _ => false,
                    };
                    if !same {
                        self.leave_out(
                            merged,
                            pos,
                            "the node restarted from an older storage than its last save: it was \
                             killed while saving, before the save became durable. The model's \
                             crash keeps the last save, so it cannot restart from the older one \
                             (the steps whose save was lost would have to be left out)"
                                .into(),
                        );
                        return Ok(());
                    }
                    self.take(f, r, Action::Recover(id))?;
                    self.summary.restarts += 1;
                }
                Event::Deliver { src, msg } => {
                    if !self.ids.knows(run.servers, *src) {
                        self.leave_out(
                            merged,
                            pos,
                            format!(
                                "a message from {}, which left no trace, so the model has no \
                                 actor for it",
                                run.name_of(*src)
                            ),
                        );
                        return Ok(());
                    }
                    let action = Action::Deliver {
                        src: self.ids.to_model(src),
                        dst: id,
                        msg: Shared::new(self.ids.to_model(msg)),
                    };
                    match self.take(f, r, action)? {
                        Taken::Yes => self.summary.deliveries += 1,
                        Taken::NoOp => self.summary.ignored_deliveries += 1,
                    }
                }
                Event::Timeout { timer } => match self.take(f, r, Action::Timeout(id, *timer))? {
                    Taken::Yes => self.summary.timeouts += 1,
                    Taken::NoOp => self.summary.ignored_timeouts += 1,
                },
                Event::Flush => {}
                Event::Stop => {
                    if starts_later(file, e) {
                        if !file.is_server() {
                            self.leave_out(merged, pos, client_restart());
                            return Ok(());
                        }
                        // A clean stop: everything was durable, as after a crash that
                        // struck between batches.
                        self.take(f, r, Action::Crash(id))?;
                        self.summary.crashes += 1;
                    }
                }
            }
            if is_step(&rec.event) {
                self.follow_record(f, r)?;
                self.compare(f, r)?;
            }
            for (src, dst, msg) in net.drops_after.get(&pos).into_iter().flatten() {
                let lose = Action::Drop {
                    src: self.ids.to_model(src),
                    dst: self.ids.to_model(dst),
                    msg: Shared::new(self.ids.to_model(msg)),
                };
                self.take(f, r, lose)?;
                self.summary.drops += 1;
            }
        }
        Ok(())
    }

    /// Takes `action` (for record `r` of file `f`) if the model has it enabled.
    fn take(&mut self, f: usize, r: usize, action: Action) -> Result<Taken, Box<Divergence>> {
        let mut enabled = Vec::new();
        self.model.actions(&self.state, &mut enabled);
        if !enabled.contains(&action) {
            let why = match &action {
                Action::Deliver { .. } | Action::Drop { .. } => {
                    "the message is not in flight in the model"
                }
                Action::Timeout(..) => "the timer is not set in the model",
                Action::Crash(_) => "the model's crash bound is spent",
                _ => "it is not enabled",
            };
            let (expected, recorded) = (
                format!(
                    "{} is not enabled: {why}",
                    self.model.format_action(&action)
                ),
                "the step happened".to_string(),
            );
            return Err(self.divergence(f, r, expected, recorded));
        }
        match self.model.next_state(&self.state, action.clone()) {
            Some(next) => {
                self.state = next;
                self.actions.push(action);
                self.observe_bounds();
                Ok(Taken::Yes)
            }
            None => Ok(Taken::NoOp),
        }
    }

    /// The recorded state after record `r` of file `f`.
    fn follow_record(&mut self, f: usize, r: usize) -> Result<(), Box<Divergence>> {
        let rec = &self.run.files[f].lines[r].rec;
        let Some(delta) = &rec.state else {
            return Ok(()); // unchanged
        };
        // A server's start is recorded as a change from what its storage gives
        // (the model's storage: the restart was taken only if they agree).
        let file = &self.run.files[f];
        let from_storage = match rec.event {
            Event::Start(_) if file.is_server() => {
                let i = usize::from(file.node);
                let stored = self.state.storage(i).map(|p| self.ids.to_real(p));
                Some(RaftState::Server(ServerState::from_storage(
                    stored.as_ref(),
                )))
            }
            _ => None,
        };
        let base = match rec.event {
            Event::Start(_) => from_storage.as_ref(),
            _ => self.recorded[f].as_ref(),
        };
        match delta.apply(base) {
            Ok(s) => {
                self.recorded[f] = Some(s);
                Ok(())
            }
            Err(e) => {
                Err(self.divergence(f, r, "a recorded state that decodes".into(), e.to_string()))
            }
        }
    }

    /// The acting actor's state in the model must be the recorded one.
    fn compare(&self, f: usize, r: usize) -> Result<(), Box<Divergence>> {
        let Some(recorded) = &self.recorded[f] else {
            return Ok(());
        };
        let i = usize::from(self.ids.to_model(&self.run.files[f].node));
        let modelled = &self.state.actors[i];
        if self.state.is_down(i) {
            return Err(self.divergence(
                f,
                r,
                "the actor is down in the model".into(),
                "it took a step".into(),
            ));
        }
        if **modelled == self.ids.to_model(recorded) {
            return Ok(());
        }
        let (expected, got) = diff_states(self.run, &self.ids.to_real(&**modelled), recorded);
        Err(self.divergence(f, r, expected, got))
    }

    fn divergence(
        &self,
        f: usize,
        r: usize,
        expected: String,
        recorded: String,
    ) -> Box<Divergence> {
        Box::new(Divergence {
            path_step: self.actions.len() + 1,
            at: self.locate(f, r),
            event: describe(self.run, &self.run.files[f].lines[r].rec),
            expected,
            recorded,
        })
    }

    fn locate(&self, f: usize, r: usize) -> String {
        let file = &self.run.files[f];
        let line = &file.lines[r];
        format!(
            "{} step {} ({}:{})",
            file.name,
            line.rec.step,
            file.path.display(),
            line.line
        )
    }

    /// Ends the path before position `pos` of the global order.
    pub(super) fn leave_out(&mut self, merged: &Merged, pos: usize, why: String) {
        let run = self.run;
        let record = |&(f, e): &(usize, usize)| match run.files[f].events[e].kind {
            EvKind::Record(r) => Some((f, r)),
            EvKind::Crash => None,
        };
        let not_mapped = merged.order[pos.min(merged.order.len())..]
            .iter()
            .filter_map(record)
            .filter(|&(f, r)| is_step(&run.files[f].lines[r].rec.event))
            .count();
        let here = merged.order.get(pos).and_then(record);
        let (at, event) = match here {
            Some((f, r)) => (self.locate(f, r), describe(run, &run.files[f].lines[r].rec)),
            None => match merged.order.get(pos) {
                Some(&(f, _)) => (run.files[f].name.clone(), "crash".into()),
                None => ("the start".into(), String::new()),
            },
        };
        self.summary.left_out = Some(LeftOut {
            at,
            event,
            why,
            records_not_mapped: not_mapped,
        });
    }

    pub(super) fn observe_bounds(&mut self) {
        for s in self.state.actors.iter().filter_map(|s| s.server()) {
            self.max_term = self.max_term.max(s.current_term);
            self.max_log = self.max_log.max(s.log.len());
        }
        self.max_in_flight = self.max_in_flight.max(self.state.network.len());
    }
}

fn client_restart() -> String {
    "a client crashed or restarted: the model's clients run once and never crash".into()
}

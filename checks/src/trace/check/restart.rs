//! The restart rule: a start reads the storage last made durable before the
//! crash (or the save under way when it struck); a first start reads none.
//!
//! A start record names its log and snapshot by digest (`raft_model::trace_snapshot`):
//! the storage it read is the allowed save whose term, vote and digests it records,
//! and the start is replayed from that save.

use super::describe::{storage_text, stored_text};
use super::replay::replay;
use super::{Checker, RESTART};
use raft_model::trace::StoredState;
use raft_model::{PersistentState, RaftState, ServerState};
use stateright::actor::{Actor, Out};
use std::sync::Arc;

impl<'r> Checker<'r> {
    pub(super) fn start(&mut self, f: usize, r: usize, recorded: &'r Option<StoredState>) {
        let a = &mut self.actors[f];
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
        // The allowed save the record names, itself (so that it is compared by
        // pointer below, not entry by entry), or a format 1 record's own storage.
        let chain = &mut a.chain;
        let found: Option<Option<Arc<PersistentState>>> = match recorded {
            None => Some(None),
            Some(st) => match st.whole() {
                Some(p) => Some(Some(Arc::new(p))),
                None => allowed
                    .iter()
                    .flatten()
                    .find(|c| st.names(c, chain))
                    .map(|c| Some(c.clone())),
            },
        };
        let storage: Option<PersistentState> = match &found {
            Some(p) => p.as_deref().cloned(),
            // Not a storage it may read: replay it with what the record holds (its
            // snapshot data, if any, is unknown and taken as empty, and a log named
            // by digest as the durable one: the replay goes on, the rule has failed).
            None => recorded.as_ref().map(|st| PersistentState {
                current_term: st.current_term,
                voted_for: st.voted_for,
                log: st.log.clone().unwrap_or_else(|| {
                    allowed
                        .first()
                        .and_then(|p| p.as_ref())
                        .map(|p| p.log.clone())
                        .unwrap_or_default()
                }),
                snapshot: Default::default(),
            }),
        };
        let storage = &storage;
        let read = match &found {
            Some(p) => p.clone(),
            None => storage.clone().map(Arc::new),
        };
        if found.is_some() && allowed.contains(&read) {
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
            self.fail(RESTART, f, r, what, stored_text(recorded));
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
        let (actor, id) = (&a.actor, a.id);
        let replayed = replay(|| {
            let mut out = Out::new();
            let s = actor.on_start(id, storage, &mut out);
            (Some(s), out)
        });
        // For the history, a restart goes from what the storage holds (as a crash in
        // the model leaves it).
        let before = RaftState::Server(ServerState::from_storage(storage.as_ref()));
        self.judge_step(f, r, previous, replayed, Some(before));
    }
}

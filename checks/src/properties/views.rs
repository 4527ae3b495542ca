//! The servers as the safety properties see them, so that the same functions judge
//! a model state and a global state of a recorded run (`raftlab trace check`).
//!
//! A server that is up is judged by its state; a crashed server by what survives a
//! crash, its storage.

use crate::model::State;
use raft_model::{Log, ServerState};

pub trait ServerViews {
    fn count(&self) -> usize;
    /// Server `i`'s state if it is up.
    fn live(&self, i: usize) -> Option<&ServerState>;
    /// Server `i`'s log as it stands: its state's if up, its storage's if down.
    fn log(&self, i: usize) -> &Log;
}

/// The first `n` actors of a model state.
pub struct InModel<'a>(pub usize, pub &'a State);

impl ServerViews for InModel<'_> {
    fn count(&self) -> usize {
        self.0
    }
    fn live(&self, i: usize) -> Option<&ServerState> {
        self.1.live_server(i)
    }
    fn log(&self, i: usize) -> &Log {
        self.1.log_of(i)
    }
}

/// One server of a recorded run.
#[derive(Clone, Copy, Debug)]
pub struct ServerView<'a> {
    pub live: Option<&'a ServerState>,
    pub log: &'a Log,
}

impl ServerViews for Vec<ServerView<'_>> {
    fn count(&self) -> usize {
        self.len()
    }
    fn live(&self, i: usize) -> Option<&ServerState> {
        self.get(i).and_then(|v| v.live)
    }
    fn log(&self, i: usize) -> &Log {
        self.get(i).map_or(crate::model::no_log(), |v| v.log)
    }
}

//! The server invariants of the property registry, judged on every global state
//! of the merged run (a crashed server counts with its durable storage).

use super::describe::servers_text;
use super::Checker;
use crate::properties::ServerView;
use raft_model::{RaftState, ServerState};

impl<'r> Checker<'r> {
    /// Judges the global state after a step of server file `f` (record `r`).
    pub(super) fn judge_states(&mut self, f: usize, r: usize) {
        let Some(j) = &self.judge else {
            return self.judge_states_in_full(f, r);
        };
        let broken: Vec<&'static str> = self
            .invariants
            .iter()
            .map(|&(name, _)| name)
            .filter(|name| !j.verdict(name))
            .collect();
        for &(name, _) in &self.invariants.clone() {
            if !broken.contains(&name) {
                self.pass(name);
                continue;
            }
            let views = self.views();
            let mut detail = servers_text(&views, &crate::model::History::new(0, 0));
            for l in self
                .judge
                .as_ref()
                .map(|j| j.leaders_text())
                .unwrap_or_default()
            {
                detail.push_str("; ");
                detail.push_str(&l);
            }
            self.fail(name, f, r, format!("{name} holds"), detail);
        }
    }

    /// Each server as the invariants see it: its state if up, its durable
    /// storage's log if down.
    fn views(&self) -> Vec<ServerView<'_>> {
        self.server_files
            .iter()
            .map(|&sf| match self.actors.get(sf) {
                Some(a) if a.up => {
                    let live = a.state.as_ref().and_then(RaftState::server);
                    ServerView {
                        live,
                        log: live.map_or(crate::model::no_log(), |s| &s.log),
                    }
                }
                Some(a) => ServerView {
                    live: None,
                    log: a
                        .durable
                        .as_ref()
                        .map_or(crate::model::no_log(), |p| &p.log),
                },
                None => ServerView {
                    live: None,
                    log: crate::model::no_log(),
                },
            })
            .collect()
    }

    /// [`Checker::judge_states`] by the registry's functions on whole states.
    fn judge_states_in_full(&mut self, f: usize, r: usize) {
        let views: Vec<ServerView> = self
            .server_files
            .iter()
            .map(|&sf| match self.actors.get(sf) {
                Some(a) if a.up => {
                    let live = a.state.as_ref().and_then(RaftState::server);
                    ServerView {
                        live,
                        log: live.map_or(crate::model::no_log(), |s| &s.log),
                    }
                }
                Some(a) => ServerView {
                    live: None,
                    log: a
                        .durable
                        .as_ref()
                        .map_or(crate::model::no_log(), |p| &p.log),
                },
                None => ServerView {
                    live: None,
                    log: crate::model::no_log(),
                },
            })
            .collect();
        let verdicts: Vec<(&'static str, Option<String>)> = self
            .invariants
            .iter()
            .map(|&(name, holds)| {
                let broken = !holds(&self.history, &views);
                (name, broken.then(|| servers_text(&views, &self.history)))
            })
            .collect();
        for (name, broken) in verdicts {
            match broken {
                None => self.pass(name),
                Some(detail) => self.fail(name, f, r, format!("{name} holds"), detail),
            }
        }
    }
}

/// Did the step change what the server invariants look at?
pub(super) fn relevant_change(b: &ServerState, n: &ServerState) -> bool {
    b.current_term != n.current_term
        || b.role != n.role
        || b.commit_index != n.commit_index
        || b.log.len() != n.log.len()
        || b.log != n.log
}

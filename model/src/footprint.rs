//! What a handler call can change in a server's log: the entries it surely keeps.
//! A checker that replays a long run compares only the rest (the trace validator
//! does), and a host could record only the rest; the footprint is tested against
//! the handlers on random runs (`checks/tests/props.rs`).

use crate::actor::Input;
use crate::msg::{LogIndex, Msg};
use crate::mutant::Mutant;
use crate::replication::first_conflict;
use crate::server::{ServerConfig, ServerState};

impl ServerConfig {
    /// An index such that the handler for `input` leaves entries `1..=index` of
    /// `state`'s log as they are: only an AppendEntries changes the log below its
    /// end, and then only from its first conflicting entry on (Figure 2, receiver
    /// 3), or from its last entry on with the `truncate-on-stale-append` mutant.
    pub fn log_footprint(&self, state: &ServerState, input: &Input) -> LogIndex {
        let end = state.last_log_index();
        let Input::Deliver {
            msg: Msg::AppendEntries(m),
            ..
        } = input
        else {
            return end;
        };
        let mut kept = match first_conflict(state, m.prev_log_index, &m.entries) {
            Some(k) => m.prev_log_index.saturating_add(k as LogIndex),
            None => end,
        };
        if self.mutants.has(Mutant::TruncateOnStaleAppend) {
            kept = kept.min(m.prev_log_index.saturating_add(m.entries.len() as LogIndex));
        }
        kept.min(end)
    }
}

//! The message rules: every delivery has a send of the same message earlier in
//! the global order, and left its sender only after the sender's saves up to the
//! sending step were durable.

use super::linearizability::LinEvent;
use super::{Checker, MESSAGES, SAVE_BEFORE_SEND};
use crate::trace::load::sends;
use raft_model::{Id, Msg};

impl<'r> Checker<'r> {
    /// The sends of record `r` of file `f` may have left.
    pub(super) fn release(&mut self, f: usize, r: usize) {
        let file = &self.run.files[f];
        for (_, dst, msg) in sends(&file.lines[r].rec) {
            if let Some(e) = self.sent.get_mut(&(file.node, dst, msg)) {
                e.1 += 1;
            }
        }
    }

    pub(super) fn delivery(&mut self, f: usize, r: usize, src: Id, msg: &'r Msg) {
        let run = self.run;
        let dst = run.files[f].node;
        let key = (src, dst, msg);
        *self.delivered.entry(key).or_default() += 1;
        let (s, d) = (run.name_of(src), run.name_of(dst));
        match self.sent.get(&key).copied() {
            // From an actor outside the traced run (a client that recorded
            // nothing): nothing can be shown about it; its requests join the
            // linearizability history as operations of unknown outcome.
            None if usize::from(src) >= run.servers && run.file_of(src).is_none() => {
                self.unverifiable += 1;
                if let Msg::ClientRequest(req) = msg {
                    let e = LinEvent::Outside(src, req.seq, req.op.clone());
                    self.lin_events.push((e, self.position, f, r));
                }
            }
            None => {
                let recorded = if run.file_of(src).is_none() {
                    format!("{s} left no trace: record every client with --trace DIR")
                } else {
                    match self.last_sent.get(&(src, dst)) {
                        Some(m) => {
                            format!("{s} never sent it to {d}; its last message to {d} was {m:?}")
                        }
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
}

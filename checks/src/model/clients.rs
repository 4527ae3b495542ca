//! The clients of the checked model and the one rule for what counts as a client
//! operation's invocation and return, used by the model checker's history and by
//! the trace validator alike.

use raft_model::{ClientRequest, Msg, Op, OpResult, Text};

/// The operations of client `c` (0-based) when each client performs `ops` of them:
/// appends of distinct values to one key (so a duplicated append shows), and a final
/// get that reads them back.
///
/// With one operation each, no client reads, so nothing can tell one client's
/// value from another's: every client appends the same one. Which client's
/// append an entry is stays in the entry (its client and sequence number, which
/// State Machine Safety compares), and a duplicate still shows in the value's
/// length. With their operations alike, the clients are interchangeable, and
/// the checker merges states that differ only by which client is which (see
/// [`super::symmetry`]).
pub fn client_ops(c: usize, ops: usize) -> Vec<Op> {
    let key: Text = "x".into();
    let first = if ops > 1 { c * ops } else { 0 };
    (0..ops)
        .map(|j| {
            if ops > 1 && j == ops - 1 {
                Op::Get { key: key.clone() }
            } else {
                let letter = (b'a' + ((first + j) % 26) as u8) as char;
                Op::Append {
                    key: key.clone(),
                    value: letter.to_string().into(),
                }
            }
        })
        .collect()
}

/// One client's operations so far, as the linearizability history sees them: the
/// highest sequence number invoked, and the highest answered.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct ClientProgress {
    pub invoked: u64,
    pub returned: u64,
}

impl ClientProgress {
    /// A request the client sends is an invocation if it is the first send of its
    /// sequence number (later sends of it are retries): its operation, if so.
    pub fn on_send<'m>(&mut self, msg: &'m Msg) -> Option<&'m Op> {
        match msg {
            Msg::ClientRequest(ClientRequest { seq, op }) if *seq > self.invoked => {
                self.invoked = *seq;
                Some(op)
            }
            _ => None,
        }
    }

    /// A reply delivered to the client is the return of the operation in flight,
    /// the first time only: its result, if so.
    pub fn on_delivery<'m>(&mut self, msg: &'m Msg) -> Option<&'m OpResult> {
        match msg {
            Msg::ClientReply { seq, result } if *seq == self.invoked && self.returned < *seq => {
                self.returned = *seq;
                Some(result)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sends_invoke_and_first_replies_return() {
        let op = Op::Get { key: "x".into() };
        let request = |seq| {
            Msg::ClientRequest(ClientRequest {
                seq,
                op: op.clone(),
            })
        };
        let reply = |seq| Msg::ClientReply {
            seq,
            result: OpResult::Done,
        };
        let mut p = ClientProgress::default();
        assert!(p.on_delivery(&reply(1)).is_none(), "nothing in flight");
        assert!(p.on_send(&request(1)).is_some());
        assert!(p.on_send(&request(1)).is_none(), "a retry");
        assert!(p.on_delivery(&reply(2)).is_none(), "not the one in flight");
        assert!(p.on_delivery(&reply(1)).is_some());
        assert!(p.on_delivery(&reply(1)).is_none(), "a duplicate reply");
        assert_eq!(
            p,
            ClientProgress {
                invoked: 1,
                returned: 1
            }
        );
    }
}

//! Linearizability of one key's history: the Wing–Gong search with Lowe's
//! memoisation, as Porcupine implements it. The history is a list of calls and
//! returns in real-time order; the search lifts, one at a time, a call whose
//! operation can take effect next (its result matches the key's value), and
//! backtracks when it reaches a return whose call it has not lifted. A state
//! already met (the same set of lifted operations and the same value) is not
//! searched twice, which makes the common, nearly sequential history linear.
//!
//! An operation without a return (its client gave up, or the run ended) may take
//! effect at any moment after its call, or never: its return is put after every
//! other event, and any result is accepted for it.
//!
//! Values are searched as (length, two polynomial hashes), so that appends cost
//! no copying; a linearization found is then replayed exactly through the model's
//! [`KvSpec`], so a hash collision can only make the verdict "undecided", never
//! "linearizable" by mistake. "Not linearizable" is exact: equal values always
//! hash equal.

use raft_model::{KvSpec, Op, OpResult, Text};
use stateright::semantics::SequentialSpec;
use std::collections::HashSet;

/// One operation on the key: what it did, and what it returned (`None`: no
/// return was seen).
#[derive(Clone, Debug)]
pub struct KeyOp {
    pub op: Op,
    pub result: Option<OpResult>,
    /// Positions of its call and return in the global order (the return `None`:
    /// never).
    pub call: usize,
    pub ret: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// An order exists: the operations' indexes in it (those that took effect).
    Linearizable(Vec<usize>),
    Not,
    /// The search stopped after `budget` steps (or a hash collision misled it).
    Undecided,
}

const P: u64 = (1 << 61) - 1;
const BASES: [u64; 2] = [0x1f3d_5b79_a2c4_e6f1 % P, 0x2b4d_6f81_93a5_c7e9 % P];

fn mulmod(a: u64, b: u64) -> u64 {
    let r = (a as u128) * (b as u128);
    let lo = (r as u64) & P;
    let hi = (r >> 61) as u64;
    let s = lo + hi;
    if s >= P {
        s - P
    } else {
        s
    }
}

fn addmod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= P {
        s - P
    } else {
        s
    }
}

/// A value as the search sees it: absent, or (length, hash, hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Value(Option<(u64, [u64; 2])>);

/// A string's hashes and its `B^len` (to append after something).
#[derive(Clone, Copy, Debug)]
struct Digest {
    len: u64,
    hash: [u64; 2],
    pow: [u64; 2],
}

fn digest(s: &str) -> Digest {
    let mut hash = [0u64; 2];
    let mut pow = [1u64; 2];
    for b in s.bytes() {
        for k in 0..2 {
            hash[k] = addmod(mulmod(hash[k], BASES[k]), u64::from(b) + 1);
            pow[k] = mulmod(pow[k], BASES[k]);
        }
    }
    Digest {
        len: s.len() as u64,
        hash,
        pow,
    }
}

/// An operation prepared for the search.
#[derive(Clone, Copy, Debug)]
enum Step {
    Put(Digest),
    Append(Digest),
    /// A get that returned this value.
    Get(Value),
    /// A get without a return: it changes nothing and may return anything.
    AnyGet,
}

impl Step {
    /// The value after the step, if the step can take effect on `v`.
    fn apply(&self, v: Value) -> Option<Value> {
        match self {
            Step::Put(d) => Some(Value(Some((d.len, d.hash)))),
            Step::Append(d) => Some(Value(Some(match v.0 {
                None => (d.len, d.hash),
                Some((len, h)) => (
                    len + d.len,
                    [
                        addmod(mulmod(h[0], d.pow[0]), d.hash[0]),
                        addmod(mulmod(h[1], d.pow[1]), d.hash[1]),
                    ],
                ),
            }))),
            Step::Get(want) => (*want == v).then_some(v),
            Step::AnyGet => Some(v),
        }
    }
}

fn prepare(op: &KeyOp) -> Step {
    match (&op.op, &op.result) {
        (Op::Put { value, .. }, _) => Step::Put(digest(value)),
        (Op::Append { value, .. }, _) => Step::Append(digest(value)),
        (Op::Get { .. }, Some(OpResult::Value(v))) => Step::Get(Value(v.as_ref().map(|s| {
            let d = digest(s);
            (d.len, d.hash)
        }))),
        (Op::Get { .. }, _) => Step::AnyGet,
    }
}

/// A node of the doubly linked list of events.
#[derive(Clone, Copy)]
struct Node {
    prev: usize,
    next: usize,
    /// The operation; a call if `is_call`.
    op: usize,
    is_call: bool,
    /// For a call: the node of its return.
    ret: usize,
}

const HEAD: usize = 0;
const NIL: usize = usize::MAX;

/// Decides whether `ops` (one key's operations) are linearizable, searching at
/// most `budget` steps.
pub fn search(ops: &[KeyOp], budget: u64) -> Verdict {
    let n = ops.len();
    let steps: Vec<Step> = ops.iter().map(prepare).collect();
    // Events in time order: (position, is return, op). Calls at the same position
    // as returns cannot happen (one event per position); returns never seen go
    // last, after every other event.
    let mut events: Vec<(usize, bool, usize)> = Vec::with_capacity(2 * n);
    for (k, o) in ops.iter().enumerate() {
        events.push((o.call, false, k));
        events.push((o.ret.unwrap_or(usize::MAX), true, k));
    }
    events.sort_unstable();
    let mut nodes: Vec<Node> = Vec::with_capacity(events.len() + 1);
    nodes.push(Node {
        prev: NIL,
        next: NIL,
        op: 0,
        is_call: false,
        ret: NIL,
    });
    let mut ret_node = vec![NIL; n];
    for (i, &(_, is_ret, k)) in events.iter().enumerate() {
        let id = i + 1;
        nodes.push(Node {
            prev: id - 1,
            next: NIL,
            op: k,
            is_call: !is_ret,
            ret: NIL,
        });
        nodes[id - 1].next = id;
        if is_ret {
            ret_node[k] = id;
        }
    }
    for node in nodes.iter_mut().skip(1) {
        if node.is_call {
            node.ret = ret_node[node.op];
        }
    }
    let unlink = |nodes: &mut Vec<Node>, i: usize| {
        let (p, q) = (nodes[i].prev, nodes[i].next);
        nodes[p].next = q;
        if q != NIL {
            nodes[q].prev = p;
        }
    };
    let relink = |nodes: &mut Vec<Node>, i: usize| {
        let (p, q) = (nodes[i].prev, nodes[i].next);
        nodes[p].next = i;
        if q != NIL {
            nodes[q].prev = i;
        }
    };
    let words = n.div_ceil(64);
    let mut lifted = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, Value)> = HashSet::new();
    let mut stack: Vec<(usize, Value)> = Vec::new();
    let mut value = Value(None);
    let mut entry = nodes[HEAD].next;
    let mut spent: u64 = 0;
    while nodes[HEAD].next != NIL {
        spent += 1;
        if spent > budget {
            return Verdict::Undecided;
        }
        if entry == NIL {
            // Every remaining call was tried: back up.
            let Some((call, before)) = stack.pop() else {
                return Verdict::Not;
            };
            value = before;
            let k = nodes[call].op;
            lifted[k / 64] &= !(1 << (k % 64));
            let ret = nodes[call].ret;
            relink(&mut nodes, ret);
            relink(&mut nodes, call);
            entry = nodes[call].next;
            continue;
        }
        let node = nodes[entry];
        if node.is_call {
            let k = node.op;
            if let Some(after) = steps[k].apply(value) {
                lifted[k / 64] |= 1 << (k % 64);
                if seen.insert((lifted.clone(), after)) {
                    stack.push((entry, value));
                    value = after;
                    unlink(&mut nodes, entry);
                    unlink(&mut nodes, node.ret);
                    entry = nodes[HEAD].next;
                    continue;
                }
                lifted[k / 64] &= !(1 << (k % 64));
            }
            entry = node.next;
        } else {
            // A return whose call is not lifted: the calls before it were all
            // tried; back up.
            let Some((call, before)) = stack.pop() else {
                return Verdict::Not;
            };
            value = before;
            let k = nodes[call].op;
            lifted[k / 64] &= !(1 << (k % 64));
            let ret = nodes[call].ret;
            relink(&mut nodes, ret);
            relink(&mut nodes, call);
            entry = nodes[call].next;
        }
    }
    let order: Vec<usize> = stack.iter().map(|(call, _)| nodes[*call].op).collect();
    if replays(ops, &order) {
        Verdict::Linearizable(order)
    } else {
        Verdict::Undecided
    }
}

/// Whether `order` (operation indexes) replays exactly through the model's
/// specification with every recorded result. Operations without a return that
/// are not in it never took effect; those in it take effect with any result.
pub fn replays(ops: &[KeyOp], order: &[usize]) -> bool {
    let mut spec = KvSpec::default();
    let mut in_order = vec![false; ops.len()];
    for &k in order {
        let Some(o) = ops.get(k) else { return false };
        if std::mem::replace(&mut in_order[k], true) {
            return false;
        }
        let got = spec.invoke(&o.op);
        if o.result.as_ref().is_some_and(|r| *r != got) {
            return false;
        }
    }
    // Every answered operation took effect...
    if ops
        .iter()
        .enumerate()
        .any(|(k, o)| o.ret.is_some() && !in_order[k])
    {
        return false;
    }
    // ...in an order that respects real time: no operation comes after one that
    // was called only after it returned.
    let mut earliest_return_after = usize::MAX;
    for &k in order.iter().rev() {
        if ops[k].call > earliest_return_after {
            return false;
        }
        earliest_return_after = earliest_return_after.min(ops[k].ret.unwrap_or(usize::MAX));
    }
    true
}

/// The text of a value, for reports.
pub fn value_text(v: &Option<Text>) -> String {
    match v {
        Some(s) => format!("{s:?}"),
        None => "absent".into(),
    }
}

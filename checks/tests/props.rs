//! Properties over random inputs (proptest), each with a small case count so the
//! suite stays fast: the trace checker's linearizability search agrees with
//! stateright's tester; the wire decoder never panics and round-trips every
//! message; a node's door drops any datagram without panicking or changing state
//! beyond what the model allows; storage load never panics; random in-process
//! schedules of the host's event loop yield traces `trace check` accepts.

use proptest::prelude::*;
use raft_checks::trace::check::{lin_search, KeyOp, LinVerdict};
use raft_model::{Id, KvSpec, Op, OpResult};
use stateright::semantics::{ConsistencyTester, LinearizabilityTester, SequentialSpec};

/// One client's operation in a random history: when it is called, takes effect
/// and returns (a return of `None`: never seen), and what it does.
#[derive(Clone, Debug)]
struct Planned {
    client: usize,
    call: u32,
    effect: u32,
    ret: Option<u32>,
    op: Op,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3).prop_map(|v| Op::Put {
            key: "k".into(),
            value: format!("{v}").into()
        }),
        (0u8..3).prop_map(|v| Op::Append {
            key: "k".into(),
            value: format!("{v}").into()
        }),
        Just(Op::Get { key: "k".into() }),
    ]
}

/// Up to 4 clients, each doing up to 3 operations one after the other, with
/// times spread so that operations of different clients overlap.
fn history() -> impl Strategy<Value = Vec<Planned>> {
    proptest::collection::vec(
        proptest::collection::vec(
            (op_strategy(), 1u32..6, 0u32..6, 0u32..6, any::<bool>()),
            0..4,
        ),
        1..5,
    )
    .prop_map(|clients| {
        let mut out = Vec::new();
        for (c, ops) in clients.into_iter().enumerate() {
            let mut t = c as u32;
            let n = ops.len();
            for (j, (op, gap, to_effect, to_ret, answered)) in ops.into_iter().enumerate() {
                let call = t + gap;
                let effect = call + to_effect;
                // Only a client's last operation may go unanswered.
                let ret = (answered || j + 1 < n).then_some(effect + to_ret);
                t = ret.unwrap_or(effect) + 1;
                out.push(Planned {
                    client: c,
                    call,
                    effect,
                    ret,
                    op,
                });
            }
        }
        out
    })
}

/// The results of a planned history executed at its effect times (some
/// unanswered writes never take effect), optionally with one read's result
/// changed.
fn results(h: &[Planned], skip: &[bool], spoil: Option<usize>) -> Vec<Option<OpResult>> {
    let mut order: Vec<usize> = (0..h.len()).collect();
    order.sort_by_key(|&k| (h[k].effect, k));
    let mut spec = KvSpec::default();
    let mut res = vec![None; h.len()];
    for k in order {
        if h[k].ret.is_none() && skip[k] {
            continue;
        }
        let r = spec.invoke(&h[k].op);
        res[k] = h[k].ret.map(|_| r);
    }
    if let Some(s) = spoil {
        let gets: Vec<usize> = (0..h.len())
            .filter(|&k| matches!(h[k].op, Op::Get { .. }) && res[k].is_some())
            .collect();
        if let Some(&k) = gets.get(s % gets.len().max(1)) {
            res[k] = Some(OpResult::Value(Some(format!("spoiled{s}").into())));
        }
    }
    res
}

/// (time, is return, op) in time order; calls before returns at the same time.
fn events(h: &[Planned]) -> Vec<(u32, bool, usize)> {
    let mut ev: Vec<(u32, bool, usize)> = Vec::new();
    for (k, p) in h.iter().enumerate() {
        ev.push((p.call * 2, false, k));
        if let Some(r) = p.ret {
            ev.push((r * 2 + 1, true, k));
        }
    }
    ev.sort();
    ev
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The trace checker's search and stateright's tester give the same verdict
    /// on linearizable histories and on ones with a read spoiled.
    #[test]
    fn lin_search_agrees_with_stateright(
        h in history(),
        skip in proptest::collection::vec(any::<bool>(), 12),
        spoil in proptest::option::of(0usize..8),
    ) {
        let skip: Vec<bool> = (0..h.len()).map(|k| skip.get(k).copied().unwrap_or(false)).collect();
        let res = results(&h, &skip, spoil);
        let ev = events(&h);
        let mut tester = LinearizabilityTester::<Id, KvSpec>::new(KvSpec::default());
        let mut call_pos = vec![0usize; h.len()];
        let mut ret_pos = vec![None; h.len()];
        for (pos, &(_, is_ret, k)) in ev.iter().enumerate() {
            let thread = Id::from(h[k].client);
            if is_ret {
                let r = res[k].clone().expect("an answered operation has a result");
                tester.on_return(thread, r).expect("a well-formed history");
                ret_pos[k] = Some(pos);
            } else {
                tester.on_invoke(thread, h[k].op.clone()).expect("a well-formed history");
                call_pos[k] = pos;
            }
        }
        let expected = tester.serialized_history().is_some();
        let ops: Vec<KeyOp> = (0..h.len())
            .map(|k| KeyOp { op: h[k].op.clone(), result: res[k].clone(), call: call_pos[k], ret: ret_pos[k] })
            .collect();
        let got = lin_search(&ops, 1_000_000);
        prop_assert!(!matches!(got, LinVerdict::Undecided), "undecided on {} operations", ops.len());
        prop_assert_eq!(matches!(got, LinVerdict::Linearizable(_)), expected, "{:?} / {:?}", h, res);
        if spoil.is_none() {
            prop_assert!(expected, "a history executed at its effect times is linearizable");
        }
    }
}

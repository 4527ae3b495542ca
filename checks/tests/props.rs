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

// The wire, the storage, the footprint and whole simulated runs.

use raft_impl::auth::Secret;
use raft_impl::wire::{decode, encode, Wire};
use raft_model::{AppendEntries, AppendEntriesReply, ClientRequest, Entry, Msg, RequestVote};

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..5, Just(u64::MAX), any::<u64>()]
}

fn entry() -> impl Strategy<Value = Entry> {
    (number(), any::<u64>(), number(), op_strategy()).prop_map(|(term, c, seq, op)| Entry {
        term,
        client: Id::from((c | (1 << 63)) as usize),
        seq,
        op,
    })
}

fn message() -> impl Strategy<Value = Msg> {
    prop_oneof![
        (number(), number(), number()).prop_map(|(term, i, t)| Msg::RequestVote(RequestVote {
            term,
            last_log_index: i,
            last_log_term: t
        })),
        (
            number(),
            number(),
            number(),
            proptest::collection::vec(entry(), 0..4),
            number()
        )
            .prop_map(
                |(term, p, pt, entries, c)| Msg::AppendEntries(AppendEntries {
                    term,
                    prev_log_index: p,
                    prev_log_term: pt,
                    entries,
                    leader_commit: c
                })
            ),
        (
            number(),
            any::<bool>(),
            number(),
            number(),
            number(),
            number()
        )
            .prop_map(|(term, success, m, xt, xi, xl)| Msg::AppendEntriesReply(
                AppendEntriesReply {
                    term,
                    success,
                    match_index: m,
                    x_term: xt,
                    x_index: xi,
                    x_len: xl
                }
            )),
        (number(), op_strategy())
            .prop_map(|(seq, op)| Msg::ClientRequest(ClientRequest { seq, op })),
        (number(), proptest::option::of(0usize..5)).prop_map(|(seq, l)| Msg::NotLeader {
            seq,
            leader_hint: l.map(Id::from)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes: the decoder answers, never panics, with or without a secret.
    #[test]
    fn the_wire_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let secret = Secret::new(b"a sixteen-byte key").expect("key");
        let _ = decode(&bytes, None);
        let _ = decode(&bytes, Some(&secret));
        let mut with_magic = raft_impl::wire::MAGIC.to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = decode(&with_magic, None);
    }

    /// Every message round-trips, tagged or not, and any cut of it is refused.
    #[test]
    fn every_message_round_trips(
        msg in message(),
        src in any::<u64>(),
        dst in any::<u64>(),
        cluster in 1u64..,
        cut in any::<usize>(),
    ) {
        let secret = Secret::new(b"a sixteen-byte key").expect("key");
        let w = Wire::Raft {
            src: raft_impl::wire::id_from_u64(src),
            dst: raft_impl::wire::id_from_u64(dst),
            msg,
        };
        let plain = encode(cluster, &w, None).expect("encode");
        prop_assert_eq!(decode(&plain, None), Ok((cluster, w.clone())));
        let tagged = encode(cluster, &w, Some(&secret)).expect("encode");
        prop_assert_eq!(decode(&tagged, Some(&secret)), Ok((cluster, w)));
        let cut = cut % tagged.len();
        prop_assert!(decode(&tagged[..cut], Some(&secret)).is_err());
        prop_assert!(decode(&plain[..cut.min(plain.len() - 1)], None).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// Random schedules of the simulated host (delivery order and delays, loss,
    /// duplication, kills and restarts, clients) always record runs that `trace
    /// check` accepts.
    #[test]
    fn random_schedules_of_the_host_yield_runs_trace_check_accepts(
        seed in any::<u64>(),
        drop in 0.0f64..0.2,
        duplicate in 0.0f64..0.2,
        kill_ms in proptest::option::of(200u64..2000),
        clients in 1usize..5,
        servers in prop_oneof![Just(1usize), Just(3), Just(5)],
    ) {
        use raft_checks::trace::synth::{synthesize, SynthOptions};
        let tmp = tempfile::tempdir().expect("temp dir");
        let o = SynthOptions {
            servers,
            clients,
            steps: 1500,
            seed,
            drop,
            duplicate,
            kill_every: kill_ms.map(std::time::Duration::from_millis),
            ..SynthOptions::default()
        };
        synthesize(tmp.path(), &o).expect("simulate");
        let run = raft_checks::trace::load::load(tmp.path()).expect("load");
        let report = raft_checks::trace::check::check(&run);
        let broken: Vec<_> = report.rules.iter().filter(|r| !r.ok()).map(|r| (r.rule, r.first.clone())).collect();
        prop_assert!(report.ok && report.decided, "{:#?}", broken);
    }

    /// The model's log footprint holds: on random schedules of the hand-driven
    /// cluster, no handler changes an entry at or below it.
    #[test]
    fn the_log_footprint_holds(seed in any::<u64>(), mutant in any::<bool>()) {
        use raft_model::testkit::Cluster;
        use raft_model::{Input, Mutant, MutantSet, ServerConfig, Timer};
        let mut cfg = ServerConfig::new(3);
        if mutant {
            cfg = cfg.with_mutants(MutantSet::NONE.with(Mutant::TruncateOnStaleAppend));
        }
        let mut c = Cluster::new(cfg.clone());
        let mut rng = seed;
        let mut next = |n: usize| {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((rng >> 33) as usize) % n.max(1)
        };
        let client = Id::from(1usize << 63 | 9);
        let mut seq = 0;
        for _ in 0..300 {
            let i = next(3);
            let before = c.states[i].clone();
            match next(10) {
                0 => { c.timeout(i, Timer::Election); }
                1 => { c.timeout(i, Timer::Heartbeat); }
                2 => {
                    seq += 1;
                    let m = Msg::ClientRequest(ClientRequest { seq, op: Op::Put { key: "k".into(), value: "v".into() } });
                    c.deliver(usize::from(client), i, m);
                }
                _ if !c.net.is_empty() => {
                    let k = next(c.net.len());
                    // Deliver in any order, sometimes twice.
                    let m = if next(4) == 0 { c.net[k].clone() } else { c.net.remove(k) };
                    let (src, dst) = (usize::from(m.src), usize::from(m.dst));
                    if dst < 3 {
                        let before = c.states[dst].clone();
                        let input = Input::Deliver { src: m.src, msg: m.msg.clone() };
                        let kept = cfg.log_footprint(&before, &input) as usize;
                        c.deliver(src, dst, m.msg);
                        let n = kept.min(c.states[dst].log.len());
                        prop_assert!(c.states[dst].log.iter().take(n).eq(before.log.iter().take(n)), "the footprint's prefix changed");
                        prop_assert!(c.states[dst].log.len() >= kept, "the footprint claims entries the handler removed");
                    }
                    continue;
                }
                _ => {}
            }
            // A timeout or a client request: the footprint is the whole log.
            prop_assert!(c.states[i].log.starts_with(&before.log));
        }
    }
}

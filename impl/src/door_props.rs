//! Property: the door drops any datagram (random bytes, truncations, bit flips,
//! oversize, another cluster's, a stranger's, well-formed with absurd fields)
//! without panicking, counting every one it drops, and the actor's state changes
//! only as the model's handler changes it for what the model accepts.

use super::*;
use crate::wire::{encode, ANY_CLUSTER};
use proptest::prelude::*;
use raft_model::{
    AppendEntries, AppendEntriesReply, ClientRequest, Entry, Op, RequestVote, RequestVoteReply,
    MAX_TERM,
};

fn number() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..4,
        Just(MAX_TERM),
        Just(MAX_TERM + 1),
        Just(u64::MAX - 1),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

fn text() -> impl Strategy<Value = raft_model::Text> {
    prop_oneof![Just(0usize), Just(3), Just(2000)].prop_map(|n| "x".repeat(n).into())
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (text(), text()).prop_map(|(key, value)| Op::Put { key, value }),
        (text(), text()).prop_map(|(key, value)| Op::Append { key, value }),
        text().prop_map(|key| Op::Get { key }),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (number(), any::<u64>(), number(), op()).prop_map(|(term, c, seq, op)| Entry {
        term,
        client: Id::from((c | (1 << 63)) as usize),
        seq,
        op,
    })
}

fn msg() -> impl Strategy<Value = Msg> {
    prop_oneof![
        (number(), number(), number()).prop_map(|(term, i, t)| Msg::RequestVote(RequestVote {
            term,
            last_log_index: i,
            last_log_term: t,
        })),
        (number(), any::<bool>()).prop_map(|(term, vote_granted)| Msg::RequestVoteReply(
            RequestVoteReply { term, vote_granted }
        )),
        (
            number(),
            number(),
            number(),
            proptest::collection::vec(entry(), 0..3),
            number()
        )
            .prop_map(
                |(term, p, pt, entries, c)| Msg::AppendEntries(AppendEntries {
                    term,
                    prev_log_index: p,
                    prev_log_term: pt,
                    entries,
                    leader_commit: c,
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
                    x_len: xl,
                }
            )),
        (number(), op()).prop_map(|(seq, op)| Msg::ClientRequest(ClientRequest { seq, op })),
        number().prop_map(|seq| Msg::ClientReply {
            seq,
            result: raft_model::OpResult::Done
        }),
    ]
}

/// A datagram: (sender slot, bytes). Slots: 0 this node, 1 and 2 its peers, 3 a
/// stranger.
#[derive(Clone, Debug)]
enum Gram {
    Bytes(Vec<u8>),
    Raft {
        src: u64,
        dst: u64,
        msg: Msg,
        other_cluster: bool,
        cut: Option<usize>,
        flip: Option<(usize, u8)>,
    },
    Oversize(usize),
    Status,
}

fn gram() -> impl Strategy<Value = (usize, Gram)> {
    let ids = prop_oneof![
        0u64..4,
        any::<u64>().prop_map(|v| v | (1 << 63)),
        Just(1000u64)
    ];
    let raft = (
        ids.clone(),
        prop_oneof![Just(0u64), 1u64..3],
        msg(),
        proptest::bool::weighted(0.2),
        proptest::option::weighted(0.15, 0usize..200),
        proptest::option::weighted(0.15, (0usize..200, any::<u8>())),
    )
        .prop_map(|(src, dst, msg, other_cluster, cut, flip)| Gram::Raft {
            src,
            dst,
            msg,
            other_cluster,
            cut,
            flip,
        });
    (
        0usize..4,
        prop_oneof![
            4 => raft,
            1 => proptest::collection::vec(any::<u8>(), 0..120).prop_map(Gram::Bytes),
            1 => (1usize..64).prop_map(Gram::Oversize),
            1 => Just(Gram::Status),
        ],
    )
}

fn start_node() -> (Node, Vec<SocketAddr>, PathBuf) {
    let base = crate::local::free_base_port(3).expect("free ports");
    let peers = crate::link::local_addrs(base, 3);
    let dir = std::env::temp_dir().join(format!("raftlab-door-{}", crate::random::u64()));
    let cfg = NodeConfig {
        index: 0,
        peers: peers.clone(),
        data_dir: dir.clone(),
        faults: Faults::none(),
        verbose: false,
        trace: None,
        host_fault: None,
        cluster_id: Some(42),
        secret: None,
        snapshot_interval: 0,
    };
    (Node::start(cfg).expect("start"), peers, dir)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_door_drops_what_the_model_refuses_and_nothing_else_changes_state(
        grams in proptest::collection::vec(gram(), 1..24),
    ) {
        let (mut node, peers, dir) = start_node();
        let stranger: SocketAddr = ([127, 0, 0, 1], 1).into();
        for (slot, g) in grams {
            let from = if slot < 3 { peers[slot] } else { stranger };
            let bytes = match &g {
                Gram::Bytes(b) => b.clone(),
                Gram::Oversize(k) => vec![7u8; MAX_DATAGRAM + k],
                Gram::Status => encode(ANY_CLUSTER, &Wire::Status { nonce: 1 }, None).expect("encode"),
                Gram::Raft { src, dst, msg, other_cluster, cut, flip } => {
                    let w = Wire::Raft {
                        src: wire::id_from_u64(*src),
                        dst: wire::id_from_u64(*dst),
                        msg: msg.clone(),
                    };
                    let mut b = encode(if *other_cluster { 43 } else { 42 }, &w, None).expect("encode");
                    if let Some(c) = cut {
                        b.truncate(*c);
                    }
                    if let Some((i, x)) = flip {
                        if !b.is_empty() {
                            let i = i % b.len();
                            b[i] ^= x | 1;
                        }
                    }
                    b
                }
            };
            let before = node.state.clone();
            let dropped = node.dropped.total();
            // What the model says: the state after, if the datagram reaches it.
            let expected = match wire::decode(&bytes, None) {
                Ok((42, Wire::Raft { src, dst, msg })) if dst == node.id => {
                    let s = id_to_u64(src);
                    let authentic = if s < 3 {
                        peers[s as usize] == from && src != node.id
                    } else {
                        is_client_id(src)
                    };
                    (authentic && node.actor.accepts(node.id, &before, src, &msg).is_ok()).then(|| {
                        let stepped = node.actor.handle(node.id, &before, Input::Deliver { src, msg });
                        stepped.after(&before).clone()
                    })
                }
                _ => None,
            };
            node.on_datagram(&bytes, from);
            match expected {
                Some(after) => prop_assert_eq!(&node.state, &after),
                None => {
                    prop_assert_eq!(&node.state, &before, "a dropped datagram changed the state");
                    let is_status = matches!(g, Gram::Status);
                    prop_assert!(is_status || node.dropped.total() == dropped + 1, "not counted: {:?}", g);
                }
            }
        }
        drop(node);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

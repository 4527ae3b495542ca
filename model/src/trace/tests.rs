//! The trace vocabulary's round trips, on states of real handler runs.

use super::*;
use crate::actor::RaftState;
use crate::kv::KvStore;
use crate::log::Log;
use crate::msg::Text;
use crate::testkit::{put_entry as entry, Cluster};

#[test]
fn log_delta_round_trips_and_refuses_to_keep_what_is_not_there() {
    let a = Log::from(vec![entry(1, 1), entry(1, 2), entry(2, 3)]);
    let b = Log::from(vec![entry(1, 1), entry(3, 2)]);
    let none = Log::new();
    for (p, n) in [(&a, &b), (&b, &a), (&a, &a), (&none, &a), (&a, &none)] {
        let d = LogDelta::between(p, n);
        assert_eq!(&d.apply(p).unwrap(), n);
    }
    assert_eq!(LogDelta::between(&a, &b).keep, 1);
    let d = LogDelta::between(&a, &a);
    assert!(d.apply(&b).is_err(), "keeps 3 of a 2-entry log");
}

#[test]
fn states_and_commands_of_a_real_run_round_trip_through_json() {
    // An election and a committed write, through the real handlers.
    let mut c = Cluster::new(ServerConfig::new(3));
    let mut states = vec![RaftState::Server(c.states[0].clone())];
    c.timeout(0, Timer::Election);
    c.settle(&[], 100);
    let client = Id::from(1usize << 63 | 1);
    c.deliver(
        usize::from(client),
        0,
        Msg::ClientRequest(crate::msg::ClientRequest {
            seq: 1,
            op: Op::Append {
                key: "x".into(),
                value: "a".into(),
            },
        }),
    );
    c.settle(&[], 100);
    c.timeout(0, Timer::Heartbeat);
    c.settle(&[], 100);
    states.push(RaftState::Server(c.states[0].clone()));
    assert!(c.states[0].commit_index == 1 && c.states[0].kv.data.len() == 1);
    let mut prev: Option<&RaftState> = None;
    for s in &states {
        let d = TraceState::between(prev, s);
        let json = serde_json::to_string(&d).unwrap();
        let back: TraceState = serde_json::from_str(&json).unwrap();
        assert_eq!(&back.apply(prev).unwrap(), s, "{json}");
        prev = Some(s);
    }
    let mut enc = PersistentState::default();
    let mut dec = PersistentState::default();
    let p = c.states[0].persistent();
    for cmd in [
        Command::Save(p.clone()),
        Command::Save(PersistentState {
            log: Log::new(),
            ..p.clone()
        }),
        Command::SetTimer(
            Timer::Election,
            Duration::from_millis(300)..Duration::from_millis(600),
        ),
        Command::Send(
            Id::from(2),
            Msg::RequestVote(crate::msg::RequestVote {
                term: 2,
                last_log_index: 1,
                last_log_term: 1,
            }),
        ),
    ] {
        let t = TraceCommand::encode(&cmd, &mut enc, None).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        let back: TraceCommand = serde_json::from_str(&json).unwrap();
        assert_eq!(
            Some(back.decode(&mut dec, None).unwrap()),
            Cmd::of(&cmd),
            "{json}"
        );
    }
}

#[test]
fn kv_deltas_round_trip_and_no_change_is_none() {
    let mut a = KvStore::default();
    let mut b = KvStore::default();
    for (k, v) in [("a", "1"), ("b", "2"), ("d", "4")] {
        a.data.insert(k.into(), v.into());
    }
    for (k, v) in [("b", "2"), ("c", "3"), ("d", "5")] {
        b.data.insert(k.into(), v.into());
    }
    let d = KvDelta::between(&a, &b);
    assert_eq!(d.unset, vec![Text::from("a")]);
    assert_eq!(d.set.len(), 2, "c added, d changed: {d:?}");
    assert_eq!(d.apply(&a), b);
    assert!(KvDelta::between(&b, &b).is_empty());
    let s = RaftState::Server(ServerState::from_storage(None));
    assert_eq!(TraceState::change(&s, &s), None);
    let mut t = s.clone();
    if let RaftState::Server(x) = &mut t {
        x.kv = b;
    }
    let c = TraceState::change(&s, &t).expect("a change");
    assert_eq!(c.apply(Some(&s)).unwrap(), t);
}

#[test]
fn a_record_is_one_json_line_and_configs_rebuild_the_actor() {
    let actor = RaftActor::Server(ServerConfig::new(5));
    let r = Record {
        node: Id::from(4),
        step: 0,
        time_ns: 1,
        event: Event::Start(Box::new(Start {
            format: FORMAT,
            actor: ActorConfig::of(&actor),
            storage: None,
            repaired_bytes: 0,
        })),
        state: None,
        out: vec![],
    };
    let json = serde_json::to_string(&r).unwrap();
    assert!(!json.contains('\n'));
    let back: Record = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    let Event::Start(start) = back.event else {
        unreachable!()
    };
    let cfg = start.actor;
    assert_eq!(cfg.actor(), actor);
    let client = RaftActor::Client(ClientConfig::new(3, vec![Op::Get { key: "x".into() }]));
    assert_eq!(ActorConfig::of(&client).actor(), client);
}

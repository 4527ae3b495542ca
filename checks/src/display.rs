//! Readable text for actions, servers and steps: what a person reads in a
//! counterexample, in the paper's vocabulary.

use crate::model::{RaftModel, State};
use raft_model::msg::LogTerms;
use raft_model::{Id, Msg, RaftState, Role, ServerState, Timer};
use serde::Serialize;
use stateright::actor::ActorModelAction;

/// `S1`.. for servers, `C1`.. for clients.
pub fn name(n: usize, id: Id) -> String {
    let i = usize::from(id);
    if i < n {
        format!("S{}", i + 1)
    } else {
        format!("C{}", i - n + 1)
    }
}

pub fn msg(n: usize, m: &Msg) -> String {
    match m {
        Msg::ClientRequest { client, seq, op } => {
            format!("ClientRequest({} #{seq} {op:?})", name(n, *client))
        }
        other => format!("{other:?}"),
    }
}

pub fn timer(t: &Timer) -> &'static str {
    match t {
        Timer::Election => "election timeout",
        Timer::Heartbeat => "heartbeat timer",
        Timer::ClientRetry => "retry timer",
    }
}

pub fn action(n: usize, a: &ActorModelAction<Msg, Timer, ()>) -> String {
    match a {
        ActorModelAction::Deliver { src, dst, msg: m } => {
            format!("{} -> {} {}", name(n, *src), name(n, *dst), msg(n, m))
        }
        ActorModelAction::Drop(env) => format!(
            "network loses {} -> {} {}",
            name(n, env.src),
            name(n, env.dst),
            msg(n, &env.msg)
        ),
        ActorModelAction::Timeout(id, t) => format!("{} {}", name(n, *id), timer(t)),
        ActorModelAction::Crash(id) => format!("{} crashes", name(n, *id)),
        ActorModelAction::Recover(id) => format!("{} restarts from its storage", name(n, *id)),
        ActorModelAction::SelectRandom { actor, .. } => {
            format!("{} random choice", name(n, *actor))
        }
    }
}

pub fn role(r: Role) -> &'static str {
    match r {
        Role::Follower => "follower",
        Role::Candidate => "candidate",
        Role::Leader => "leader",
    }
}

/// One line per server: role, term, vote, log terms with the committed prefix marked,
/// commit index, the key/value contents.
pub fn server_line(n: usize, s: &ServerState) -> String {
    let c = s.commit_index as usize;
    let committed = LogTerms(&s.log[..c]).to_string();
    let rest = LogTerms(&s.log[c..]).to_string();
    let log = match (c, s.log.len() - c) {
        (0, _) => rest,
        (_, 0) => format!("{}|]", committed.trim_end_matches(']')),
        _ => format!(
            "{}|{}",
            committed.trim_end_matches(']'),
            rest.trim_start_matches('[')
        ),
    };
    let voted = s.voted_for.map_or("-".to_string(), |v| name(n, v));
    format!(
        "{} term {} voted {} log {} commit {} kv {:?}",
        role(s.role),
        s.current_term,
        voted,
        log,
        s.commit_index,
        s.kv
    )
}

/// One row of a counterexample.
#[derive(Clone, Debug, Serialize)]
pub struct StepRow {
    pub step: usize,
    pub action: String,
    pub server: String,
    pub detail: String,
    /// The affected actor after the step.
    pub after: String,
}

fn actor_after(model: &RaftModel, state: &State, id: Id) -> String {
    let n = model.servers();
    let i = usize::from(id);
    if state.crashed.get(i).copied().unwrap_or(false) {
        return "down".into();
    }
    match state.actor_states.get(i).map(|s| &**s) {
        Some(RaftState::Server(s)) => server_line(n, s),
        Some(RaftState::Client(c)) => {
            format!("{} ops answered, next target {}", c.done, name(n, c.target))
        }
        None => String::new(),
    }
}

pub fn row(
    model: &RaftModel,
    step: usize,
    a: &ActorModelAction<Msg, Timer, ()>,
    next: &State,
) -> StepRow {
    let n = model.servers();
    let (kind, who, detail) = match a {
        ActorModelAction::Deliver { src, dst, msg: m } => (
            "deliver",
            *dst,
            format!("from {}: {}", name(n, *src), msg(n, m)),
        ),
        ActorModelAction::Drop(env) => (
            "lose",
            env.dst,
            format!("from {}: {}", name(n, env.src), msg(n, &env.msg)),
        ),
        ActorModelAction::Timeout(id, t) => ("timeout", *id, timer(t).to_string()),
        ActorModelAction::Crash(id) => ("crash", *id, String::new()),
        ActorModelAction::Recover(id) => ("restart", *id, "from storage".to_string()),
        ActorModelAction::SelectRandom { actor, .. } => ("random", *actor, String::new()),
    };
    StepRow {
        step,
        action: kind.into(),
        server: name(n, who),
        detail,
        after: actor_after(model, next, who),
    }
}

/// The text of a step for stateright's Explorer.
pub fn step(
    model: &RaftModel,
    _last: &State,
    a: &ActorModelAction<Msg, Timer, ()>,
    next: &State,
) -> String {
    let r = row(model, 0, a, next);
    format!(
        "{} {} {}\n{}: {}",
        r.action, r.server, r.detail, r.server, r.after
    )
}

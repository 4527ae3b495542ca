//! Readable text for actions, servers, storage, states and steps: what a person
//! reads in a counterexample, the Explorer and a trace report, in the paper's
//! vocabulary. Messages read as their `Debug` (the model's one message text).

use crate::model::{Action, RaftModel, State, Violation};
use raft_model::msg::LogTerms;
use raft_model::{Id, PersistentState, RaftState, Role, ServerState, Timer};
use serde::Serialize;

/// `S1`.. for servers, `C1`.. for the model's clients.
pub fn name(n: usize, id: Id) -> String {
    raft_model::name::actor(id, n)
}

pub fn timer(t: &Timer) -> &'static str {
    match t {
        Timer::Election => "election timeout",
        Timer::Heartbeat => "heartbeat timer",
        Timer::ClientRetry => "retry timer",
        Timer::Snapshot => "snapshot timer",
    }
}

pub fn action(n: usize, a: &Action) -> String {
    match a {
        Action::Deliver { src, dst, msg } => {
            format!("{} -> {} {msg:?}", name(n, *src), name(n, *dst))
        }
        Action::Drop { src, dst, msg } => format!(
            "network loses {} -> {} {msg:?}",
            name(n, *src),
            name(n, *dst),
        ),
        Action::Timeout(id, t) => format!("{} {}", name(n, *id), timer(t)),
        Action::Crash(id) => format!("{} crashes", name(n, *id)),
        Action::Recover(id) => format!("{} restarts from its storage", name(n, *id)),
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
/// commit index, the key/value contents. (Votes are always for servers.)
/// A log after a snapshot begins with the snapshot's point: `snap 2/1 [1|2]`.
pub fn server_line(s: &ServerState) -> String {
    // A broken run may commit past the log: show the log, marked at its end.
    let snap = s.log.snapshot_index();
    let c = (s.commit_index.saturating_sub(snap) as usize).min(s.log.len());
    let committed = LogTerms::of(s.log.iter().take(c)).to_string();
    let rest = LogTerms::of(s.log.iter().skip(c)).to_string();
    let log = match (c, s.log.len().saturating_sub(c)) {
        (0, _) => rest,
        (_, 0) => format!("{}|]", committed.trim_end_matches(']')),
        _ => format!(
            "{}|{}",
            committed.trim_end_matches(']'),
            rest.trim_start_matches('[')
        ),
    };
    let log = if snap > 0 {
        format!("snap {snap}/{} {log}", s.log.snapshot_term())
    } else {
        log
    };
    let voted = s
        .voted_for
        .map_or("-".to_string(), raft_model::name::server);
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

/// A leader's view of replication: `match S2:2 S3:0`.
fn leader_progress(n: usize, me: usize, s: &ServerState) -> String {
    let peers: Vec<String> = (0..n)
        .filter(|&j| j != me)
        .filter_map(|j| {
            let m = s.match_index.get(j)?;
            Some(format!("{}:{m}", name(n, Id::from(j))))
        })
        .collect();
    format!("  match {}", peers.join(" "))
}

/// What a server's storage holds: what it restarts from.
pub fn storage_line(p: Option<&PersistentState>) -> String {
    match p {
        None => "nothing saved".into(),
        Some(p) => format!(
            "saved term {} voted {} log {}",
            p.current_term,
            p.voted_for
                .map_or("-".to_string(), raft_model::name::server),
            LogTerms::of_log(&p.log)
        ),
    }
}

/// The whole state as a person reads it: one line per server and client, the
/// messages in flight, and what the run has done so far. This is the state's
/// `Debug`, so it is what stateright's Explorer shows.
pub fn state(st: &State) -> String {
    use std::fmt::Write;
    let n = st.actors.iter().filter(|s| s.server().is_some()).count();
    let mut out = String::new();
    for (i, actor) in st.actors.iter().enumerate() {
        let id = Id::from(i);
        let mut timers: Vec<&str> = st.timers.of(i).map(|t| timer(&t)).collect();
        timers.sort_unstable();
        let timers = if timers.is_empty() {
            String::new()
        } else {
            format!("  timers: {}", timers.join(", "))
        };
        let line = if st.is_down(i) {
            format!("down  ({})", storage_line(st.storage(i)))
        } else {
            match &**actor {
                RaftState::Server(s) if s.role == Role::Leader => {
                    format!("{}{}{timers}", server_line(s), leader_progress(n, i, s))
                }
                RaftState::Server(s) => format!("{}{timers}", server_line(s)),
                RaftState::Client(c) => format!(
                    "client  {} ops answered, sends to {}{timers}",
                    c.done,
                    name(n, c.target)
                ),
            }
        };
        let _ = writeln!(out, "{}  {line}", name(n, id));
    }
    let mut in_flight: Vec<String> = st
        .network
        .iter_all()
        .map(|(src, dst, msg)| format!("{} -> {} {msg:?}", name(n, src), name(n, dst)))
        .collect();
    in_flight.sort();
    let _ = writeln!(out, "in flight: {}", in_flight.len());
    for m in &in_flight {
        let _ = writeln!(out, "  {m}");
    }
    let h = &st.history;
    let leaders: Vec<String> = h
        .leaders
        .iter()
        .enumerate()
        .filter(|(_, set)| !set.is_empty())
        .map(|(t, set)| {
            let who: Vec<String> = set.iter().map(|j| name(n, Id::from(j))).collect();
            format!("term {t}: {}", who.join(" and "))
        })
        .collect();
    let _ = writeln!(
        out,
        "leaders so far: {}",
        if leaders.is_empty() {
            "none".to_string()
        } else {
            leaders.join(", ")
        }
    );
    let applied: Vec<String> = h.applied.iter().map(|e| format!("{e:?}")).collect();
    let _ = writeln!(out, "applied so far: [{}]", applied.join(", "));
    let crashed: Vec<String> = h
        .crashed_before
        .iter()
        .map(|j| name(n, Id::from(j)))
        .collect();
    let _ = writeln!(
        out,
        "crashes so far: {}{}",
        h.crashes,
        if crashed.is_empty() {
            String::new()
        } else {
            format!(" ({})", crashed.join(", "))
        }
    );
    let _ = write!(
        out,
        "client operations: {} invoked, {} answered",
        h.invoked(),
        h.answered()
    );
    let broken: Vec<&str> = Violation::ALL
        .into_iter()
        .filter(|v| h.violated(*v))
        .map(Violation::text)
        .collect();
    if !broken.is_empty() {
        let _ = write!(out, "\nalready broken: {}", broken.join("; "));
    }
    out
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
    if state.is_down(i) {
        return "down".into();
    }
    match state.actors.get(i).map(|s| &**s) {
        Some(RaftState::Server(s)) => server_line(s),
        Some(RaftState::Client(c)) => {
            format!("{} ops answered, next target {}", c.done, name(n, c.target))
        }
        None => String::new(),
    }
}

pub fn row(model: &RaftModel, step: usize, a: &Action, next: &State) -> StepRow {
    let n = model.servers();
    let (kind, who, detail) = match a {
        Action::Deliver { src, dst, msg } => {
            ("deliver", *dst, format!("from {}: {msg:?}", name(n, *src)))
        }
        Action::Drop { src, dst, msg } => {
            ("lose", *dst, format!("from {}: {msg:?}", name(n, *src)))
        }
        Action::Timeout(id, t) => ("timeout", *id, timer(t).to_string()),
        Action::Crash(id) => ("crash", *id, String::new()),
        Action::Recover(id) => ("restart", *id, "from storage".to_string()),
    };
    StepRow {
        step,
        action: kind.into(),
        server: name(n, who),
        detail,
        after: actor_after(model, next, who),
    }
}

/// The properties judged on one state: what holds there, what is violated, and
/// which Sometimes properties this run has reached.
pub fn verdicts(model: &RaftModel, st: &State) -> String {
    use stateright::Expectation;
    let mut out = String::new();
    for p in crate::properties::named(&model.bounds) {
        let holds = (p.condition)(model, st);
        let line = match (p.expectation, holds) {
            (Expectation::Always, true) => format!("  ✓ holds      {}\n", p.name),
            (Expectation::Always, false) => format!("  ✗ VIOLATED   {}\n", p.name),
            (_, true) => format!("  ✓ reached    {} (sometimes)\n", p.name),
            (_, false) => format!("  · not yet    {} (sometimes)\n", p.name),
        };
        out.push_str(&line);
    }
    out
}

/// The text of a step for stateright's Explorer (its "outcome", which the Explorer
/// shows instead of the state): the step, the properties judged on the state it
/// leads to, and that state.
pub fn step(model: &RaftModel, a: &Action, next: &State) -> String {
    let r = row(model, 0, a, next);
    // The Explorer steps anywhere; the checker stops at the bounds.
    let beyond = if model.in_bounds(next) {
        String::new()
    } else {
        format!(
            "\nBEYOND THE BOUNDS: `raftlab check` does not explore this state ({}).\n",
            crate::bounds::describe(&model.bounds)
        )
    };
    format!(
        "{} {} {}\n{}: {}\n{beyond}\nProperties in this state:\n{}\nState:\n{}",
        r.action,
        r.server,
        r.detail,
        r.server,
        r.after,
        verdicts(model, next),
        state(next)
    )
}

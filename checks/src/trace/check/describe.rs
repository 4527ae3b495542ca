//! Records, states and commands as a failure report names them.

use crate::model::History;
use crate::properties::ServerView;
use crate::render::text::{server_line, storage_line};
use crate::trace::load::Run;
use raft_model::trace::{Cmd, Event, Record, StoredState};
use raft_model::{Id, PersistentState, RaftState};

/// What a record is, in a few words.
pub fn describe(run: &Run, rec: &Record) -> String {
    match &rec.event {
        Event::Start(s) => format!("start from {}", stored_text(&s.storage)),
        Event::Deliver { src, msg } => format!("deliver from {}: {msg:?}", run.name_of(*src)),
        Event::Timeout { timer } => format!("timeout: {timer:?}"),
        Event::Flush => "flush".into(),
        Event::Stop => "stop".into(),
    }
}

/// What a start read: `nothing saved`, or the storage's term, vote and log.
pub(super) fn storage_text(p: &Option<PersistentState>) -> String {
    storage_line(p.as_ref())
}

/// What a start record says it read: as [`storage_text`], the log and snapshot
/// by digest where the record names them so.
pub(super) fn stored_text(p: &Option<StoredState>) -> String {
    match p {
        None => storage_line(None),
        Some(s) => {
            let whole = PersistentState {
                current_term: s.current_term,
                voted_for: s.voted_for,
                log: s.log.clone().unwrap_or_default(),
                snapshot: Default::default(),
            };
            let mut text = match (&s.log, &s.log_digest) {
                (None, Some(d)) => format!(
                    "saved term {} voted {} log {}/{}..{}/{} {}",
                    s.current_term,
                    s.voted_for
                        .map_or("-".to_string(), raft_model::name::server),
                    d.snapshot.index,
                    d.snapshot.term,
                    d.last_index,
                    d.last_term,
                    short(&d.sha256)
                ),
                _ => storage_line(Some(&whole)),
            };
            if let Some(d) = &s.snapshot {
                text += &format!(", snapshot {}", short(d));
            }
            text
        }
    }
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// Every server of a global state, and the terms that had two leaders.
pub(super) fn servers_text(views: &[ServerView], h: &History) -> String {
    let mut parts: Vec<String> = views
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = raft_model::name::server(Id::from(i));
            match v.live {
                Some(s) => format!("{name}: {}", server_line(s)),
                None => format!(
                    "{name}: down, stored log {}",
                    raft_model::msg::LogTerms::of(v.log.iter())
                ),
            }
        })
        .collect();
    let leaders = h
        .leaders
        .iter()
        .enumerate()
        .filter(|(_, l)| l.len() > 1)
        .map(|(t, l)| format!("term {t} had leaders {l:?}"));
    parts.extend(leaders);
    parts.join("; ")
}

/// The first fields in which `expected` and `recorded` differ.
pub fn diff_states(run: &Run, expected: &RaftState, recorded: &RaftState) -> (String, String) {
    let text = |s: &RaftState| match s {
        RaftState::Client(c) => format!(
            "client state with {} answered, target {}",
            c.done,
            run.name_of(c.target)
        ),
        RaftState::Server(s) => format!("server state {}", server_line(s)),
    };
    let (e, r) = match (expected, recorded) {
        (RaftState::Server(e), RaftState::Server(r)) => (e, r),
        _ => return (text(expected), text(recorded)),
    };
    let mut es = Vec::new();
    let mut rs = Vec::new();
    let mut field = |name: &str, a: String, b: String| {
        if a != b {
            es.push(format!("{name} {a}"));
            rs.push(format!("{name} {b}"));
        }
    };
    let id = |v: Option<Id>| v.map_or("-".to_string(), |v| run.name_of(v));
    field(
        "current_term",
        e.current_term.to_string(),
        r.current_term.to_string(),
    );
    field("voted_for", id(e.voted_for), id(r.voted_for));
    field("role", format!("{:?}", e.role), format!("{:?}", r.role));
    field(
        "commit_index",
        e.commit_index.to_string(),
        r.commit_index.to_string(),
    );
    field("leader_hint", id(e.leader_hint), id(r.leader_hint));
    field(
        "votes_granted",
        format!("{:?}", e.votes_granted),
        format!("{:?}", r.votes_granted),
    );
    field(
        "next_index",
        format!("{:?}", e.next_index),
        format!("{:?}", r.next_index),
    );
    field(
        "match_index",
        format!("{:?}", e.match_index),
        format!("{:?}", r.match_index),
    );
    if e.log != r.log {
        let k = e.log.common_prefix(&r.log);
        field(
            "log",
            format!(
                "{} (from index {}: {:?})",
                raft_model::msg::LogTerms::of(e.log.iter()),
                k + 1,
                e.log.entry(k + 1)
            ),
            format!(
                "{} (from index {}: {:?})",
                raft_model::msg::LogTerms::of(r.log.iter()),
                k + 1,
                r.log.entry(k + 1)
            ),
        );
    }
    field("kv", format!("{:?}", e.kv), format!("{:?}", r.kv));
    if e.kv.sessions != r.kv.sessions {
        field(
            "sessions",
            format!("{:?}", e.kv.sessions),
            format!("{:?}", r.kv.sessions),
        );
    }
    (
        format!("state with {}", es.join(", ")),
        format!("state with {}", rs.join(", ")),
    )
}

/// The first command in which `expected` and `recorded` differ.
pub(super) fn diff_cmds(run: &Run, expected: &[Cmd], recorded: &[Cmd]) -> (String, String) {
    let k = expected
        .iter()
        .zip(recorded)
        .take_while(|(a, b)| a == b)
        .count();
    let text = |c: Option<&Cmd>| match c {
        None => "nothing more".to_string(),
        Some(c) => c.text(&|id| run.name_of(id)),
    };
    (
        format!(
            "{} commands; command {}: {}",
            expected.len(),
            k + 1,
            text(expected.get(k))
        ),
        format!(
            "{} commands; command {}: {}",
            recorded.len(),
            k + 1,
            text(recorded.get(k))
        ),
    )
}

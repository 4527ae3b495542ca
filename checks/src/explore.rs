//! stateright's Explorer (a web UI to step through the model) serving the Raft
//! model, and the links into it that `check`, `mutants` and `trace explore` print.
//!
//! A link names a path by action indices, as the Explorer's own URLs do
//! (`#/steps/0/4/1`: initial state 0, then the 4th enabled action, then the 1st), so
//! it opens only on an Explorer serving the same model: the same bounds, mutants
//! and clients. `explore_command` gives the `raftlab explore` line that does.

use crate::bounds::Bounds;
use crate::model::{Action, RaftModel};
use crate::run::replay;
use stateright::{Checker, Model};
use std::net::{TcpListener, ToSocketAddrs};

pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The Explorer's encoding of the run `actions` from the initial state:
/// `0/4/1`, or `None` if an action is not enabled where the run takes it.
pub fn encode(model: &RaftModel, actions: &[Action]) -> Option<String> {
    let path = replay(model, actions)?;
    Some(path.encode(model))
}

/// Decodes an Explorer path (`0/4/1`, with or without a leading `#/steps/`) into
/// the run it names, or says which index does not exist.
pub fn decode(model: &RaftModel, encoded: &str) -> Result<Vec<Action>, String> {
    // A whole URL names its path after `#/steps`.
    let s = encoded.trim();
    let trimmed = match s.find("#/steps") {
        Some(i) => &s[i + "#/steps".len()..],
        None => s,
    }
    .trim_matches('/');
    let mut indices = Vec::new();
    for part in trimmed.split('/').filter(|p| !p.is_empty()) {
        let i: usize = part.parse().map_err(|_| {
            format!("'{part}' in the path is not an action index (expected e.g. 0/4/1)")
        })?;
        indices.push(i);
    }
    let Some((&init, steps)) = indices.split_first() else {
        return Ok(Vec::new());
    };
    let mut state =
        model.init_states().into_iter().nth(init).ok_or_else(|| {
            format!("the model has no initial state {init}: the path starts with 0")
        })?;
    let mut actions = Vec::with_capacity(steps.len());
    let mut enabled = Vec::new();
    for (step, &i) in steps.iter().enumerate() {
        enabled.clear();
        model.actions(&state, &mut enabled);
        let action = enabled.get(i).cloned().ok_or_else(|| {
            format!(
                "step {}: only {} actions are enabled, so index {i} does not exist \
                 (was the path made for other bounds or mutants?)",
                step + 1,
                enabled.len()
            )
        })?;
        state = model.next_state(&state, action.clone()).ok_or_else(|| {
            format!(
                "step {}: action {i} ({}) changes nothing in this model",
                step + 1,
                model.format_action(&action)
            )
        })?;
        actions.push(action);
    }
    Ok(actions)
}

/// The page that opens at the end of the path (the whole path listed, its last
/// state shown), or the start page.
pub fn url(addr: &str, encoded: Option<&str>) -> String {
    match encoded {
        Some(p) => format!("http://{addr}/#/steps/{p}"),
        None => format!("http://{addr}/"),
    }
}

/// The `raftlab explore` flags that build the model checked under `bounds`: only
/// the flags that differ from what `explore` assumes without them (the defaults, or
/// with a single mutant, that mutant's catalogue bounds).
pub fn explore_args(bounds: &Bounds) -> Vec<String> {
    let mutants: Vec<_> = bounds.mutants.iter().collect();
    let base = match mutants.as_slice() {
        [one] => crate::mutants::case(*one).map(|c| c.bounds),
        _ => None,
    }
    .unwrap_or_default();
    let mut args = Vec::new();
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    if bounds.servers != base.servers {
        flag("servers", bounds.servers.to_string());
    }
    if bounds.clients != base.clients {
        flag("clients", bounds.clients.to_string());
    }
    if bounds.ops_per_client != base.ops_per_client {
        flag("ops", bounds.ops_per_client.to_string());
    }
    if bounds.max_term != base.max_term {
        flag("max-term", bounds.max_term.to_string());
    }
    if bounds.max_log != base.max_log {
        flag("max-log", bounds.max_log.to_string());
    }
    if bounds.crashes != base.crashes {
        flag("crashes", bounds.crashes.to_string());
    }
    if bounds.network != base.network {
        flag("network", bounds.network.to_string());
    }
    // --servers changes the default in-flight bound, so say it whenever it is given.
    if bounds.max_in_flight != base.max_in_flight || bounds.servers != base.servers {
        flag("max-in-flight", bounds.max_in_flight.to_string());
    }
    if bounds.max_per_channel != base.max_per_channel {
        flag("max-per-channel", bounds.max_per_channel.to_string());
    }
    if bounds.max_batch != base.max_batch {
        flag("max-batch", bounds.max_batch.to_string());
    }
    for m in mutants {
        flag("mutant", m.name().to_string());
    }
    if bounds.lossy && !base.lossy {
        args.push("--lossy".into());
    }
    args
}

/// `raftlab explore ...` for `bounds`, as one line to paste.
pub fn explore_command(bounds: &Bounds) -> String {
    let mut line = String::from("raftlab explore");
    for a in explore_args(bounds) {
        line.push(' ');
        line.push_str(&a);
    }
    line
}

/// Checks that the Explorer can listen on `addr`, with an error that says what to
/// do if not (stateright's server would panic).
pub fn can_listen(addr: &str) -> Result<(), String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| {
            format!("--addr {addr}: not an address to listen on ({e}); use e.g. 127.0.0.1:3000")
        })?
        .collect();
    TcpListener::bind(&addrs[..]).map(drop).map_err(|e| {
        format!(
            "cannot listen on {addr}: {e}; is another Explorer running there? \
             Stop it or pick another port with --addr 127.0.0.1:3001"
        )
    })
}

/// Serves the Explorer for `model` on `addr` until the process is stopped. Nothing
/// is explored until the page asks: stepping explores on demand, and the page's
/// "Run to completion" button runs a breadth-first check (without symmetry
/// reduction) whose findings the page then links.
pub fn serve(model: RaftModel, addr: &str, threads: usize) -> Result<(), String> {
    can_listen(addr)?;
    let checker = model.checker().threads(threads.max(1)).serve(addr);
    // `serve` returns only if its web server stops.
    let _ = checker.is_done();
    Err(format!("the Explorer's web server on {addr} stopped"))
}

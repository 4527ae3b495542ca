//! stateright's Explorer (a web UI to step through the model) serving the Raft
//! model, and the links into it ([`links`]).

mod front;
pub mod links;

pub use links::{decode, explore_args, explore_command, url};

use crate::model::RaftModel;
use stateright::{Checker, Model};
use std::net::{TcpListener, ToSocketAddrs};

/// Where `raftlab explore` serves unless told otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:3000";

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
///
/// stateright's server listens on a free loopback port; `addr` is served by the
/// front door ([`front`]), which amends stateright's page and passes the rest on.
pub fn serve(model: RaftModel, addr: &str, threads: usize) -> Result<(), String> {
    can_listen(addr)?;
    let front =
        tiny_http::Server::http(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let upstream = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot find a free loopback port for the Explorer: {e}"))?;
    std::thread::spawn(move || {
        let checker = model.checker().threads(threads.max(1)).serve(upstream);
        // `serve` returns only if its web server stops.
        let _ = checker.is_done();
    });
    front::run(front, upstream);
    Err(format!("the Explorer's web server on {addr} stopped"))
}

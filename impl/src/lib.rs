//! raft-impl: hosts the `raft-model` actor as real UDP nodes.
//!
//! The host only does I/O: sockets, timers, durable storage, the client protocol and
//! fault injection. Every Raft decision is the model's (`raft_model::RaftActor`); the
//! host calls `on_start`/`on_msg`/`on_timeout` and executes the returned commands.
//!
//! - [`node`]: one server's event loop.
//! - [`wal`]: durable storage: an append-only, checksummed log with segments and
//!   snapshots; a save writes what changed.
//! - [`wire`]: the datagram format (postcard) and the status/counter types.
//! - [`snapshot_transfer`]: InstallSnapshot split into datagrams and reassembled.
//! - [`client`]: the model's client actor over UDP, status and control requests.
//! - [`faults`]: drop, duplicate, delay and partition injection.
//! - [`host_fault`]: the node's boundary, and the test-only faults that break it.
//! - [`local`]: node processes on this machine (for `raftlab cluster`, tests, bench).

pub mod client;
pub mod faults;
pub mod host_fault;
pub mod local;
pub mod node;
pub mod snapshot_transfer;
pub mod trace;
pub mod wal;
pub mod wire;

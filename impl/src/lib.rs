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
//! - [`auth`]: the shared secret's tags, and who may send control requests.
//! - [`cluster_id`]: the cluster id a node keeps with its data.
//! - [`random`]: ids from the operating system's randomness.
//! - [`client`]: the model's client actor over UDP, one session per client id.
//! - [`link`]: how to reach a cluster (addresses, id, secret); status and control.
//! - [`snapshot_transfer`]: InstallSnapshot split into datagrams and reassembled.
//! - [`faults`]: drop, duplicate, delay and partition injection.
//! - [`host_fault`]: the node's boundary, and the test-only faults that break it.
//! - [`local`]: node processes on this machine (for `raftlab cluster`, tests, bench).
//! - [`workload`], [`nemesis`]: concurrent clients and a fault schedule (`raftlab chaos`).

pub mod auth;
pub mod client;
pub mod cluster_id;
pub mod faults;
pub mod host_fault;
pub mod link;
pub mod local;
pub mod nemesis;
pub mod node;
pub mod random;
pub mod snapshot_transfer;
pub mod trace;
pub mod wal;
pub mod wire;
pub mod workload;

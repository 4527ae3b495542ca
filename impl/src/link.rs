//! How to reach a cluster: its nodes' addresses, its cluster id and its secret;
//! and the host-level requests (status, fault control) that every tool sends.

use crate::auth::Secret;
use crate::faults::{FaultPatch, Faults};
use crate::wire::{self, NodeStatus, Wire, ANY_CLUSTER, MAX_DATAGRAM};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// The addresses `raftlab cluster` uses by default: node i on 127.0.0.1:7000+i-1.
pub const DEFAULT_BASE_PORT: u16 = 7000;
pub const DEFAULT_NODES: usize = 3;

pub fn local_addrs(base_port: u16, n: usize) -> Vec<SocketAddr> {
    (0..n)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], base_port.wrapping_add(i as u16))))
        .collect()
}

/// Everything a client needs to talk to a cluster.
#[derive(Clone, Debug)]
pub struct Link {
    /// The servers' addresses, S1 first.
    pub addrs: Vec<SocketAddr>,
    pub cluster: u64,
    pub secret: Option<Secret>,
}

impl Link {
    pub fn new(addrs: Vec<SocketAddr>, cluster: u64, secret: Option<Secret>) -> Link {
        Link {
            addrs,
            cluster,
            secret,
        }
    }

    /// Learns the cluster id from the nodes' answers to a status request (which
    /// nodes answer whatever cluster it names). Refuses addresses that belong to
    /// different clusters.
    pub fn discover(
        addrs: Vec<SocketAddr>,
        secret: Option<Secret>,
        timeout: Duration,
    ) -> Result<Link, String> {
        let probe = Link::new(addrs, ANY_CLUSTER, secret);
        let answers = probe
            .status_all(timeout)
            .map_err(|e| format!("socket error: {e}"))?;
        let mut ids: Vec<(u64, SocketAddr)> = answers
            .iter()
            .zip(&probe.addrs)
            .filter_map(|(s, a)| s.as_ref().map(|s| (s.cluster_id, *a)))
            .collect();
        ids.dedup_by_key(|(id, _)| *id);
        match ids.as_slice() {
            [] => Err(format!(
                "no node answered within {:.1} s, so no leader with a majority answered: is \
                 the cluster running (`raftlab cluster`), does --cluster list its addresses{}?",
                timeout.as_secs_f64(),
                if probe.secret.is_some() {
                    ", and is --secret-file the cluster's secret"
                } else {
                    ", and does the cluster use a secret (then give --secret-file)"
                }
            )),
            [(id, _)] => Ok(Link {
                cluster: *id,
                ..probe
            }),
            [(a, x), (b, y), ..] => Err(format!(
                "the addresses belong to different clusters: {x} to {}, {y} to {}; give the \
                 addresses of one cluster (or --cluster-id)",
                crate::cluster_id::text(*a),
                crate::cluster_id::text(*b)
            )),
        }
    }

    pub fn encode(&self, w: &Wire) -> Result<Vec<u8>, postcard::Error> {
        wire::encode(self.cluster, w, self.secret.as_ref())
    }

    /// A datagram of this cluster, or `None` (another cluster's, a bad tag, not
    /// a datagram). A probe of an unknown cluster takes any cluster's.
    pub fn decode(&self, bytes: &[u8]) -> Option<Wire> {
        match wire::decode(bytes, self.secret.as_ref()) {
            Ok((c, w)) if c == self.cluster || self.cluster == ANY_CLUSTER => Some(w),
            _ => None,
        }
    }

    /// Each node's status, `None` for a node that did not answer within `timeout`.
    pub fn status_all(&self, timeout: Duration) -> io::Result<Vec<Option<NodeStatus>>> {
        self.ask_all(
            &self.addrs,
            timeout,
            |nonce| Wire::Status { nonce },
            |w, nonce| match w {
                Wire::StatusReply(s) if s.nonce == nonce => Some(*s),
                _ => None,
            },
        )
    }

    /// Changes the faults of node `index` (0-based); returns the faults now in
    /// force.
    pub fn set_faults(
        &self,
        index: usize,
        patch: FaultPatch,
        timeout: Duration,
    ) -> Result<Faults, String> {
        let addr = *self
            .addrs
            .get(index)
            .ok_or_else(|| format!("there is no S{}", index + 1))?;
        let answers = self
            .ask_all(
                &[addr],
                timeout,
                |nonce| Wire::Control {
                    nonce,
                    patch: patch.clone(),
                },
                |w, nonce| match w {
                    Wire::ControlReply { nonce: n, result } if n == nonce => Some(result),
                    _ => None,
                },
            )
            .map_err(|e| format!("socket error: {e}"))?;
        match answers.into_iter().next().flatten() {
            Some(r) => r,
            None => Err(format!(
                "the node at {addr} did not answer within {:.1} s: is it running{}?",
                timeout.as_secs_f64(),
                if self.secret.is_some() {
                    ""
                } else {
                    " (without a secret, nodes take fault requests only from this machine)"
                }
            )),
        }
    }

    /// Sends `request(nonce)` to every address and collects the first matching
    /// reply from each, resending to the silent ones a few times, until `timeout`.
    fn ask_all<T>(
        &self,
        addrs: &[SocketAddr],
        timeout: Duration,
        request: impl Fn(u64) -> Wire,
        accept: impl Fn(Wire, u64) -> Option<T>,
    ) -> io::Result<Vec<Option<T>>> {
        let socket = bind_for(addrs.first().copied().unwrap_or(([127, 0, 0, 1], 0).into()))?;
        let nonce = crate::random::u64();
        let bytes = self.encode(&request(nonce)).map_err(io::Error::other)?;
        let mut answers: Vec<Option<T>> = addrs.iter().map(|_| None).collect();
        let start = Instant::now();
        let resend_every = (timeout / 4).max(Duration::from_millis(20));
        let mut next_send = start;
        let mut buf = vec![0u8; MAX_DATAGRAM + 1];
        while answers.iter().any(Option::is_none) {
            let now = Instant::now();
            if now >= start + timeout {
                break;
            }
            if now >= next_send {
                for (a, ans) in addrs.iter().zip(&answers) {
                    if ans.is_none() {
                        let _ = socket.send_to(&bytes, a);
                    }
                }
                next_send = now + resend_every;
            }
            let until = next_send.min(start + timeout);
            socket.set_read_timeout(Some(
                until
                    .saturating_duration_since(now)
                    .max(Duration::from_micros(10)),
            ))?;
            let Ok((len, from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let Some(w) = self.decode(&buf[..len]) else {
                continue;
            };
            if let Some(i) = addrs.iter().position(|a| *a == from) {
                if answers[i].is_none() {
                    answers[i] = accept(w, nonce);
                }
            }
        }
        Ok(answers)
    }
}

/// A socket of the family of `target`, on a port the OS picks.
pub fn bind_for(target: SocketAddr) -> io::Result<UdpSocket> {
    let any: SocketAddr = if target.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    UdpSocket::bind(any)
}

/// The leader among `statuses`: the node that says it leads in the highest term.
pub fn leader_of(statuses: &[Option<NodeStatus>]) -> Option<(usize, u64)> {
    statuses
        .iter()
        .flatten()
        .filter(|s| s.role == raft_model::Role::Leader)
        .max_by_key(|s| s.term)
        .map(|s| (s.index as usize, s.term))
}

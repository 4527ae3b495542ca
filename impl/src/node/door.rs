//! The door: everything from the network passes here. A datagram is decoded
//! (magic, cluster, the secret's tag), a server id is believed only from that
//! server's address, snapshot chunks are reassembled, and the model's own rules
//! (`raft_model::sanity`) say which messages a server takes at all; every
//! refusal is counted by reason, and nothing here panics.

use super::*;

impl Node {
    /// The door: everything from the network passes here, and nothing here panics.
    pub(super) fn on_datagram(&mut self, bytes: &[u8], from: SocketAddr) {
        let (cluster, w) = match wire::decode(bytes, self.cfg.secret.as_ref()) {
            Ok(x) => x,
            Err(DecodeError::Oversize) => return self.dropped.oversize += 1,
            Err(DecodeError::Malformed) => return self.dropped.malformed += 1,
            Err(DecodeError::Unauthenticated) => return self.dropped.unauthenticated += 1,
        };
        // A status request may ask which cluster this is; nothing else may.
        let discovery = cluster == ANY_CLUSTER && matches!(w, Wire::Status { .. });
        if cluster != self.cluster && !discovery {
            self.dropped.other_cluster += 1;
            return;
        }
        match w {
            Wire::Raft { src, dst, msg } => self.on_raft(src, dst, msg, from),
            Wire::Status { nonce } => {
                let reply = Wire::StatusReply(Box::new(self.status(nonce)));
                self.reply(&reply, from);
            }
            Wire::Control { .. } if !auth::may_control(self.cfg.secret.as_ref(), from) => {
                self.dropped.unauthenticated += 1
            }
            Wire::Control { nonce, patch } => {
                let result = self.control(&patch);
                self.reply(&Wire::ControlReply { nonce, result }, from);
            }
            Wire::SnapshotChunk(c) => self.on_chunk(*c, from),
            // Replies are for clients, not nodes.
            Wire::StatusReply(_) | Wire::ControlReply { .. } => self.dropped.foreign += 1,
        }
    }

    /// A chunk of an InstallSnapshot: from a peer at its own address (as any Raft
    /// message), kept until the whole message has arrived, which then goes through
    /// the door as any other.
    pub(super) fn on_chunk(&mut self, c: snapshot_transfer::Chunk, from: SocketAddr) {
        let s = id_to_u64(c.src);
        let peer = usize::try_from(s)
            .ok()
            .and_then(|i| self.cfg.peers.get(i))
            .is_some_and(|a| *a == from);
        if c.dst != self.id || !peer || c.src == self.id {
            self.dropped.foreign += 1;
            return;
        }
        if self.faults.partition.contains(&s) {
            self.dropped.partitioned += 1;
            return;
        }
        let src = c.src;
        match self.reassembly.take(c) {
            Ok(Some(msg)) => {
                self.snapshots_received += 1;
                self.on_raft(src, self.id, msg, from)
            }
            Ok(None) => {}
            Err(ChunkError::Malformed | ChunkError::Corrupt) => self.dropped.malformed += 1,
        }
    }

    pub(super) fn on_raft(&mut self, src: Id, dst: Id, msg: Msg, from: SocketAddr) {
        if dst != self.id {
            self.dropped.foreign += 1;
            return;
        }
        let s = id_to_u64(src);
        let n = self.cfg.peers.len() as u64;
        if s < n {
            // Server ids are authenticated by address (and by the secret's tag, if
            // there is one): only peers[i] speaks as S{i+1}.
            if self.cfg.peers[s as usize] != from || src == self.id {
                self.dropped.foreign += 1;
                return;
            }
            if self.faults.partition.contains(&s) {
                self.dropped.partitioned += 1;
                return;
            }
        } else if !is_client_id(src) {
            self.dropped.foreign += 1;
            return;
        }
        // Which messages a server takes at all is the model's to say.
        if let Err(r) = self.actor.accepts(self.id, &self.state, src, &msg) {
            self.count_refusal(r);
            return;
        }
        if is_client_id(src) {
            self.remember_client(src, from);
        }
        self.deliver(src, msg);
    }

    pub(super) fn count_refusal(&mut self, r: Refusal) {
        match r {
            Refusal::NotFromAPeer | Refusal::NotForServers | Refusal::NotForClients => {
                self.dropped.foreign += 1
            }
            Refusal::TooLarge => self.dropped.oversize += 1,
            _ => {
                *self
                    .dropped
                    .refused
                    .entry(r.name().to_string())
                    .or_default() += 1
            }
        }
    }

    pub(super) fn remember_client(&mut self, client: Id, addr: SocketAddr) {
        let now = Instant::now();
        if self.clients.len() >= MAX_CLIENTS && !self.clients.contains_key(&client) {
            // Forget the older half; a forgotten client that retries is remembered again.
            let mut seen: Vec<Instant> = self.clients.values().map(|(_, t)| *t).collect();
            seen.sort();
            let cut = seen[seen.len() / 2];
            self.clients.retain(|_, (_, t)| *t > cut);
        }
        self.clients.insert(client, (addr, now));
    }

    pub(super) fn reply(&mut self, w: &Wire, to: SocketAddr) {
        match wire::encode(self.cluster, w, self.cfg.secret.as_ref()) {
            Ok(bytes) => self.send_now(to, &bytes),
            Err(_) => self.unsent.too_large += 1,
        }
    }

    pub(super) fn control(&mut self, patch: &FaultPatch) -> Result<Faults, String> {
        let n = self.cfg.peers.len() as u64;
        if let Some(p) = &patch.partition {
            if let Some(bad) = p.iter().find(|i| **i >= n) {
                return Err(format!(
                    "--partition names {}, but the cluster has {n} servers",
                    raft_model::name::server(Id::from(*bad as usize))
                ));
            }
        }
        let mut f = self.faults.clone();
        f.apply(patch)?;
        if self.cfg.verbose {
            eprintln!("{}: faults now: {f}", raft_model::name::server(self.id));
        }
        self.faults = f.clone();
        Ok(f)
    }
}

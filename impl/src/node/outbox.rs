//! What leaves a node: a message to a peer or a client as a datagram (a
//! snapshot as chunks), through the injected faults (drop, duplicate, delay,
//! partition).

use super::*;

impl Node {
    pub(super) fn transmit(&mut self, dst: Id, msg: Msg) {
        let d = id_to_u64(dst);
        let to_server = d < self.cfg.peers.len() as u64;
        let addr = if to_server {
            if self.faults.partition.contains(&d) {
                self.unsent.injected_drops += 1;
                return;
            }
            self.cfg.peers[d as usize]
        } else {
            match self.clients.get(&dst) {
                Some((a, _)) => *a,
                None => {
                    self.unsent.no_route += 1;
                    return;
                }
            }
        };
        if let Msg::InstallSnapshot(m) = &msg {
            return self.transmit_snapshot(addr, dst, m);
        }
        let w = Wire::Raft {
            src: self.id,
            dst,
            msg,
        };
        let bytes = match wire::encode(self.cluster, &w, self.cfg.secret.as_ref()) {
            Ok(b) if b.len() <= MAX_DATAGRAM => b,
            _ => {
                self.unsent.too_large += 1;
                return;
            }
        };
        self.send_faulty(addr, bytes);
    }

    /// A snapshot goes as chunks, each a datagram (see [`snapshot_transfer`]).
    pub(super) fn transmit_snapshot(
        &mut self,
        addr: SocketAddr,
        dst: Id,
        m: &raft_model::InstallSnapshot,
    ) {
        let Ok(chunks) = snapshot_transfer::split(self.id, dst, m) else {
            self.unsent.too_large += 1;
            return;
        };
        for c in chunks {
            match wire::encode(self.cluster, &c, self.cfg.secret.as_ref()) {
                Ok(b) if b.len() <= MAX_DATAGRAM => self.send_faulty(addr, b),
                _ => self.unsent.too_large += 1,
            }
        }
    }

    pub(super) fn send_faulty(&mut self, addr: SocketAddr, bytes: Vec<u8>) {
        let f = &self.faults;
        if f.drop > 0.0 && fastrand::f64() < f.drop {
            self.unsent.injected_drops += 1;
            return;
        }
        let copies = if f.duplicate > 0.0 && fastrand::f64() < f.duplicate {
            self.unsent.injected_duplicates += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.faults.delay > 0.0 && fastrand::f64() < self.faults.delay {
                self.unsent.injected_delays += 1;
                let ms = fastrand::u64(0..=self.faults.delay_max_ms);
                self.delayed.push(Delayed {
                    due: Instant::now() + Duration::from_millis(ms),
                    addr,
                    bytes: bytes.clone(),
                });
            } else {
                self.send_now(addr, &bytes);
            }
        }
    }

    pub(super) fn send_now(&mut self, addr: SocketAddr, bytes: &[u8]) {
        if self.socket.send_to(bytes, addr).is_err() {
            self.unsent.errors += 1;
        }
    }

    pub(super) fn send_due_delayed(&mut self, now: Instant) {
        while self.delayed.peek().is_some_and(|d| d.due <= now) {
            if let Some(d) = self.delayed.pop() {
                self.send_now(d.addr, &d.bytes);
            }
        }
    }
}

//! The messages in flight: a small vector sorted by (source, destination, message),
//! each distinct message once with its count, so that two networks holding the
//! same messages are equal and hash alike whatever order they were sent in.

use super::shared::Shared;
use crate::bounds::NetworkKind;
use raft_model::{Id, Msg};

/// Messages from one actor to another: `count` copies of `msg`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Packet {
    pub src: Id,
    pub dst: Id,
    pub msg: Shared<Msg>,
    pub count: u32,
}

/// The network of a model state. On the ordered network each packet is one
/// message, in sending order within its channel; on the duplicating network a
/// message, once sent, stays deliverable (count 1) until the network loses it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Network {
    packets: Vec<Packet>,
}

impl Network {
    /// Every packet, in order.
    pub fn packets(&self) -> &[Packet] {
        &self.packets
    }

    /// Messages in flight, counting copies.
    pub fn len(&self) -> usize {
        self.packets.iter().map(|p| p.count as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.packets.is_empty()
    }

    /// Every message in flight, a message sent twice twice.
    pub fn iter_all(&self) -> impl Iterator<Item = (Id, Id, &Msg)> {
        self.packets
            .iter()
            .flat_map(|p| std::iter::repeat_n((p.src, p.dst, &*p.msg), p.count as usize))
    }

    /// The messages that can be delivered (or lost) next, each distinct one once:
    /// on the ordered network only the head of each channel.
    pub fn deliverable(&self, kind: NetworkKind) -> impl Iterator<Item = &Packet> {
        (self.packets.iter().enumerate())
            .filter_map(move |(k, p)| (kind != NetworkKind::Ordered || self.heads(k)).then_some(p))
    }

    /// Whether the packet at `k` is the first of its channel.
    fn heads(&self, k: usize) -> bool {
        match (
            k.checked_sub(1).and_then(|j| self.packets.get(j)),
            self.packets.get(k),
        ) {
            (Some(q), Some(p)) => (q.src, q.dst) != (p.src, p.dst),
            (None, _) => true,
            (_, None) => false,
        }
    }

    /// Where `msg` from `src` to `dst` is, or would go, on an unordered
    /// network. Shared's order is the message's, but the very message an
    /// action names compares at once.
    fn find(&self, src: Id, dst: Id, msg: &Shared<Msg>) -> Result<usize, usize> {
        self.packets
            .binary_search_by(|p| (p.src, p.dst, &p.msg).cmp(&(src, dst, msg)))
    }

    /// Where `msg` from `src` to `dst` is, if it can be delivered (or lost)
    /// now: on the ordered network only its channel's head can.
    pub fn deliverable_at(
        &self,
        kind: NetworkKind,
        src: Id,
        dst: Id,
        msg: &Shared<Msg>,
    ) -> Option<usize> {
        // The search's actions borrow their message from the very packet:
        // found by address, with no message compared.
        let named = (self.packets.iter().enumerate()).find(|(_, p)| std::ptr::eq(&p.msg, msg));
        if let Some((k, p)) = named {
            if (p.src, p.dst) == (src, dst) && (kind != NetworkKind::Ordered || self.heads(k)) {
                return Some(k);
            }
        }
        if kind == NetworkKind::Ordered {
            let start = self
                .packets
                .partition_point(|p| (p.src, p.dst) < (src, dst));
            return self
                .packets
                .get(start)
                .is_some_and(|p| (p.src, p.dst) == (src, dst) && p.msg == *msg)
                .then_some(start);
        }
        self.find(src, dst, msg).ok()
    }

    /// Where channel (src, dst) ends: the first packet past it.
    fn channel_end(&self, src: Id, dst: Id) -> usize {
        self.packets
            .partition_point(|p| (p.src, p.dst) <= (src, dst))
    }

    pub fn send(&mut self, kind: NetworkKind, src: Id, dst: Id, msg: &Shared<Msg>) {
        if kind == NetworkKind::Ordered {
            let at = self.channel_end(src, dst);
            self.packets.insert(
                at,
                Packet {
                    src,
                    dst,
                    msg: msg.clone(),
                    count: 1,
                },
            );
            return;
        }
        match self.find(src, dst, msg) {
            Ok(k) if kind == NetworkKind::Unordered => self.packets[k].count += 1,
            Ok(_) => {} // the duplicating network holds a message once
            Err(k) => self.packets.insert(
                k,
                Packet {
                    src,
                    dst,
                    msg: msg.clone(),
                    count: 1,
                },
            ),
        }
    }

    /// Takes one copy of the packet at `k` (see [`Network::deliverable_at`]) out.
    pub fn take_at(&mut self, k: usize) {
        let Some(p) = self.packets.get_mut(k) else {
            return;
        };
        if p.count > 1 {
            p.count -= 1;
        } else {
            self.packets.remove(k);
        }
    }

    /// Whether the packets are as `send` leaves them: in order (by channel, and on
    /// the unordered networks by message too, each distinct message once) and
    /// each at least once. A network decoded from bytes is checked with this.
    pub fn well_formed(&self, kind: NetworkKind) -> bool {
        self.packets.iter().all(|p| p.count >= 1)
            && self.packets.windows(2).all(|w| {
                let (a, b) = (&w[0], &w[1]);
                if kind == NetworkKind::Ordered {
                    (a.src, a.dst) <= (b.src, b.dst)
                } else {
                    (a.src, a.dst, &*a.msg) < (b.src, b.dst, &*b.msg)
                }
            })
    }

    /// The network with its packets replaced (say, renamed by a permutation of
    /// servers), in canonical order again.
    pub fn from_packets(kind: NetworkKind, mut packets: Vec<Packet>) -> Self {
        if kind == NetworkKind::Ordered {
            // Channels in order, each keeping its messages' order.
            packets.sort_by_key(|p| (p.src, p.dst));
        } else {
            packets.sort_by(|a, b| (a.src, a.dst, &a.msg).cmp(&(b.src, b.dst, &b.msg)));
        }
        Network { packets }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use raft_model::{RequestVoteReply, Term};

    fn reply(term: Term) -> Msg {
        Msg::RequestVoteReply(RequestVoteReply {
            term,
            vote_granted: true,
        })
    }

    fn id(i: usize) -> Id {
        Id::from(i)
    }

    #[test]
    fn sending_order_does_not_matter_on_unordered_networks() {
        let kind = NetworkKind::Unordered;
        let (mut a, mut b) = (Network::default(), Network::default());
        a.send(kind, id(0), id(1), &Shared::new(reply(1)));
        a.send(kind, id(2), id(1), &Shared::new(reply(2)));
        a.send(kind, id(0), id(1), &Shared::new(reply(1)));
        b.send(kind, id(2), id(1), &Shared::new(reply(2)));
        b.send(kind, id(0), id(1), &Shared::new(reply(1)));
        b.send(kind, id(0), id(1), &Shared::new(reply(1)));
        assert_eq!(a, b);
        assert_eq!(a.len(), 3);
        assert_eq!(a.packets().len(), 2);
        let one = Shared::new(reply(1));
        for _ in 0..2 {
            let at = a.deliverable_at(kind, id(0), id(1), &one);
            a.take_at(at.expect("in flight"));
        }
        assert_eq!(a.deliverable_at(kind, id(0), id(1), &one), None);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn a_packet_found_by_its_address_is_where_a_copy_of_its_message_is_found() {
        for kind in [
            NetworkKind::Ordered,
            NetworkKind::Unordered,
            NetworkKind::Duplicating,
        ] {
            let mut a = Network::default();
            for (from, term) in [(0, 2), (0, 1), (2, 3), (0, 1), (2, 1)] {
                a.send(kind, id(from), id(1), &Shared::new(reply(term)));
            }
            for (k, p) in a.packets().iter().enumerate() {
                let copy = Shared::new((*p.msg).clone());
                let by_address = a.deliverable_at(kind, p.src, p.dst, &p.msg);
                assert_eq!(by_address, a.deliverable_at(kind, p.src, p.dst, &copy));
                assert_eq!(
                    by_address.is_some(),
                    kind != NetworkKind::Ordered || a.heads(k)
                );
                // Named by address but sent the other way: not this packet.
                assert_eq!(a.deliverable_at(kind, p.dst, p.src, &p.msg), None);
            }
        }
    }

    #[test]
    fn the_duplicating_network_holds_a_message_once() {
        let kind = NetworkKind::Duplicating;
        let mut a = Network::default();
        a.send(kind, id(0), id(1), &Shared::new(reply(1)));
        a.send(kind, id(0), id(1), &Shared::new(reply(1)));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn the_ordered_network_delivers_each_channel_head_first() {
        let kind = NetworkKind::Ordered;
        let mut a = Network::default();
        a.send(kind, id(0), id(1), &Shared::new(reply(2)));
        a.send(kind, id(0), id(1), &Shared::new(reply(1)));
        a.send(kind, id(2), id(1), &Shared::new(reply(3)));
        let heads: Vec<&Msg> = a.deliverable(kind).map(|p| &*p.msg).collect();
        assert_eq!(heads, vec![&reply(2), &reply(3)]);
        let (one, two) = (Shared::new(reply(1)), Shared::new(reply(2)));
        let head = a.deliverable_at(kind, id(0), id(1), &two);
        assert_eq!(
            a.deliverable_at(kind, id(0), id(1), &one),
            None,
            "not the head"
        );
        a.take_at(head.expect("the head"));
        assert!(a.deliverable_at(kind, id(0), id(1), &one).is_some());
    }
}

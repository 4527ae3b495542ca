//! The small bound sets the equivalence and memo tests explore: each network,
//! losses, crashes, 1, 2 and 4 servers, 2 clients.

use raft_checks::bounds::{Bounds, NetworkKind};

pub fn small() -> Bounds {
    Bounds {
        ops_per_client: 1,
        max_term: 2,
        max_log: 1,
        crashes: 0,
        ..Bounds::default()
    }
}

/// The bound sets: each network, losses, a crash, 1, 2 and 4 servers, 2 clients;
/// each small enough for the old model to explore without symmetry in seconds.
pub fn bound_sets() -> Vec<(&'static str, Bounds)> {
    vec![
        ("unordered, 3 servers", small()),
        (
            "ordered",
            Bounds {
                network: NetworkKind::Ordered,
                ..small()
            },
        ),
        (
            "duplicating",
            Bounds {
                network: NetworkKind::Duplicating,
                max_in_flight: 8,
                ..small()
            },
        ),
        (
            "lossy, 2 servers",
            Bounds {
                servers: 2,
                lossy: true,
                max_log: 2,
                max_in_flight: 2,
                ..small()
            },
        ),
        (
            "a crash",
            Bounds {
                max_term: 1,
                crashes: 1,
                ..small()
            },
        ),
        (
            "1 server",
            Bounds {
                servers: 1,
                max_term: 3,
                max_log: 2,
                ops_per_client: 2,
                crashes: 1,
                ..small()
            },
        ),
        (
            "2 servers, a crash",
            Bounds {
                servers: 2,
                crashes: 1,
                ..small()
            },
        ),
        (
            "4 servers",
            Bounds {
                servers: 4,
                max_term: 1,
                max_in_flight: 4,
                ..small()
            },
        ),
        (
            "2 clients",
            Bounds {
                clients: 2,
                max_term: 1,
                ..small()
            },
        ),
    ]
}

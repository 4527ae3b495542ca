//! Identities from the operating system's randomness (`getrandom`): client ids,
//! cluster ids and request nonces must not repeat across processes, which a
//! generator seeded from the clock and thread cannot promise. Jitter and fault
//! dice stay with `fastrand`: they need speed, not uniqueness.

/// 64 random bits from the operating system. If the OS cannot give any (it
/// always can on Linux after boot), the process stops rather than risk an id
/// that another process also draws.
pub fn u64() -> u64 {
    match getrandom::u64() {
        Ok(v) => v,
        Err(e) => panic!("the operating system gives no random bytes ({e})"),
    }
}

/// A random cluster id (never [`crate::wire::ANY_CLUSTER`]).
pub fn cluster_id() -> u64 {
    loop {
        let v = u64();
        if v != crate::wire::ANY_CLUSTER {
            return v;
        }
    }
}

use super::*;

#[test]
fn random_in_stays_in_range_and_varies() {
    let r = Duration::from_millis(300)..Duration::from_millis(600);
    let draws: Vec<Duration> = (0..1000).map(|_| random_in(&r)).collect();
    assert!(draws.iter().all(|d| r.contains(d)));
    let (lo, hi) = (draws.iter().min().unwrap(), draws.iter().max().unwrap());
    assert!(
        *hi - *lo > Duration::from_millis(200),
        "not spread: {lo:?}..{hi:?}"
    );
    let fixed = Duration::from_micros(200)..Duration::from_micros(200);
    assert_eq!(random_in(&fixed), fixed.start);
}

#[test]
fn bad_configurations_are_refused_before_touching_disk() {
    let dir = std::env::temp_dir().join(format!("raftlab-node-cfg-{}", fastrand::u64(..)));
    let a: SocketAddr = ([127, 0, 0, 1], 1).into();
    let cfg = |index, peers: Vec<SocketAddr>| NodeConfig {
        snapshot_interval: 0,
        index,
        peers,
        data_dir: dir.clone(),
        faults: Faults::none(),
        verbose: false,
        trace: None,
        host_fault: None,
        cluster_id: None,
        secret: None,
    };
    for c in [cfg(0, vec![a, a]), cfg(3, vec![a]), cfg(0, vec![])] {
        assert!(matches!(Node::start(c), Err(NodeError::Config(_))));
    }
    assert!(!dir.exists());
}

//! Model checks with small bounds and their exact outcome. Run in release mode
//! (`cargo test --release`): debug builds are ~20x slower.

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::checker::{check, Report, RunOptions, Status, Strategy};
use raft_checks::properties::{
    ELECTION_SAFETY, LOGS_DIVERGE, SNAPSHOT_INSTALLED, SNAPSHOT_RESTART, SNAPSHOT_TAKEN,
    STALE_REPLY, SUFFIX_REPLACED,
};
use raft_model::coverage::Decision;
use raft_model::{Mutant, MutantSet};

fn opts() -> RunOptions {
    RunOptions {
        threads: 2,
        ..RunOptions::default()
    }
}

/// One operation, so that logs of one entry still let the client finish.
fn small() -> Bounds {
    Bounds {
        ops_per_client: 1,
        max_term: 2,
        max_log: 2,
        crashes: 0,
        ..Bounds::default()
    }
}

/// Exhaustive, nothing violated, everything witnessed but perhaps divergent logs,
/// their repair and a stale reply after a new election (without a crash, the small
/// bounds below do not reach them all: `raftlab check --ops 1 --max-term 2
/// --max-log 2 --crashes 0` witnesses no divergence).
fn assert_safe(r: &Report, floor: usize) {
    for p in &r.properties {
        assert!(
            matches!(p.status, Status::Holds | Status::Witnessed)
                || [LOGS_DIVERGE, SUFFIX_REPLACED, STALE_REPLY].contains(&p.name),
            "{}: {:?}",
            p.name,
            p.status
        );
    }
    assert!(r.exhaustive, "not exhaustive: {:?}", r.incomplete);
    assert!(r.unique_states > floor, "only {} states", r.unique_states);
}

fn assert_proved(r: &Report, floor: usize) {
    for p in &r.properties {
        assert!(
            matches!(p.status, Status::Holds | Status::Witnessed),
            "{}: {:?}",
            p.name,
            p.status
        );
    }
    assert!(r.exhaustive, "not exhaustive: {:?}", r.incomplete);
    assert!(
        r.unique_states > floor,
        "only {} states: the model is too small to mean much",
        r.unique_states
    );
    assert_eq!(r.exit_code(), 0);
}

#[test]
fn the_default_check_is_proved_and_witnesses_divergence_and_rejoining() {
    let r = check(&Bounds::default(), &opts());
    assert_proved(&r, 5_000_000);
    for name in [
        LOGS_DIVERGE,
        "A server recovers and rejoins",
        SUFFIX_REPLACED,
        STALE_REPLY,
    ] {
        assert!(
            r.properties
                .iter()
                .any(|p| p.name == name && p.status == Status::Witnessed),
            "{name}"
        );
    }
    // Coverage: every decision of the handlers but the few README "Coverage"
    // names (tests/coverage.rs shows which checks take those).
    for d in r.coverage.unreached() {
        assert!(
            NOT_IN_DEFAULT
                .iter()
                .any(|n| format!("{n:?}") == d.decision),
            "the default check never took {} ({})",
            d.decision,
            d.text
        );
    }
    for d in [
        Decision::AppendTruncatedSuffix,
        Decision::AppendAllPresentLongerLog,
        Decision::VoteReplyStaleTerm,
        Decision::AppendReplyStaleTerm,
        Decision::LeaderWaitsForCurrentTerm,
        Decision::ApplySkipsDuplicate,
        Decision::ClientOldRequestIgnored,
    ] {
        assert!(r.coverage.count(d) > 0, "{d:?}");
    }
}

/// What the default check cannot reach, and why (README "Coverage").
const NOT_IN_DEFAULT: [Decision; 8] = [
    // Only the duplicating network delivers a RequestVote (or its reply) twice.
    Decision::VoteGrantedAgain,
    Decision::VoteReplyDuplicate,
    // With three servers the first vote granted makes a majority.
    Decision::VoteCounted,
    // A defensive branch: no correct step leaves a timer of another role set.
    Decision::TimerLapsed,
    // Two stale entries on a follower replaced by fewer (a third term, or two
    // clients), or a follower's entry of a term the new leader never had (a fourth
    // term: tests/coverage.rs): more than the default allows (README "Coverage").
    Decision::AppendTruncatedLongerSuffix,
    Decision::BackoffToConflictIndex,
    // A follower's entry of a term between two leaders' terms: a third term.
    Decision::AppendConflictingPrev,
    Decision::BackoffPastLeadersTerm,
];
/// With snapshots at any moment (`--snapshots`), within small bounds with a crash:
/// exhaustive, every property holds, and a server compacts its log, a follower
/// installs a leader's snapshot and a server restarts from one.
#[test]
fn snapshots_are_safe_and_every_way_of_using_one_is_reached() {
    let b = Bounds {
        snapshots: true,
        crashes: 1,
        ..small()
    };
    let r = check(&b, &opts());
    assert_safe(&r, 200_000);
    for name in [SNAPSHOT_TAKEN, SNAPSHOT_INSTALLED, SNAPSHOT_RESTART] {
        assert!(
            r.properties
                .iter()
                .any(|p| p.name == name && p.status == Status::Witnessed),
            "{name}"
        );
    }
    // The same bounds without snapshots reach fewer states: the snapshot steps
    // are explored, not only allowed.
    let plain = check(
        &Bounds {
            snapshots: false,
            ..b
        },
        &opts(),
    );
    assert!(plain.unique_states < r.unique_states);
}

#[test]
fn small_bounds_are_safe() {
    assert_safe(&check(&small(), &opts()), 5_000);
}

#[test]
fn one_two_and_four_servers_are_allowed() {
    for servers in [1, 2] {
        let b = Bounds {
            servers,
            max_in_flight: 3,
            ..small()
        };
        let r = check(&b, &opts());
        assert_proved(&r, 30);
        assert!(
            r.properties.iter().all(|p| p.name != "Logs diverge"),
            "never possible below 3 servers"
        );
    }
    let b = Bounds {
        servers: 4,
        max_term: 2,
        max_log: 1,
        max_in_flight: 4,
        ..small()
    };
    assert_safe(&check(&b, &opts()), 10_000);
}

#[test]
fn the_other_networks_are_proved_too() {
    let b = Bounds {
        network: NetworkKind::Ordered,
        ..small()
    };
    assert_safe(&check(&b, &opts()), 2_000);
    // On the duplicating network every message ever sent stays deliverable.
    let b = Bounds {
        network: NetworkKind::Duplicating,
        max_term: 2,
        max_log: 1,
        max_in_flight: 12,
        ..small()
    };
    assert_safe(&check(&b, &opts()), 50_000);
}

/// stateright's own Raft example never saves its storage: after a crash a server
/// votes a second time in the same term and two leaders are elected. Ours persists
/// votedFor: the same bounds hold, and only the mutant that forgets fails.
#[test]
fn a_restarted_server_does_not_vote_twice_in_a_term() {
    let b = Bounds {
        max_term: 1,
        max_log: 1,
        crashes: 1,
        max_in_flight: 4,
        ..Bounds::default()
    };
    let r = check(&b, &opts());
    assert!(
        r.violated().is_empty(),
        "{:?}",
        r.violated().iter().map(|p| p.name).collect::<Vec<_>>()
    );
    assert!(r.exhaustive);

    let mutant = Bounds {
        mutants: MutantSet::NONE.with(Mutant::ForgetVotedFor),
        ..b
    };
    let r = check(&mutant, &opts());
    let v = r.violated();
    let es = v
        .iter()
        .find(|p| p.name == ELECTION_SAFETY)
        .expect("Election Safety must fail");
    let steps = es.counterexample.as_ref().map_or(0, |c| c.len());
    assert!(
        steps > 0 && steps <= 14,
        "shortest counterexample has {steps} steps"
    );
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn a_depth_limited_run_is_never_called_exhaustive() {
    let r = check(
        &small(),
        &RunOptions {
            max_depth: Some(5),
            ..opts()
        },
    );
    assert!(!r.exhaustive);
    assert_eq!(r.exit_code(), 3);
    let r = check(
        &small(),
        &RunOptions {
            strategy: Strategy::Simulation,
            timeout: Some(std::time::Duration::from_millis(300)),
            ..opts()
        },
    );
    assert!(!r.exhaustive);
}

#[test]
fn breadth_first_and_without_symmetry_agree_with_the_default() {
    let b = small();
    let dfs = check(&b, &opts());
    let bfs = check(
        &b,
        &RunOptions {
            strategy: Strategy::Bfs,
            ..opts()
        },
    );
    let plain = check(
        &b,
        &RunOptions {
            symmetry: false,
            ..opts()
        },
    );
    assert_safe(&dfs, 100);
    assert_safe(&bfs, 100);
    assert_eq!(
        bfs.unique_states, plain.unique_states,
        "bfs never uses symmetry"
    );
    assert!(
        dfs.unique_states < plain.unique_states,
        "symmetry reduces the state space"
    );
}

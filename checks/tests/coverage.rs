//! Coverage of the server's handlers, as TLC reports it: the default check takes
//! every decision but the few the README names (tests/model_check.rs), and small
//! checks take those, or, for a defensive branch, only a bug does.

use raft_checks::bounds::{Bounds, NetworkKind};
use raft_checks::checker::catalogue::case;
use raft_checks::checker::{check, Report, RunOptions};
use raft_model::coverage::Decision;
use raft_model::{Mutant, MutantSet};

fn run(b: &Bounds) -> Report {
    let opts = RunOptions {
        threads: 2,
        ..RunOptions::default()
    };
    check(b, &opts)
}

fn small() -> Bounds {
    Bounds {
        max_term: 1,
        max_log: 1,
        ops_per_client: 1,
        crashes: 0,
        ..Bounds::default()
    }
}

#[test]
fn small_checks_take_the_decisions_the_default_check_cannot() {
    let duplicating = |servers| Bounds {
        servers,
        network: NetworkKind::Duplicating,
        max_in_flight: 10,
        ..small()
    };
    let r = run(&duplicating(3));
    assert!(r.coverage.count(Decision::VoteGrantedAgain) > 0);
    let r = run(&duplicating(4));
    assert!(r.coverage.count(Decision::VoteReplyDuplicate) > 0);
    let r = run(&Bounds {
        servers: 4,
        max_in_flight: 4,
        ..small()
    });
    assert!(r.coverage.count(Decision::VoteCounted) > 0);
    // A server that grants a vote it must not (double-vote) sets an election timer
    // as leader; in a correct run that branch is never taken.
    let bug = case(Mutant::DoubleVote).expect("in the catalogue").bounds;
    let r = run(&bug);
    assert!(r.coverage.count(Decision::TimerLapsed) > 0);
    let r = run(&Bounds {
        mutants: MutantSet::NONE,
        ..bug
    });
    assert_eq!(r.coverage.count(Decision::TimerLapsed), 0);
}

/// The default's two terms cannot give a follower an entry of a term between two
/// leaders' terms; a third term does, with one crash and logs of two.
#[test]
fn a_third_term_takes_the_decisions_the_default_check_cannot() {
    let third = Bounds {
        max_term: 3,
        max_log: 2,
        crashes: 1,
        ..Bounds::default()
    };
    let between_terms = [
        Decision::AppendConflictingPrev,
        Decision::BackoffPastLeadersTerm,
    ];
    let r = run(&third);
    assert!(r.exhaustive);
    for d in between_terms {
        assert!(r.coverage.count(d) > 0, "{d:?} never reached");
    }
    let two = run(&Bounds {
        max_term: 2,
        ..third
    });
    for d in between_terms {
        assert_eq!(two.coverage.count(d), 0, "{d:?} reached in two terms");
    }
}

/// A follower's conflicting entry of a term the new leader never had (the
/// backoff to its first index, `XIndex`) needs a fourth term, or a third and a
/// fourth message in flight; the fourth term is the cheaper, even with logs of one.
#[test]
fn a_fourth_term_backs_off_to_the_conflict_index() {
    let r = run(&Bounds {
        max_term: 4,
        max_log: 1,
        crashes: 1,
        ops_per_client: 1,
        ..Bounds::default()
    });
    assert!(r.exhaustive);
    assert!(r.coverage.count(Decision::BackoffToConflictIndex) > 0);
}

/// With snapshots at any moment, a small check takes every snapshot decision (a
/// snapshot taken and not, sent, refused, ignored, installed keeping or dropping
/// the log, an AppendEntries reaching into or below the snapshot); without
/// snapshots no report lists them, so they are never shown as gaps of a check
/// that cannot take them.
#[test]
fn a_small_check_with_snapshots_takes_every_snapshot_decision() {
    let with = Bounds {
        snapshots: true,
        max_term: 2,
        max_log: 2,
        crashes: 0,
        ..Bounds::default()
    };
    let r = run(&with);
    let snapshot_decisions: Vec<Decision> = Decision::ALL
        .iter()
        .copied()
        .filter(|d| d.needs_snapshots())
        .collect();
    assert!(snapshot_decisions.len() >= 9, "{snapshot_decisions:?}");
    for d in &snapshot_decisions {
        assert!(r.coverage.count(*d) > 0, "{d:?} never reached");
    }
    let without = run(&Bounds {
        snapshots: false,
        ..with
    });
    for d in &snapshot_decisions {
        let name = format!("{d:?}");
        assert!(
            !without
                .coverage
                .decisions
                .iter()
                .any(|r| r.decision == name),
            "{name} listed by a check without snapshots"
        );
    }
    assert_eq!(
        without.coverage.decisions.len() + snapshot_decisions.len(),
        r.coverage.decisions.len()
    );
}

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

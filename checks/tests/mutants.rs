//! Every mutant is caught, with the property it is known to break, and the correct
//! model passes the same bounds. One test per mutant, so a failure names the bug.

use raft_checks::checker::catalogue::case;
use raft_checks::checker::mutants::run;
use raft_model::Mutant;

fn caught_with_its_property(m: Mutant) {
    let c = case(m).expect("every mutant is in the catalogue");
    // One thread per check: the harness runs a test per core already.
    let row = run(&c, 1);
    assert!(
        row.baseline_holds,
        "{m}: the correct model fails at the same bounds"
    );
    assert!(row.caught, "{m} escaped");
    assert_eq!(row.property, Some(c.expected), "{m}: violated property");
    let steps = row.length.unwrap_or(0);
    assert!(
        steps > 0 && steps == row.counterexample.len(),
        "{m}: counterexample of {steps} steps"
    );
    assert!(row.shortest, "{m}: the counterexample is a shortest one");
}

#[test]
fn catalogue_covers_every_mutant() {
    for m in Mutant::ALL {
        assert!(case(m).is_some(), "{m} has no bounds in the catalogue");
    }
}

#[test]
fn no_election_restriction() {
    caught_with_its_property(Mutant::NoElectionRestriction);
}
// commit-old-term (Figure 8) is tested through the CLI in explorer.rs, which
// also opens its counterexample in a browser: its search takes two minutes, so
// it runs once.
#[test]
fn forget_voted_for() {
    caught_with_its_property(Mutant::ForgetVotedFor);
}
#[test]
fn forget_current_term() {
    caught_with_its_property(Mutant::ForgetCurrentTerm);
}
#[test]
fn double_vote() {
    caught_with_its_property(Mutant::DoubleVote);
}
#[test]
fn truncate_on_stale_append() {
    caught_with_its_property(Mutant::TruncateOnStaleAppend);
}
#[test]
fn small_quorum() {
    caught_with_its_property(Mutant::SmallQuorum);
}
#[test]
fn no_step_down() {
    caught_with_its_property(Mutant::NoStepDown);
}
#[test]
fn commit_past_match() {
    caught_with_its_property(Mutant::CommitPastMatch);
}
#[test]
fn no_dedup() {
    caught_with_its_property(Mutant::NoDedup);
}
#[test]
fn local_read() {
    caught_with_its_property(Mutant::LocalRead);
}
#[test]
fn snapshot_past_commit() {
    caught_with_its_property(Mutant::SnapshotPastCommit);
}
#[test]
fn discard_log_on_install() {
    caught_with_its_property(Mutant::DiscardLogOnInstall);
}
#[test]
fn install_older_snapshot() {
    caught_with_its_property(Mutant::InstallOlderSnapshot);
}
#[test]
fn forget_snapshot_metadata() {
    caught_with_its_property(Mutant::ForgetSnapshotMetadata);
}
#[test]
fn send_entries_before_snapshot() {
    caught_with_its_property(Mutant::SendEntriesBeforeSnapshot);
}
#[test]
fn snapshot_wrong_term() {
    caught_with_its_property(Mutant::SnapshotWrongTerm);
}

/// The catalogue run side by side gives each mutant the row it gets alone, in the
/// catalogue's order, and reports each row once. No election restriction and
/// truncate-on-stale-append share their bounds, so they share one check of the
/// correct model.
#[test]
fn side_by_side_rows_are_the_rows_of_one_by_one() {
    use raft_checks::checker::mutant_pool::run_all;
    use std::sync::Mutex;
    let picked = [
        Mutant::TruncateOnStaleAppend,
        Mutant::ForgetCurrentTerm,
        Mutant::NoElectionRestriction,
    ];
    let cases: Vec<_> = picked.iter().filter_map(|&m| case(m)).collect();
    assert_eq!(cases.len(), picked.len());
    let heard = Mutex::new(Vec::new());
    let rows = run_all(&cases, 2, None, |r| {
        if let Ok(mut h) = heard.lock() {
            h.push(r.mutant);
        }
    });
    let names: Vec<_> = rows.iter().map(|r| r.mutant).collect();
    let expected: Vec<_> = picked.iter().map(|m| m.name()).collect();
    assert_eq!(names, expected, "rows in the order of the cases");
    let mut heard = heard.into_inner().unwrap_or_default();
    heard.sort_unstable();
    let mut once = expected.clone();
    once.sort_unstable();
    assert_eq!(heard, once, "each row reported once");
    // The two at the same bounds were judged against one check of the correct
    // model: the same measured time, to the bit.
    let (a, b) = (&rows[0], &rows[2]);
    assert_eq!(a.bounds.max_term, b.bounds.max_term);
    assert_eq!(
        a.baseline_s.to_bits(),
        b.baseline_s.to_bits(),
        "one shared check of the correct model"
    );
    assert_ne!(rows[1].baseline_s.to_bits(), a.baseline_s.to_bits());
    for (c, together) in cases.iter().zip(&rows) {
        let alone = run(c, 1);
        let m = c.mutant;
        assert!(together.caught && together.baseline_holds, "{m} not caught");
        assert_eq!(together.property, alone.property, "{m}: property");
        assert_eq!(together.length, alone.length, "{m}: steps");
        assert_eq!(together.states, alone.states, "{m}: states");
        assert_eq!(together.shortest, alone.shortest, "{m}: shortest");
    }
}

//! The incremental judge and the replay by changes agree with the registry's
//! functions on whole states, on every fixture, on simulated runs with faults,
//! and on simulated runs of a broken host that break Raft's properties. The
//! streamed check (merging while it judges, as `trace check` runs) reports the
//! same as the check of the merged order, on all of them.

use raft_checks::trace::check::{check_streamed, check_with, CheckOptions, Report};
use raft_checks::trace::load::load;
use raft_checks::trace::merge::merge;
use raft_checks::trace::synth::{synthesize, SynthOptions};
use std::path::Path;
use std::time::Duration;

/// A rule's name, count, failures and first failure (actor, line).
type RuleSummary = (String, u64, u64, Option<(String, usize)>);

fn summary(r: &Report) -> Vec<RuleSummary> {
    r.rules
        .iter()
        .map(|x| {
            (
                x.rule.to_string(),
                x.checked,
                x.failures,
                x.first.as_ref().map(|f| (f.node.clone(), f.line)),
            )
        })
        .collect()
}

fn both(dir: &Path) -> (Report, Report) {
    let run = load(dir).unwrap_or_else(|e| panic!("{e}"));
    let merged = merge(&run);
    let fast = check_with(&run, &merged, CheckOptions::default(), None);
    let full = check_with(&run, &merged, CheckOptions { full_judge: true }, None);
    let mut events = 0;
    let streamed = check_streamed(
        &run,
        CheckOptions::default(),
        Some(&mut |done, total| {
            assert!(done <= total);
            events = total;
        }),
    );
    assert_eq!(events, merged.order.len(), "progress counts every event");
    assert_eq!(
        comparable(&streamed),
        comparable(&fast),
        "{}",
        dir.display()
    );
    (fast, full)
}

/// A report in full but for the time it took: rules, notes, first failures.
fn comparable(r: &Report) -> serde_json::Value {
    let mut v = serde_json::to_value(r).expect("a report encodes");
    if let Some(o) = v.as_object_mut() {
        o.remove("seconds");
    }
    v
}

#[test]
fn the_judges_agree_on_the_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces");
    for e in std::fs::read_dir(&fixtures).expect("traces/") {
        let dir = e.expect("entry").path();
        if dir.is_dir() {
            let (fast, full) = both(&dir);
            assert_eq!(summary(&fast), summary(&full), "{}", dir.display());
            assert!(fast.ok && fast.decided, "{}", dir.display());
        }
    }
}

#[test]
fn simulated_runs_with_faults_check_out_and_the_judges_agree() {
    let mut installs = 0;
    for seed in 1..=6 {
        let tmp = tempfile::tempdir().expect("temp dir");
        let o = SynthOptions {
            steps: 4000,
            seed,
            drop: 0.05,
            duplicate: 0.05,
            kill_every: Some(Duration::from_millis(700)),
            // Half the runs snapshot often, so followers install snapshots and
            // servers restart from them.
            snapshot_interval: if seed % 2 == 0 { 40 } else { 0 },
            ..SynthOptions::default()
        };
        let s = synthesize(tmp.path(), &o).expect("simulate");
        assert!(s.operations > 0 && s.kills > 0, "{s:?}");
        if o.snapshot_interval > 0 {
            let nodes: String = (1..=3)
                .map(|i| {
                    let f = tmp.path().join(format!("node-{i}.jsonl"));
                    std::fs::read_to_string(f).expect("read")
                })
                .collect();
            // A snapshot point in a log delta, and a snapshot sent.
            assert!(nodes.contains("\"snapshot\":{\"index\""), "seed {seed}");
            installs += usize::from(nodes.contains("InstallSnapshot"));
        }
        let (fast, full) = both(tmp.path());
        assert_eq!(summary(&fast), summary(&full), "seed {seed}");
        let broken: Vec<_> = fast
            .rules
            .iter()
            .filter(|r| !r.ok())
            .map(|r| &r.first)
            .collect();
        assert!(fast.ok && fast.decided, "seed {seed}: {broken:#?}");
    }
    assert!(installs > 0, "no simulated run sent a snapshot");
}

#[test]
fn a_host_that_forgets_its_storage_breaks_raft_and_both_judges_say_where() {
    let mut broke = 0;
    for seed in 1..=8 {
        let tmp = tempfile::tempdir().expect("temp dir");
        let o = SynthOptions {
            steps: 5000,
            seed,
            kill_every: Some(Duration::from_millis(400)),
            forget_on_restart: true,
            snapshot_interval: if seed % 2 == 0 { 40 } else { 0 },
            ..SynthOptions::default()
        };
        synthesize(tmp.path(), &o).expect("simulate");
        let (fast, full) = both(tmp.path());
        assert_eq!(summary(&fast), summary(&full), "seed {seed}");
        let invariants: Vec<&str> = raft_checks::properties::server_invariants()
            .iter()
            .map(|(n, _)| *n)
            .collect();
        let broken: Vec<&str> = fast
            .rules
            .iter()
            .filter(|r| !r.ok() && invariants.contains(&r.rule))
            .map(|r| r.rule)
            .collect();
        eprintln!("seed {seed}: broken {broken:?}");
        if !broken.is_empty() {
            broke += 1;
        }
    }
    assert!(broke > 0, "no run of a forgetting host broke a property");
}

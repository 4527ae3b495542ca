//! Traces: recorded runs of real clusters are behaviours of the model, and the
//! validator is not vacuous (each way of breaking the host, the trace files or Raft
//! itself makes it fail with the rule that was broken).
//!
//! Real clusters run as `raftlab trace record` processes (nodes are separate
//! processes, each with a hard time limit); the rest works on files in process.

mod common;
use common::{free_addr, http, raftlab, KillOnDrop};
use raft_checks::trace::check::{
    check, Report, MESSAGES, REPLAY, RESTART, SAVE_BEFORE_SEND, TIMERS,
};
use raft_checks::trace::load::load;
use raft_checks::trace::merge::merge;
use raft_checks::trace::show::{svg, ShowOptions};
use raft_model::trace::{
    ActorConfig, Event, LogChain, Record, Start, StoredState, TraceCommand, TraceState, FORMAT,
};
use raft_model::{
    Id, Msg, PersistentState, RaftActor, RaftState, ServerConfig, ServerState, Timer,
};
use stateright::actor::{Actor, Out};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// `raftlab trace record` into a fresh directory; returns (exit code, report, dir).
fn record(args: &[&str]) -> (Option<i32>, serde_json::Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("trace");
    let trace_s = trace.display().to_string();
    let mut all = vec!["trace", "record", trace_s.as_str(), "--json", "--ops", "2"];
    all.extend_from_slice(args);
    let (code, out, err) = raftlab(&all, Duration::from_secs(60));
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("no JSON report ({e}): {out}\n{err}"));
    (code, report, dir)
}

fn rule<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["rules"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["rule"] == name))
        .unwrap_or_else(|| panic!("no rule {name} in {report:#}"))
}

fn assert_holds(report: &Report) {
    let broken: Vec<String> = report
        .rules
        .iter()
        .filter(|r| !r.ok() || r.undecided)
        .map(|r| format!("{}: {:?}", r.rule, r.first))
        .collect();
    assert!(broken.is_empty(), "{}: {broken:#?}", report.dir);
    assert!(report.ok && report.decided);
}

fn checked(report: &Report, name: &str) -> u64 {
    report
        .rules
        .iter()
        .find(|r| r.rule == name)
        .map_or(0, |r| r.checked)
}

#[test]
fn the_recorded_fixtures_are_behaviours_of_the_model() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(fixtures()).expect("traces/ exists") {
        let dir = entry.expect("entry").path();
        if !dir.is_dir() {
            continue;
        }
        let run = load(&dir).unwrap_or_else(|e| panic!("{e}"));
        let report = check(&run);
        assert_holds(&report);
        // Each fixture shows what its name says, so it keeps testing that.
        let name = dir.file_name().map(|n| n.to_string_lossy().to_string());
        let name = name.unwrap_or_default();
        assert!(report.steps >= 100, "{name}: {} steps", report.steps);
        assert!(checked(&report, raft_checks::properties::LINEARIZABILITY) >= 4);
        let note = |rule: &str| {
            report
                .rules
                .iter()
                .find(|r| r.rule == rule)
                .map(|r| r.note.clone())
                .unwrap_or_default()
        };
        if name.contains("kill") {
            assert!(report.crashes >= 1 && report.restarts >= 1, "{name}");
        }
        if name.contains("loss") {
            assert!(!note(MESSAGES).ends_with(" 0 lost"), "{name}");
        }
        if name.contains("dup") {
            assert!(!note(MESSAGES).starts_with("0 duplicated"), "{name}");
        }
        if name.contains("snapshot") {
            // A follower caught up by a leader's snapshot.
            let installs = run
                .files
                .iter()
                .flat_map(|f| f.lines.iter())
                .filter(|l| {
                    matches!(
                        &l.rec.event,
                        Event::Deliver {
                            msg: Msg::InstallSnapshot(_),
                            ..
                        }
                    )
                })
                .count();
            assert!(installs >= 1, "{name}: no InstallSnapshot delivered");
            // And `trace explore` follows it as a path of the model.
            let path = raft_checks::trace::explore::path(&run, &merge(&run));
            assert!(path.is_ok(), "{name}: {:?}", path.err());
        }
        if name.contains("partition") {
            // The cut-off leader's messages are dropped by the others.
            assert!(!note(MESSAGES).ends_with(" 0 lost"), "{name}");
        }
        seen.push(name);
    }
    seen.sort();
    assert!(seen.len() >= 3, "fixtures: {seen:?}");
}

#[test]
fn a_real_run_with_a_leader_kill_and_message_loss_checks_out() {
    let (code, report, _dir) = record(&["--kill-leader", "--drop", "0.05"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["ok"], true);
    assert!(report["crashes"].as_u64() >= Some(1));
    assert!(rule(&report, REPLAY)["checked"].as_u64() >= Some(100));
    assert!(rule(&report, MESSAGES)["note"]
        .as_str()
        .is_some_and(|n| !n.ends_with(" 0 lost")));
}

/// Each test-only host fault is caught, first, by the rule it breaks.
fn host_fault_is_caught(fault: &str, scenario: &[&str], expected_rule: &str) {
    let mut args = vec!["--host-fault", fault];
    args.extend_from_slice(scenario);
    let (code, report, _dir) = record(&args);
    assert_eq!(code, Some(1), "{fault}: {report:#}");
    assert_eq!(report["ok"], false);
    let first = &report["first_failure"];
    assert_eq!(first["rule"], expected_rule, "{fault}: {first:#}");
    assert!(rule(&report, expected_rule)["failures"].as_u64() >= Some(1));
    for key in ["node", "step", "file", "line", "expected", "recorded"] {
        assert!(!first[key].is_null(), "{fault}: the failure lacks {key}");
    }
}

#[test]
fn sending_before_the_save_is_durable_is_caught() {
    host_fault_is_caught("send-before-save", &[], SAVE_BEFORE_SEND);
}

#[test]
fn restarting_from_empty_storage_is_caught() {
    host_fault_is_caught("restart-empty", &["--kill-follower"], RESTART);
}

#[test]
fn restarting_from_a_storage_one_save_older_is_caught() {
    host_fault_is_caught("restart-older-save", &["--kill-follower"], RESTART);
}

#[test]
fn a_delivered_message_with_a_flipped_field_is_caught() {
    host_fault_is_caught("flip-message", &[], MESSAGES);
}

#[test]
fn firing_a_cancelled_timer_is_caught() {
    host_fault_is_caught("fire-cancelled-timer", &["--linger", "700ms"], TIMERS);
}

/// A copy of the first fixture, to spoil.
fn copy_fixture() -> (tempfile::TempDir, PathBuf) {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("traces/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    // The spoiling tests name lines of this one.
    let src = dirs
        .into_iter()
        .find(|d| d.ends_with("leader-kill"))
        .expect("the leader-kill fixture");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dst = tmp.path().join("run");
    std::fs::create_dir(&dst).expect("mkdir");
    for e in std::fs::read_dir(&src).expect("fixture") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "jsonl") {
            let to = dst.join(p.file_name().expect("name"));
            std::fs::copy(&p, to).expect("copy");
        }
    }
    (tmp, dst)
}

/// Rewrites the first record of `file` for which `edit` returns true; returns its
/// (1-based) line.
fn spoil(file: &Path, mut edit: impl FnMut(&mut Record) -> bool) -> usize {
    let text = std::fs::read_to_string(file).expect("read");
    let mut out = String::new();
    let mut at = 0;
    for (i, line) in text.lines().enumerate() {
        let mut r: Record = serde_json::from_str(line).expect("record");
        if at == 0 && edit(&mut r) {
            at = i + 1;
            out.push_str(&serde_json::to_string(&r).expect("json"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    std::fs::write(file, out).expect("write");
    assert!(at > 0, "nothing to spoil in {}", file.display());
    at
}

#[test]
fn a_recorded_state_the_model_does_not_reach_is_named_with_its_step() {
    let (_tmp, dir) = copy_fixture();
    let file = dir.join("node-2.jsonl");
    let line = spoil(&file, |r| match &mut r.state {
        Some(TraceState::Server(s)) if matches!(r.event, Event::Deliver { .. }) => {
            s.commit_index += 1;
            s.log.append.push(raft_model::Entry {
                term: s.current_term,
                client: Id::from(1usize << 63),
                seq: 1,
                op: raft_model::Op::Get { key: "x".into() },
            });
            true
        }
        _ => false,
    });
    let report = check(&load(&dir).expect("load"));
    let f = report.first_failure.clone().expect("a failure");
    assert_eq!((f.rule, f.node.as_str(), f.line), (REPLAY, "S2", line));
    assert!(f.expected.contains("commit_index"), "{f:#?}");
    assert!(f.recorded.contains("commit_index"), "{f:#?}");
    // The CLI says the same, and exits 1.
    let (code, out, _) = raftlab(
        &["trace", "check", &dir.display().to_string()],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("first bad record: S2"), "{out}");
    assert!(out.contains(&format!("node-2.jsonl:{line}")), "{out}");
}

#[test]
fn a_delivered_message_nobody_sent_is_named() {
    let (_tmp, dir) = copy_fixture();
    let file = dir.join("node-1.jsonl");
    let line = spoil(&file, |r| match &mut r.event {
        Event::Deliver {
            msg: Msg::RequestVote(m),
            ..
        } => {
            m.term += 100;
            true
        }
        _ => false,
    });
    let report = check(&load(&dir).expect("load"));
    let f = report.first_failure.clone().expect("a failure");
    assert_eq!((f.rule, f.line), (MESSAGES, line), "{f:#?}");
}

#[test]
fn unreadable_traces_name_the_file_and_line_and_exit_2() {
    let (_tmp, dir) = copy_fixture();
    let file = dir.join("node-3.jsonl");
    let text = std::fs::read_to_string(&file).expect("read");
    // Cut the file in the middle of its fifth line.
    let cut: usize = text.lines().take(4).map(|l| l.len() + 1).sum::<usize>() + 10;
    std::fs::write(&file, &text[..cut]).expect("write");
    let e = load(&dir).expect_err("a truncated file");
    assert_eq!(e.line, Some(5), "{e}");
    assert!(e.to_string().contains("node-3.jsonl:5"), "{e}");
    assert!(e.problem.contains("incomplete"), "{e}");
    // Not JSON at all, in the middle of a file.
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "this is not a record";
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let (code, _, err) = raftlab(
        &["trace", "check", &dir.display().to_string()],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("node-3.jsonl:3"), "{err}");
    assert!(err.contains("not a trace record"), "{err}");
    // A record left out: the numbering shows it.
    lines.remove(2);
    lines.remove(2);
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let e = load(&dir).expect_err("a gap");
    assert!(e.problem.contains("missing or out of order"), "{e}");
    // Files are read in parallel, but with two bad files the first in name
    // order is named, as when they were read one after the other.
    let other = dir.join("node-1.jsonl");
    let text1 = std::fs::read_to_string(&other).expect("read");
    let mut lines1: Vec<&str> = text1.lines().collect();
    lines1[1] = "{";
    std::fs::write(&other, lines1.join("\n") + "\n").expect("write");
    for _ in 0..5 {
        let e = load(&dir).expect_err("two bad files");
        assert!(e.to_string().contains("node-1.jsonl:2"), "{e}");
    }
}

/// A synthetic host: drives the model's handlers by hand and records them in the
/// trace format, as the real host would; `restart` chooses what storage to read.
struct Host {
    dir: PathBuf,
    actor: RaftActor,
    states: Vec<Option<RaftState>>,
    storage: Vec<Option<PersistentState>>,
    save_base: Vec<PersistentState>,
    steps: Vec<u64>,
    time: u64,
    lines: Vec<Vec<String>>,
}

impl Host {
    fn new(dir: &Path, n: usize) -> Host {
        Host {
            dir: dir.to_path_buf(),
            actor: RaftActor::Server(ServerConfig::new(n)),
            states: vec![None; n],
            storage: vec![None; n],
            save_base: vec![PersistentState::default(); n],
            steps: vec![0; n],
            time: 1_000_000_000,
            lines: vec![Vec::new(); n],
        }
    }

    fn push(&mut self, i: usize, event: Event, state: Option<TraceState>, out: &Out<RaftActor>) {
        self.time += 1_000_000;
        let out: Vec<TraceCommand> = out
            .iter()
            .filter_map(|c| TraceCommand::encode(c, &mut self.save_base[i], None))
            .collect();
        let is_step = !matches!(event, Event::Flush | Event::Stop);
        let step = if is_step {
            self.steps[i]
        } else {
            self.steps[i] - 1
        };
        let r = Record {
            node: Id::from(i),
            step,
            time_ns: self.time,
            event,
            state,
            out,
        };
        if is_step {
            self.steps[i] += 1;
        }
        self.lines[i].push(serde_json::to_string(&r).expect("json"));
    }

    /// Runs the step's commands: saves durable at once (with a flush record), then
    /// the sends, which the caller delivers as it likes.
    fn finish(&mut self, i: usize, out: Out<RaftActor>) -> Vec<(usize, Msg)> {
        let mut sends = Vec::new();
        let mut saved = false;
        for c in out {
            match c {
                stateright::actor::Command::Save(p) => {
                    self.storage[i] = Some(p);
                    saved = true;
                }
                stateright::actor::Command::Send(dst, m) => sends.push((usize::from(dst), m)),
                _ => {}
            }
        }
        if saved {
            self.push(i, Event::Flush, None, &Out::new());
        }
        sends
    }

    fn start(&mut self, i: usize, storage: Option<PersistentState>) {
        let mut out = Out::new();
        let s = self.actor.on_start(Id::from(i), &storage, &mut out);
        self.save_base[i] = storage.clone().unwrap_or_default();
        let base = RaftState::Server(ServerState::from_storage(storage.as_ref()));
        let event = Event::Start(Box::new(Start {
            format: FORMAT,
            actor: ActorConfig::of(&self.actor),
            storage: storage
                .as_ref()
                .map(|p| StoredState::of(p, &mut LogChain::default())),
            repaired_bytes: 0,
        }));
        self.push(i, event, Some(TraceState::between(Some(&base), &s)), &out);
        self.states[i] = Some(s);
        self.finish(i, out);
    }

    fn handle(
        &mut self,
        i: usize,
        event: Event,
        f: impl FnOnce(&RaftActor, &mut Cow<RaftState>, &mut Out<RaftActor>),
    ) -> Vec<(usize, Msg)> {
        let before = self.states[i].take().expect("started");
        let mut out = Out::new();
        let mut cow = Cow::Borrowed(&before);
        f(&self.actor, &mut cow, &mut out);
        let after = cow.into_owned();
        let state = (after != before).then(|| TraceState::between(Some(&before), &after));
        self.push(i, event, state, &out);
        self.states[i] = Some(after);
        self.finish(i, out)
    }

    fn timeout(&mut self, i: usize, t: Timer) -> Vec<(usize, Msg)> {
        let id = Id::from(i);
        self.handle(i, Event::Timeout { timer: t }, |a, s, o| {
            a.on_timeout(id, s, &t, o)
        })
    }

    fn deliver(&mut self, src: usize, dst: usize, msg: Msg) -> Vec<(usize, Msg)> {
        let id = Id::from(dst);
        let event = Event::Deliver {
            src: Id::from(src),
            msg: msg.clone(),
        };
        self.handle(dst, event, |a, s, o| a.on_msg(id, s, Id::from(src), msg, o))
    }

    fn write(&self) {
        for (i, l) in self.lines.iter().enumerate() {
            let path = self.dir.join(format!("node-{}.jsonl", i + 1));
            std::fs::write(path, l.join("\n") + "\n").expect("write");
        }
    }
}

fn to(sends: &[(usize, Msg)], dst: usize) -> Msg {
    sends
        .iter()
        .find(|(d, _)| *d == dst)
        .map(|(_, m)| m.clone())
        .expect("a message to that server")
}

#[test]
fn a_server_that_forgets_its_vote_lets_two_leaders_win_one_term_and_the_invariants_say_so() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut h = Host::new(tmp.path(), 3);
    for i in 0..3 {
        h.start(i, None);
    }
    // S1 wins term 1 with S2's vote.
    let rv = h.timeout(0, Timer::Election);
    let vote = h.deliver(0, 1, to(&rv, 1));
    h.deliver(1, 0, to(&vote, 0));
    assert_eq!(
        h.states[0]
            .as_ref()
            .and_then(|s| s.server())
            .map(|s| s.role),
        Some(raft_model::Role::Leader)
    );
    // S2 crashes and comes back with nothing (a host that lost its storage), so it
    // votes again in term 1, for S3.
    h.start(1, None);
    let rv3 = h.timeout(2, Timer::Election);
    let vote3 = h.deliver(2, 1, to(&rv3, 1));
    h.deliver(1, 2, to(&vote3, 2));
    h.write();
    let report = check(&load(tmp.path()).expect("load"));
    let first = report.first_failure.clone().expect("a failure");
    assert_eq!((first.rule, first.node.as_str()), (RESTART, "S2"));
    let failed: Vec<&str> = report
        .rules
        .iter()
        .filter(|r| !r.ok())
        .map(|r| r.rule)
        .collect();
    assert_eq!(
        failed,
        vec![RESTART, raft_checks::properties::ELECTION_SAFETY],
        "{report:#?}"
    );
    let es = report
        .rules
        .iter()
        .find(|r| r.rule == raft_checks::properties::ELECTION_SAFETY)
        .and_then(|r| r.first.clone())
        .expect("election safety failure");
    assert_eq!(es.node, "S3");
    assert!(
        es.recorded.contains("term 1 had leaders {S1,S3}"),
        "{es:#?}"
    );
    // Every step still replays: the model does what it is told; the host lied.
    assert_eq!(
        report
            .rules
            .iter()
            .find(|r| r.rule == REPLAY)
            .map(|r| r.failures),
        Some(0)
    );
}

#[test]
fn the_sequence_diagram_shows_servers_messages_crashes_and_leaders() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("traces/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.to_string_lossy().contains("kill"))
        .collect();
    dirs.sort();
    let dir = dirs.first().expect("a fixture with a kill");
    let run = load(dir).expect("load");
    let text = svg(&run, &merge(&run), &ShowOptions::default());
    assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"));
    for s in [
        "S1",
        "S2",
        "S3",
        "leader, term",
        "crash",
        "restart:",
        "marker-end",
    ] {
        assert!(text.contains(s), "the diagram lacks {s}");
    }
    assert!(text.matches("<line").count() > 50);
    // The CLI writes it where asked.
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = tmp.path().join("run.svg");
    let (code, _, err) = raftlab(
        &[
            "trace",
            "show",
            &dir.display().to_string(),
            "-o",
            &out.display().to_string(),
            "--limit",
            "50",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(code, Some(0), "{err}");
    let written = std::fs::read_to_string(&out).expect("written");
    assert!(
        written.contains("<svg") && written.contains("50 of"),
        "{written:.300}"
    );
}

// `raftlab trace explore`: a validated run as a path of the model.

/// The duplicated and lost figures of `trace check`'s message rule.
fn duplicated_and_lost(report: &Report) -> (u64, u64) {
    let note = report
        .rules
        .iter()
        .find(|r| r.rule == MESSAGES)
        .map(|r| r.note.clone())
        .unwrap_or_default();
    let numbers: Vec<u64> = note
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    match numbers.as_slice() {
        [d, l] => (*d, *l),
        _ => panic!("unexpected note {note:?}"),
    }
}

/// Each actor's state after its last record, rebuilt from the files alone.
fn recorded_final_states(dir: &Path) -> Vec<(Id, RaftState)> {
    let run = load(dir).expect("load");
    run.files
        .iter()
        .map(|f| {
            let mut state: Option<RaftState> = None;
            for l in &f.lines {
                let base = match l.rec.event {
                    Event::Start(_) => None,
                    _ => state.as_ref(),
                };
                if let Some(d) = &l.rec.state {
                    state = Some(d.apply(base).expect("a state that decodes"));
                }
            }
            (f.node, state.expect("a started actor"))
        })
        .collect()
}

#[test]
fn each_fixture_is_a_path_of_the_model_through_every_recorded_step_to_the_recorded_states() {
    use raft_checks::model::Action as A;
    use raft_checks::trace::explore as trace_explore;
    use stateright::Model;
    for name in ["leader-kill", "partition", "loss-dup", "leader-kill-loss"] {
        let dir = fixtures().join(name);
        let started = std::time::Instant::now();
        let (report, p) = trace_explore::open(&dir).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let took = started.elapsed();
        let s = &p.summary;
        assert!(s.left_out.is_none(), "{name}: {:?}", s.left_out);
        // (1) Every action is enabled in the model where the path takes it.
        let encoded = raft_checks::checker::counterexample::explorer_path(&p.model, &p.actions)
            .unwrap_or_else(|| panic!("{name}: the path does not replay"));
        assert_eq!(encoded.split('/').count(), p.actions.len() + 1, "{name}");
        // (2) Every recorded step is in the path, or is one the model has no step for.
        let count =
            |f: fn(&raft_checks::model::Action) -> bool| p.actions.iter().filter(|a| f(a)).count();
        assert_eq!(count(|a| matches!(a, A::Deliver { .. })), s.deliveries);
        assert_eq!(count(|a| matches!(a, A::Timeout(..))), s.timeouts);
        assert_eq!(count(|a| matches!(a, A::Crash(_))), s.crashes);
        assert_eq!(count(|a| matches!(a, A::Recover(_))), s.restarts);
        assert_eq!(count(|a| matches!(a, A::Drop { .. })), s.drops);
        assert_eq!(
            p.actions.len(),
            s.deliveries + s.timeouts + s.crashes + s.restarts + s.drops
        );
        assert_eq!(
            (s.starts + s.restarts) as u64,
            checked(&report, RESTART),
            "{name}"
        );
        assert_eq!(
            (s.deliveries + s.ignored_deliveries) as u64,
            checked(&report, MESSAGES),
            "{name}"
        );
        assert_eq!(
            (s.timeouts + s.ignored_timeouts) as u64,
            checked(&report, TIMERS),
            "{name}"
        );
        assert_eq!(
            s.starts
                + s.restarts
                + s.deliveries
                + s.ignored_deliveries
                + s.timeouts
                + s.ignored_timeouts,
            report.steps,
            "{name}"
        );
        assert_eq!(s.records, report.steps);
        assert_eq!(s.crashes as u64, report.crashes, "{name}");
        assert_eq!(
            (s.duplicated, s.lost),
            duplicated_and_lost(&report),
            "{name}"
        );
        // What each fixture is about shows in the path.
        if name.contains("kill") {
            assert!(s.crashes >= 1 && s.restarts >= 1, "{name}");
        }
        if name.contains("loss") || name.contains("partition") {
            assert!(s.lossy && s.drops >= 1, "{name}");
        }
        if name.contains("dup") {
            assert_eq!(
                p.model.bounds.network,
                raft_checks::bounds::NetworkKind::Duplicating
            );
        } else {
            assert_eq!(
                p.model.bounds.network,
                raft_checks::bounds::NetworkKind::Unordered
            );
        }
        // (3) The path ends in the states the run ended in, within the model's bounds.
        let path =
            raft_checks::checker::counterexample::replay(&p.model, &p.actions).expect("replays");
        let last = path.last_state();
        for (node, recorded) in recorded_final_states(&dir) {
            let i = usize::from(p.ids.to_model(&node));
            assert!(!last.is_down(i), "{name}: actor {i} is down at the end");
            assert_eq!(
                p.ids.to_real(&*last.actors[i]),
                recorded,
                "{name}: actor {i}"
            );
        }
        assert!(p.model.within_boundary(last), "{name}");
        eprintln!(
            "{name}: {} records -> {} path steps in {took:?}",
            report.steps,
            p.actions.len()
        );
    }
}

#[test]
fn trace_explore_serves_the_run_and_the_explorer_shows_its_last_step() {
    use stateright::Model;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let dir = fixtures().join("leader-kill");
    let addr = free_addr();
    let logs = tempfile::tempdir().expect("temp dir");
    let err_path = logs.path().join("err");
    let mut child = Command::new(common::EXE)
        .args([
            "trace",
            "explore",
            &dir.display().to_string(),
            "--addr",
            &addr,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).expect("err file"))
        .spawn()
        .expect("spawn raftlab");
    let stdout = child.stdout.take().expect("stdout");
    let child = KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let link = loop {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(l) = line.trim().strip_prefix("link:") {
                    break l.trim().to_string();
                }
                printed.push(line);
            }
            Err(_) => panic!(
                "no link printed: {printed:#?}\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            ),
        }
    };
    let text = printed.join("\n");
    assert!(
        text.contains("every rule of `raftlab trace check` holds"),
        "{text}"
    );
    assert!(text.contains("left out:  nothing"), "{text}");
    // The link is the library's path, on this address.
    let (_, p) = raft_checks::trace::explore::open(&dir).expect("opens");
    let encoded =
        raft_checks::checker::counterexample::explorer_path(&p.model, &p.actions).expect("replays");
    assert_eq!(link, raft_checks::explorer::url(&addr, Some(&encoded)));
    assert!(
        text.contains(&format!("path:      {} steps", p.actions.len())),
        "{text}"
    );
    // The Explorer lists the last step among the actions enabled before it.
    let (prefix, last_index) = encoded.rsplit_once('/').expect("a path of steps");
    let last = p.actions.last().expect("a step");
    let expected = serde_json::to_string(&p.model.format_action(last)).expect("json");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (status, body) = loop {
        match http("GET", &addr, &format!("/.states/{prefix}")) {
            Ok(r) => break r,
            Err(e) if std::time::Instant::now() > deadline => panic!("no Explorer on {addr}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(status, 200, "{body:.500}");
    let views: serde_json::Value = serde_json::from_str(&body).expect("JSON states");
    let index: usize = last_index.parse().expect("an index");
    let view = views
        .as_array()
        .and_then(|v| v.iter().find(|s| s["actionIndex"] == index))
        .unwrap_or_else(|| panic!("no action {index} in {body:.500}"));
    assert_eq!(view["action"].to_string(), expected);
    assert!(body.contains(&format!("\"action\":{expected}")));
    drop(child);
}

#[test]
fn trace_explore_refuses_a_run_that_is_not_a_behaviour_and_serves_nothing() {
    let (_tmp, dir) = copy_fixture();
    let dir_s = dir.display().to_string();
    let file = dir.join("node-2.jsonl");
    let line = spoil(&file, |r| match &mut r.state {
        Some(TraceState::Server(s)) if matches!(r.event, Event::Deliver { .. }) => {
            s.commit_index += 1;
            true
        }
        _ => false,
    });
    let addr = free_addr();
    // `raftlab` fails the test if the process does not end: no server was started.
    let (code, out, err) = raftlab(
        &["trace", "explore", &dir_s, "--addr", &addr],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.contains("first bad record: S2"), "{out}");
    assert!(out.contains(&format!("node-2.jsonl:{line}")), "{out}");
    assert!(err.contains("not opened"), "{err}");
    assert!(std::net::TcpStream::connect(&addr).is_err());
    assert!(matches!(
        raft_checks::trace::explore::open(&dir),
        Err(raft_checks::trace::explore::OpenError::NotABehaviour(_))
    ));
    // Mapped without the check, the run is refused where the model leaves it.
    let run = load(&dir).expect("load");
    let d = raft_checks::trace::explore::path(&run, &merge(&run))
        .err()
        .expect("a divergence");
    assert!(d.at.contains(&format!("node-2.jsonl:{line}")), "{d}");
    assert!(
        d.expected.contains("commit_index") && d.recorded.contains("commit_index"),
        "{d}"
    );
    // An unreadable file: exit 2, the file and line named.
    let text = std::fs::read_to_string(&file).expect("read");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "not a record";
    std::fs::write(&file, lines.join("\n") + "\n").expect("write");
    let (code, _, err) = raftlab(
        &["trace", "explore", &dir_s, "--addr", &addr],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("node-2.jsonl:3"), "{err}");
    assert!(std::net::TcpStream::connect(&addr).is_err());
}

#[test]
fn trace_explore_needs_a_free_port() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let dir = fixtures().join("leader-kill").display().to_string();
    let (code, _, err) = raftlab(
        &["trace", "explore", &dir, "--addr", &addr],
        Duration::from_secs(60),
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("cannot listen"), "{err}");
}

#[test]
fn a_client_that_restarts_ends_the_path_at_the_last_step_the_model_can_take() {
    let (_tmp, dir) = copy_fixture();
    // The client that records last starts again after its stop.
    let run = load(&dir).expect("load");
    let client = run.files.last().expect("a client");
    assert!(!client.is_server());
    let first = client.lines[0].rec.clone();
    let last = client.lines.last().expect("records").rec.clone();
    let restart = Record {
        step: last.step + 1,
        time_ns: last.time_ns + 1,
        ..first
    };
    let mut text = std::fs::read_to_string(&client.path).expect("read");
    text.push_str(&serde_json::to_string(&restart).expect("json"));
    text.push('\n');
    std::fs::write(&client.path, text).expect("write");
    let run = load(&dir).expect("load");
    let p = raft_checks::trace::explore::path(&run, &merge(&run)).expect("a path");
    let left = p.summary.left_out.clone().expect("something left out");
    assert!(left.why.contains("client"), "{left:?}");
    assert!(left.at.starts_with(&client.name), "{left:?}");
    assert_eq!(left.records_not_mapped, 1, "{left:?}");
    // What is mapped is still a path of the model, up to that record.
    assert!(!p.actions.is_empty());
    assert!(raft_checks::checker::counterexample::explorer_path(&p.model, &p.actions).is_some());
    let s = &p.summary;
    assert_eq!(
        s.starts
            + s.deliveries
            + s.ignored_deliveries
            + s.timeouts
            + s.ignored_timeouts
            + s.restarts,
        run.steps() - 1
    );
}

/// The boxes behind the diagram's labels and badges: (x, y, width, height).
fn boxes(svg: &str) -> Vec<(f64, f64, f64, f64)> {
    let attr = |tag: &str, name: &str| -> Option<f64> {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[start..].split('"').next()?.parse().ok()
    };
    svg.split("<rect ")
        .skip(1)
        .filter(|t| t.starts_with("class=\"badge\"") || t.starts_with("class=\"label\""))
        .filter_map(|t| {
            let tag = t.split('>').next()?;
            Some((
                attr(tag, "x")?,
                attr(tag, "y")?,
                attr(tag, "width")?,
                attr(tag, "height")?,
            ))
        })
        .collect()
}

/// rsvg-convert (librsvg) renders `svg` to PNG; `None` if it is not installed.
fn rsvg(svg: &str, dir: &Path, name: &str) -> Option<u64> {
    let input = dir.join(format!("{name}.svg"));
    let output = dir.join(format!("{name}.png"));
    std::fs::write(&input, svg).expect("write svg");
    let status = std::process::Command::new("rsvg-convert")
        .arg("-o")
        .arg(&output)
        .arg(&input)
        .status()
        .ok()?;
    assert!(
        status.success(),
        "rsvg-convert failed on {}",
        input.display()
    );
    Some(std::fs::metadata(&output).expect("png written").len())
}

#[test]
fn diagrams_render_in_a_standard_converter_and_no_label_covers_another() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for name in ["leader-kill", "partition", "loss-dup", "leader-kill-loss"] {
        let run = load(&fixtures().join(name)).expect("load");
        let text = svg(&run, &merge(&run), &ShowOptions::default());
        assert!(
            !text.contains("context-stroke"),
            "{name}: converters do not draw it"
        );
        let b = boxes(&text);
        assert!(b.len() > 20, "{name}: only {} labels and badges", b.len());
        for (i, p) in b.iter().enumerate() {
            for q in &b[i + 1..] {
                let apart =
                    p.0 + p.2 <= q.0 || q.0 + q.2 <= p.0 || p.1 + p.3 <= q.1 || q.1 + q.3 <= p.1;
                assert!(apart, "{name}: {p:?} covers {q:?}");
            }
        }
        // Rendered, the diagram is far from blank: compare with an empty canvas of
        // the same size.
        let size = text
            .split('>')
            .next()
            .map(|head| head.to_string())
            .unwrap_or_default();
        let blank = format!("{size}><rect width=\"100%\" height=\"100%\" fill=\"white\"/></svg>");
        match (
            rsvg(&text, tmp.path(), name),
            rsvg(&blank, tmp.path(), "blank"),
        ) {
            (Some(png), Some(empty)) => assert!(
                png > 5 * empty,
                "{name}: the PNG ({png} bytes) is about as empty as a blank one ({empty})"
            ),
            _ => {
                assert!(
                    std::env::var("RAFTLAB_REQUIRE_CONVERTER").is_err(),
                    "rsvg-convert is not installed (apt-get install librsvg2-bin)"
                );
                eprintln!("SKIPPED the conversion: no rsvg-convert on PATH");
            }
        }
    }
}

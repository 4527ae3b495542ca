//! `raftlab check --engine timely` as a user runs it: worker processes started
//! by `--processes` over loopback, processes started by hand from a host file, a
//! process started with other bounds, and a process that dies mid-run.

use raft_checks::checker::timely::launch::free_addresses;
use serde_json::Value;
use std::io::{BufRead, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn raftlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_raftlab"))
}

/// Small bounds: 2 servers, a crash, a few hundred states.
const SMALL: &[&str] = &[
    "--servers",
    "2",
    "--max-term",
    "2",
    "--max-log",
    "2",
    "--ops",
    "1",
    "--crashes",
    "1",
];

/// `SMALL` with another longest log.
const OTHER: &[&str] = &[
    "--servers",
    "2",
    "--max-term",
    "2",
    "--max-log",
    "3",
    "--ops",
    "1",
    "--crashes",
    "1",
];

fn json(args: &[&str]) -> (Value, i32) {
    let out = raftlab()
        .arg("check")
        .args(args)
        .args(["--json", "-q"])
        .output()
        .expect("raftlab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (v, out.status.code().unwrap_or(-1))
}

fn verdicts(v: &Value) -> Vec<(String, String)> {
    v["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .map(|p| (p["name"].to_string(), p["status"].to_string()))
        .collect()
}

#[test]
fn two_processes_on_loopback_report_what_one_does() {
    let timely2: Vec<&str> = [
        &["--engine", "timely", "--processes", "2", "--workers", "1"][..],
        SMALL,
    ]
    .concat();
    let (two, code2) = json(&timely2);
    let (one, code1) = json(&[&["--engine", "timely", "--workers", "2"][..], SMALL].concat());
    let (dfs, code_dfs) = json(SMALL);
    // The same verdict (these bounds are too small to witness every Sometimes
    // property, so it is the same exit code 1 with nothing violated).
    assert_eq!((code2, code1), (code_dfs, code_dfs));
    assert!(
        !format!("{two}").contains("\"violated\""),
        "nothing is violated"
    );
    assert_eq!(two["engine"], "timely");
    assert_eq!(dfs["engine"], "stateright");
    assert_eq!(
        (two["processes"].as_u64(), two["workers"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(one["processes"].as_u64(), Some(1));
    assert_eq!(two["exhaustive"], true);
    // The same count however the states are spread, and as the depth-first
    // search's: one state per class.
    assert_eq!(two["unique_states"], one["unique_states"]);
    assert_eq!(two["unique_states"], dfs["unique_states"]);
    assert_eq!(two["states"], one["states"]);
    assert_eq!(verdicts(&two), verdicts(&dfs));
    let per: &Vec<Value> = two["per_process"].as_array().expect("per_process");
    assert_eq!(per.len(), 2);
    let sum: u64 = per.iter().filter_map(|p| p["unique_states"].as_u64()).sum();
    assert_eq!(Some(sum), two["unique_states"].as_u64());
    assert!(
        per.iter().all(|p| p["bytes_sent"].as_u64() > Some(0)),
        "{per:?}"
    );
}

#[test]
fn a_violation_prints_the_shortest_counterexample_and_its_explorer_link() {
    let out = raftlab()
        .args([
            "check",
            "--engine",
            "timely",
            "--processes",
            "2",
            "--workers",
            "1",
            "-q",
        ])
        .args(["--mutant", "double-vote"])
        .output()
        .expect("raftlab runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("VIOLATED: shortest counterexample"), "{text}");
    assert!(
        text.contains("raftlab explore --mutant double-vote"),
        "{text}"
    );
    assert!(text.contains("http://127.0.0.1:3000/#/steps/0/"), "{text}");
    assert!(text.contains("Per process:"), "{text}");
}

fn hostfile(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("hosts");
    let addresses = free_addresses(2).expect("free ports");
    std::fs::write(&path, addresses.join("\n")).expect("write the host file");
    path.display().to_string()
}

fn start(hosts: &str, process: usize, extra: &[&str]) -> Child {
    raftlab()
        .args(["check", "--engine", "timely", "--workers", "1"])
        .args(["--hostfile", hosts, "--process", &process.to_string()])
        .args(["--connect-timeout", "20s"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("raftlab starts")
}

/// Waits at most `within` for `child`; kills it if it has not finished.
fn finish(mut child: Child, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().expect("output")
}

#[test]
fn a_process_started_with_other_bounds_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = hostfile(&dir);
    let p1 = start(&hosts, 1, OTHER);
    let p0 = start(&hosts, 0, SMALL);
    for (who, out) in [
        ("process 0", finish(p0, Duration::from_secs(30))),
        ("process 1", finish(p1, Duration::from_secs(30))),
    ] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{who}: {err}");
        assert!(err.contains("different bounds"), "{who}: {err}");
        assert!(
            err.contains("--max-log 2") && err.contains("--max-log 3"),
            "{who}: {err}"
        );
        assert!(err.contains("nothing is proved"), "{who}: {err}");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            !report.contains("unique states"),
            "{who} printed a report: {report}"
        );
    }
}

#[test]
fn a_process_that_dies_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = hostfile(&dir);
    // The default bounds take long enough to die in the middle of.
    let mut p1 = start(&hosts, 1, &["-q"]);
    let mut p0 = start(&hosts, 0, &[]);
    // Kill process 1 only once the search is under way (process 0's first
    // progress line): killed earlier, on a loaded machine, it would not have
    // connected yet, and that is another failure with another message.
    let stderr = p0.stderr.take().expect("stderr is piped");
    let (lines, seen) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline {
        match seen.recv_timeout(Duration::from_secs(1)) {
            Ok(line) if line.contains("unique states") => break,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            _ => {}
        }
    }
    p1.kill().expect("kill process 1");
    let _ = p1.wait();
    let out = finish(p0, Duration::from_secs(30));
    let err = reader.join().expect("the stderr reader");
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("process 1 left the run"), "{err}");
    let mut report = String::new();
    let _ = out.stdout.as_slice().read_to_string(&mut report);
    assert!(
        !report.contains("PROVED") && !report.contains("exhaustive: yes"),
        "{report}"
    );
}

#[test]
fn timely_flags_need_the_timely_engine() {
    let out = raftlab()
        .args(["check", "--workers", "2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers is for --engine timely"));
    let out = raftlab()
        .args(["check", "--engine", "timely", "--strategy", "simulation"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("breadth-first"));
}

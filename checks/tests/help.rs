//! `raftlab check --help` states each bound's default in prose (clap cannot show
//! a default that depends on other flags); this holds that prose to `Bounds::default()`,
//! so that changing the default cannot leave the help behind, and the profiles
//! to the bounds the help names for them.

use raft_checks::bounds::Bounds;
use serde_json::Value;
use std::process::Command;

/// The help text of `flag`: from its line up to the next flag's.
fn help_of<'a>(help: &'a str, flag: &str) -> &'a str {
    let start = help
        .find(&format!("--{flag} "))
        .unwrap_or_else(|| panic!("--{flag} is not in the help"));
    let rest = &help[start..];
    let end = rest[2..].find("\n      --").map_or(rest.len(), |e| e + 2);
    &rest[..end]
}

/// The number after `[default: ` in a flag's help.
fn stated_default(help: &str, flag: &str) -> String {
    let text = help_of(help, flag);
    let at = text
        .find("[default: ")
        .unwrap_or_else(|| panic!("--{flag} states no default: {text}"));
    text[at + "[default: ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

#[test]
fn the_help_states_the_default_bounds() {
    let out = Command::new(env!("CARGO_BIN_EXE_raftlab"))
        .args(["check", "--help"])
        .output()
        .expect("raftlab runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let b = Bounds::default();
    for (flag, value) in [
        ("servers", b.servers.to_string()),
        ("clients", b.clients.to_string()),
        ("ops", b.ops_per_client.to_string()),
        ("max-term", b.max_term.to_string()),
        ("max-log", b.max_log.to_string()),
        ("crashes", b.crashes.to_string()),
        ("max-batch", b.max_batch.to_string()),
    ] {
        assert_eq!(stated_default(&help, flag), value, "--{flag}");
    }
    assert_eq!(b.max_in_flight, Bounds::least_in_flight(b.servers));
    assert!(help_of(&help, "max-in-flight").contains(&format!("{} for 3 servers", b.max_in_flight)));
}

/// The bounds `raftlab check ARGS` runs with, from a one-second run's `--json`.
fn bounds_of(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_raftlab"))
        .args(["check", "--json", "--timeout", "1s"])
        .args(args)
        .output()
        .expect("raftlab runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    report["bounds"].clone()
}

#[test]
fn a_profile_is_the_bounds_its_help_names_and_flags_override_it() {
    let default = bounds_of(&[]);
    assert_eq!(bounds_of(&["--profile", "default"]), default);
    let thorough = bounds_of(&["--profile", "thorough"]);
    assert_eq!(
        thorough["max_term"], 3,
        "thorough is the default with a third term"
    );
    let mut third = default.clone();
    third["max_term"] = 3.into();
    assert_eq!(thorough, third);
    let deep = bounds_of(&["--profile", "deep"]);
    assert_eq!(
        (&deep["clients"], &deep["crashes"], &deep["max_in_flight"]),
        (&2.into(), &2.into(), &4.into()),
        "deep: 2 clients, 2 crashes, 4 messages in flight"
    );
    assert_eq!(deep["max_per_channel"], 1, "deep: one message per channel");
    let overridden = bounds_of(&["--profile", "deep", "--max-term", "3"]);
    assert_eq!(overridden["max_term"], 3);
    assert_eq!(
        overridden["max_term"],
        deep["max_term"].as_u64().map_or(0, |t| t + 1)
    );
    assert_eq!(overridden["clients"], 2);
}

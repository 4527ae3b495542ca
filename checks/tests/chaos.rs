//! `raftlab chaos`: a short run under kills and partitions holds every rule,
//! reports what the issue asks for, and draws pictures that a converter renders.

mod common;
use common::raftlab;
use std::time::Duration;

#[test]
fn a_short_chaos_run_holds_every_rule_and_draws_its_pictures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("run");
    let data_s = data.display().to_string();
    let (code, out, err) = raftlab(
        &[
            "chaos",
            "--data",
            &data_s,
            "--duration",
            "8s",
            "--clients",
            "3",
            "--quiet",
            "1s",
            "--fault-length",
            "2s",
            "--faults",
            "kill,partition,loss:0.2",
            "--seed",
            "3",
            "--json",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(code, Some(0), "{out}\n{err}");
    let r: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    let ops = &r["operations"];
    assert!(ops["acknowledged"].as_u64() > Some(50), "{ops}");
    assert_eq!(
        ops["attempted"].as_u64(),
        Some(
            ops["acknowledged"].as_u64().unwrap_or(0)
                + ops["failed"].as_u64().unwrap_or(0)
                + ops["indeterminate"].as_u64().unwrap_or(0)
        )
    );
    assert_eq!(r["acknowledged_writes_lost"], 0, "{r:#}");
    assert_eq!(r["trace_check_ok"], true);
    assert!(
        r["windows"].as_array().is_some_and(|w| w.len() >= 2),
        "{r:#}"
    );
    assert!(
        r["trace_files"].as_u64() == Some(4),
        "3 nodes and one client process: {r:#}"
    );
    assert!(err.contains("chaos:"), "progress on stderr: {err}");
    for name in ["latency.svg", "throughput.svg"] {
        let p = data.join(name);
        let svg = std::fs::read_to_string(&p).expect("the picture is written");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("time (s)"), "{name} has a time axis");
        assert!(
            ["kill", "partition", "loss"]
                .iter()
                .any(|f| svg.contains(f)),
            "{name} names its fault windows"
        );
        assert!(r.to_string().contains(name), "the report names {name}");
        converts(&p);
    }
    // A second run into the same directory is refused.
    let (code, _, err) = raftlab(&["chaos", "--data", &data_s], Duration::from_secs(10));
    assert_eq!(code, Some(2), "{err}");
}

/// The picture converts to PNG with rsvg-convert (required where
/// RAFTLAB_REQUIRE_CONVERTER=1, as in CI; skipped, and said so, elsewhere).
fn converts(svg: &std::path::Path) {
    let png = svg.with_extension("png");
    match std::process::Command::new("rsvg-convert")
        .arg(svg)
        .arg("-o")
        .arg(&png)
        .status()
    {
        Ok(s) => {
            assert!(s.success(), "rsvg-convert failed on {}", svg.display());
            let bytes = std::fs::read(&png).expect("a PNG");
            assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
        }
        Err(e) if std::env::var("RAFTLAB_REQUIRE_CONVERTER").is_ok() => {
            panic!("rsvg-convert is required here: {e}")
        }
        Err(e) => eprintln!(
            "skipping the conversion of {}: no rsvg-convert ({e})",
            svg.display()
        ),
    }
}

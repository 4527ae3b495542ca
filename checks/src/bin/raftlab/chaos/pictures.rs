//! The chaos run's pictures: latency and throughput over time, fault windows shaded.

use raft_checks::render::chaos_svg;
use raft_impl::nemesis::Window;
use raft_impl::workload::OpRecord;
use std::path::{Path, PathBuf};

pub(super) fn write(p: &Path, text: String) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
}

/// Writes DIR/latency.svg and DIR/throughput.svg; their paths.
pub(super) fn draw(
    dir: &Path,
    ops: &[OpRecord],
    windows: &[Window],
    duration_s: f64,
    title: &str,
) -> Result<(PathBuf, PathBuf), String> {
    let latency_path = dir.join("latency.svg");
    let throughput_path = dir.join("throughput.svg");
    write(
        &latency_path,
        chaos_svg::latency(ops, windows, duration_s, &format!("{title}: latency")),
    )?;
    write(
        &throughput_path,
        chaos_svg::throughput(ops, windows, duration_s, &format!("{title}: throughput")),
    )?;
    Ok((latency_path, throughput_path))
}

/// The pictures of the run in `dir`, drawn again from what it wrote.
pub(super) fn redraw(dir: &Path) -> Result<(), String> {
    let read = |name: &str| -> Result<serde_json::Value, String> {
        let p = dir.join(name);
        let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
    };
    let ops: Vec<OpRecord> =
        serde_json::from_value(read("history.json")?).map_err(|e| format!("history.json: {e}"))?;
    let r = read("report.json")?;
    let windows: Vec<Window> = match r.get("fault_windows") {
        Some(w) => serde_json::from_value(w.clone()).map_err(|e| format!("report.json: {e}"))?,
        // Reports written before fault_windows: from the table's rows.
        None => r["windows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|w| {
                        let what = w["what"].as_str()?;
                        let (fault, node) = match what.rsplit_once(" S") {
                            Some((f, n)) if n.parse::<usize>().is_ok() => (f, n.parse().ok()),
                            _ => (what, None),
                        };
                        Some(Window {
                            fault: fault.to_string(),
                            node,
                            start_s: w["from_s"].as_str()?.parse().ok()?,
                            end_s: w["to_s"].as_str()?.parse().ok()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let title = format!(
        "raftlab chaos: {} nodes, {} clients, seed {}",
        r["nodes"], r["clients"], r["seed"]
    );
    let duration = r["duration_s"].as_f64().unwrap_or(1.0);
    let (a, b) = draw(dir, &ops, &windows, duration, &title)?;
    println!("{}\n{}", a.display(), b.display());
    Ok(())
}
